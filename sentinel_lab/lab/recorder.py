"""A kernel-wide recorder of every verdict, as pandas DataFrames in the schema of ``sentinel_lab._frames``."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from sentinel_lab._frames import (
    COLUMNS,
    DECISIONS,
    POLICY_NAMES,
    SEVERITY_LEVELS,
    SOURCES,
    args_json,
    verdicts_frame,
)
from sentinel_lab._frames import frame_of_rows as _frame
from sentinel_lab._frames import row as _row

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "DECISIONS",
    "LOG_EXTRAS",
    "POLICY_NAMES",
    "SEVERITY_LEVELS",
    "SOURCES",
    "Recorder",
    "add_extras",
    "args_json",
    "default_recorder",
    "record",
    "style",
    "to_frame",
    "verdicts_frame",
]


class Recorder:
    """A thread-safe log of verdicts with their source; ``frame()`` returns them in the recorder schema.

    ``attach(verifier)`` makes a plain ``Verifier`` (anything with an ``on_verdict`` callback list) record
    every verdict it makes; ``detach(verifier)`` stops it.
    """

    def __init__(self, max_rows: int | None = 100_000) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[Any, str, float, Mapping[str, Any] | None]] = []
        self._max_rows = max_rows
        self._hooks: dict[int, tuple[Any, Callable[[Any], None]]] = {}
        self._listeners: list[Callable[[Any, str], None]] = []

    def append(self, verdict: Any, source: str = "api", extra: Mapping[str, Any] | None = None) -> None:
        """Record one verdict, noting where it came from (magic, sdk, api, eval or proxy).

        ``extra`` holds what the lab knows beside the verdict (``LOG_EXTRAS``: the session's name, the call's
        status, verification and round-trip times, the output scan's finding); ``log_frame`` shows it.
        """
        with self._lock:
            self._items.append((verdict, source, time.time(), extra))
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

        from sentinel_lab._core.errors import PolicyViolation
        from sentinel_lab._core.verdict import Verdict

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
            return [item[0] for item in self._items]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def frame(self) -> pd.DataFrame:
        """Every recorded verdict as one DataFrame in the recorder schema."""
        with self._lock:
            items = list(self._items)
        return _frame([_row(v, src, at) for v, src, at, _ in items])

    def log_frame(self) -> pd.DataFrame:
        """``frame()`` plus the lab's columns (``LOG_EXTRAS``): what ``%sentinel log`` shows."""
        with self._lock:
            items = list(self._items)
        frame = _frame([_row(v, src, at) for v, src, at, _ in items])
        return add_extras(frame, [v for v, _, _, _ in items], [extra or {} for _, _, _, extra in items])


#: Columns the lab adds after the recorder schema: the magic's session name, the call's status (done, cancelled,
#: timed out, not started), the proxy's verification time and the notebook's round trip (µs, NaN when not
#: measured), how many violations, the top violation's evidence, and the output scan's finding.
LOG_EXTRAS: tuple[str, ...] = ("name", "status", "verify_us", "roundtrip_us", "violations", "evidence", "finding")


def add_extras(frame: pd.DataFrame, verdicts: list[Any], extras: list[Mapping[str, Any]]) -> pd.DataFrame:
    """``frame`` (one row per verdict) with the ``LOG_EXTRAS`` columns filled from ``extras`` and the verdicts."""
    import pandas as pd

    def top_evidence(v: Any) -> str:
        top = getattr(v, "top", None)
        return str(getattr(top, "evidence", "") or "") if top is not None else ""

    nan = float("nan")
    frame = frame.copy()
    frame["name"] = pd.Series([str(e.get("name", "") or "") for e in extras], dtype="string")
    frame["status"] = pd.Series([str(e.get("status", "done") or "done") for e in extras], dtype="string")
    for col in ("verify_us", "roundtrip_us"):
        values = [e.get(col) for e in extras]
        frame[col] = pd.Series([nan if x is None else float(x) for x in values], dtype="float64")
    frame["violations"] = pd.Series([len(getattr(v, "violations", ()) or ()) for v in verdicts], dtype="int64")
    frame["evidence"] = pd.Series([top_evidence(v) for v in verdicts], dtype="string")
    frame["finding"] = pd.Series([str(e.get("finding", "") or "") for e in extras], dtype="string")
    return frame


#: The kernel-wide recorder the magics, the SDK hooks and ``record()`` write to.
default_recorder = Recorder()


def record(verdict: Any, source: str = "api") -> None:
    """Add ``verdict`` to the kernel-wide recorder (``%sentinel log`` shows it)."""
    default_recorder.append(verdict, source)


def style(frame: pd.DataFrame, *, max_chars: int = 80, caption: str | None = None) -> Any:
    """A pandas ``Styler`` for a frame in the recorder schema: decisions coloured, blocked and flagged rows tinted,
    long text cut, index hidden (HTML in a notebook; ``to_latex`` and ``to_excel`` for export)."""
    from sentinel_lab.lab._style import style as _style

    return _style(frame, max_chars=max_chars, caption=caption)


def to_frame(obj: Any) -> pd.DataFrame:
    """A ``Verdict``, a ``Violation``, a list of either, or a lab table as a DataFrame (verdicts in this schema)."""
    from sentinel_lab.lab._style import to_frame as _to_frame

    return _to_frame(obj)
