"""Rate limiting per verifier and per session: a sliding window of calls and a count of identical repeats.

The defaults, 1000 calls and 50 identical calls in any 5 minutes (300 s), are set by what real hosts do on their
own: an interactive host may fire a few hundred calls at once (300 concurrent ``tools/call`` from the official
client) or repeat the same call a few dozen times (30 identical ``get_file_info`` calls in a burst), and none of
that may be refused. What they stop is a loop: the same call repeated for minutes, at machine speed or at a
model's pace of a call every few seconds, is refused from its 51st time; a runaway loop of distinct calls from
its 1001st call within 5 minutes. State is bounded: at most ``max_sessions`` sessions are tracked. Past that
the least recently used one is dropped, and never silently: a dropped session with nothing left in its windows
lost nothing (counted as ``expired``); one still inside a window lost history that could have refused a call
(counted as ``evicted``). ``stats()`` reports both; the verifier and ``sentinel-lab bench scaling`` show them.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from sentinel_lab._core.errors import PolicyError
from sentinel_lab._core.verdict import Violation

__all__ = ["RateLimit", "RateLimiter"]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Limits for one session: ``max_calls`` in ``window`` seconds, ``max_identical`` repeats in
    ``identical_window`` seconds."""

    max_calls: int = 1000
    window: float = 300.0
    max_identical: int = 50
    identical_window: float = 300.0
    max_sessions: int = 10_000

    @classmethod
    def from_any(cls, value: RateLimit | Mapping[str, Any] | None) -> RateLimit:
        """Build from None (defaults), a mapping of the field names, or a RateLimit."""
        if value is None:
            return cls()
        if isinstance(value, RateLimit):
            return value
        if not isinstance(value, Mapping):
            raise PolicyError(f"rate_limit must be a mapping, not {type(value).__name__}", key="rate_limit")
        known = {f.name for f in fields(cls)}
        for key, val in value.items():
            if key not in known:
                raise PolicyError(f"unknown rate_limit setting; expected one of {sorted(known)}", key=str(key))
            if isinstance(val, bool) or not isinstance(val, (int, float)) or val <= 0:
                raise PolicyError(f"rate_limit.{key} must be a positive number, got {val!r}", key=str(key))
        return cls(**dict(value))


class _Window:
    """One session's recent call times; a deque never holds more than one time past its limit, which is all a
    sliding-window count needs (more calls in the window than the limit iff the limit+1-th latest is in it)."""

    __slots__ = ("calls", "same")

    def __init__(self, max_calls: int) -> None:
        self.calls: deque[float] = deque(maxlen=max_calls + 1)
        self.same: dict[int, deque[float]] = {}


class RateLimiter:
    """Sliding-window counters keyed by session; ``hit`` records one call and says if it is over a limit."""

    def __init__(self, limit: RateLimit | None = None, clock: Clock | None = None) -> None:
        self.limit = limit or RateLimit()
        self.clock: Clock = clock or time.monotonic
        self._sessions: OrderedDict[str, _Window] = OrderedDict()
        #: live sessions dropped to stay within ``max_sessions`` (history that could still refuse a call, lost)
        self.evicted = 0
        #: idle sessions dropped (nothing left in their windows, so nothing was lost)
        self.expired = 0

    def stats(self) -> dict[str, int]:
        """Sessions tracked now, the bound, and how many were dropped live (``evicted``) or idle (``expired``)."""
        return {
            "sessions": len(self._sessions),
            "max_sessions": int(self.limit.max_sessions),
            "evicted": self.evicted,
            "expired": self.expired,
        }

    def reset(self, session: str | None = None) -> None:
        """Forget one session's history, or all of it."""
        if session is None:
            self._sessions.clear()
        else:
            self._sessions.pop(session, None)

    def hit(self, session: str, fingerprint: int, now: float | None = None) -> Violation | None:
        """Count a call of ``session`` with the given fingerprint; return a violation when over a limit."""
        lim = self.limit
        now = self.clock() if now is None else now
        win = self._sessions.get(session)
        if win is None:
            win = self._sessions[session] = _Window(int(lim.max_calls))
            if len(self._sessions) > lim.max_sessions:
                _, oldest = self._sessions.popitem(last=False)
                last = oldest.calls[-1] if oldest.calls else float("-inf")
                if last > now - max(lim.window, lim.identical_window):
                    self.evicted += 1
                else:
                    self.expired += 1
        else:
            self._sessions.move_to_end(session)
        calls = win.calls
        horizon = now - lim.window
        while calls and calls[0] <= horizon:
            calls.popleft()
        calls.append(now)
        same = win.same.get(fingerprint)
        if same is None:
            same = win.same[fingerprint] = deque(maxlen=int(lim.max_identical) + 1)
            if len(win.same) > 4 * lim.max_calls:  # bound memory: drop fingerprints with no recent call
                cut = now - lim.identical_window
                win.same = {k: d for k, d in win.same.items() if d and d[-1] > cut}
                win.same[fingerprint] = same
        horizon = now - lim.identical_window
        while same and same[0] <= horizon:
            same.popleft()
        same.append(now)
        if len(same) > lim.max_identical:
            return Violation(
                "rate_limit",
                f"identical call repeated more than {lim.max_identical:g} times in {lim.identical_window:g}s (a loop?)",
                "high",
            )
        if len(calls) > lim.max_calls:
            return Violation("rate_limit", f"more than {lim.max_calls:g} calls in {lim.window:g}s (a loop?)", "high")
        return None
