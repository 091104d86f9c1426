"""The verdict cache: what the built-in checks found for a call already judged, reused for the same call.

A call's built-in verdict is a function of its tool name, its arguments and the verifier's configuration only,
so a call repeated (an agent reading the same file again, retrying a request) need not be analysed again. The
key is the tool and a canonical form of the arguments (``canonical_key``), taken only when every value is a
plain JSON-like value (``dict`` with ``str`` keys, ``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool``,
``None``) and the call is small: anything else (objects whose ``repr`` or ``str`` could say anything, a very
large call) is analysed every time. The verifier decides when a context may use it (``Verifier._cacheable``);
the rate limiter and the verdict's per-call fields never come from here.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any

from sentinel_lab._core.verdict import Violation

__all__ = ["MAX_CACHE_CHARS", "MAX_KEY_CHARS", "MAX_KEY_NODES", "VerdictCache", "canonical_key", "clear_all"]

#: Calls whose strings hold more characters than this, or more values than ``MAX_KEY_NODES``, are not cached:
#: their key would cost as much memory as the call, and such calls are seldom repeated word for word.
MAX_KEY_CHARS = 4096
MAX_KEY_NODES = 256
#: The characters all keys of one cache may hold together (least recently used entries go first): with 4096
#: entries of up to ``MAX_KEY_CHARS`` characters (their ``repr`` longer still) a cache could otherwise hold
#: tens of MiB.
MAX_CACHE_CHARS = 1 << 21

_SCALARS = (str, int, float, bool, type(None))
#: Bumped by ``clear_all``; a cache made before the latest bump empties itself before its next use. A counter, not a
#: registry of live caches, so no cache needs to be weakly referenceable (compiled classes are not).
_epoch = 0


def canonical_key(tool: str, args: dict[str, Any]) -> tuple[str, str] | None:
    """``(tool, repr(args))`` when ``args`` holds only plain values and is small; None otherwise.

    ``repr`` of plain values is injective (strings are quoted and escaped, ``1``, ``1.0`` and ``True`` differ)
    and runs in C; the walk before it only checks types and sizes, so no user ``__repr__`` ever runs."""
    if type(tool) is not str:
        return None
    chars = len(tool)
    nodes = 0
    stack: list[Any] = [args]
    pop, push = stack.pop, stack.extend
    while stack:
        value = pop()
        nodes += 1
        if nodes > MAX_KEY_NODES:
            return None
        tp = type(value)
        if tp is str:
            chars += len(value)
        elif tp is dict:
            for k in value:
                if type(k) is not str:
                    return None
                chars += len(k)
            push(value.values())
        elif tp is list or tp is tuple:
            push(value)
        elif tp not in _SCALARS:
            return None
        if chars > MAX_KEY_CHARS:
            return None
    try:
        return tool, repr(args)
    except ValueError:  # an integer past the int/str conversion limit
        return None


class VerdictCache:
    """A bounded LRU map from a call's key to ``(violations, fingerprint)``: the built-in checks' violations
    (immutable records) and the rate limiter's fingerprint of the call. Bounded in entries (``maxsize``) and in
    the characters of the keys together (``max_chars``)."""

    __slots__ = ("_chars", "_entries", "_epoch", "hits", "max_chars", "maxsize", "misses")

    def __init__(self, maxsize: int = 4096, max_chars: int = MAX_CACHE_CHARS) -> None:
        if maxsize < 1 or max_chars < 1:
            raise ValueError("a verdict cache holds at least one entry")
        self.maxsize = maxsize
        self.max_chars = max_chars
        self._entries: OrderedDict[tuple[str, str], tuple[tuple[Violation, ...], int]] = OrderedDict()
        self._chars = 0
        self.hits = 0
        self.misses = 0
        self._epoch = _epoch

    def _catch_up(self) -> None:
        """Empty the cache if ``clear_all`` ran since it was last used."""
        if self._epoch != _epoch:
            self._epoch = _epoch
            self.clear()

    def get(self, key: tuple[str, str]) -> tuple[tuple[Violation, ...], int] | None:
        self._catch_up()
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        with contextlib.suppress(KeyError):  # evicted by another thread since the lookup: the entry is valid
            self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: tuple[str, str], violations: tuple[Violation, ...], fingerprint: int) -> None:
        self._catch_up()
        entries = self._entries
        if key not in entries:
            self._chars += len(key[0]) + len(key[1])
        entries[key] = (violations, fingerprint)
        while entries and (len(entries) > self.maxsize or self._chars > self.max_chars):
            (tool, shown), _ = entries.popitem(last=False)
            self._chars -= len(tool) + len(shown)

    def clear(self) -> None:
        self._entries.clear()
        self._chars = 0

    def __len__(self) -> int:
        self._catch_up()
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        """Entries held, their keys' characters, the bounds, hits and misses since creation."""
        self._catch_up()
        return {
            "entries": len(self._entries),
            "chars": self._chars,
            "maxsize": self.maxsize,
            "max_chars": self.max_chars,
            "hits": self.hits,
            "misses": self.misses,
        }


def clear_all() -> None:
    """Empty every verdict cache (the cold benchmark: each call judged as if never seen)."""
    global _epoch
    _epoch += 1
