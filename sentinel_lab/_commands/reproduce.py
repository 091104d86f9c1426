"""``sentinel-lab reproduce [--quick]``: execute every notebook headless, keep the executed copies, and let the
notebooks export the paper's tables (LaTeX, CSV), figures (PDF, PNG) and numbers into ``paper/``.

A run is all or nothing: notebooks export into a staging folder (seeded with the current ``paper/`` files, so
``numbers/all.tex`` stays complete), and the staged files and executed copies are moved into place only when
every notebook succeeded. A failed cell, a cell over its timeout or a dead kernel is a failure (exit status 1)
and leaves ``paper/`` and the executed copies as they were; the staging folder is kept for inspection.

Kernels talk over IPC sockets in a private temporary folder (no TCP ports, hence no "running over TCP without
encryption" warning), and each kernel's own stderr goes to a log shown when its notebook fails, so nothing
breaks the progress bar.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import filecmp
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "DEFAULT_SLOW_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "SLOW_TAG",
    "Outcome",
    "add_arguments",
    "cell_timeout",
    "publish",
    "reproduce",
    "run",
    "run_notebook",
    "select_notebooks",
]

#: Seconds allowed per cell; the slowest ordinary cell takes about 10 s on a busy 2-core machine.
DEFAULT_TIMEOUT = 120
#: Seconds allowed per cell tagged ``slow`` (full-size evaluations and benchmarks, about 30 s on that machine).
DEFAULT_SLOW_TIMEOUT = 600
#: The cell tag (cell metadata ``tags``) that selects the slow timeout.
SLOW_TAG = "slow"
#: What a notebook may write under the paper folder.
PAPER_PARTS = ("tables", "figures", "numbers")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one notebook ran: ``status`` is ``ok``, ``failed`` (a cell raised), ``timeout`` (a cell ran past its
    timeout), ``died`` (the kernel died) or ``error`` (the kernel could not be run); ``detail`` says why."""

    name: str
    status: str
    seconds: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True only for a notebook whose every cell ran to completion without an error."""
        return self.status == "ok"


def _repo_root() -> Path:
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "notebooks").is_dir() and (candidate / "paper").is_dir():
            return candidate
    return Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    root = _repo_root()
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole set in a few minutes")
    parser.add_argument("--notebooks", type=Path, default=root / "notebooks", help="folder of notebooks to run")
    parser.add_argument("--paper", type=Path, default=root / "paper", help="where tables/, figures/, numbers/ go")
    parser.add_argument(
        "--executed", type=Path, default=None, help="where executed copies go (default: NOTEBOOKS/executed)"
    )
    parser.add_argument(
        "--timeout", type=int, default=DEFAULT_TIMEOUT, help=f"seconds allowed per cell (default {DEFAULT_TIMEOUT})"
    )
    parser.add_argument(
        "--slow-timeout",
        type=int,
        default=DEFAULT_SLOW_TIMEOUT,
        help=f"seconds allowed per cell tagged '{SLOW_TAG}' (default {DEFAULT_SLOW_TIMEOUT})",
    )
    parser.add_argument("--only", action="append", default=[], help="run only notebooks whose name contains this")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``sentinel-lab reproduce``: 0 when every notebook ran, 1 when one failed, 2 on bad input."""
    return reproduce(
        args.notebooks,
        args.paper,
        args.executed or args.notebooks / "executed",
        quick=args.quick,
        only=args.only,
        timeout=args.timeout,
        slow_timeout=args.slow_timeout,
    )


def select_notebooks(notebooks_dir: Path, only: Sequence[str] = ()) -> list[Path]:
    """The notebooks to run, in name order: every ``*.ipynb`` not starting with ``_``, narrowed by ``only``."""
    found = sorted(p for p in notebooks_dir.glob("*.ipynb") if not p.name.startswith("_"))
    if only:
        found = [p for p in found if any(o in p.name for o in only)]
    return found


def cell_timeout(cell: Any, timeout: int, slow_timeout: int) -> int:
    """The timeout of one cell: ``slow_timeout`` for a cell tagged ``slow``, else ``timeout``."""
    tags = cell.get("metadata", {}).get("tags", ()) or ()
    return slow_timeout if SLOW_TAG in tags else timeout


