"""Where notebooks put the paper's tables and figures.

Exports happen only when ``SENTINEL_LAB_EXPORT`` names a directory (``sentinel-lab reproduce`` sets it to
``paper/``), so running the notebooks as tests never rewrites the paper. ``quick()`` tells notebooks to use
their small sizes (``SENTINEL_LAB_QUICK=1``, set by ``reproduce --quick`` and by the test run).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["export_dir", "export_figure", "export_table", "export_value", "quick", "to_latex"]


def export_dir() -> Path | None:
    """The paper directory to write into, or None when exporting is off."""
    target = os.environ.get("SENTINEL_LAB_EXPORT", "").strip()
    return Path(target) if target else None


def quick() -> bool:
    """True when notebooks should run their small, fast configuration."""
    return os.environ.get("SENTINEL_LAB_QUICK", "") not in ("", "0", "false", "no")


def _latex_escape(text: str) -> str:
    table = {
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\~{}",
        "^": r"\^{}",
        "\\": r"\textbackslash{}",
    }
    return "".join(table.get(c, c) for c in text)


def to_latex(frame: Any, *, float_format: str = "{:.3g}", caption: str | None = None) -> str:
    """A booktabs tabular of a DataFrame, written by us so no Jinja2 or Styler is needed."""
    cols = [str(c) for c in frame.columns]
    index_name = str(frame.index.name or "")
    show_index = not (frame.index.dtype.kind == "i" and frame.index.name is None)
    head = ([index_name] if show_index else []) + cols
    align = ("l" if show_index else "") + "".join("r" if frame[c].dtype.kind in "iuf" else "l" for c in frame.columns)

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "--" if value != value else float_format.format(value)
        return _latex_escape(str(value))

    lines = [
        r"\begin{tabular}{" + align + "}",
        r"\toprule",
        " & ".join(_latex_escape(h) for h in head) + r" \\",
        r"\midrule",
    ]
    for idx, row in frame.iterrows():
        cells = ([cell(idx)] if show_index else []) + [cell(v) for v in row.tolist()]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    body = "\n".join(lines) + "\n"
    if caption:
        body = f"% {caption}\n" + body
    return body


def export_table(frame: Any, name: str, *, caption: str | None = None, float_format: str = "{:.3g}") -> list[Path]:
    """Write ``tables/<name>.csv`` and ``tables/<name>.tex`` under the export directory (if exporting)."""
    root = export_dir()
    if root is None:
        return []
    out = root / "tables"
    out.mkdir(parents=True, exist_ok=True)
    csv_path, tex_path = out / f"{name}.csv", out / f"{name}.tex"
    frame.to_csv(csv_path)
    tex_path.write_text(to_latex(frame, float_format=float_format, caption=caption), encoding="utf-8")
    return [csv_path, tex_path]


def export_figure(fig: Any, name: str) -> list[Path]:
    """Write ``figures/<name>.pdf`` and ``figures/<name>.png`` under the export directory (if exporting)."""
    root = export_dir()
    if root is None:
        return []
    out = root / "figures"
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.pdf", out / f"{name}.png"]
    fig.savefig(paths[0], bbox_inches="tight", metadata={"CreationDate": None})
    fig.savefig(paths[1], bbox_inches="tight", dpi=150)
    return paths


def export_value(name: str, value: Any, fmt: str = "{}") -> Path | None:
    """Record one number the paper's text quotes: ``numbers/<name>.tex`` defines it as a macro, and
    ``numbers/all.tex`` (rewritten each time) loads every such file, so ``\\result{<name>}`` works anywhere,
    captions included."""
    root = export_dir()
    if root is None:
        return None
    if not name.isalnum():
        raise ValueError(f"number names are letters and digits only (LaTeX macro names), got {name!r}")
    out = root / "numbers"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.tex"
    text = _latex_escape(fmt.format(value))
    path.write_text(f"\\expandafter\\def\\csname sl@{name}\\endcsname{{{text}}}%\n", encoding="utf-8")
    files = sorted(p.stem for p in out.glob("*.tex") if p.stem != "all")
    (out / "all.tex").write_text("".join(f"\\input{{numbers/{f}.tex}}\n" for f in files), encoding="utf-8")
    return path
