"""Normalise a string once: Unicode NFKC, invisible characters dropped, look-alike letters folded, and the
obvious encodings (percent, double percent, HTML entities, escapes, base64, hex, rot13, tag characters) decoded.

Every function here is linear in its input: a handful of passes with ``str.translate``, ``str.split`` and
bounded loops, no backtracking regular expressions.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import json
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import re2 as _re2  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "MAX_DECODE_DEPTH",
    "UNICODE_SPACES",
    "JSONTooDeep",
    "by_chunks",
    "chunks",
    "decode_encoded_command",
    "decode_layers",
    "fold",
    "loads_json",
    "normalize",
    "split_words",
]

MAX_DECODE_DEPTH = 3

#: Every character ``str.isspace()`` (and ``str.split()``) treats as white space, in code point order. All lie at
#: or below U+3000 (ideographic space), so 12,289 code points are tested instead of 1.1 million at import; a test
#: checks the whole range for the running Python.
UNICODE_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())

# Zero-width, joiners, bidi controls, soft hyphen, BOM, variation selectors: dropped from text.
_INVISIBLE = dict.fromkeys(
    [
        0x00AD,
        0x034F,
        0x061C,
        0x115F,
        0x1160,
        0x17B4,
        0x17B5,
        0x180E,
        0x200B,
        0x200C,
        0x200D,
        0x200E,
        0x200F,
        0x202A,
        0x202B,
        0x202C,
        0x202D,
        0x202E,
        0x2060,
        0x2061,
        0x2062,
        0x2063,
        0x2064,
        0x2066,
        0x2067,
        0x2068,
        0x2069,
        0x206A,
        0x206B,
        0x206C,
        0x206D,
        0x206E,
        0x206F,
        0x3164,
        0xFEFF,
        0xFFA0,
        *range(0xFE00, 0xFE10),
    ]
)
# The same set as one character class: a single class cannot backtrack, and ``sub`` deletes in one pass.
_INVISIBLE_RE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_INVISIBLE)) + "]")
_TAG_LO, _TAG_HI = 0xE0000, 0xE007F
_TAGS_ASCII = {cp: (cp - _TAG_LO if 0x20 <= cp - _TAG_LO < 0x7F else None) for cp in range(_TAG_LO, _TAG_HI + 1)}

# Letters from other scripts that look like Latin ones (after NFKC), folded for keyword matching only.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "һ": "h",
        "ӏ": "l",
        "ɡ": "g",
        "ո": "n",
        "ս": "u",
        "ց": "g",
        "օ": "o",
        "ʏ": "y",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "ω": "w",
        "ϲ": "c",
        "ϳ": "j",
        # Latin look-alikes and small capitals
        "ı": "i",
        "ȷ": "j",
        "ℓ": "l",
        "ᴀ": "a",
        "ʙ": "b",
        "ᴄ": "c",
        "ᴅ": "d",
        "ᴇ": "e",
        "ɢ": "g",
        "ʜ": "h",
        "ɪ": "i",
        "ᴊ": "j",
        "ᴋ": "k",
        "ʟ": "l",
        "ᴍ": "m",
        "ɴ": "n",
        "ᴏ": "o",
        "ᴘ": "p",
        "ʀ": "r",
        "ᴛ": "t",
        "ᴜ": "u",
        "ᴠ": "v",
        "ᴡ": "w",
        "ᴢ": "z",
    }
)
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)
# Words that make a rot13 reading worth keeping: only then is rot13 "obvious".
_ROT13_SIGNALS = (
    "ignore",
    "instruction",
    "password",
    "secret",
    "system prompt",
    "sudo",
    "/etc/",
    "rm -rf",
    "curl ",
    "wget ",
    "http",
    "token",
    "exfiltrat",
    "disregard",
    "api key",
    "credential",
)
# Literal alternations: no quantifiers, so matching cannot backtrack; one pass over the text.
_SIGNAL_RE = re.compile("|".join(re.escape(w) for w in _ROT13_SIGNALS))
_ROT13_SIGNAL_RE = re.compile("|".join(re.escape(w.translate(_ROT13)) for w in _ROT13_SIGNALS))
_MIN_ENCODED = 12  # shorter base64/hex tokens are too often ordinary words or ids


_TAG_FIRST = chr(_TAG_LO)
_INT_DIGITS = 4000  # below Python's int/str conversion limit (4300 digits)


class JSONTooDeep(ValueError):
    """JSON text nested deeper than the decoder can follow: the caller fails closed."""


def _int_or_text(digits: str) -> int | str:
    """Integers beyond the int/str conversion limit are kept as their digits rather than refused."""
    return int(digits) if len(digits) <= _INT_DIGITS else digits


def loads_json(text: str) -> object:
    """``json.loads`` that never raises anything but ``ValueError``: nesting past the recursion limit is
    ``JSONTooDeep``, and an integer of thousands of digits is read as its digit string."""
    try:
        return json.loads(text)
    except RecursionError:
        raise JSONTooDeep("JSON nests too deeply to read") from None
    except ValueError as exc:
        if "digits" not in str(exc):
            raise
    try:  # only reached for a huge integer: read again without converting it
        return json.loads(text, parse_int=_int_or_text)
    except RecursionError:
        raise JSONTooDeep("JSON nests too deeply to read") from None


_TAG_RE = re.compile("[\U000e0000-\U000e007f]")
# Tag characters in long text, by whole-bytes operations on the UTF-32 form. ``str.translate`` with a mapping
# looks up every character (0.15 s for a million), and a substitution pays per run of tags, so text that
# alternates tags and letters is as slow: here a character is four bytes (cp & 0xFF, cp >> 8 & 0xFF, cp >> 16,
# 0), a tag is (n, 0x00, 0x0E, 0x00) with n < 0x80, and masks over the byte columns, combined as integers, say
# which characters are tags. A dropped tag is overwritten with a marker and all markers go in one C pass
# (``_without_marks``). Short text keeps the plain operations.
_TAG_BYTES_MIN = 4096
_MARK = chr(_TAG_LO)  # U+E0000, itself a tag: the marker of a dropped tag in text that holds U+0000
_IS_00 = bytes(0xFF if b == 0x00 else 0 for b in range(256))
_IS_0E = bytes(0xFF if b == 0x0E else 0 for b in range(256))
_IS_LOW = bytes(0xFF if b < 0x80 else 0 for b in range(256))
_IS_PRINTABLE = bytes(0xFF if 0x20 <= b < 0x7F else 0 for b in range(256))


def _tag_columns(text: str) -> tuple[bytearray, int, int, int, int]:
    """The UTF-32 form of ``text`` (lone surrogates passed through), its characters' low and plane bytes as
    integers, and masks (``0xFF`` per character, as integers) of its tag characters and of its printable tag
    characters."""
    data = text.encode("utf-32-le", "surrogatepass")
    low = data[0::4]
    plane = data[2::4]
    tags = (
        int.from_bytes(plane.translate(_IS_0E), "little")
        & int.from_bytes(data[1::4].translate(_IS_00), "little")
        & int.from_bytes(low.translate(_IS_LOW), "little")
    )
    shown = tags & int.from_bytes(low.translate(_IS_PRINTABLE), "little")
    return bytearray(data), int.from_bytes(low, "little"), int.from_bytes(plane, "little"), tags, shown


def _drop_marked(data: bytearray, low: int, plane: int, drop: int, n: int, nul_free: bool) -> str:
    """The UTF-32 ``data`` of ``n`` characters (``plane`` its plane bytes as written), decoded, without the
    characters ``drop`` masks (tags only). A lane is cleared by ``x ^ (x & mask)``, two cheap passes.

    In text without U+0000 a dropped character becomes U+0000, and the UTF-8 form loses every NUL byte in one
    ``bytes.translate`` (UTF-8 holds no other zero byte); otherwise it becomes ``_MARK`` (U+E0000), removed by
    ``str.replace``, which pays per removed character (10 ms for half a million in a MiB)."""
    if not drop:
        return data.decode("utf-32-le", "surrogatepass")
    data[0::4] = (low ^ (low & drop)).to_bytes(n, "little")  # a dropped tag's low byte 0: U+E0000
    if not nul_free:
        return data.decode("utf-32-le", "surrogatepass").replace(_MARK, "")
    data[2::4] = (plane ^ (plane & drop)).to_bytes(n, "little")  # and its plane byte 0: U+0000
    marked = data.decode("utf-32-le", "surrogatepass").encode("utf-8", "surrogatepass")
    return marked.translate(None, b"\x00").decode("utf-8", "surrogatepass")


def drop_tags(text: str) -> str:
    """``text`` without its tag characters (U+E0000..U+E007F)."""
    if len(text) < _TAG_BYTES_MIN:
        return _TAG_RE.sub("", text)
    data, low, plane, tags, _ = _tag_columns(text)
    return _drop_marked(data, low, plane, tags, len(text), "\x00" not in text)


def _tags_as_ascii_whole(text: str) -> str:
    if len(text) < _TAG_BYTES_MIN:
        return text.translate(_TAGS_ASCII)
    data, low, plane, tags, printable = _tag_columns(text)
    n = len(text)
    # a printable tag loses its plane byte (it becomes its ASCII letter); the other tags are dropped
    plane ^= plane & printable
    data[2::4] = plane.to_bytes(n, "little")
    return _drop_marked(data, low, plane, tags ^ printable, n, "\x00" not in text)


def _tag_text_whole(text: str) -> str:
    if len(text) < _TAG_BYTES_MIN:
        return "".join(chr(ord(c) - _TAG_LO) for c in text if _TAG_LO + 0x20 <= ord(c) < _TAG_LO + 0x7F)
    _, low, _, _, printable = _tag_columns(text)
    return (low & printable).to_bytes(len(text), "little").translate(None, b"\x00").decode("ascii")


#: Any character: the cut for transforms that read each character alone.
_ANY_CUT = re.compile(".", re.DOTALL)


def tags_as_ascii(text: str) -> str:
    """``text`` with printable tag characters read as the ASCII they shadow and the other tags dropped
    (``str.translate(_TAGS_ASCII)``); long text chunk by chunk (``by_chunks``), a repeated unit read once."""
    return by_chunks(text, _ANY_CUT, _tags_as_ascii_whole)


def tag_text(text: str) -> str:
    """Only the printable tag characters of ``text``, read as ASCII (the text they spell); long text chunk by
    chunk (``by_chunks``)."""
    return by_chunks(text, _ANY_CUT, _tag_text_whole)


_TAG_OR_HIGHER_RE = re.compile("[\U000e0000-\U0010ffff]")
_CPYTHON = sys.implementation.name == "cpython"


def _below_astral(text: str) -> bool:
    """True when ``text`` certainly has no character above U+FFFF: CPython stores such a string with 1 or 2
    bytes a character, which its size shows in O(1) (a per-character ``max()`` takes 0.1 s a MiB)."""
    n = len(text)
    return _CPYTHON and n >= 128 and sys.getsizeof(text) < 3 * n


def has_high(text: str) -> bool:
    """Whether ``text`` holds a character at or above U+E0000 (tag characters and above), in one C pass."""
    if text.isascii() or _below_astral(text):
        return False
    return _TAG_OR_HIGHER_RE.search(text) is not None


def bytes_pattern(pattern: bytes) -> Any:
    """An RE2 pattern (a DFA: linear, no backtracking) over bytes read as Latin-1, so any byte, valid UTF-8 or
    not, is one character to it: a whole-text pass in C for the scanners' prefilters."""
    options = _re2.Options()
    options.encoding = _re2.Options.Encoding.LATIN1
    return _re2.compile(pattern, options)


