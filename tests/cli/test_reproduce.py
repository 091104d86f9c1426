"""``sentinel-lab reproduce`` on tiny fake notebook folders, with real kernels: a run is all or nothing (exports and
executed copies move into place only when every notebook succeeded), and a failing cell, a cell past its timeout
or a dead kernel is a failure with exit status 1, never "ok"."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from sentinel_lab._commands import reproduce as rep  # noqa: E402


def _notebook(folder: Path, name: str, *cells: str | tuple[str, list[str]]) -> Path:
    """Write a notebook of code cells (a cell is its source, or (source, tags))."""
    from nbformat.v4 import new_code_cell, new_notebook

    built = []
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        built.append(new_code_cell(source, metadata={"tags": tags} if tags else {}))
    nb = new_notebook(cells=built, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nb, path)
    return path


def _paper(root: Path) -> Path:
    paper = root / "paper"
    (paper / "numbers").mkdir(parents=True)
    (paper / "numbers" / "kept.tex").write_text("kept\n", encoding="utf-8")
    (paper / "numbers" / "answer.tex").write_text("old answer\n", encoding="utf-8")
    return paper


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    files = (p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


@pytest.fixture()
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the staging folders of the run under the test's own folder, to look into them."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _run(notebooks: Path, paper: Path, executed: Path, **kwargs: Any) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    status = rep.reproduce(notebooks, paper, executed, out=out, err=err, **kwargs)
    return status, out.getvalue() + err.getvalue()


EXPORT = "from sentinel_lab.lab.export import export_value\nexport_value('answer', 42)"


def test_success_moves_exports_and_executed_copies_into_place(tmp_path: Path, staging: Path) -> None:
    notebooks, executed = tmp_path / "nb", tmp_path / "executed"
    paper = _paper(tmp_path)
    kept_before = _snapshot(paper)["numbers/kept.tex"]
    _notebook(notebooks, "01_export.ipynb", EXPORT, "print('done')")
    _notebook(notebooks, "_private.ipynb", "raise SystemExit('never run')")

    status, text = _run(notebooks, paper, executed)

    assert status == 0, text
    assert "42" in (paper / "numbers" / "answer.tex").read_text(encoding="utf-8")
    # all.tex was written in staging seeded with the paper's numbers, so it still loads the untouched one.
    listing = (paper / "numbers" / "all.tex").read_text(encoding="utf-8")
    assert "numbers/kept.tex" in listing and "numbers/answer.tex" in listing
    assert _snapshot(paper)["numbers/kept.tex"] == kept_before, "an unchanged file is not rewritten"
    copy = nbformat.read(executed / "01_export.ipynb", as_version=4)
    assert copy.cells[1].outputs[0]["text"] == "done\n"
    assert not (executed / "_private.ipynb").exists()
    assert list(staging.iterdir()) == [], "the staging folder of a successful run is removed"
    assert not [p for p in paper.rglob("*.tmp")]


def test_failed_cell_leaves_paper_and_executed_copies_as_they_were(tmp_path: Path, staging: Path) -> None:
    notebooks, executed = tmp_path / "nb", tmp_path / "executed"
    paper = _paper(tmp_path)
    before = _snapshot(paper)
    _notebook(notebooks, "01_export.ipynb", EXPORT)
    _notebook(notebooks, "02_fails.ipynb", "raise ValueError('the evaluation broke')")

    status, text = _run(notebooks, paper, executed)

    assert status == 1
    assert "FAILED  02_fails.ipynb" in text and "OK      01_export.ipynb" in text
    assert "the evaluation broke" in text
    assert _snapshot(paper) == before, "a failed run must not touch the paper"
    assert not executed.exists()
    (kept,) = staging.iterdir()
    assert str(kept) in text, "the report says where the failed run's files are"
    assert "42" in (kept / "paper" / "numbers" / "answer.tex").read_text(encoding="utf-8")
    assert (kept / "executed" / "02_fails.ipynb").is_file()


def test_a_hanging_cell_is_a_timeout_and_a_slow_tag_gets_the_slow_timeout(tmp_path: Path, staging: Path) -> None:
    notebooks, executed = tmp_path / "nb", tmp_path / "executed"
    paper = _paper(tmp_path)
    before = _snapshot(paper)
    # Tagged slow: 3 s of work is fine under the 120 s slow timeout although the ordinary timeout is 1 s.
    _notebook(notebooks, "01_slow.ipynb", ("import time\ntime.sleep(3)", [rep.SLOW_TAG]))
    _notebook(notebooks, "02_hangs.ipynb", "import threading\nthreading.Event().wait()")

    status, text = _run(notebooks, paper, executed, timeout=1, slow_timeout=120)

    assert status == 1
    assert "OK      01_slow.ipynb" in text
    assert "TIMEOUT 02_hangs.ipynb" in text
    assert _snapshot(paper) == before


def test_a_dead_kernel_is_a_failure(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "nb", "dies.ipynb", "import os\nos._exit(3)", "print('unreachable')")
    outcome = rep.run_notebook(
        path,
        tmp_path / "executed" / "dies.ipynb",
        env=dict(os.environ),
        timeout=60,
        kernel_log=tmp_path / "kernel.log",
    )
    assert outcome.status == "died" and not outcome.ok
    assert (tmp_path / "executed" / "dies.ipynb").is_file(), "the executed copy is written even then"


def test_kernel_runs_over_ipc_without_transport_warnings(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path / "nb",
        "where.ipynb",
        "import json, sys\nfrom ipykernel.kernelapp import IPKernelApp\nprint(IPKernelApp.instance().transport)",
    )
    log = tmp_path / "kernel.log"
    outcome = rep.run_notebook(path, tmp_path / "out.ipynb", env=dict(os.environ), timeout=60, kernel_log=log)
    assert outcome.ok, outcome.detail
    copy = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert copy.cells[0].outputs[0]["text"] == "ipc\n"
    assert "without encryption" not in log.read_text(encoding="utf-8")


def test_output_widget_stand_in_never_writes_to_the_shell_socket() -> None:
    """Echoing captured outputs on the shell socket is what let a reply go unnoticed until the cell's timeout."""

    class Shell:
        def send(self, msg: Any) -> None:
            raise AssertionError(f"sent on the shell socket: {msg}")

    class Kernel:
        shell_channel = Shell()

    class Executor:
        def __init__(self) -> None:
            self.widget_state: dict[str, Any] = {"w1": {}}

    client = rep._client_class()(nbformat.v4.new_notebook())
    widget_class = client.widget_registry["@jupyter-widgets/output"]["OutputModel"]
    executor = Executor()
    widget = widget_class("w1", {"outputs": []}, Kernel(), executor)
    message = {
        "msg_type": "display_data",
        "header": {"msg_type": "display_data"},
        "parent_header": {"msg_id": "m1"},
        "content": {"data": {"text/plain": "row 1"}, "metadata": {}},
    }
    widget.output([], message, None, 0)
    widget.clear_output([], {"parent_header": {}, "content": {"wait": False}}, 0)
    widget.output([], message, None, 0)
    assert [o["data"]["text/plain"] for o in executor.widget_state["w1"]["outputs"]] == ["row 1"]


