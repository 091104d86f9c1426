"""NL2Bash (TellinaTool/nl2bash, GPL-3.0) from a local copy; nothing is downloaded.

Source: https://github.com/TellinaTool/nl2bash (Lin et al., LREC 2018). Read: ``data/bash/all.cm`` (one Bash
command per line, about 12,600 collected from question-and-answer sites and tutorials) and, when present,
``data/bash/all.nl`` (the English description on the same line number).

Each distinct command becomes one benign call to a ``bash`` tool (``{"command": ...}``), category ``nl2bash``,
technique the command's first word, ``description`` its English description. The commands are ordinary
administration and file work written by people for people; some delete, move or change permissions of their
own files, which is what a benign corpus of real commands looks like.
"""

from __future__ import annotations

import os
from typing import Any

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets.local import resolve

__all__ = ["ENV", "EXTRA", "load_rows"]

ENV = "SENTINEL_LAB_NL2BASH"
EXTRA = ("description",)


def load_rows(path: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """One benign row per distinct command of ``all.cm``."""
    root = resolve(
        path,
        title="NL2Bash",
        env=ENV,
        folder="nl2bash",
        url="https://github.com/TellinaTool/nl2bash",
        what="the clone or its data/bash/ folder",
    )
    for candidate in (root, root / "bash", root / "data" / "bash"):
        if (candidate / "all.cm").is_file():
            folder = candidate
            break
    else:
        if root.is_file() and root.suffix == ".cm":
            folder = root.parent
        else:
            raise DatasetError(f"NL2Bash: no data/bash/all.cm under {root}")
    try:
        commands = (folder / "all.cm").read_text(encoding="utf-8", errors="replace").splitlines()
        nl_file = folder / "all.nl"
        descriptions = nl_file.read_text(encoding="utf-8", errors="replace").splitlines() if nl_file.is_file() else []
    except OSError as exc:
        raise DatasetError(f"NL2Bash: cannot read {folder}: {exc}") from None
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, line in enumerate(commands, 1):
        command = line.strip()
        if not command or command in seen:
            continue
        seen.add(command)
        rows.append(
            {
                "id": f"nl2bash/{n}",
                "dataset": "nl2bash",
                "kind": "call",
                "tool": "bash",
                "args": {"command": command},
                "label": "benign",
                "category": "nl2bash",
                "technique": command.split()[0],
                "source": f"NL2Bash all.cm line {n}",
                "description": descriptions[n - 1].strip() if n <= len(descriptions) else "",
            }
        )
    return rows
