"""tldr-pages (tldr-pages/tldr, CC BY 4.0) from a local copy; nothing is downloaded.

Source: https://github.com/tldr-pages/tldr. Read: ``pages/<platform>/<command>.md`` (English pages only; the
translations live in ``pages.<lang>/``). A page is ``# name``, ``> description`` lines, then examples: a
``- Description:`` line followed by a line holding one command in backticks, with user-supplied values written
as ``{{placeholders}}`` (``{{path/to/file}}``, ``{{file1 file2 ...}}``, ``{{either|or}}``, ``{{[-v|--verbose]}}``).

Each distinct example becomes one benign call (``{"command": ...}``) to a ``bash`` tool, or to a ``cmd`` tool for
``pages/windows``; category ``tldr/<platform>``, technique the page's command, ``description`` the example's
line. Placeholders are filled deterministically with plausible values (``fill``): the first alternative of a
choice, ``path/to/x`` as the relative path ``x`` (``/path/to/x`` as ``/tmp/x``; Windows' ``path\\to\\x`` as ``x``,
``C:\\path\\to\\x`` as ``C:\\Temp\\x``), an ellipsis dropped, a host name as ``example.com``, an address
from the documentation range, and any other token as its own text (tldr tokens are often real values already,
such as ``{{2}}`` or ``{{main}}``).
"""

from __future__ import annotations

import os
from typing import Any

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets.local import resolve

__all__ = ["ENV", "EXTRA", "fill", "load_rows"]

ENV = "SENTINEL_LAB_TLDR"
EXTRA = ("platform", "description")
_NAMED = {
    "host": "example.com",
    "hostname": "example.com",
    "remote_host": "example.com",
    "server": "example.com",
    "domain": "example.com",
    "url": "https://example.com",
    "ip": "192.0.2.10",
    "ip_address": "192.0.2.10",
    "port": "8080",
    "user": "alice",
    "username": "alice",
    "email": "alice@example.com",
}


def _token(inner: str) -> str:
    text = inner.strip()
    if text.startswith("[") and text.endswith("]") and "|" in text:
        text = text[1:-1]
    if "|" in text:
        text = text.split("|", 1)[0]
    words = [w for w in text.split() if w not in ("...", "…")]
    out: list[str] = []
    for word in words:
        word = word.removesuffix("...").removesuffix("…") or word
        if word.startswith("/path/to/"):
            word = "/tmp/" + word[len("/path/to/") :]
        elif word.startswith("~/path/to/"):
            word = "~/" + word[len("~/path/to/") :]
        elif word.startswith("path/to/"):
            word = word[len("path/to/") :] or "."
        elif word.lower().startswith(("c:\\path\\to\\", "\\path\\to\\")):
            word = "C:\\Temp\\" + word.split("\\", 3)[-1]
        elif word.startswith("path\\to\\"):
            word = word[len("path\\to\\") :] or "."
        out.append(_NAMED.get(word.lower(), word))
    return " ".join(out)


def fill(command: str) -> str:
    """``command`` with every ``{{placeholder}}`` replaced by a plausible value (one linear pass)."""
    out: list[str] = []
    i = 0
    while True:
        j = command.find("{{", i)
        if j < 0:
            out.append(command[i:])
            break
        k = command.find("}}", j + 2)
        if k < 0:
            out.append(command[i:])
            break
        out.append(command[i:j])
        out.append(_token(command[j + 2 : k]))
        i = k + 2
    return "".join(out)


def load_rows(path: str | os.PathLike[str] | None, platforms: Any = None) -> list[dict[str, Any]]:
    """One benign row per distinct example of the English pages (of ``platforms``, or all when None)."""
    root = resolve(
        path,
        title="tldr-pages",
        env=ENV,
        folder="tldr",
        url="https://github.com/tldr-pages/tldr",
        what="the clone or its pages/ folder",
    )
    if (root / "pages").is_dir():
        root = root / "pages"
    wanted = {platforms} if isinstance(platforms, str) else set(platforms or [])
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for folder in folders:
        platform = folder.name
        if wanted and platform not in wanted:
            continue
        tool = "cmd" if platform == "windows" else "bash"
        for page in sorted(folder.glob("*.md")):
            try:
                lines = page.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            description = ""
            n = 0
            for line in lines:
                line = line.strip()
                if line.startswith("- "):
                    description = line[2:].rstrip(":")
                    continue
                if len(line) < 3 or line[0] != "`" or line[-1] != "`":
                    continue
                n += 1
                command = fill(line[1:-1]).strip()
                if not command or (tool, command) in seen:
                    continue
                seen.add((tool, command))
                rows.append(
                    {
                        "id": f"tldr/{platform}/{page.stem}/{n}",
                        "dataset": "tldr",
                        "kind": "call",
                        "tool": tool,
                        "args": {"command": command},
                        "label": "benign",
                        "category": f"tldr/{platform}",
                        "technique": page.stem,
                        "source": f"tldr-pages pages/{platform}/{page.name}",
                        "platform": platform,
                        "description": description,
                    }
                )
    if not rows:
        raise DatasetError(f"tldr-pages: no pages/<platform>/*.md examples under {root}")
    return rows
