"""Finding the local copy of an external dataset: an explicit path, a per-dataset variable, or ``$SENTINEL_LAB_DATA``.

External datasets are never downloaded at run time: the user clones or unpacks them and points the loader at the
copy. ``resolve`` tries, in order, the ``path`` argument, the dataset's own environment variable and the folder
``$SENTINEL_LAB_DATA/<default folder name>``, and raises ``DatasetError`` saying how to get a copy when none exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from sentinel_lab._core.errors import DatasetError

__all__ = ["DATA_ENV", "find", "front_matter", "iter_files", "resolve"]

#: The folder holding local copies of external datasets, each under its default folder name.
DATA_ENV = "SENTINEL_LAB_DATA"


def find(path: str | os.PathLike[str] | None, env: str, folder: str) -> Path | None:
    """The local copy's folder from ``path``, ``$env`` or ``$SENTINEL_LAB_DATA/folder``, or None when none is set."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    base = os.environ.get(DATA_ENV)
    if base:
        candidate = Path(base).expanduser() / folder
        if candidate.exists():
            return candidate
    return None


def resolve(path: str | os.PathLike[str] | None, *, title: str, env: str, folder: str, url: str, what: str) -> Path:
    """The existing local copy of dataset ``title``; a ``DatasetError`` saying how to provide one otherwise.

    ``what`` names the folder to point at (e.g. ``its dataset/RedCode-Exec/ folder``).
    """
    root = find(path, env, folder)
    if root is None:
        raise DatasetError(
            f"{title} is not bundled: clone {url} and pass path=<{what}> (or set ${env}, or put the clone at "
            f"${DATA_ENV}/{folder}) (CLI: --path)"
        )
    if not root.exists():
        raise DatasetError(f"{title}: local copy not found: {root} (pass path=<{what}>)")
    return root


def iter_files(root: Path, pattern: str) -> Iterator[Path]:
    """Files under ``root`` matching the glob ``pattern``, in sorted (deterministic) order."""
    yield from sorted(p for p in root.glob(pattern) if p.is_file())


def front_matter(text: str) -> dict[str, Any] | None:
    """The YAML front matter of a Jekyll page (between a first ``---`` line and a ``---`` or ``...`` line)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        return None
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None
