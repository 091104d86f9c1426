"""Our own JSONL corpora (``datasets/corpus.jsonl``, ``datasets/paper.jsonl``, ``datasets/holdout.jsonl``).

Each line: ``{"id", "tool", "args", "expected": "block"|"allow", "category", "technique", "source"}``.
``expected: block`` becomes ``label: attack``; multi-step lines may carry ``trace_id`` and ``step``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets import to_frame

__all__ = ["FILES", "find_dir", "load_corpus"]

FILES = {"corpus": "corpus.jsonl", "paper": "paper.jsonl", "holdout": "holdout.jsonl"}


def find_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding our JSONL corpora: ``path``, ``$SENTINEL_LAB_DATASETS``, or the checkout's ``datasets/``."""
    candidates: list[Path] = []
    if path is not None:
        candidates.append(Path(path))
    env = os.environ.get("SENTINEL_LAB_DATASETS")
    if env:
        candidates.append(Path(env))
    here = Path(__file__).resolve()
    candidates.append(here.parents[2] / "datasets")
    candidates.append(here.parents[1] / "data" / "datasets")
    for c in candidates:
        if c.is_dir():
            return c
    raise DatasetError(
        "cannot find the datasets/ folder with corpus.jsonl and paper.jsonl; pass path=<folder> or set "
        f"SENTINEL_LAB_DATASETS (looked in: {', '.join(str(c) for c in candidates)})"
    )


def _label(expected: Any, where: str) -> str:
    value = str(expected).strip().lower()
    if value in ("block", "attack", "deny"):
        return "attack"
    if value in ("allow", "benign"):
        return "benign"
    raise DatasetError(f"{where}: 'expected' must be block or allow, got {expected!r}")


def load_corpus(name: str, path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load one of our corpora (``corpus``, ``paper`` or ``holdout``) as a dataset frame."""
    p = Path(path) if path is not None and Path(path).is_file() else find_dir(path) / FILES[name]
    if not p.is_file():
        raise DatasetError(f"dataset {name!r}: file not found: {p}")
    rows: list[dict[str, Any]] = []
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            where = f"{p}:{lineno}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(item, dict) or "tool" not in item:
                raise DatasetError(f"{where}: each line must be an object with at least 'tool' and 'args'")
            args = item.get("args", {})
            if not isinstance(args, dict):
                raise DatasetError(f"{where}: 'args' must be an object")
            rows.append(
                {
                    "id": str(item.get("id") or f"{name}-{lineno}"),
                    "dataset": name,
                    "kind": "call",
                    "tool": str(item["tool"]),
                    "args": args,
                    "label": _label(item.get("expected", "allow"), where),
                    "category": item.get("category") or "",
                    "technique": item.get("technique") or "",
                    "source": item.get("source") or "sentinel-lab",
                    "trace_id": item.get("trace_id"),
                    "step": item.get("step"),
                }
            )
    return to_frame(rows)
