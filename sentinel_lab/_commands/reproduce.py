"""``sentinel-lab reproduce [--quick]``: execute every notebook headless, keep the executed copies, and let the
notebooks export the paper's tables (LaTeX, CSV) and figures (PDF, PNG) into ``paper/``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _repo_root() -> Path:
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "notebooks").is_dir() and (candidate / "paper").is_dir():
            return candidate
    return Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    root = _repo_root()
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole set in a few minutes")
    parser.add_argument("--notebooks", type=Path, default=root / "notebooks", help="folder of notebooks to run")
    parser.add_argument("--paper", type=Path, default=root / "paper", help="where tables/ and figures/ go")
    parser.add_argument(
        "--executed", type=Path, default=None, help="where executed copies go (default: NOTEBOOKS/executed)"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    parser.add_argument("--only", action="append", default=[], help="run only notebooks whose name contains this")


def run(args: argparse.Namespace) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebooks = sorted(p for p in args.notebooks.glob("*.ipynb") if not p.name.startswith("_"))
    if args.only:
        notebooks = [p for p in notebooks if any(o in p.name for o in args.only)]
    if not notebooks:
        print(f"sentinel-lab reproduce: no notebooks in {args.notebooks}", file=sys.stderr)
        return 2
    executed_dir = args.executed or args.notebooks / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    paper = args.paper.resolve()
    (paper / "tables").mkdir(parents=True, exist_ok=True)
    (paper / "figures").mkdir(parents=True, exist_ok=True)
    env_before = {k: os.environ.get(k) for k in ("SENTINEL_LAB_EXPORT", "SENTINEL_LAB_QUICK", "MPLBACKEND")}
    os.environ["SENTINEL_LAB_EXPORT"] = str(paper)
    os.environ["SENTINEL_LAB_QUICK"] = "1" if args.quick else "0"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    started = time.time()
    before = {p: p.stat().st_mtime for p in paper.rglob("*") if p.is_file()}
    timings: list[tuple[str, float, str]] = []
    failed = False
    try:
        from tqdm import tqdm

        bar = tqdm(notebooks, desc="notebooks", unit="nb", file=sys.stderr)
    except ImportError:  # pragma: no cover - tqdm ships with the eval extra
        bar = notebooks
    try:
        for path in bar:
            if hasattr(bar, "set_postfix_str"):
                bar.set_postfix_str(path.name)
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(
                nb, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            )
            t0 = time.time()
            status = "ok"
            try:
                client.execute()
            except CellExecutionError as exc:
                status = "FAILED"
                failed = True
                print(f"\n{path.name}: a cell failed:\n{str(exc)[-2000:]}", file=sys.stderr)
            timings.append((path.name, time.time() - t0, status))
            nbformat.write(nb, executed_dir / path.name)
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    produced = sorted(
        p
        for p in paper.rglob("*")
        if p.is_file() and p.parent.name in ("tables", "figures", "numbers") and before.get(p) != p.stat().st_mtime
    )
    mode = "quick" if args.quick else "full"
    print(f"\nreproduce: {len(notebooks)} notebooks in {time.time() - started:.0f} s ({mode})")
    for name, seconds, status in timings:
        print(f"  {status:<6} {name:<28} {seconds:7.1f} s")
    print(f"  executed copies in {executed_dir}")
    kinds: dict[str, int] = {}
    for p in produced:
        kinds[p.parent.name] = kinds.get(p.parent.name, 0) + 1
    summary = ", ".join(f"{n} in {k}/" for k, n in sorted(kinds.items())) or "nothing"
    print(f"  wrote {summary} under {paper}")
    return 1 if failed else 0
