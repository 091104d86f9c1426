"""Argument-rule building blocks: tool-name globs, argument paths, safe regular expressions and conditions.

Everything here is linear in the size of the checked value (for a fixed policy): globs are matched by a
two-pointer scan, hosts and paths are parsed with ``str`` methods and ``ipaddress``, and a ``regex`` is
compiled with RE2 (the ``google-re2`` package), which never backtracks; a pattern RE2 cannot compile
(back-references, look-arounds) is refused when the policy loads.

Condition semantics (one argument rule = one argument path + a set of conditions, ANDed):

``equals``      the value equals this one (``1`` does not equal ``true``); a policy value that is an e-mail
                address or a host name (``admin@example.com``, ``api.example.com``) ignores ASCII case
``in``          the value equals one of these (same comparison)
``not_in``      the value equals none of these (same comparison)
``glob``        a string value matches this pattern (or one of a list); ``*`` any run, ``?`` one character,
                ``[abc]`` / ``[!abc]`` / ``[a-z]`` a class; matched against the whole string; a pattern over
                e-mail addresses or host names without a class (``*@example.com``) ignores ASCII case
``regex``       a string value contains a match (RE2 ``search``); anchor with ``^`` and ``$`` for a whole match
``min``/``max`` a number (or a string holding one) is at least / at most this bound; a string that could be
                read as several numbers meets the bound only if every one does
``host_in``     the host of a URL, e-mail address or ``host[:port]`` equals a listed host or is a subdomain of it
                (label boundaries); a listed CIDR (``10.0.0.0/8``) contains an IP host
``path_under``  an absolute path (or one relative to the verifier workspace), read exactly as the verifier reads
                it (``_analysis._paths.canonical``: ``%2e%2e``, ``....//``, ``file:`` URLs and every other
                spelling of ``..`` resolved), lies under a listed root, compared by whole components
``present``     ``true``: the argument exists; ``false``: it does not

An argument path selects values: ``to``, ``payment.iban``, ``recipients[*]`` (each item), ``files[0].name``.
A path that selects nothing yields the single value *missing*: every condition but ``present: false`` is false
for it. A ``[*]`` over an empty or absent list selects no value at all (the rule then neither denies nor
requires anything; pair it with ``present: true`` on the list itself to require one).
Rules see what the server will see. Servers built on the official MCP SDK (``MCPServer``) decode a list or
object argument sent as a JSON string and let pydantic coerce strings to numbers and booleans before the tool
runs, so every selected value is judged in each of its *readings*:

* as written, and normalised (NFKC, invisible characters removed); a string holding a NUL byte also as the
  text before it (what a server that hands it to the OS reads), so ``deny_if`` and ``deny_unless`` both see it;
* a string holding a JSON array, object or string, decoded (both first-wins and last-wins when it repeats a
  key); an argument path also steps into such a string (``recipients[*]`` over ``'["a@x.org"]'``);
* when the conditions look at numbers (``min``/``max`` or a numeric value): every number the string could be
  read as by pydantic's lax ``int``/``float`` (``" 7 "``, ``"5_000"``, ``"5.00"``, ``"1e3"``, ``"inf"``),
  Python's ``int()``/``float()`` (other scripts' digits) or JavaScript's ``Number()`` (``"0x10"``); ``NaN``
  is read as both infinities, so it fails every bound; a boolean is read as 0 or 1;
* when they name ``true``/``false``: the boolean pydantic reads (``"yes"``, ``"on"``, ``"t"``, ``"1"``... in any
  case; 0 and 1); when they name ``null``: ``None`` for ``"null"``.

``deny_if`` fires when any reading of any selected value meets all its conditions; ``deny_unless`` fires when
any reading of any selected value fails one (fail closed: a list sent as a JSON string must pass as the string
too, so ``deny_unless`` rules over lists want real lists).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import re2 as _re2  # type: ignore[import-untyped,unused-ignore]

from sentinel_lab._analysis._paths import canonical
from sentinel_lab._checks import host_matches
from sentinel_lab._text.glob import Glob, is_glob
from sentinel_lab._text.normalize import UNICODE_SPACES, normalize

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
    "json_readings",
    "number_readings",
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


# --------------------------------------------------------------------------------------------------- regex
class RegexError(ValueError):
    """A ``regex`` condition that cannot be compiled, or that could take more than linear time."""


def _re2_options() -> Any:
    options = _re2.Options()
    options.log_errors = False  # a refused pattern is reported as a PolicyError, not logged to stderr
    return options


_RE2_OPTIONS = _re2_options()


def compile_regex(pattern: str) -> Any:
    """Compile a policy regex with RE2, whose matching is linear in the input whatever the pattern
    (``(a+)+$`` included). A pattern RE2 cannot compile (back-references, look-arounds, counted repeats over
    1000, bad syntax) raises ``RegexError``; the loader turns it into a PolicyError naming the file and line."""
    try:
        return _re2.compile(pattern, _RE2_OPTIONS)
    except Exception as exc:
        why = exc.args[0] if exc.args else exc
        if isinstance(why, bytes):
            why = why.decode("utf-8", "replace")
        raise RegexError(
            f"invalid regular expression, or one not allowed: RE2 (linear-time matching) cannot compile it: {why}"
        ) from None


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
@functools.lru_cache(maxsize=64)
def _anchor(base: str) -> tuple[str, tuple[str, ...]] | None:
    c = canonical(base)
    return (c.root, c.parts) if c.absolute else None


def path_parts(path: str, base: str | None = None) -> tuple[str, ...] | None:
    """The root and components of ``path`` as the verifier reads it (``_analysis._paths.canonical``: percent
    and look-alike decoding, ``file:`` URLs, ``..`` in every disguise, Windows drives); a relative path is
    taken from ``base``; None when it cannot be placed (NUL byte, relative with no base)."""
    if not path or "\x00" in path:
        return None
    anchor = _anchor(base) if base is not None else None
    c = canonical(path, anchor[1], anchor_root=anchor[0]) if anchor is not None else canonical(path)
    if not c.absolute:
        return None
    return (c.root, *c.parts)


# --------------------------------------------------------------------------------------------------- values
#: What a number-reading server framework strips around a numeric string (pydantic strips Unicode white space,
#: JavaScript's ``Number()`` also strips a BOM): Python's white space plus U+FEFF.
_NUMBER_SPACE = UNICODE_SPACES + "\ufeff"
#: A numeric string with more significant digits than this is read as an infinity of its sign (every finite
#: policy bound lies below 10**309), so no reading ever parses a huge integer.
_MAX_DIGITS = 400
_BASES = {"x": 16, "o": 8, "b": 2}
_BASE_DIGITS = {16: frozenset("0123456789abcdefABCDEF"), 8: frozenset("01234567"), 2: frozenset("01")}
#: The strings pydantic (lax mode) reads as a boolean, compared case-insensitively and never stripped.
BOOL_WORDS: Mapping[str, bool] = {
    **dict.fromkeys(("true", "t", "yes", "y", "on", "1"), True),
    **dict.fromkeys(("false", "f", "no", "n", "off", "0"), False),
}
_INFINITY = float("inf")


def _digit(ch: str) -> str | None:
    """The ASCII digit of a Unicode decimal digit (Python's ``int()`` and ``float()`` accept every script)."""
    if "0" <= ch <= "9":
        return ch
    d = unicodedata.decimal(ch, None) if ch > "\x7f" else None
    return None if d is None else str(d)


def _based(sign: int, body: str) -> tuple[int | float, ...]:
    """``0x10`` / ``0o17`` / ``0b101`` (JavaScript's ``Number()``, Python's ``int(s, 0)``); underscores skipped."""
    base = _BASES[body[1].lower()]
    allowed = _BASE_DIGITS[base]
    digits = body[2:].replace("_", "")
    if not digits or any(c not in allowed for c in digits):
        return ()
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return (sign * _INFINITY,)
    return (sign * int(digits, base),)


def _decimal(sign: int, body: str) -> tuple[int | float, ...]:
    """A decimal number with optional fraction and exponent; underscores anywhere inside are skipped."""
    whole: list[str] = []
    frac: list[str] = []
    exp: list[str] = []
    part = whole
    exp_sign = 1
    seen_dot = seen_exp = False
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        i += 1
        if ch == "_":
            continue
        if ch == "." and not seen_dot and not seen_exp:
            seen_dot, part = True, frac
            continue
        if ch in "eE" and not seen_exp and (whole or frac):
            seen_exp, part = True, exp
            if i < n and body[i] in "+-":
                exp_sign = -1 if body[i] == "-" else 1
                i += 1
            continue
        d = _digit(ch)
        if d is None:
            return ()
        part.append(d)
    if not (whole or frac) or (seen_exp and not exp):
        return ()
    w = "".join(whole).lstrip("0")
    f = "".join(frac).rstrip("0")
    e = "".join(exp).lstrip("0") or "0"
    if not seen_exp and not f:  # an integer (pydantic reads "5.00" as the int 5)
        return (sign * _INFINITY,) if len(w) > _MAX_DIGITS else (sign * int(w or "0"),)
    if not w and not f:
        return (0.0,)
    if len(e) > 6:  # an exponent of a million or more: zero or an infinity
        return (0.0,) if exp_sign < 0 else (sign * _INFINITY,)
    if len(w) > _MAX_DIGITS:
        return (sign * _INFINITY,)
    value = float(f"{w or '0'}.{f[:_MAX_DIGITS] or '0'}e{exp_sign * int(e)}")
    return (sign * value,)


@functools.lru_cache(maxsize=1024)
def number_readings(text: str) -> tuple[int | float, ...]:
    """Every number a server framework could read from ``text``: the union of pydantic's lax ``int``/``float``
    (``" 7 "``, ``"5_000"``, ``"5.0"``, ``"1e3"``, ``"inf"``, ``"nan"``), Python's ``int()``/``float()`` (other
    scripts' digits) and JavaScript's ``Number()`` (``"0x10"``, ``"Infinity"``); ``()`` when none reads one.
    NaN is read as both infinities so that it fails every bound. Linear in ``len(text)``."""
    t = text.strip(_NUMBER_SPACE)
    if not t:
        return ()
    sign = 1
    if t[0] in "+-":
        sign = -1 if t[0] == "-" else 1
        t = t[1:]
    if not t:
        return ()
    low = t.lower() if len(t) <= 8 else ""
    if low in ("inf", "infinity"):
        return (sign * _INFINITY,)
    if low == "nan":
        return (-_INFINITY, _INFINITY)
    if len(t) > 2 and t[0] == "0" and t[1] in "xXoObB":
        return _based(sign, t)
    return _decimal(sign, t)


def _numbers_of(value: Any) -> tuple[int | float, ...]:
    """The numbers a value stands for: itself, a string's readings, a bool as 0/1; NaN as both infinities."""
    if isinstance(value, bool):
        return (int(value),)
    if isinstance(value, int):
        return (value,)
    if isinstance(value, float):
        return (-_INFINITY, _INFINITY) if math.isnan(value) else (value,)
    if isinstance(value, str):
        return number_readings(value)
    return ()


def _bools_of(value: Any) -> tuple[bool, ...]:
    """The boolean pydantic reads from a value: ``"yes"``/``"on"``/``"t"``... (any case), 0/1, 0.0/1.0."""
    if isinstance(value, bool):
        return (value,)
    if isinstance(value, str):
        b = BOOL_WORDS.get(value.lower()) if len(value) <= 5 else None
        return () if b is None else (b,)
    if isinstance(value, (int, float)) and value in (0, 1):
        return (bool(value),)
    return ()


class _Dups:
    """``object_pairs_hook`` that builds dicts like ``json.loads`` (last key wins) and notes duplicate keys."""

    __slots__ = ("first", "seen")

    def __init__(self, first: bool) -> None:
        self.first = first
        self.seen = False

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                self.seen = True
                if self.first:
                    continue
            out[k] = v
        return out


@functools.lru_cache(maxsize=256)
def json_readings(text: str) -> tuple[Any, ...]:
    """What a JSON-decoding server makes of a string (the SDK's ``MCPServer`` decodes list and object arguments
    sent as JSON strings): ``()`` unless ``text`` is a JSON array, object or string; an object with duplicate
    keys has two readings, last key wins (Python) and first key wins. Never raises."""
    t = text.lstrip(" \t\n\r")
    if not t or t[0] not in '[{"':
        return ()
    hook = _Dups(first=False)
    try:
        last = json.loads(text, object_pairs_hook=hook)
    except (ValueError, RecursionError, MemoryError):
        return ()
    if not hook.seen:
        return (last,)
    try:
        first = json.loads(text, object_pairs_hook=_Dups(first=True))
    except (ValueError, RecursionError, MemoryError):  # pragma: no cover - the same text decoded once already
        return (last,)
    return (last, first)


class _TooDeep:
    """A frozen value nested past ``_FREEZE_DEPTH``: equal to nothing (policy values are never that deep)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<too deep>"


_FREEZE_DEPTH = 64


def freeze(value: Any, _depth: int = 0) -> Any:
    """A hashable, comparable copy: lists become tuples, mappings sorted tuples of pairs (bounded depth)."""
    if _depth > _FREEZE_DEPTH:
        return _TooDeep()
    if isinstance(value, Mapping):
        return tuple(sorted(((str(k), freeze(v, _depth + 1)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v, _depth + 1) for v in value)
    return value


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def _is_host_name(text: str) -> bool:
    """A DNS-style name with at least one dot (``example.com``, ``api.Example.COM.``) or ``localhost``."""
    t = text.translate(_ASCII_LOWER).rstrip(".")
    if t == "localhost":
        return True
    if not (0 < len(t) <= 253) or "." not in t or any(c not in _HOST_CHARS for c in t):
        return False
    return all(t.split("."))


def folds_case(text: str) -> bool:
    """True when a policy value names an e-mail address or a host name: those compare case-insensitively.

    Only ASCII letters are folded (``K`` and ``k``, not the Kelvin sign), so an allow-list can never be
    satisfied by a look-alike; the normalised reading of a value catches look-alikes for deny-lists.
    """
    local, at, domain = text.rpartition("@")
    if at:
        return bool(local) and (_is_host_name(domain) or (domain.startswith("[") and domain.endswith("]")))
    return _is_host_name(text)


@dataclass(frozen=True, slots=True)
class Folded:
    """A frozen policy string that compares case-insensitively (an e-mail address or a host name)."""

    text: str
    key: str

    @classmethod
    def of(cls, text: str) -> Folded:
        """Fold ``text`` (ASCII letters only, trailing dot of a host dropped)."""
        key = text.translate(_ASCII_LOWER)
        return cls(text, key if "@" in key else key.rstrip("."))

    def matches(self, value: str) -> bool:
        """True when ``value`` is this address or host, ignoring the case of ASCII letters."""
        key = value.translate(_ASCII_LOWER)
        return (key if "@" in key else key.rstrip(".")) == self.key


def freeze_operand(value: Any) -> Any:
    """``freeze`` for a policy value: e-mail addresses and host names become ``Folded``."""
    if isinstance(value, str):
        return Folded.of(value) if folds_case(value) else value
    if isinstance(value, Mapping):
        return tuple(sorted(((str(k), freeze_operand(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (list, tuple)):
        return tuple(freeze_operand(v) for v in value)
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality of a frozen value ``a`` with a frozen policy value ``b``: booleans stay apart from numbers,
    e-mail addresses and host names ignore case, containers compare item by item."""
    if isinstance(b, Folded):
        return isinstance(a, str) and b.matches(a)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(b, tuple):
        return isinstance(a, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    return bool(a == b)


def _with_decoded(items: list[Any]) -> list[Any]:
    """``items`` plus, after each string, the lists and objects it decodes to as JSON."""
    out: list[Any] = []
    for item in items:
        out.append(item)
        if isinstance(item, str):
            out.extend(d for d in json_readings(item) if isinstance(d, (list, dict)))
    return out


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
        """The selected values (``[MISSING]`` when a step finds nothing; none for ``[*]`` over nothing).

        A string met where the path goes on is taken both as it is (a scalar) and as the list or object it
        decodes to as JSON, since a JSON-decoding server would see the latter.
        """
        frontier: list[Any] = [args]
        for kind, key in self.steps:
            nxt: list[Any] = []
            for item in _with_decoded(frontier):
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
            return bool((v is not MISSING) == self.value)
        if v is MISSING:
            return False
        if kind == "equals":
            return _same(freeze(v), self.value)
        if kind in ("in", "not_in"):
            fv = freeze(v)
            hit = any(_same(fv, e) for e in self.value)
            return hit if kind == "in" else not hit
        if kind in ("min", "max"):
            if isinstance(v, bool):
                return False
            nums = _numbers_of(v)  # a string that reads as several numbers meets a bound only if all do
            if kind == "min":
                return bool(nums) and all(x >= self.value for x in nums)
            return bool(nums) and all(x <= self.value for x in nums)
        if not isinstance(v, str):
            return False
        if kind == "glob":
            folded = v.translate(_ASCII_LOWER)
            return any(g.match(folded if fold else v) for g, fold in self.compiled)
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
        globs = []
        for p in pats:
            fold = _glob_folds(p)
            globs.append((Glob(p.translate(_ASCII_LOWER) if fold else p), fold))
        return Condition(kind, pats, tuple(globs))
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
        return Condition(kind, tuple(freeze_operand(v) for v in value))
    if kind == "equals":
        return Condition(kind, freeze_operand(value))
    if kind in ("min", "max"):
        return Condition(kind, float(value))
    return Condition(kind, value)


def _glob_folds(pattern: str) -> bool:
    """A glob over e-mail addresses or host names (``*@example.com``, ``*.example.com``) ignores case."""
    if "[" in pattern:  # a character class names its own cases
        return False
    return folds_case(pattern.replace("*", "x").replace("?", "x"))


def _operands(conditions: tuple[Condition, ...]) -> list[Any]:
    """The scalar policy values of ``equals``/``in``/``not_in`` conditions."""
    out: list[Any] = []
    stack: list[Any] = [c.value for c in conditions if c.kind in ("equals", "in", "not_in")]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        else:
            out.append(item)
    return out


@dataclass(frozen=True, slots=True)
class Readings:
    """Which derived readings a condition set looks at: numbers (it has a bound or a numeric value), booleans
    (it names ``true``/``false``), null (it names ``null``). JSON-decoded strings are always read."""

    numbers: bool
    bools: bool
    null: bool

    @classmethod
    def of(cls, conditions: tuple[Condition, ...]) -> Readings:
        """The readings the conditions need."""
        ops = _operands(conditions)
        numbers = any(c.kind in ("min", "max") for c in conditions) or any(
            isinstance(o, (int, float)) and not isinstance(o, bool) for o in ops
        )
        return cls(numbers, any(isinstance(o, bool) for o in ops), any(o is None for o in ops))

    def of_value(self, v: Any) -> list[Any]:
        """``v`` and every way a server could read it: for a string its normalised form (NFKC, invisible
        characters removed), its JSON-decoded forms, the numbers and booleans it coerces to, ``null`` for
        ``"null"``; for a number or boolean the other one it coerces to. ``v`` itself comes first."""
        out: list[Any] = [v]
        texts: list[str] = []
        if isinstance(v, str):
            texts.append(v)
            n = normalize(v)
            if n != v:
                out.append(n)
                texts.append(n)
            if "\x00" in v:  # what a server that hands the string to the OS (C strings) reads
                cut = v[: v.index("\x00")]
                out.append(cut)
                texts.append(cut)
            for t in texts:
                out.extend(json_readings(t))
        for t in texts or [v]:
            if self.numbers:
                out.extend(x for x in _numbers_of(t) if not (isinstance(v, (int, float)) and x is v))
            if self.bools:
                out.extend(b for b in _bools_of(t) if b is not v)
            if self.null and isinstance(t, str) and t.strip(" \t\n\r") == "null":
                out.append(None)
        return out


@dataclass(frozen=True, slots=True)
class ConditionSet:
    """Conditions that are ANDed, judged on every reading of every selected value (see the module docstring).

    A value is ambiguous when it has several readings (``"5_000"`` is a string and the number 5000,
    ``'["a@x.org"]'`` a string and a list): ``deny_if`` fires when any reading meets every condition,
    ``deny_unless`` fires when any reading fails one, so the rule holds whichever reading the server takes.
    """

    conditions: tuple[Condition, ...]
    readings: Readings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "readings", Readings.of(self.conditions))

    def all_hold(self, v: Any, workspace: str | None = None) -> bool:
        """True when ``v`` meets every condition."""
        return all(c.holds(v, workspace) for c in self.conditions)

    def fires_if(self, values: list[Any], workspace: str | None = None) -> tuple[bool, Any, Any]:
        """For ``deny_if``: ``(True, value, reading)`` for the first value one of whose readings meets every
        condition; ``(False, None, None)`` otherwise."""
        for v in values:
            for r in self.readings.of_value(v):
                if self.all_hold(r, workspace):
                    return True, v, r
        return False, None, None

    def fires_unless(self, values: list[Any], workspace: str | None = None) -> tuple[bool, Any, Any]:
        """For ``deny_unless``: ``(True, value, reading)`` for the first value one of whose readings fails a
        condition; ``(False, None, None)`` otherwise."""
        for v in values:
            for r in self.readings.of_value(v):
                if not self.all_hold(r, workspace):
                    return True, v, r
        return False, None, None
