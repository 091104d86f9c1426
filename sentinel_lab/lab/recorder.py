"""Verdicts as pandas DataFrames with one fixed schema, and a kernel-wide recorder of every verdict.

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

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from sentinel_lab._verdict import POLICIES

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "DECISIONS",
    "POLICY_NAMES",
    "SEVERITY_LEVELS",
    "SOURCES",
    "Recorder",
    "default_recorder",
    "record",
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


def _row(v: Any, source: str, fallback_at: float | None = None) -> dict[str, Any]:
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


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
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
    return _frame([_row(v, source) for v in verdicts])


class Recorder:
    """A thread-safe log of verdicts with their source; ``frame()`` returns them in the recorder schema.

    ``attach(verifier)`` makes a plain ``Verifier`` (anything with an ``on_verdict`` callback list) record
    every verdict it makes; ``detach(verifier)`` stops it.
    """

    def __init__(self, max_rows: int | None = 100_000) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[Any, str, float]] = []
        self._max_rows = max_rows
        self._hooks: dict[int, tuple[Any, Callable[[Any], None]]] = {}
        self._listeners: list[Callable[[Any, str], None]] = []

    def append(self, verdict: Any, source: str = "api") -> None:
        """Record one verdict, noting where it came from (magic, sdk, api, eval or proxy)."""
        with self._lock:
            self._items.append((verdict, source, time.time()))
            if self._max_rows is not None and len(self._items) > self._max_rows:
                del self._items[: len(self._items) - self._max_rows]
            listeners = list(self._listeners)
        for fn in listeners:
            # A listener (e.g. a log file) must never break verification.
            with suppress(Exception):
                fn(verdict, source)

    def extend(self, verdicts: Iterable[Any], source: str = "api") -> None:
        """Record several verdicts from one source."""
        for v in verdicts:
            self.append(v, source)

    def add_listener(self, fn: Callable[[Any, str], None]) -> None:
        """Call ``fn(verdict, source)`` after each recorded verdict (used for the magic's log file)."""
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[Any, str], None]) -> None:
        """Stop calling ``fn``; unknown listeners are ignored."""
        with self._lock, suppress(ValueError):
            self._listeners.remove(fn)

    def attach(self, target: Any, source: str | None = None) -> Callable[[Any], None]:
        """Record every verdict ``target`` makes from now on.

        ``target`` is a ``Verifier`` (or anything with an ``on_verdict`` callback list; source ``api``) or an SDK
        client with ``execute_tool`` (source ``sdk``): its calls are recorded, denials from the
        ``PolicyViolation`` verdict and allowed calls as ``allow``.
        """
        key = id(target)
        existing = self._hooks.get(key)
        if existing is not None and existing[0] is target:
            return existing[1]
        hooks = getattr(target, "on_verdict", None)
        if hooks is not None:

            def hook(verdict: Any) -> None:
                self.append(verdict, source or "api")

            hooks.append(hook)
            self._hooks[key] = (target, hook)
            return hook
        if callable(getattr(target, "execute_tool", None)):
            wrapped = self._wrap_client(target, source or "sdk")
            self._hooks[key] = (target, wrapped)
            return wrapped
        raise TypeError(f"{type(target).__name__} has neither an on_verdict list nor execute_tool to attach to")

    def _wrap_client(self, client: Any, source: str) -> Callable[[Any], None]:
        from types import MappingProxyType

        from sentinel_lab._exceptions import PolicyViolation
        from sentinel_lab._verdict import Verdict

        original = client.execute_tool

        def hook(verdict: Any) -> None:
            self.append(verdict, source)

        async def execute_tool(name: str, args: Mapping[str, Any] | None = None) -> Any:
            t0 = time.perf_counter()
            try:
                result = await original(name, args)
            except PolicyViolation as exc:
                verdict = exc.verdict
                if dataclasses.is_dataclass(verdict):
                    verdict = dataclasses.replace(
                        verdict,
                        tool=verdict.tool or name,
                        args=verdict.args or MappingProxyType(dict(args or {})),
                        session_id=verdict.session_id or str(getattr(client, "session_id", "") or ""),
                        at=verdict.at or time.time(),
                        elapsed_us=verdict.elapsed_us or (time.perf_counter() - t0) * 1e6,
                    )
                hook(verdict)
                raise
            hook(
                Verdict(
                    allowed=True,
                    tool=name,
                    args=MappingProxyType(dict(args or {})),
                    session_id=str(getattr(client, "session_id", "") or ""),
                    at=time.time(),
                    elapsed_us=(time.perf_counter() - t0) * 1e6,
                )
            )
            return result

        client.execute_tool = execute_tool
        client.call_tool = execute_tool
        return hook

    def detach(self, target: Any) -> None:
        """Stop recording ``target``'s verdicts."""
        entry = self._hooks.pop(id(target), None)
        if entry is None:
            return
        hooks = getattr(target, "on_verdict", None)
        if hooks is not None:
            with suppress(ValueError):
                hooks.remove(entry[1])
            return
        for name in ("execute_tool", "call_tool"):
            if name in getattr(target, "__dict__", {}):
                with suppress(AttributeError):
                    delattr(target, name)

    def clear(self) -> None:
        """Forget every recorded verdict (attached verifiers stay attached)."""
        with self._lock:
            self._items.clear()

    def verdicts(self) -> list[Any]:
        """The recorded verdicts, oldest first."""
        with self._lock:
            return [v for v, _, _ in self._items]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def frame(self) -> pd.DataFrame:
        """Every recorded verdict as one DataFrame in the recorder schema."""
        with self._lock:
            items = list(self._items)
        return _frame([_row(v, src, at) for v, src, at in items])


#: The kernel-wide recorder the magics, the SDK hooks and ``record()`` write to.
default_recorder = Recorder()


def record(verdict: Any, source: str = "api") -> None:
    """Add ``verdict`` to the kernel-wide recorder (``%sentinel log`` shows it)."""
    default_recorder.append(verdict, source)