def _has_tags(text: str) -> bool:
    """Whether ``text`` holds a Unicode tag character."""
    if not text or text.isascii() or _below_astral(text):
        return False
    return _TAG_RE.search(text) is not None


#: Distinct invisible characters removed one ``str.replace`` each before the rest go by one substitution.
_REPLACE_DISTINCT = 8


def drop_invisible(text: str) -> str:
    """``text.translate(_INVISIBLE)``, in C: the first invisible character left is removed everywhere by
    ``str.replace`` and the search resumes where it was found (all before is clean). A substitution pays per
    match (0.15 s for a MiB of U+200B), ``replace`` per distinct character; past ``_REPLACE_DISTINCT`` distinct
    ones the remainder goes by one substitution, so the work stays linear whatever the mix."""
    search = _INVISIBLE_RE.search
    m = search(text)
    passes = 0
    while m is not None:
        if passes == _REPLACE_DISTINCT:
            return text[: m.start()] + _INVISIBLE_RE.sub("", text[m.start() :])
        passes += 1
        start = m.start()
        text = text.replace(m.group(), "")
        m = search(text, start)
    return text


#: Long text is transformed in at most ``_CHUNKS`` chunks of at least ``_CHUNK`` characters (see ``by_chunks``).
_CHUNK = 4096
_CHUNKS = 32