def test_cell_timeout_follows_the_slow_tag() -> None:
    plain = nbformat.v4.new_code_cell("x = 1")
    slow = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["nbval-ignore-output", rep.SLOW_TAG]})
    assert rep.cell_timeout(plain, 120, 600) == 120
    assert rep.cell_timeout(slow, 120, 600) == 600


def test_publish_replaces_changed_files_only(tmp_path: Path) -> None:
    stage, dest = tmp_path / "stage", tmp_path / "dest"
    (stage / "tables").mkdir(parents=True)
    (dest / "tables").mkdir(parents=True)
    (stage / "tables" / "same.csv").write_text("a,b\n", encoding="utf-8")
    (stage / "tables" / "new.csv").write_text("new\n", encoding="utf-8")
    (stage / "tables" / "changed.csv").write_text("after\n", encoding="utf-8")
    (dest / "tables" / "same.csv").write_text("a,b\n", encoding="utf-8")
    (dest / "tables" / "changed.csv").write_text("before\n", encoding="utf-8")
    same_before = (dest / "tables" / "same.csv").stat().st_mtime_ns

    changed = rep.publish(stage, dest)

    assert sorted(p.name for p in changed) == ["changed.csv", "new.csv"]
    assert (dest / "tables" / "changed.csv").read_text(encoding="utf-8") == "after\n"
    assert (dest / "tables" / "new.csv").read_text(encoding="utf-8") == "new\n"
    assert (dest / "tables" / "same.csv").stat().st_mtime_ns == same_before
    assert sorted(p.name for p in (dest / "tables").iterdir()) == ["changed.csv", "new.csv", "same.csv"]


def test_no_notebooks_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    status, text = _run(tmp_path / "nb", _paper(tmp_path), tmp_path / "executed")
    assert status == 2 and "no notebooks" in text
