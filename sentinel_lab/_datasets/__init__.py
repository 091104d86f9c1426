"""Dataset loaders behind ``sentinel_lab.datasets``: one frame schema shared by every source.

Every loader returns rows (dicts) with the columns of ``COLUMNS``; ``to_frame`` turns them into a DataFrame
with fixed dtypes, so frames from different datasets concatenate cleanly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["COLUMNS", "KINDS", "LABELS", "cache_dir", "to_frame"]

#: The columns every dataset frame has, in this order (loaders may append dataset-specific columns).
COLUMNS: tuple[str, ...] = (
    "id",
    "dataset",
    "kind",
    "tool",
    "args",
    "text",
    "label",
    "harmful",
    "category",
    "technique",
    "source",
    "trace_id",
    "step",
)
#: ``call``: a proposed tool call (tool + args) to verify. ``output``: a tool's result text (``text``) for an
#: output scanner; ``tool``/``args`` then name the call that produced it.
KINDS: tuple[str, ...] = ("call", "output")
LABELS: tuple[str, ...] = ("attack", "benign")


def to_frame(rows: Iterable[Mapping[str, Any]], extra: Iterable[str] = ()) -> pd.DataFrame:
    """Build a dataset frame with the shared schema (plus ``extra`` columns) from row dicts."""
    rows = list(rows)
    columns = list(COLUMNS) + [c for c in extra if c not in COLUMNS]
    data: dict[str, list[Any]] = {c: [] for c in columns}
    for row in rows:
        label = str(row.get("label", "benign"))
        for c in columns:
            if c == "args":
                value = row.get("args")
                data[c].append(dict(value) if isinstance(value, Mapping) else {})
            elif c == "harmful":
                value = row.get("harmful")
                data[c].append(bool(label == "attack" if value is None else value))
            elif c == "kind":
                data[c].append(str(row.get("kind") or "call"))
            elif c == "step":
                value = row.get("step")
                data[c].append(pd.NA if value is None else int(value))
            elif c == "trace_id":
                value = row.get("trace_id")
                data[c].append(None if value in (None, "") else str(value))
            elif c == "label":
                data[c].append(label)
            else:
                value = row.get(c)
                data[c].append("" if value is None else value)
    series: dict[str, pd.Series] = {}
    for c in columns:
        series[c] = pd.Series(data[c], dtype=object if c in ("args", "trace_id") else None)
    frame: pd.DataFrame = pd.DataFrame(series, columns=columns)
    for c in ("id", "dataset", "tool", "text", "category", "technique", "source"):
        frame[c] = frame[c].astype(str)
    frame["kind"] = pd.Categorical(frame["kind"], categories=list(KINDS))
    frame["label"] = pd.Categorical(frame["label"], categories=list(LABELS))
    frame["harmful"] = frame["harmful"].astype(bool)
    frame["step"] = frame["step"].astype("Int64")
    return frame


def cache_dir() -> Path:
    """Where computed datasets are cached: ``$SENTINEL_LAB_CACHE`` or the user cache dir."""
    env = os.environ.get("SENTINEL_LAB_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sentinel-lab"