def chunks(text: str, cut: re.Pattern[str]) -> list[str]:
    """``text`` cut into at most ``_CHUNKS`` pieces (one for text under two ``_CHUNK``), each after the first
    starting at the first match of ``cut`` a piece's length on or later; with no match within another piece's
    length, the rest is one piece."""
    n = len(text)
    if n < 2 * _CHUNK:
        return [text]
    size = max(_CHUNK, n // _CHUNKS)
    search = cut.search
    pieces: list[str] = []
    start = 0
    while start < n:
        m = search(text, start + size, start + 2 * size)
        end = n if m is None else m.start()
        pieces.append(text[start:end])
        start = end
    return pieces


def by_chunks(text: str, cut: re.Pattern[str], transform: Callable[[str], str]) -> str:
    """``transform(text)`` for a ``transform`` that reads the pieces between the starts of ``cut``'s matches
    independently (``transform(a + b) == transform(a) + transform(b)`` when ``b`` starts at a match), with each
    distinct chunk (``chunks``) transformed once.

    A text repeating a short unit (a MiB of ``&#46;``) then costs a few calls on one chunk each, and varied
    text one call on the whole plus a search a chunk. A text every chunk of which comes back itself is returned
    itself, as the library transforms do (later passes know a text by identity)."""
    pieces = chunks(text, cut)
    if len(pieces) == 1:
        return transform(text)
    done: dict[str, str] = {}
    parts: list[str] = []
    changed = False
    for chunk in pieces:
        out = done.get(chunk)
        if out is None:
            out = done[chunk] = transform(chunk)
            changed = changed or out is not chunk
        parts.append(out)
    return "".join(parts) if changed else text


#: ASCII white space: ``str.split`` splits there (no word spans one), and lower-casing reads a character's
#: neighbours only for a final sigma (a cased letter before it, none after it, across case-ignorable
#: characters), which white space is neither.
_WHITE_SPACE_CUT = re.compile("[\t\n\x0b\x0c\r ]")


def split_words(text: str) -> list[str]:
    """``text.split()``, chunk by chunk (``chunks``): a text repeating a unit is split once a distinct chunk and
    its words repeated as the same strings, rather than one new string made per word (150,000 in a MiB of
    ``ignore ``)."""
    pieces = chunks(text, _WHITE_SPACE_CUT)
    if len(pieces) == 1:
        return text.split()
    done: dict[str, list[str]] = {}
    words: list[str] = []
    for chunk in pieces:
        got = done.get(chunk)
        if got is None:
            got = done[chunk] = chunk.split()
        words += got
    return words


#: The cuts ``normalize`` may chunk at. NFKC never reaches across an ASCII character (a starter that composes
#: with nothing before it and blocks every mark after it), and dropping characters is local.
_NORMALIZE_CUT = re.compile("[\x00-\x7f]")


def _normalize_whole(text: str) -> str:
    out = drop_invisible(unicodedata.normalize("NFKC", text))
    if _has_tags(out):
        out = drop_tags(out)
    return out


def normalize(text: str) -> str:
    """NFKC with invisible and tag characters removed. Case is kept; ASCII text is returned as is.

    Long text goes chunk by chunk (``by_chunks``): the library's NFKC re-reads the whole text once one character
    fails its quick check (one combining accent in a MiB of prose: 40-100 ms), and chunk by chunk only the
    chunks holding such a character pay."""
    if text.isascii():
        return text
    return by_chunks(text, _NORMALIZE_CUT, _normalize_whole)


_CONFUSABLE_TO: dict[str, str] = {chr(k): v for k, v in _CONFUSABLES.items() if isinstance(v, str)}
_CONFUSABLE_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_CONFUSABLES)) + "]")


