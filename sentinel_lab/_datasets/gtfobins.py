"""GTFOBins (GTFOBins/GTFOBins.github.io, GPL-3.0) from a local copy; nothing is downloaded.

Source: https://github.com/GTFOBins/GTFOBins.github.io. Read: ``_gtfobins/<binary>.md`` (the long-standing
layout) and ``_gtfobins/<binary>`` (the newer one without extension), each a page whose YAML front matter has
``functions``: a map from a function (``shell``, ``command``, ``reverse-shell``, ``bind-shell``, ``file-read``,
``file-write``, ``upload``, ``download``, ``library-load``, ``sudo``, ``suid``, ``limited-suid``, ``capabilities``
...) to a list of entries with ``code`` (and a ``description``). In the newer layout an entry also has
``contexts`` (``unprivileged``, ``sudo``, ``suid`` ...), each empty or with its own ``code``. Pages that are only
an ``alias`` of another binary are skipped.

Each distinct snippet becomes one attack call to a ``bash`` tool (``{"command": code}``): category
``gtfobins/<function>``, technique the binary, ``context`` the privilege context (the function itself for the
old layout's ``sudo``/``suid``/``limited-suid``/``capabilities`` lists). A newer-layout ``sudo`` context without
its own code is the entry's code run through ``sudo``, as the site shows it.
"""

from __future__ import annotations

import os
from typing import Any

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets.local import front_matter, resolve

__all__ = ["ENV", "EXTRA", "load_rows"]

ENV = "SENTINEL_LAB_GTFOBINS"
EXTRA = ("binary", "context")
_CONTEXT_FUNCTIONS = ("sudo", "suid", "limited-suid", "capabilities")


def _snippets(function: str, entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(context, code) pairs of one function entry."""
    code = entry.get("code")
    base = code.strip("\n") if isinstance(code, str) else ""
    contexts = entry.get("contexts")
    if not isinstance(contexts, dict):
        context = function if function in _CONTEXT_FUNCTIONS else "unprivileged"
        return [(context, base)] if base.strip() else []
    out: list[tuple[str, str]] = []
    for context in sorted(contexts, key=str):
        spec = contexts[context]
        own = spec.get("code") if isinstance(spec, dict) else None
        if isinstance(own, str) and own.strip():
            out.append((str(context), own.strip("\n")))
        elif base.strip():
            out.append((str(context), f"sudo {base}" if context == "sudo" else base))
    return out


def load_rows(path: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """One attack row per distinct snippet of every binary's page."""
    root = resolve(
        path,
        title="GTFOBins",
        env=ENV,
        folder="GTFOBins.github.io",
        url="https://github.com/GTFOBins/GTFOBins.github.io",
        what="the clone or its _gtfobins/ folder",
    )
    if (root / "_gtfobins").is_dir():
        root = root / "_gtfobins"
    pages = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")) if root.is_dir() else []
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    ids: set[str] = set()
    for page in pages:
        if page.suffix not in ("", ".md"):
            continue
        try:
            meta = front_matter(page.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        functions = (meta or {}).get("functions")
        if not isinstance(functions, dict):
            continue
        binary = page.stem
        for function in sorted(functions, key=str):
            entries = functions[function]
            for n, entry in enumerate(entries if isinstance(entries, list) else [], 1):
                if not isinstance(entry, dict):
                    continue
                for context, code in _snippets(str(function), entry):
                    if code in seen:
                        continue
                    seen.add(code)
                    rid = f"gtfobins/{binary}/{function}/{n}/{context}"
                    if rid in ids:
                        rid = f"{rid}/{page.name}"
                    ids.add(rid)
                    rows.append(
                        {
                            "id": rid,
                            "dataset": "gtfobins",
                            "kind": "call",
                            "tool": "bash",
                            "args": {"command": code},
                            "label": "attack",
                            "category": f"gtfobins/{function}",
                            "technique": binary,
                            "source": f"GTFOBins _gtfobins/{page.name}",
                            "binary": binary,
                            "context": context,
                        }
                    )
    if not rows:
        raise DatasetError(f"GTFOBins: no _gtfobins/* pages with functions under {root}")
    return rows
