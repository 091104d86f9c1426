"""Berkeley Function Calling Leaderboard ground truth (ShishirPatil/gorilla, Apache-2.0) from a local copy.

Source: https://github.com/ShishirPatil/gorilla, folder ``berkeley-function-call-leaderboard/data/`` (newer
releases: ``berkeley-function-call-leaderboard/bfcl_eval/data/``); nothing is downloaded. Read:
``possible_answer/BFCL_v*_<category>.json``, JSON lines with ``id`` and ``ground_truth``. In the single-turn
categories the ground truth is a list of calls ``{function_name: {argument: [acceptable values]}}``, where
``""`` among the values means the argument may be left out; in the multi-turn categories it is a list of turns,
each a list of call strings such as ``cd(folder='document')``. (The questions and function documents are in
``BFCL_v*_<category>.json`` beside ``possible_answer/``; the calls do not need them.)

Each ground-truth call becomes one benign call: the function name as the tool, each argument's first
acceptable value as its value (an argument whose first acceptable value is ``""`` is left out, as the answer
allows), nested objects resolved the same way; multi-turn call strings are parsed with ``ast`` (never
evaluated; literal arguments only, positional ones named ``arg0``, ``arg1``...). Category ``bfcl/<category>``.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets.local import resolve

__all__ = ["ENV", "EXTRA", "first_values", "load_rows", "parse_call"]

ENV = "SENTINEL_LAB_BFCL"
EXTRA = ("test_category",)
_LAYOUTS = (
    "",
    "data",
    "bfcl_eval/data",
    "berkeley-function-call-leaderboard/data",
    "berkeley-function-call-leaderboard/bfcl_eval/data",
)


def first_values(spec: Any) -> Any:
    """A ground-truth argument map (``{name: [acceptable values]}``) resolved to one concrete value per name."""
    if isinstance(spec, dict):
        out: dict[str, Any] = {}
        for name, values in spec.items():
            value = values[0] if isinstance(values, list) and values else values
            if isinstance(values, list) and not values:
                continue
            if value == "":
                continue
            out[str(name)] = _resolve(value)
        return out
    return spec


def _resolve(value: Any) -> Any:
    if isinstance(value, dict):
        return first_values(value)
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def parse_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """``f(a=1, b='x')`` -> ``("f", {"a": 1, "b": "x"})``, by parsing (never evaluating); None if not a call."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(node, ast.Call):
        return None
    parts: list[str] = []
    func: ast.expr = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    parts.append(func.id)
    args: dict[str, Any] = {}
    try:
        for i, arg in enumerate(node.args):
            args[f"arg{i}"] = ast.literal_eval(arg)
        for kw in node.keywords:
            if kw.arg is None:
                return None
            args[kw.arg] = ast.literal_eval(kw.value)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None
    return ".".join(reversed(parts)), args


def _data_dir(path: str | os.PathLike[str] | None) -> Path:
    root = resolve(
        path,
        title="BFCL",
        env=ENV,
        folder="gorilla",
        url="https://github.com/ShishirPatil/gorilla",
        what="the clone or its berkeley-function-call-leaderboard/data/ folder",
    )
    for layout in _LAYOUTS:
        candidate = root / layout if layout else root
        if (candidate / "possible_answer").is_dir():
            return candidate
    raise DatasetError(f"BFCL: no possible_answer/ folder under {root} (pass path=<its data/ folder>)")


def _category(stem: str) -> str:
    # BFCL_v3_live_simple -> live_simple
    parts = stem.split("_", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "BFCL" else stem


def load_rows(path: str | os.PathLike[str] | None, categories: Any = None) -> list[dict[str, Any]]:
    """One benign row per ground-truth call (of ``categories``, e.g. ``["simple", "live_multiple"]``, or all)."""
    folder = _data_dir(path)
    wanted = {categories} if isinstance(categories, str) else set(categories or [])
    rows: list[dict[str, Any]] = []
    for f in sorted((folder / "possible_answer").glob("BFCL_v*_*.json")):
        category = _category(f.stem)
        if wanted and category not in wanted:
            continue
        try:
            lines = f.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DatasetError(f"BFCL: cannot read {f}: {exc}") from None
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise DatasetError(f"BFCL: {f}:{lineno}: not JSON ({exc})") from None
            if not isinstance(entry, dict):
                continue
            entry_id = str(entry.get("id") or f"{category}_{lineno}")
            calls: list[tuple[str, dict[str, Any]]] = []
            for item in entry.get("ground_truth") or []:
                if isinstance(item, dict):
                    for name, spec in item.items():
                        calls.append((str(name), first_values(spec) if isinstance(spec, dict) else {}))
                elif isinstance(item, list):  # multi-turn: one list of call strings per turn
                    for text in item:
                        parsed = parse_call(text) if isinstance(text, str) else None
                        if parsed:
                            calls.append(parsed)
                elif isinstance(item, str):
                    parsed = parse_call(item)
                    if parsed:
                        calls.append(parsed)
            for i, (tool, args) in enumerate(calls):
                rows.append(
                    {
                        "id": f"bfcl/{entry_id}/{i}",
                        "dataset": "bfcl",
                        "kind": "call",
                        "tool": tool,
                        "args": args,
                        "label": "benign",
                        "category": f"bfcl/{category}",
                        "technique": "ground_truth",
                        "source": f"BFCL possible_answer/{f.name}",
                        "test_category": category,
                    }
                )
    if not rows:
        raise DatasetError(f"BFCL: no ground-truth calls in {folder / 'possible_answer'}")
    return rows