def _fold_whole(text: str) -> str:
    low = text.lower()
    if low.isascii():
        return low
    if len(low) < 4096:
        return low.translate(_CONFUSABLES)
    # The first look-alike left is replaced everywhere, and the search resumes after it (everything before it is
    # clean): one pass of the pattern in all, plus one replace per distinct look-alike (at most 66).
    search = _CONFUSABLE_RE.search
    m = search(low)
    while m is not None:
        ch = m.group()
        low = low.replace(ch, _CONFUSABLE_TO[ch])  # every replacement is one character: offsets stay valid
        m = search(low, m.end())
    return low


def fold(text: str) -> str:
    """Lower-case and fold look-alike letters so ``ѕudo`` (Cyrillic s) matches ``sudo``.

    Long text replaces only the look-alikes it holds (one ``str.replace`` each, in C): ``str.translate`` with a
    mapping costs a dictionary lookup per character, 0.3 s a MiB. Long non-ASCII text goes chunk by chunk
    (``by_chunks``), so a repeated unit is folded once.
    """
    if text.isascii():
        return text.lower()
    return by_chunks(text, _WHITE_SPACE_CUT, _fold_whole)


def _printable_ratio(s: str) -> float:
    if not s:
        return 0.0
    ok = sum(1 for c in s if c.isprintable() or c in "\n\r\t")
    return ok / len(s)


