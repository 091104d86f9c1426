"""Shell-style globs, and the one rule for matching tool names against a policy's or a scope's patterns.

A ``Glob`` is matched against a whole string by a two-pointer scan, in O(len(text) * len(pattern)) with no
backtracking blow-up: ``*`` any run, ``?`` one character, ``[abc]`` / ``[!abc]`` / ``[a-z]`` a class.

Tool names: MCP tool names are case-sensitive (``read_file`` and ``Read_File`` are different tools), but a name
must not slip past a deny rule by its case. So ``tool_matches`` compares *allowing* patterns exactly and
*denying* patterns case-insensitively (``str.casefold`` of both sides): ``execute_shell: DENY`` also denies
``Execute_Shell``, while ``read_file: ALLOW`` allows only ``read_file``. Whatever a pattern cannot be sure
of falls to the side that blocks. Static rules, argument and taint rules, and scope all match tools here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GLOB_CHARS", "Glob", "ToolIndex", "ToolPattern", "is_glob", "tool_matches"]

GLOB_CHARS = frozenset("*?[")


def is_glob(text: str) -> bool:
    """True when ``text`` contains a glob wildcard (``*``, ``?`` or ``[``)."""
    return any(c in GLOB_CHARS for c in text)


def _parse_glob(pattern: str) -> tuple[tuple[str, Any], ...]:
    """Tokens: ("lit", ch), ("one", None), ("star", None), ("cls", (negate, chars, ranges))."""
    out: list[tuple[str, Any]] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if not out or out[-1][0] != "star":  # "**" == "*"
                out.append(("star", None))
            i += 1
        elif c == "?":
            out.append(("one", None))
            i += 1
        elif c == "[":
            j = i + 1
            negate = j < n and pattern[j] in "!^"
            if negate:
                j += 1
            start = j
            if j < n and pattern[j] == "]":  # "[]...]": a literal ] first
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal "["
                out.append(("lit", "["))
                i += 1
                continue
            body = pattern[start:j]
            chars: set[str] = set()
            ranges: list[tuple[str, str]] = []
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    ranges.append((body[k], body[k + 2]))
                    k += 3
                else:
                    chars.add(body[k])
                    k += 1
            out.append(("cls", (negate, frozenset(chars), tuple(ranges))))
            i = j + 1
        else:
            out.append(("lit", c))
            i += 1
    return tuple(out)


def _tok_matches(tok: tuple[str, Any], ch: str) -> bool:
    kind, val = tok
    if kind == "lit":
        return bool(ch == val)
    if kind == "one":
        return True
    negate, chars, ranges = val
    hit = ch in chars or any(lo <= ch <= hi for lo, hi in ranges)
    return bool(hit != negate)


@dataclass(frozen=True, slots=True)
class Glob:
    """A shell-style pattern matched against a whole string, case-sensitively, in O(len(text) * len(pattern))."""

    pattern: str
    tokens: tuple[tuple[str, Any], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", _parse_glob(self.pattern))

    def match(self, text: str) -> bool:
        """True when the whole of ``text`` matches the pattern."""
        toks = self.tokens
        ti = pi = 0
        star_p = star_t = -1
        n, m = len(text), len(toks)
        while ti < n:
            if pi < m and toks[pi][0] == "star":
                star_p, star_t = pi, ti
                pi += 1
            elif pi < m and _tok_matches(toks[pi], text[ti]):
                ti += 1
                pi += 1
            elif star_p >= 0:  # let the last star swallow one more character and retry
                star_t += 1
                ti, pi = star_t, star_p + 1
            else:
                return False
        while pi < m and toks[pi][0] == "star":
            pi += 1
        return pi == m


@dataclass(frozen=True, slots=True)
class ToolPattern:
    """A tool name or glob from a policy or a scope, ready for ``tool_matches`` both ways."""

    pattern: str
    exact: Glob = field(init=False, repr=False, compare=False)
    folded: Glob = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exact", Glob(self.pattern))
        object.__setattr__(self, "folded", Glob(self.pattern.casefold()))

    @property
    def is_glob(self) -> bool:
        """True when the pattern has a wildcard (else it names one tool)."""
        return is_glob(self.pattern)


def tool_matches(tool: str, patterns: Iterable[ToolPattern], *, deny: bool) -> bool:
    """True when ``tool`` matches one of ``patterns``: exactly for a rule that allows, ignoring case for a rule
    that denies (see the module docstring)."""
    if deny:
        folded = tool.casefold()
        return any(p.folded.match(folded) for p in patterns)
    return any(p.exact.match(tool) for p in patterns)


def _literal_run(tokens: Sequence[tuple[str, Any]]) -> str:
    """The characters of the leading literal tokens."""
    out = []
    for kind, val in tokens:
        if kind != "lit":
            break
        out.append(val)
    return "".join(out)


class ToolIndex:
    """Many keyed tool patterns, one lookup: the keys whose pattern matches a tool name, exactly as
    ``tool_matches`` would answer for each pattern (ignoring case when ``deny``), in key order.

    Names without a wildcard sit in a dict. A glob can only match names that start with its literal prefix (or,
    when it starts with a wildcard, end with its literal suffix), so globs are bucketed by that literal: a
    lookup probes one bucket per distinct literal length and matches only the globs found there. Globs with no
    literal at either end are matched one by one. Built once per policy; a name no pattern lists costs a few
    dict probes whatever the number of patterns.
    """

    __slots__ = ("_deny", "_exact", "_names", "_prefix", "_rest", "_suffix")

    def __init__(self, patterns: Iterable[tuple[int, ToolPattern]], *, deny: bool) -> None:
        self._deny = deny
        self._names: dict[str, list[int]] = {}
        self._prefix: dict[int, dict[str, list[tuple[int, Glob]]]] = {}
        self._suffix: dict[int, dict[str, list[tuple[int, Glob]]]] = {}
        self._rest: list[tuple[int, Glob]] = []
        for key, pattern in patterns:
            glob = pattern.folded if deny else pattern.exact
            tokens = glob.tokens
            if all(kind == "lit" for kind, _ in tokens):
                self._names.setdefault("".join(val for _, val in tokens), []).append(key)
                continue
            lead = _literal_run(tokens)
            trail = _literal_run(tokens[::-1])[::-1]
            if lead:
                self._prefix.setdefault(len(lead), {}).setdefault(lead, []).append((key, glob))
            elif trail:
                self._suffix.setdefault(len(trail), {}).setdefault(trail, []).append((key, glob))
            else:
                self._rest.append((key, glob))
        # Most policies name their tools plainly: then a lookup is one dict probe (the keys came in ascending order).
        plain = not (self._prefix or self._suffix or self._rest)
        self._exact: dict[str, tuple[int, ...]] | None = (
            {name: tuple(keys) for name, keys in self._names.items()} if plain else None
        )

    def lookup(self, tool: str) -> tuple[int, ...]:
        """The keys of every pattern matching ``tool``, sorted."""
        name = tool.casefold() if self._deny else tool
        if self._exact is not None:
            return self._exact.get(name, ())
        hits = set(self._names.get(name, ()))
        size = len(name)
        for length, table in self._prefix.items():
            if length <= size:
                hits.update(key for key, glob in table.get(name[:length], ()) if glob.match(name))
        for length, table in self._suffix.items():
            if length <= size:
                hits.update(key for key, glob in table.get(name[size - length :], ()) if glob.match(name))
        hits.update(key for key, glob in self._rest if glob.match(name))
        return tuple(sorted(hits))

    def first(self, tool: str) -> int | None:
        """The smallest key whose pattern matches ``tool``, or None."""
        found = self.lookup(tool)
        return found[0] if found else None
