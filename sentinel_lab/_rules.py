"""Argument-rule building blocks: tool-name globs, argument paths, safe regular expressions and conditions.

Everything here is linear in the size of the checked value (for a fixed policy): globs are matched by a
two-pointer scan, hosts and paths are parsed with ``str`` methods and ``ipaddress``, and a ``regex`` is
compiled with RE2 (the ``google-re2`` package) when it is installed, else with ``re`` after rejecting patterns
that can backtrack badly (nested or alternated repeats, back-references, look-arounds).

Condition semantics (one argument rule = one argument path + a set of conditions, ANDed):

``equals``      the value equals this one (``1`` does not equal ``true``)
``in``          the value equals one of these
``not_in``      the value equals none of these
``glob``        a string value matches this pattern (or one of a list); ``*`` any run, ``?`` one character,
                ``[abc]`` / ``[!abc]`` / ``[a-z]`` a class; matched against the whole string
``regex``       a string value contains a match (``re.search``); anchor with ``^`` and ``$`` for a whole match
``min``/``max`` a number (or a string holding one) is at least / at most this bound
``host_in``     the host of a URL, e-mail address or ``host[:port]`` equals a listed host or is a subdomain of it
                (label boundaries); a listed CIDR (``10.0.0.0/8``) contains an IP host
``path_under``  an absolute path (or one relative to the verifier workspace), with ``.`` and ``..`` resolved
                lexically, lies under a listed root, compared by whole components
``present``     ``true``: the argument exists; ``false``: it does not

An argument path selects values: ``to``, ``payment.iban``, ``recipients[*]`` (each item), ``files[0].name``.
A path that selects nothing yields the single value *missing*: every condition but ``present: false`` is false
for it. A ``[*]`` over an empty or absent list selects no value at all (the rule then neither denies nor
requires anything; pair it with ``present: true`` on the list itself to require one).
A string is checked as written and in its normalised reading (NFKC, invisible characters removed): ``deny_if``
fires when any reading of any selected value meets all its conditions; ``deny_unless`` fires when any reading
of any selected value fails one.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from sentinel_lab._analysis._normalize import normalize
from sentinel_lab._checks import host_matches

__all__ = [
    "CONDITION_KEYS",
    "MISSING",
    "ArgPath",
    "Condition",
    "ConditionSet",
    "Glob",
    "RegexError",
    "compile_regex",
    "host_of",
    "is_glob",
    "path_parts",
]

CONDITION_KEYS: tuple[str, ...] = (
    "equals",
    "in",
    "not_in",
    "glob",
    "regex",
    "min",
    "max",
    "host_in",
    "path_under",
    "present",
)

GLOB_CHARS = frozenset("*?[")


class _Missing:
    """The value of an argument path that selects nothing."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# --------------------------------------------------------------------------------------------------- globs
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
    return hit != negate


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


# --------------------------------------------------------------------------------------------------- regex
class RegexError(ValueError):
    """A ``regex`` condition that cannot be compiled, or that could take more than linear time."""


try:  # RE2 guarantees linear-time matching
    import re2 as _re2  # type: ignore[import-not-found,import-untyped,unused-ignore]

    HAVE_RE2 = True
except ImportError:  # pragma: no cover - depends on the environment
    _re2 = None
    HAVE_RE2 = False

try:  # the parser of the standard library's engine, to vet patterns
    from re import _constants as _sre_c  # type: ignore[attr-defined,unused-ignore]
    from re import _parser as _sre_p  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_c  # type: ignore[no-redef,unused-ignore]
    import sre_parse as _sre_p  # type: ignore[no-redef,unused-ignore]