def _client_class() -> type:
    """nbclient's ``NotebookClient`` with an Output-widget stand-in that never writes to the shell socket.

    nbclient mimics a front end's Output widget: each output a widget captures is echoed back to the kernel with a
    ``comm_msg`` sent on the shell socket, from the coroutine reading IOPub, while another coroutine is waiting on
    that same socket for the cell's ``execute_reply``. The send can swallow the socket's (edge-triggered) readiness
    signal, so the waiting coroutine sleeps through a reply that has already arrived and only finds it when its
    timeout expires: a cell of the explorer notebook (its panel writes into Output widgets) then sat idle for the
    whole per-cell timeout and still counted as a success. The echo only tells the kernel what the widget shows,
    which nobody reads in a headless run, so it is dropped; the captured outputs still land in the widget state.
    """
    from nbclient import NotebookClient
    from nbclient.output_widget import OutputWidget

    class _SilentOutputWidget(OutputWidget):
        def sync_state(self) -> None:
            """Keep the captured outputs here; never write to the shell socket (see ``_client_class``)."""

    class _Client(NotebookClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.widget_registry = {"@jupyter-widgets/output": {"OutputModel": _SilentOutputWidget}}

    return _Client


def _socket_base() -> str | None:
    """Where the kernel's IPC sockets go: the temporary folder, or ``/tmp`` when that path is too long for a Unix
    socket address (about 100 bytes)."""
    base = tempfile.gettempdir()
    return base if len(base) <= 60 or not os.path.isdir("/tmp") else "/tmp"


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-limit:].strip()


def run_notebook(
    path: Path,
    executed: Path,
    *,
    env: dict[str, str],
    timeout: int = DEFAULT_TIMEOUT,
    slow_timeout: int = DEFAULT_SLOW_TIMEOUT,
    kernel_log: Path,
) -> Outcome:
    """Execute one notebook in a fresh kernel (working directory: the notebook's folder) and write the executed
    copy to ``executed`` whatever happened; every way a run can go wrong becomes a non-ok ``Outcome``."""
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    sockets = Path(tempfile.mkdtemp(prefix="sentinel-kernel-", dir=_socket_base()))
    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / "k"))
    client = _client_class()(
        nb,
        km=manager,
        timeout=timeout,
        timeout_func=lambda cell: cell_timeout(cell, timeout, slow_timeout),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    status, detail = "ok", ""
    t0 = time.monotonic()
    with open(kernel_log, "w", encoding="utf-8") as log:
        try:
            # A client given its kernel manager leaves the kernel running; ask it to clean up anyway.
            client.execute(env=env, stderr=log, cleanup_kc=True)
        except CellTimeoutError as exc:
            status, detail = "timeout", str(exc)
        except DeadKernelError as exc:
            status, detail = "died", f"the kernel died: {exc}"
        except CellExecutionError as exc:
            status, detail = "failed", str(exc)
        except Exception as exc:  # the kernel would not start, a socket broke...: still a failure, never "ok"
            status, detail = "error", f"{type(exc).__name__}: {exc}"
        finally:
            if manager.has_kernel:  # nbclient shuts its kernel down; this catches a start that failed half-way
                with contextlib.suppress(Exception):
                    run_sync(manager.shutdown_kernel)(now=True)
    shutil.rmtree(sockets, ignore_errors=True)
    seconds = time.monotonic() - t0
    if status in ("died", "error"):  # a failed or timed-out cell says why itself; a dead kernel may not
        logged = _tail(kernel_log)
        if logged:
            detail += f"\n--- kernel stderr ---\n{logged}"
    executed.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed)  # type: ignore[no-untyped-call]
    return Outcome(path.name, status, seconds, detail)


def _seed(paper: Path, stage: Path) -> dict[Path, int]:
    """Copy the paper's current exports into ``stage`` (mtimes kept) and return each copy's mtime."""
    seeded: dict[Path, int] = {}
    for part in PAPER_PARTS:
        (stage / part).mkdir(parents=True, exist_ok=True)
        source = paper / part
        if not source.is_dir():
            continue
        for file in source.rglob("*"):
            if file.is_file():
                target = stage / file.relative_to(paper)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)
                seeded[target] = target.stat().st_mtime_ns
    return seeded


