"""A corpus of real documentation files (READMEs, changelogs, guides) as benign tool outputs.

Collected from the installed distributions of the current Python environment (``importlib.metadata``): each
distribution's long description (the README that ``METADATA`` carries after its headers) and the files its
``RECORD`` lists that are documents: ``README*``, ``CHANGELOG*``/``CHANGES*``/``HISTORY*``/``NEWS*``,
``*.md``, ``*.rst``, ``*.txt`` other than packaging metadata (``entry_points.txt``, ``top_level.txt`` ...),
licence, notice and authors files; then (``system=True``) the same kinds of files of the operating system's
packages under ``/usr/share/doc``, gzip-compressed ones included. Or, with ``path``, every such file under a
folder the user points at. Nothing is downloaded.

Deterministic: distributions in name order, files in path order; UTF-8 only; files larger than ``max_bytes``
and shorter than ``min_chars`` are skipped, identical contents are kept once (SHA-256), at most ``limit`` files.
Each document is one row like AgentDojo's clean outputs: ``kind="output"``, ``label="benign"``, the text in
``text``, and ``tool="read_file"`` with ``args={"path": ...}`` naming the read that returned it.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from sentinel_lab._core.errors import DatasetError

__all__ = ["EXTRA", "is_document", "load_rows"]

EXTRA = ("distribution", "doc_kind")
_PREFIXES = {
    "readme": "readme",
    "changelog": "changelog",
    "changes": "changelog",
    "history": "changelog",
    "news": "changelog",
    "license": "license",
    "licence": "license",
    "copying": "license",
    "copyright": "license",
    "notice": "license",
    "authors": "authors",
    "contributors": "authors",
}
_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "text"}
_NOT_DOCS = {
    "entry_points.txt",
    "top_level.txt",
    "dependency_links.txt",
    "namespace_packages.txt",
    "sources.txt",
    "requires.txt",
    "not-zip-safe",
    "api_tests.txt",
}


def is_document(name: str) -> str | None:
    """The kind of document a file name is (``readme``, ``changelog``, ``markdown``, ``rst``, ``text``,
    ``license``, ``authors``) or None; a gzip-compressed document (``changelog.Debian.gz``) counts as one."""
    lower = name.lower().removesuffix(".gz")
    if lower in _NOT_DOCS or lower.startswith("requirements") or lower.endswith((".py", ".pyc", ".so", ".json")):
        return None
    for prefix, kind in _PREFIXES.items():
        if lower.startswith(prefix):
            return kind
    return _SUFFIXES.get(os.path.splitext(lower)[1])


def _read(path: Path, max_bytes: int) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
            if len(data) > max_bytes:
                return None
        else:
            data = path.read_bytes()
        return data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile):
        return None


def _installed(max_bytes: int) -> Iterator[tuple[str, str, str, str, str]]:
    """(distribution, version, shown path, kind, text) for every document of the installed distributions."""
    dists: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").strip()
        if name:
            dists.setdefault(name.lower().replace("_", "-"), dist)
    for key in sorted(dists):
        dist = dists[key]
        name, version = dist.metadata["Name"], dist.version
        raw = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        _, sep, body = raw.replace("\r\n", "\n").partition("\n\n")
        if sep and body.strip() and len(body.encode("utf-8")) <= max_bytes:
            yield name, version, f"{name}-{version}.dist-info/METADATA", "readme", body
        for file in sorted(dist.files or [], key=str):
            kind = is_document(file.name)
            if kind is None or file.name in ("METADATA", "PKG-INFO", "RECORD", "WHEEL"):
                continue
            text = _read(Path(str(file.locate())), max_bytes)
            if text is not None:
                yield name, version, str(file), kind, text


#: Where the operating system's packages keep their documentation (Debian and most Linux distributions).
SYSTEM_DOCS = Path("/usr/share/doc")


def _folder(root: Path, max_bytes: int, prefix: str = "") -> Iterator[tuple[str, str, str, str, str]]:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        kind = is_document(path.name)
        if kind is None:
            continue
        text = _read(path, max_bytes)
        if text is not None:
            rel = path.relative_to(root).as_posix()
            yield rel.split("/", 1)[0] if "/" in rel else root.name, "", prefix + rel, kind, text


def load_rows(
    path: str | os.PathLike[str] | None = None,
    limit: int = 5000,
    max_bytes: int = 256 * 1024,
    min_chars: int = 200,
    system: bool = True,
) -> list[dict[str, Any]]:
    """Benign output rows, one per distinct document (see the module docstring for what is collected).

    ``system``: also the operating system packages' documents under ``/usr/share/doc`` (after the Python ones).
    """
    if limit < 1 or max_bytes < 1:
        raise DatasetError("docs: limit and max_bytes must be positive")
    if path is not None:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise DatasetError(f"docs: folder not found: {root}")
        source: Iterator[tuple[str, str, str, str, str]] = _folder(root, max_bytes)
        origin = f"documents under {root.name}/"
    else:
        source = _installed(max_bytes)
        if system and SYSTEM_DOCS.is_dir():
            source = itertools.chain(source, _folder(SYSTEM_DOCS, max_bytes, f"{SYSTEM_DOCS}/"))
        origin = "installed package"
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for dist, version, shown, kind, text in source:
        if len(text.strip()) < min_chars:
            continue
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        rows.append(
            {
                "id": f"docs/{shown}",
                "dataset": "docs",
                "kind": "output",
                "tool": "read_file",
                "args": {"path": shown},
                "text": text,
                "label": "benign",
                "harmful": False,
                "category": f"docs/{kind}",
                "technique": "clean",
                "source": f"{origin} {dist} {version}".strip(),
                "distribution": dist,
                "doc_kind": kind,
            }
        )
        if len(rows) >= limit:
            break
    return rows