_REPEATS = {
    getattr(_sre_c, n) for n in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT", "REPEAT") if hasattr(_sre_c, n)
}
_FORBIDDEN = {
    getattr(_sre_c, n): why
    for n, why in (
        ("GROUPREF", "back-references"),
        ("GROUPREF_EXISTS", "conditional back-references"),
        ("ASSERT", "look-around assertions"),
        ("ASSERT_NOT", "look-around assertions"),
    )
    if hasattr(_sre_c, n)
}


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns of one parsed regex node."""
    if op in _REPEATS:
        return [av[2]]
    name = str(op)
    if name == "SUBPATTERN":
        return [av[3]]
    if name == "BRANCH":
        return list(av[1])
    if name == "ATOMIC_GROUP":
        return [av]
    if name in ("ASSERT", "ASSERT_NOT"):
        return [av[1]]
    if name == "GROUPREF_EXISTS":
        return [p for p in av[1:] if p is not None]
    return []


def _vet(pattern_nodes: Any, inside_repeat: bool, strict: bool) -> None:
    for op, av in pattern_nodes:
        if op in _FORBIDDEN:
            raise RegexError(f"{_FORBIDDEN[op]} are not allowed (they can make matching super-linear)")
        repeats = op in _REPEATS and av[1] > 1
        if strict and inside_repeat and (repeats or str(op) == "BRANCH"):
            raise RegexError(
                "nested or alternated repeats (like '(a+)+' or '(a|b)*') are not allowed: they can backtrack "
                "catastrophically; install google-re2 for linear-time matching"
            )
        for child in _children(op, av):
            _vet(child, inside_repeat or repeats, strict)


def compile_regex(pattern: str) -> Any:
    """Compile a policy regex so matching is linear: with RE2 when available, else with ``re`` after vetting."""
    import re

    try:
        parsed = _sre_p.parse(pattern)
    except re.error as exc:
        raise RegexError(f"invalid regular expression: {exc}") from None
    _vet(parsed, False, strict=not HAVE_RE2)
    if HAVE_RE2:
        try:
            return _re2.compile(pattern)
        except Exception as exc:
            raise RegexError(f"regular expression not supported by RE2: {exc}") from None
    return re.compile(pattern)


# --------------------------------------------------------------------------------------------------- hosts
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def _clean_host(host: str) -> str | None:
    host = unquote(host).translate(_DOTS).strip().lower().rstrip(".")
    if not host or any(c.isspace() or c in "\\/@" for c in host):
        return None
    return host


def host_of(value: str) -> str | None:
    """The host named by a URL, an e-mail address or a bare ``host[:port][/path]``; None when unclear."""
    text = value.strip()
    if not text or "\x00" in text or len(text) > 65536:
        return None
    low = text[:16].lower()
    if low.startswith("mailto:"):
        text = text[7:].split("?", 1)[0]
    authority: str | None = None
    if "://" in text[:64]:
        authority = text.split("://", 1)[1]
    elif text.startswith("//"):
        authority = text[2:]
    if authority is None and "@" in text and not any(c in text for c in "/?#"):
        return _clean_host(text.rpartition("@")[2])  # an e-mail address
    if authority is None:
        authority = text
    for sep in "/?#":
        authority = authority.split(sep, 1)[0]
    if "\\" in authority:  # parsers disagree on backslashes: no trustworthy host
        return None
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]")
        return _clean_host(hostport[1:end]) if end > 0 else None
    if hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
        if port and not port.isdigit():
            return None
        hostport = host
    elif hostport.count(":") > 1:  # a bare IPv6 address
        try:
            return str(ipaddress.ip_address(hostport))
        except ValueError:
            return None
    return _clean_host(hostport)


def _host_in(host: str, names: tuple[str, ...], nets: tuple[Any, ...]) -> bool:
    if host_matches(host, names):
        return True
    if nets:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in nets)
    return False


# --------------------------------------------------------------------------------------------------- paths
def path_parts(path: str, base: str | None = None) -> tuple[str, ...] | None:
    """The components of an absolute path with ``.``/``..`` resolved lexically (backslashes count as ``/``);
    a relative path is taken from ``base``; None when it cannot be placed (``~``, NUL, no base)."""
    if "\x00" in path or not path:
        return None
    p = path.replace("\\", "/")
    if p.startswith("file://"):
        p = unquote(p[7:])
        if not p.startswith("/"):
            p = "/" + p.partition("/")[2]  # file://host/path
    if p.startswith("~"):
        return None
    if not p.startswith("/"):
        if base is None:
            return None
        p = base.rstrip("/") + "/" + p
    parts: list[str] = []
    for c in p.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if parts:
                parts.pop()
            continue
        parts.append(c)
    return tuple(parts)


# --------------------------------------------------------------------------------------------------- values
def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        f = float(value)
    elif isinstance(value, str) and 0 < len(value) <= 64 and "_" not in value:  # float() accepts "1_0"
        try:
            f = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return None if math.isnan(f) else f


def freeze(value: Any) -> Any:
    """A hashable, comparable copy: lists become tuples, mappings sorted tuples of pairs."""
    if isinstance(value, Mapping):
        return tuple(sorted(((str(k), freeze(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    return bool(a == b)


# --------------------------------------------------------------------------------------------------- paths
@dataclass(frozen=True, slots=True)
class ArgPath:
    """A parsed argument path: ``a.b``, ``items[*]``, ``items[0].name``."""

    text: str
    steps: tuple[tuple[str, Any], ...]

    @classmethod
    def parse(cls, text: str) -> ArgPath:
        """Parse ``text``; raise ValueError naming the problem."""
        steps: list[tuple[str, Any]] = []
        if not text or text.strip() != text:
            raise ValueError("an argument path must be a non-empty name without surrounding spaces")
        for part in text.split("."):
            name, bracket, rest = part.partition("[")
            if name:
                steps.append(("key", name))
            elif not bracket or not steps:
                raise ValueError(f"empty name in argument path {text!r}")
            while bracket:
                inner, close, rest = rest.partition("]")
                if not close:
                    raise ValueError(f"unclosed '[' in argument path {text!r}")
                if inner == "*":
                    steps.append(("each", None))
                elif inner.isdigit():
                    steps.append(("index", int(inner)))
                else:
                    raise ValueError(f"'[{inner}]' in argument path {text!r}: use [*] or a list index like [0]")
                if rest and not rest.startswith("["):
                    raise ValueError(f"unexpected {rest!r} after ']' in argument path {text!r}")
                bracket, rest = (rest[:1], rest[1:]) if rest else ("", "")
        return cls(text, tuple(steps))

    def select(self, args: Any) -> list[Any]:
        """The selected values (``[MISSING]`` when a step finds nothing; none for ``[*]`` over nothing)."""
        frontier: list[Any] = [args]
        for kind, key in self.steps:
            nxt: list[Any] = []
            for item in frontier:
                if item is MISSING:
                    if kind != "each":  # "[*]" over nothing selects nothing
                        nxt.append(MISSING)
                elif kind == "key":
                    nxt.append(item.get(key, MISSING) if isinstance(item, Mapping) else MISSING)
                elif kind == "index":
                    ok = isinstance(item, Sequence) and not isinstance(item, (str, bytes)) and key < len(item)
                    nxt.append(item[key] if ok else MISSING)
                elif isinstance(item, Mapping):
                    nxt.extend(item.values())
                elif isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
                    nxt.extend(item)
                else:  # a scalar where a list was expected: check it as the single item
                    nxt.append(item)
            frontier = nxt
        return frontier


# --------------------------------------------------------------------------------------------------- conditions
@dataclass(frozen=True, slots=True)
class Condition:
    """One condition on one value; ``holds(value)`` is pure and never raises."""

    kind: str
    value: Any
    compiled: Any = field(default=None, compare=False, repr=False)

    def holds(self, v: Any, workspace: str | None = None) -> bool:
        """True when value ``v`` meets this condition (``MISSING`` meets only ``present: false``)."""
        kind = self.kind
        if kind == "present":
            return (v is not MISSING) == self.value
        if v is MISSING:
            return False
        if kind == "equals":
            return _same(freeze(v), self.value)
        if kind in ("in", "not_in"):
            fv = freeze(v)
            hit = any(_same(fv, e) for e in self.value)
            return hit if kind == "in" else not hit
        if kind in ("min", "max"):
            num = _number(v)
            if num is None:
                return False
            return num >= self.value if kind == "min" else num <= self.value
        if not isinstance(v, str):
            return False
        if kind == "glob":
            return any(g.match(v) for g in self.compiled)
        if kind == "regex":
            return self.compiled.search(v) is not None
        if kind == "host_in":
            host = host_of(v)
            return host is not None and _host_in(host, *self.compiled)
        if kind == "path_under":
            parts = path_parts(v, workspace)
            if parts is None:
                return False
            return any(parts[: len(root)] == root for root in self.compiled)
        return False  # pragma: no cover - kinds are validated when the policy loads


def make_condition(kind: str, value: Any) -> Condition:
    """Build a condition from a validated policy value (see ``_policy``); raises ValueError/RegexError."""
    if kind == "glob":
        pats = (value,) if isinstance(value, str) else tuple(value)
        return Condition(kind, pats, tuple(Glob(p) for p in pats))
    if kind == "regex":
        return Condition(kind, value, compile_regex(value))
    if kind == "host_in":
        items = (value,) if isinstance(value, str) else tuple(value)
        names: list[str] = []
        nets: list[Any] = []
        for item in items:
            if "/" in item:
                nets.append(ipaddress.ip_network(item, strict=False))
            else:
                names.append(item.lower().rstrip("."))
        return Condition(kind, items, (tuple(names), tuple(nets)))
    if kind == "path_under":
        items = (value,) if isinstance(value, str) else tuple(value)
        roots = []
        for item in items:
            parts = path_parts(item)
            if parts is None or not item.startswith("/"):
                raise ValueError(f"path_under roots must be absolute paths, got {item!r}")
            roots.append(parts)
        return Condition(kind, items, tuple(roots))
    if kind in ("in", "not_in"):
        return Condition(kind, tuple(freeze(v) for v in value))
    if kind == "equals":
        return Condition(kind, freeze(value))
    if kind in ("min", "max"):
        return Condition(kind, float(value))
    return Condition(kind, value)


def _readings(v: Any) -> tuple[Any, ...]:
    if isinstance(v, str):
        n = normalize(v)
        return (v,) if n == v else (v, n)
    return (v,)


@dataclass(frozen=True, slots=True)
class ConditionSet:
    """Conditions that are ANDed; ``all_hold`` on one value, ``any_reading_*`` over its readings."""

    conditions: tuple[Condition, ...]

    def all_hold(self, v: Any, workspace: str | None = None) -> bool:
        """True when ``v`` meets every condition."""
        return all(c.holds(v, workspace) for c in self.conditions)

    def fires_if(self, values: list[Any], workspace: str | None = None) -> tuple[bool, Any]:
        """For ``deny_if``: (True, value) for the first value one of whose readings meets every condition."""
        for v in values:
            for r in _readings(v):
                if self.all_hold(r, workspace):
                    return True, v
        return False, None

    def fires_unless(self, values: list[Any], workspace: str | None = None) -> tuple[bool, Any]:
        """For ``deny_unless``: (True, value) for the first value one of whose readings fails a condition."""
        for v in values:
            for r in _readings(v):
                if not self.all_hold(r, workspace):
                    return True, v
        return False, None