def _replace(source: Path, target: Path) -> None:
    """Put ``source``'s bytes at ``target`` atomically: a reader sees the old file or the new one, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def publish(stage: Path, destination: Path, files: Iterable[Path] | None = None) -> list[Path]:
    """Move the staged files (all under ``stage``, or just ``files``) into ``destination``, keeping their relative
    paths; a file whose bytes are unchanged is left alone (so its mtime and git status stay). Returns the
    destination paths that changed."""
    chosen = sorted(files) if files is not None else sorted(p for p in stage.rglob("*") if p.is_file())
    changed: list[Path] = []
    for file in chosen:
        target = destination / file.relative_to(stage)
        if target.is_file() and filecmp.cmp(file, target, shallow=False):
            continue
        _replace(file, target)
        changed.append(target)
    return changed


def _progress(items: list[Path], stream: TextIO) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with the eval extra
        return items
    return tqdm(items, desc="notebooks", unit="nb", file=stream)


def reproduce(
    notebooks_dir: Path,
    paper_dir: Path,
    executed_dir: Path,
    *,
    quick: bool = False,
    only: Sequence[str] = (),
    timeout: int = DEFAULT_TIMEOUT,
    slow_timeout: int = DEFAULT_SLOW_TIMEOUT,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the notebooks of ``notebooks_dir``; on success move their exports into ``paper_dir`` and the executed
    copies into ``executed_dir`` and return 0. On any failure touch neither, keep the staging folder, return 1."""
    out = out or sys.stdout
    err = err or sys.stderr
    notebooks = select_notebooks(notebooks_dir, only)
    if not notebooks:
        print(f"sentinel-lab reproduce: no notebooks in {notebooks_dir}", file=err)
        return 2
    paper = paper_dir.resolve()
    stage = Path(tempfile.mkdtemp(prefix="sentinel-lab-reproduce-"))
    stage_paper, stage_executed, logs = stage / "paper", stage / "executed", stage / "logs"
    logs.mkdir()
    seeded = _seed(paper, stage_paper)
    env = dict(os.environ)
    env["SENTINEL_LAB_EXPORT"] = str(stage_paper)
    env["SENTINEL_LAB_QUICK"] = "1" if quick else "0"
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    started = time.monotonic()
    outcomes: list[Outcome] = []
    bar = _progress(notebooks, err)
    for path in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(path.name)
        outcome = run_notebook(
            path,
            stage_executed / path.name,
            env=env,
            timeout=timeout,
            slow_timeout=slow_timeout,
            kernel_log=logs / f"{path.stem}.log",
        )
        outcomes.append(outcome)
        if not outcome.ok:
            bar_write = getattr(bar, "write", None)
            message = f"{path.name}: {outcome.status}:\n{outcome.detail[-3000:]}"
            if bar_write is not None:
                bar_write(message, file=err)
            else:
                print(message, file=err)
    if hasattr(bar, "close"):
        bar.close()
    mode = "quick" if quick else "full"
    failed = [o for o in outcomes if not o.ok]
    print(f"\nreproduce: {len(notebooks)} notebooks in {time.monotonic() - started:.0f} s ({mode})", file=out)
    for o in outcomes:
        print(f"  {o.status.upper():<7} {o.name:<28} {o.seconds:7.1f} s", file=out)
    if failed:
        names = ", ".join(o.name for o in failed)
        print(f"  FAILED: {names}; {paper} and {executed_dir} were left as they were", file=out)
        print(f"  this run's exports, executed copies and kernel logs are in {stage}", file=out)
        return 1
    written = [p for p in stage_paper.rglob("*") if p.is_file() and seeded.get(p) != p.stat().st_mtime_ns]
    changed = publish(stage_paper, paper, written)
    publish(stage_executed, executed_dir)
    shutil.rmtree(stage, ignore_errors=True)
    kinds: dict[str, int] = {}
    for p in written:
        part = p.relative_to(stage_paper).parts[0]
        kinds[part] = kinds.get(part, 0) + 1
    summary = ", ".join(f"{n} in {k}/" for k, n in sorted(kinds.items())) or "nothing"
    print(f"  executed copies in {executed_dir}", file=out)
    print(f"  wrote {summary} under {paper} ({len(changed)} changed)", file=out)
    return 0