def _as_text(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < 4:
        return None
    head = s[:256]
    if head.isascii():  # an ASCII letter is exactly an ASCII character with case
        if head.lower() == head.upper():
            return None
    elif not any(c.isalpha() for c in head):
        return None
    if s.isprintable():
        return s
    return s if _printable_ratio(s[:4096]) >= 0.95 else None


def _b64(token: str) -> str | None:
    t = token.rstrip("=")
    if len(t) < _MIN_ENCODED or len(t) % 4 == 1 or not _B64_CHARS.issuperset(t):  # stops at the first misfit
        return None
    # A real payload mixes letter cases or digits; a long lowercase word is not base64.
    if t.isalpha() and (t.islower() or t.isupper()):
        return None
    pad = "=" * (-len(t) % 4)
    try:
        alt = "-" in t or "_" in t
        raw = base64.urlsafe_b64decode(t + pad) if alt else base64.b64decode(t + pad, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _as_text(raw)


def _hex(token: str) -> str | None:
    t = token[2:] if token[:2].lower() == "0x" else token
    if len(t) < _MIN_ENCODED or len(t) % 2 or not _HEX_CHARS.issuperset(t) or t.isdigit():
        return None
    try:
        return _as_text(bytes.fromhex(t))
    except ValueError:
        return None


_LITERAL_PERCENT_RE = re.compile("%(?![0-9A-Fa-f]{2})")
_ESCAPE_RE = re.compile("%[0-9A-Fa-f]{2}")
#: A percent sign that starts no escape (``_LITERAL_PERCENT_RE`` without the look-ahead, for RE2).
_LITERAL_PERCENT = bytes_pattern(rb"%(?:$|[^0-9A-Fa-f]|[0-9A-Fa-f](?:$|[^0-9A-Fa-f]))")


def _unquote_whole(text: str) -> str:
    """``urllib.parse.unquote(text, errors="replace")`` with the decoding done in C.

    ``unquote`` is a Python loop per escape (0.8 s for a MiB of ``%25``). The same result comes from quoted-
    printable decoding once every ``=`` and every ``%`` that starts no escape are written as ``=3D`` / ``=25``
    and the remaining ``%`` as ``=``. Text with lone surrogates (not UTF-8) takes the library's path.
    """
    if _ESCAPE_RE.search(text) is None:
        return text  # nothing to decode
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return unquote(text, errors="replace")
    if len(data) < 256:
        return unquote(text, errors="replace")
    qp = text.replace("=", "=3D")
    if _LITERAL_PERCENT.search(data) is not None:  # one RE2 pass: the substitution pays per percent sign
        qp = _LITERAL_PERCENT_RE.sub("=25", qp)
    qp = qp.replace("%", "=")
    return binascii.a2b_qp(qp.encode("utf-8")).decode("utf-8", "replace")


def _unescape_pieces(text: str) -> str:
    """``html.unescape(text)``, with each distinct reference decoded once.

    ``html.unescape`` calls a Python function per reference (0.13 s for a MiB of ``&#46;``). A reference starts
    at an ``&`` and holds none, so after ``str.split("&")`` each piece holds at most one reference, at its
    start, and its decoding depends on the piece alone: distinct pieces are decoded by the library and the
    pieces joined again. Text of mostly distinct pieces (prose with a few entities) takes the library's pass."""
    if len(text) < 256:
        return html.unescape(text)
    head, *pieces = text.split("&")
    if not pieces:
        return text
    distinct = set(pieces)
    if len(distinct) > len(pieces) // 4 + 64:
        return html.unescape(text)
    table = {piece: html.unescape("&" + piece) for piece in distinct}
    return head + "".join(map(table.__getitem__, pieces))


#: ``unquote`` reads the text on either side of these independently: no escape spans one (an ASCII character
#: that is neither ``%`` nor a hex digit, a non-ASCII character, or an escape of an ASCII byte), and the ASCII
#: byte or non-ASCII character ends any unfinished UTF-8 sequence before it.
_UNQUOTE_CUT = re.compile("[^%0-9A-Fa-f]|%[0-7][0-9A-Fa-f]")
#: A character reference starts at ``&`` and holds none.
_HTML_CUT = re.compile("&")


def _unquote(text: str) -> str:
    """``urllib.parse.unquote(text, errors="replace")``, each distinct chunk decoded once (``by_chunks``)."""
    return by_chunks(text, _UNQUOTE_CUT, _unquote_whole)


def _unescape_html(text: str) -> str:
    """``html.unescape(text)``, each distinct chunk decoded once (``by_chunks``)."""
    return by_chunks(text, _HTML_CUT, _unescape_pieces)


def _tokens(text: str) -> list[str]:
    """Distinct tokens long enough to be an encoded payload, split at whitespace, quotes, brackets and operators
    (at least all of them that are base64 characters only: without 12 such in a row there are none to try).

    The ASCII separators become spaces by one byte translation of the UTF-8 form (an ASCII byte never occurs
    inside a multi-byte sequence), and ``str.split`` then splits at every white space character, as ``\\s``
    does: four passes in C, whatever the text holds. A lone surrogate comes back as U+FFFD (decoding it back is
    an error path per character, 0.15 s a MiB): no separator either way, and a token holding one is no payload.
    """
    if len(text) < _MIN_ENCODED:
        return []
    if not text.isascii() and _B64_RUN.search(text.encode("ascii", "replace")) is None:
        # Only all-base64 tokens of 12 characters decode, so with no run of 12 base64 characters (a non-ASCII
        # character, '?' here, ends one) nothing would: one pass over a byte a character, not the UTF-8 form
        return []
    data = text.encode("utf-8", "surrogatepass").translate(_TOKEN_SEPARATORS)
    if _LONG_RUN.search(data) is None:
        return []  # no run of 12 bytes between separators, so no token of 12 characters: nothing to split
    # distinct tokens only (deduplicated in C, in order): a payload repeated is decoded once anyway
    return [t for t in dict.fromkeys(data.decode("utf-8", "replace").split()) if len(t) >= _MIN_ENCODED]


# Exactly ``_MIN_ENCODED`` bytes, no open repetition: RE2 reports a match's whole extent, so ``{12,}`` would read
# to the end of a run (a MiB without white space is one run) where twelve bytes already answer the question.
_LONG_RUN = bytes_pattern(rb"[^\t\n\x0b\x0c\r ]{" + str(_MIN_ENCODED).encode() + rb"}")
#: ``_MIN_ENCODED`` base64 characters in a row (``_B64_CHARS``; hex digits are among them), exactly as many.
_B64_RUN = bytes_pattern(rb"[A-Za-z0-9+/=_\-]{" + str(_MIN_ENCODED).encode() + rb"}")
_TOKEN_SEPARATORS = bytes(
    32 if (chr(c) in "'\"`()[]{}<>,;|&:!?*=" or chr(c).isspace()) else c for c in range(128)
) + bytes(range(128, 256))


def _escapes(text: str) -> str | None:
    """Decode ``\\x41``, ``\\u0041`` and ``\\101`` style escapes when the text has them."""
    if "\\x" not in text and "\\u" not in text and "\\0" not in text:
        return None
    try:
        with warnings.catch_warnings():  # an unknown escape such as "\\." is kept as is, silently
            warnings.simplefilter("ignore", DeprecationWarning)
            out = codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")
    except (UnicodeDecodeError, ValueError, DeprecationWarning):
        return None
    return out if out != text else None


def decode_layers(text: str) -> list[str]:
    """Return the distinct decoded readings of ``text`` (not including ``text`` itself), each normalised.

    Percent and HTML decoding are repeated up to ``MAX_DECODE_DEPTH`` times (double encoding); base64, hex and
    escape payloads are decoded when they decode to readable text; rot13 is kept only when its reading
    contains a telling word. Hidden tag-character text is surfaced as ASCII.
    """
    if len(text) < _MIN_ENCODED and "%" not in text and "&" not in text and "\\" not in text:
        return []  # too short to hide a payload, and nothing to unescape
    found: list[str] = []
    seen = {text}
    readings: list[str] = []  # candidate readings in order; normalised and deduplicated at the end
    if not text.isascii() and _has_tags(text):
        readings.append(tags_as_ascii(text))
    cur = text
    if "%" in text or "&" in text or "\\" in text:  # otherwise no unescaping step can change it
        for _ in range(MAX_DECODE_DEPTH):
            nxt = cur
            if "%" in nxt:
                nxt = _unquote(nxt)
            if "&" in nxt and ";" in nxt:
                nxt = _unescape_html(nxt)
            esc = _escapes(nxt)
            if esc is not None:
                nxt = esc
            if nxt == cur:
                break
            readings.append(nxt)
            cur = nxt
    # Encoded payloads: each distinct token tried once; all readable ones joined into a single reading, so
    # a string of many payloads costs one extra variant, not one per payload.
    payloads: list[str] = []
    tokens = _tokens(text)
    if cur is not text:
        tokens += _tokens(cur)
    if tokens:
        tried: set[str] = set()
        b64_chars = _B64_CHARS
        for tok in dict.fromkeys(tokens):  # distinct tokens, in order, deduplicated in C
            # base64 and hex tokens use only base64 characters: anything else cannot decode
            if tok in tried or not b64_chars.issuperset(tok):
                continue
            tried.add(tok)
            decoded = _b64(tok) or _hex(tok)
            if decoded is not None:
                payloads.append(decoded)
    if payloads:
        readings.append("\n".join(payloads))
    if len(text) >= 16:
        head = text[:4096].lower()
        if _ROT13_SIGNAL_RE.search(head) and not _SIGNAL_RE.search(head):
            readings.append(text.translate(_ROT13))
    for r in readings:
        r = normalize(r)
        if r not in seen:
            seen.add(r)
            found.append(r)
    return found


def decode_encoded_command(token: str) -> str | None:
    """A PowerShell ``-EncodedCommand`` payload: base64 of UTF-16LE text (UTF-8 accepted), or None when it
    does not decode to mostly printable text."""
    t = "".join(token.split())
    t += "=" * (-len(t) % 4)
    try:
        raw = base64.b64decode(t, validate=False)
    except (binascii.Error, ValueError):
        return None
    for enc in ("utf-16-le", "utf-8"):
        try:
            s = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if s and sum(c.isprintable() or c in "\r\n\t" for c in s) >= 0.9 * len(s):
            return s
    return None
