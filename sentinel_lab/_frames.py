"""Verdicts as pandas DataFrames with one fixed schema, shared by the evaluation and the notebook lab.

Schema (in column order)::

    time        datetime64[ns, UTC]   when the decision was made (Verdict.at)
    session     string                Verdict.session_id
    tool        string
    args        string                the call's arguments as JSON (sort_keys, ensure_ascii=False)
    allowed     bool
    decision    category              allow | block | flag
    policy      category              the deciding policy ("" when allowed)
    severity    category              critical | high | medium | low | ""
    reason      string
    confidence  float64
    latency_us  float64               Verdict.elapsed_us
    taints      string                sorted, comma-joined
    rule        string                Verdict.rule
    source      category              magic | sdk | api | eval | proxy
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sentinel_lab._core.verdict import POLICIES

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "DECISIONS",
    "POLICY_NAMES",
    "SEVERITY_LEVELS",
    "SOURCES",
    "args_json",
    "frame_of_rows",
    "row",
    "verdicts_frame",
]

COLUMNS: tuple[str, ...] = (
    "time",
    "session",
    "tool",
    "args",
    "allowed",
    "decision",
    "policy",
    "severity",
    "reason",
    "confidence",
    "latency_us",
    "taints",
    "rule",
    "source",
)
DECISIONS: tuple[str, ...] = ("allow", "block", "flag")
SEVERITY_LEVELS: tuple[str, ...] = ("critical", "high", "medium", "low", "")
SOURCES: tuple[str, ...] = ("magic", "sdk", "api", "eval", "proxy")
#: Known deciding policies; ``custom:<name>`` values are added to the categories as they appear.
POLICY_NAMES: tuple[str, ...] = ("", *POLICIES, "static_rules", "argument_rules", "taint_rules", "default_action")
_STRING_COLUMNS = ("session", "tool", "args", "reason", "taints", "rule")


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (tuple, list)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def args_json(args: Any) -> str:
    """The call's arguments as canonical JSON text (sorted keys, non-ASCII kept), for the ``args`` column."""
    if args is None:
        return "{}"
    try:
        return json.dumps(args, sort_keys=True, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError):
        # Mixed-type keys cannot be sorted; fall back to string keys.
        if isinstance(args, Mapping):
            fixed = {str(k): v for k, v in args.items()}
            return json.dumps(fixed, sort_keys=True, ensure_ascii=False, default=_json_default)
        return json.dumps(str(args), ensure_ascii=False)


def _deciding_policy(v: Any) -> str:
    decision = _decision(v)
    if decision == "allow":
        return ""
    policy = str(getattr(v, "policy", "") or "")
    if policy:
        return policy
    rule = str(getattr(v, "rule", "") or "")
    if rule:
        return rule.split(".", 1)[0]
    return ""


def _decision(v: Any) -> str:
    decision = str(getattr(v, "decision", "") or "")
    if decision in DECISIONS:
        return decision
    return "allow" if bool(getattr(v, "allowed", True)) else "block"


def row(v: Any, source: str, fallback_at: float | None = None) -> dict[str, Any]:
    at = getattr(v, "at", 0.0) or fallback_at or float("nan")
    decision = _decision(v)
    severity = str(getattr(v, "severity", "") or "") if decision != "allow" else ""
    reason = str(getattr(v, "reason", "") or "")
    taints = getattr(v, "taints", ()) or ()
    return {
        "time": float(at),
        "session": str(getattr(v, "session_id", "") or ""),
        "tool": str(getattr(v, "tool", "") or ""),
        "args": args_json(getattr(v, "args", None)),
        "allowed": bool(getattr(v, "allowed", True)),
        "decision": decision,
        "policy": _deciding_policy(v),
        "severity": severity if severity in SEVERITY_LEVELS else "",
        "reason": reason,
        "confidence": float(getattr(v, "confidence", float("nan"))),
        "latency_us": float(getattr(v, "elapsed_us", float("nan"))),
        "taints": ",".join(sorted(str(t) for t in taints)),
        "rule": str(getattr(v, "rule", "") or ""),
        "source": source,
    }


def frame_of_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows made by ``row`` as a frame with the fixed dtypes (pandas is imported here, never on the proxy path)."""
    import pandas as pd

    data: dict[str, Any] = {c: [r[c] for r in rows] for c in COLUMNS}
    micros = (pd.Series(data["time"], dtype="float64") * 1e6).round()
    times = pd.to_datetime(micros, unit="us", utc=True)
    out: dict[str, Any] = {"time": times.astype("datetime64[ns, UTC]")}
    for col in COLUMNS[1:]:
        values = data[col]
        if col in _STRING_COLUMNS:
            out[col] = pd.Series(values, dtype="string")
        elif col == "allowed":
            out[col] = pd.Series(values, dtype="bool")
        elif col in ("confidence", "latency_us"):
            out[col] = pd.Series(values, dtype="float64")
        elif col == "decision":
            out[col] = pd.Categorical(values, categories=list(DECISIONS))
        elif col == "severity":
            out[col] = pd.Categorical(values, categories=list(SEVERITY_LEVELS))
        elif col == "source":
            extra = sorted({s for s in values if s not in SOURCES})
            out[col] = pd.Categorical(values, categories=[*SOURCES, *extra])
        elif col == "policy":
            extra = sorted({p for p in values if p not in POLICY_NAMES})
            out[col] = pd.Categorical(values, categories=[*POLICY_NAMES, *extra])
    frame: pd.DataFrame = pd.DataFrame(out, columns=list(COLUMNS)).reset_index(drop=True)
    return frame


def verdicts_frame(verdicts: Iterable[Any], *, source: str = "api") -> pd.DataFrame:
    """Turn verdicts into a DataFrame with the fixed recorder schema (see the module docstring).

    An empty input gives an empty frame with the same columns and dtypes, so frames always concatenate.
    """
    return frame_of_rows([row(v, source) for v in verdicts])
