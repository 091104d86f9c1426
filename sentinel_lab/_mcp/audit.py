"""A tamper-evident audit log: one JSON line per decision, hash-chained, signed with Ed25519 at checkpoints.

Record format (one line, ``\\n``-terminated, written with a single ``os.write`` on an ``O_APPEND`` fd)::

    {"arguments":{...},"decision":"block","details":{...},"event_type":"tool_call","hash":"<64 hex>",
     "kid":"<16 hex>","latency_us":41.2,"prev":"<64 hex>","request_id":3,"rule":"taint_rules[1]","seq":7,
     "session_id":"1.…","timestamp":"2026-11-21T06:00:00.123456Z","tool":"send_email"}

Every line is the canonical JSON of its record: sorted keys, no spaces, ASCII only (``\\uXXXX`` escapes), no
NaN. ``verify_log`` reads each line with a parser that rejects duplicate keys and accepts it only when it is
byte-identical to the canonical form of what it parsed, so no line can mean one thing to the verifier and
another to a different JSON reader. ``hash`` is SHA-256 over the canonical JSON of the record without ``hash``
and ``sig``; since that includes ``prev`` (the previous record's ``hash``, or 64 zeros for the first), the
records form a chain.

Signatures are per checkpoint, not per record (Ed25519 costs about 30 µs, more than the rest of a record): a
writer appends a signed ``checkpoint`` record after every ``checkpoint_records`` records of its own, when its
oldest unsigned record is ``checkpoint_ms`` old (a background thread, off the request's path), and at ``close``.
A checkpoint's ``details`` name the records it vouches for, ``covers`` (``[[first_seq, last_seq], ...]``, only
that writer's own records since its previous checkpoint) and ``digest`` (SHA-256 of their ``hash`` values
concatenated in order), and its ``sig`` signs its own ``hash``, which chains everything before it. So every
record is proven by its own writer's signature over its exact content, even when several writers share the log
and one continues the chain after another's records. ``recovery`` records are signed themselves, and so was
every record of the older format (a ``sig`` on every line), which the verifier still accepts.

What the verifier proves: every record is canonical, chained, and signed (itself, or covered by a checkpoint of
its writer); the first record that is not is reported. Records that no signature covers yet (a writer still
running, within its checkpoint interval) are reported as not proven (``ok`` is false, ``unsigned`` counts
them): no edit of them can pass as proven. When a writer opens a log whose last record is unsigned (its writer
stopped without closing: ``kill -9``), it appends a signed ``recovery`` record that acknowledges them; the
verifier then reports those records as never signed (a recovery, ``ok`` stays true), unless a later checkpoint
of their writer covers them after all. Deleting records at the very end is the one edit a chain cannot show, so
keep the record count elsewhere if that matters.

Keys: ``key=`` (an ``Ed25519PrivateKey``, a PEM file, or a file/str of 64 hex digits = the raw 32-byte seed),
else ``$SENTINEL_AUDIT_KEY`` (hex seed) or ``$SENTINEL_AUDIT_KEY_FILE``, else a key generated for this process.
The public key (64 hex digits) is appended to ``<log>.pub`` unless already there; ``kid`` in each record is the
first 16 hex digits of SHA-256 of the raw public key. ``verify_log(path, public_key=...)`` trusts only the key(s)
given, else the keys in ``<log>.pub`` (which proves integrity only against someone who cannot also rewrite that
file: pass the key explicitly for that).

Several processes may append to one log: each write takes an ``flock`` and continues the chain from the file's
last record. Recovery: when a writer opens the log (or finds it changed) and the bytes after the last good record
are not good records (a torn line from a crash, a corrupt line), it leaves them where they are, ends a torn line
with ``\\n``, and appends a signed ``recovery`` record linked to the last good record that names the bytes it set
aside (``set_aside_bytes``, ``set_aside_from_byte``, ``set_aside_sha256``); a log that shrank under a writer gets
a ``recovery`` record with ``missing_bytes``. The verifier accepts set-aside lines only when exactly such a
record follows them, and reports each recovery; any other edit is still the first bad line.

Failure: ``AuditLog.write`` raises ``AuditError`` whenever a record was not written whole (disk full, file
removed or replaced, log closed), and every later ``write`` raises too once a checkpoint could not be written
or signed; a partial line it may have left is set aside by the next writer. The record itself is written (the
``write`` system call) before ``write`` returns; only its signature (and, without ``fsync=True``, nothing is
fsynced per record) waits for the checkpoint. A caller that relays only audited traffic writes the call's record
before forwarding it and treats ``AuditError`` as a refusal (answer the request with an error, refuse every
later call) rather than carry on unaudited.

Arguments are stored with secrets redacted (``redact_for_log``: by key name, argv position, header, URL userinfo,
JSON inside strings and value shape) and long strings shortened; tool outputs are never logged.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import functools
import hashlib
import json
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sentinel_lab._analysis._secrets import TOKEN_PREFIXES, luhn
from sentinel_lab._core.errors import AuditError
from sentinel_lab._text.normalize import bytes_pattern

try:  # POSIX advisory locks; elsewhere a single writer per file is assumed
    import fcntl as _fcntl
except ImportError:  # pragma: no cover
    _fcntl = None  # type: ignore[assignment]

__all__ = [
    "GENESIS",
    "AuditLog",
    "AuditReport",
    "Recovery",
    "key_id",
    "load_private_key",
    "load_public_keys",
    "redact_for_log",
    "verify_log",
]

GENESIS = "0" * 64
KEY_ENV = "SENTINEL_AUDIT_KEY"
KEY_FILE_ENV = "SENTINEL_AUDIT_KEY_FILE"
REDACTED = "[REDACTED]"
_MAX_STR = 512
_MAX_DEPTH = 16
_MAX_ITEMS = 64

_SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "cookie",
    "credential",
    "bearer",
    "clientsecret",
    "sessionkey",
    "cvv",
    "ssn",
)
_SECRET_KEY_EXACT = frozenset({"pwd", "pw", "pass", "key", "auth", "pin", "otp", "signature", "sig"})
_SECRET_KEY_TAILS = frozenset({"pass", "pw", "pwd", "pin"})  # DB_PASS, MYSQL_PWD, admin_pw
_SECRET_PREFIXES = tuple(p.lower() for p in TOKEN_PREFIXES)  # the token catalogue of the secret detector
_PUNCT = "\"'`,;()[]{}<>"
_QUOTES = "\"'`"
_WORD = re.compile(r"\S+")  # one class, no alternation: linear
_PART_SEPARATORS = re.compile(r"([&;,?])")
_AUTH_HEADERS = frozenset({"authorization", "proxyauthorization"})
_SCHEMES = frozenset({"bearer", "basic", "digest", "negotiate", "ntlm", "token", "hoba", "mutual", "aws4-hmac-sha256"})
# Single-dash words that begin like mysql's attached password flag but are other tools' options.
_P_FLAGS = ("-pthread", "-pipe", "-pedantic", "-pg", "-pie", "-print", "-perm", "-path", "-prune", "-pass")
_NAME_FIELDS = ("name", "key", "header", "field", "variable")
_VALUE_FIELDS = frozenset({"value", "val", "content", "data", "secret"})
_MAX_QUOTED = 256
_MAX_INT_BITS = 256


# ----------------------------------------------------------------------------------------------- redaction


def _key_is_secret(key: str) -> bool:
    """A key or variable name whose value is a credential: ``password``, ``PGPASSWORD``, ``db_pw``, ``x-api-key``."""
    return False if len(key) > 128 else _short_key_is_secret(key)


@functools.lru_cache(maxsize=4096)
def _short_key_is_secret(key: str) -> bool:
    """``_key_is_secret`` for a key of at most 128 characters, remembered: the same argument names come back in
    call after call (and the cache holds at most 4096 short strings)."""
    k = key.lower().replace("-", "").replace("_", "").replace(" ", "").replace(".", "")
    if k in _SECRET_KEY_EXACT or any(part in k for part in _SECRET_KEY_PARTS):
        return True
    tail = key.lower().replace("-", "_").replace(".", "_").rsplit("_", 1)[-1]
    return tail in _SECRET_KEY_TAILS and tail != key.lower()


_DIGEST_KEYS = ("sha256", "_hash", "digest")


def _is_hex(text: str) -> bool:
    return 0 < len(text) <= 128 and all(c in "0123456789abcdef" for c in text)


def _entropy(token: str) -> float:
    counts: dict[str, int] = {}
    for ch in token:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _token_is_secret(token: str) -> bool:
    """A word that is a credential by its shape: a known token prefix, a JWT, a card number, high entropy."""
    t = token.strip(_PUNCT)
    if len(t) < 12:
        return False
    low = t.lower()
    if low.startswith(_SECRET_PREFIXES) and len(t) >= 16:
        return True
    if low.startswith("eyj") and t.count(".") == 2 and len(t) >= 30:  # JWT
        return True
    if t.isdigit() and 13 <= len(t) <= 19 and luhn(t):  # card number
        return True
    if len(t) >= 32 and "/" not in t[:8] and "://" not in t:
        classes = sum((any(c.islower() for c in t), any(c.isupper() for c in t), any(c.isdigit() for c in t)))
        is_hex = all(c in "0123456789abcdefABCDEF" for c in t)
        if (classes >= 3 or is_hex) and _entropy(t) >= (3.0 if is_hex else 4.0):
            return True
    return False


def _clean(text: str) -> str:
    """``text`` made UTF-8 encodable: a lone surrogate becomes a visible ``\\udXXX`` escape."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _shorten(text: str) -> str:
    if len(text) > _MAX_STR:
        return text[:_MAX_STR] + f"…(+{len(text) - _MAX_STR} chars)"
    return text


def _redact_url(word: str) -> str:
    """Hide the password in every ``scheme://user:password@host`` of ``word`` (or the whole token-like user)."""
    out: list[str] = []
    last = 0
    pos = word.find("://")
    while pos != -1:
        begin = pos + 3
        stop = begin
        while stop < len(word) and word[stop] not in "/?#\"'`<>":
            stop += 1
        at = word.rfind("@", begin, stop)
        if at != -1:
            user, colon, _password = word[begin:at].partition(":")
            if colon:
                out.append(word[last:begin] + user + ":" + REDACTED)
                last = at
            elif len(user) >= 16 or _token_is_secret(user):
                out.append(word[last:begin] + REDACTED)
                last = at
        pos = word.find("://", stop)
    return "".join(out) + word[last:] if out else word


class _Word:
    """What one word of a text turns into: its replacement and what the words after it are."""

    __slots__ = ("open_quote", "pending", "scheme_ok", "text")

    def __init__(self, text: str | None = None, pending: int = 0, scheme_ok: bool = False) -> None:
        self.text = text  # None: keep the word as it is
        self.pending = pending  # how many following words are this word's secret value
        self.scheme_ok = scheme_ok  # the value may open with an auth scheme word (kept: "Bearer", "Basic")
        self.open_quote = ""  # the redacted value opened this quote and the word did not close it


def _hide(span: str) -> str:
    """``span`` with its value replaced by ``[REDACTED]`` and its surrounding quotes and brackets kept."""
    core = span.strip(_PUNCT)
    if not core:
        return span
    lead = span[: len(span) - len(span.lstrip(_PUNCT))]
    return lead + REDACTED + span[len(lead) + len(span[len(lead) :].rstrip(_PUNCT)) :]


def _is_bare_secret_name(text: str) -> bool:
    """``--password``, ``-token``, ``Authorization``, ``PGPASSWORD:``: a name whose value comes next."""
    if not text or len(text) > 64 or "=" in text or any(c.isspace() for c in text):
        return False
    return _key_is_secret(text.strip(_PUNCT).rstrip(":").lstrip("-"))


def _assignments(word: str, out: _Word) -> None:
    """``NAME=VALUE`` and ``NAME:VALUE`` parts of ``word`` (split at ``& ; , ?``) with a secret NAME."""
    parts = _PART_SEPARATORS.split(word)
    changed = False
    for n in range(0, len(parts), 2):
        seg = parts[n]
        last = n == len(parts) - 1
        eq, colon = seg.find("="), seg.find(":")
        idx = eq if colon == -1 or (eq != -1 and eq < colon) else colon
        if idx == -1:
            if last and seg.startswith("-") and _is_bare_secret_name(seg):
                out.pending = 1
            continue
        name = seg[:idx].strip(_PUNCT).lstrip("-")
        if not name or not _key_is_secret(name):
            continue
        value = seg[idx + 1 :].lstrip("=")
        bare = value.strip(_PUNCT)
        is_auth = name.lower().replace("-", "").replace("_", "") in _AUTH_HEADERS
        if not bare or (is_auth and bare.lower() in _SCHEMES):
            if last:
                out.pending, out.scheme_ok = 1, is_auth and not bare
            continue
        parts[n] = seg[: idx + 1] + _hide(value)
        changed = True
        head = value[:1]
        if last and head in _QUOTES and not (len(value) > 1 and value.rstrip(",;)]}").endswith(head)):
            out.open_quote = head
    if changed:
        out.text = "".join(parts)


def _judge_word(word: str, first: bool) -> _Word:
    out = _Word()
    core = word.strip(_PUNCT)
    if _token_is_secret(core):
        out.text = REDACTED
        return out
    low = core.lower()
    if low == "bearer" or (first and low in ("basic", "token")):  # first: only when the text is "<scheme> <value>"
        out.pending = 1
        return out
    if "://" in word:
        url = _redact_url(word)
        if url is not word:
            out.text = url
            word = url
    if word.startswith("-p") and len(word) > 2 and word[2] not in "-=" and not word.startswith(_P_FLAGS):
        out.text = "-p" + _hide(word[2:])  # mysql-style password attached to its flag: -pS3cret
        head = word[2]
        if head in _QUOTES and not (len(word) > 3 and word.endswith(head)):
            out.open_quote = head
        return out
    before = out.text
    _assignments(word, out)
    if out.text is None:
        out.text = before
    return out


def _redact_words(text: str) -> str:
    """Redact, word by word, secret-shaped tokens and the values of secret names, flags and headers."""
    if len(text) < 12 and text.isalnum():
        # one short word of letters and digits: too short for a secret shape, no "=", ":", "-", "/" or quote that
        # could make it a name, flag, URL or assignment, and no word after it that could be a value
        return text
    out: list[str] = []
    last = 0
    pos = 0
    pending = 0
    scheme_ok = False
    first = len(text.split(None, 2)) == 2  # a lone "Basic <credential>" header value
    while True:
        m = _WORD.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        pos = end
        if pending:
            word = m.group()
            if scheme_ok and word.strip(_PUNCT).lower() in _SCHEMES:
                scheme_ok = False
                continue
            pending, scheme_ok = pending - 1, False
            head = word[0]
            if head in _QUOTES and not (len(word) > 1 and word.rstrip(",;)]}").endswith(head)):
                end = _close_quote(text, head, start + 1, end)
            out.append(text[last:start] + _hide(text[start:end]))
            last = pos = end
            continue
        judged = _judge_word(m.group(), first)
        first = False
        pending, scheme_ok = judged.pending, judged.scheme_ok
        if judged.text is not None:
            replaced = judged.text
            if judged.open_quote:
                closed = _close_quote(text, judged.open_quote, end, end)
                if closed > end:
                    end, replaced = closed, replaced + judged.open_quote
            out.append(text[last:start] + replaced)
            last = pos = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _close_quote(text: str, quote: str, begin: int, end: int) -> int:
    """End of a quoted value that opened before ``begin``: just past its closing quote on the same line, nearby."""
    limit = min(len(text), begin + _MAX_QUOTED)
    newline = text.find("\n", begin, limit)
    j = text.find(quote, begin, newline if newline != -1 else limit)
    return max(end, j + 1) if j != -1 else end


_NOT_JSON = object()


def _json_inside(text: str) -> Any:
    """The object or array ``text`` spells as JSON, else ``_NOT_JSON`` (never raises, whatever the input)."""
    s = text.strip()
    if len(s) < 2 or s[0] not in "{[" or s[-1] not in "}]":
        return _NOT_JSON
    try:
        return json.loads(s)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _redact_text(text: str, depth: int) -> str:
    if len(text) < 12 and text.isalnum():  # one short word: nothing below could change it (see _redact_words)
        return text
    text = _clean(text)
    if "PRIVATE KEY-----" in text:
        return REDACTED
    if depth < _MAX_DEPTH:
        decoded = _json_inside(text)
        if decoded is not _NOT_JSON:  # a JSON argument inside a string is redacted as the structure it is
            return _shorten(json.dumps(redact_for_log(decoded, depth + 1), ensure_ascii=False))
    return _shorten(_redact_words(text))


def _names_secret(item: dict[Any, Any]) -> bool:
    """A ``{"name": "Authorization", "value": ...}`` pair (headers, env lists, form fields)."""
    for name in _NAME_FIELDS:
        value = item.get(name)
        if isinstance(value, str) and _key_is_secret(value):
            return True
    return False


def redact_for_log(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` fit for the audit log: secrets replaced by ``[REDACTED]``, long strings cut.

    Secrets are found by key name (password, token, secret, api_key, authorization, ``*_PASSWORD``, ...), in lists
    after a secret flag (``["--password", "x"]``), in name/value pairs, inside strings (``-pSECRET``,
    ``PGPASSWORD=...``, ``Authorization: Bearer ...``, URL userinfo, ``key=value`` and JSON text) and by value
    shape (known token prefixes, JWTs, card numbers, long high-entropy strings, PEM private keys).
    """
    if isinstance(value, str):
        return _redact_text(value, _depth)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= _MAX_INT_BITS else f"<integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        pair = _names_secret(value)
        for i, (k, v) in enumerate(value.items()):
            if i >= _MAX_ITEMS:
                out["…"] = f"+{len(value) - _MAX_ITEMS} keys"
                break
            key = _clean(str(k))
            if (_key_is_secret(key) or (pair and key.lower() in _VALUE_FIELDS)) and v not in (None, ""):
                out[key] = REDACTED
            elif isinstance(v, str) and key.lower().endswith(_DIGEST_KEYS) and _is_hex(v):
                out[key] = v  # a digest we computed (e.g. a tool pin), not a credential
            else:
                out[key] = redact_for_log(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        items: list[Any] = []
        hide_next = False
        for v in list(value[:_MAX_ITEMS]):
            if hide_next and v not in (None, "") and not isinstance(v, (dict, list, tuple)):
                items.append(REDACTED)  # the value after "--password" in an argv list
                hide_next = False
                continue
            hide_next = isinstance(v, str) and _is_bare_secret_name(v)
            items.append(redact_for_log(v, _depth + 1))
        if len(value) > _MAX_ITEMS:
            items.append(f"…(+{len(value) - _MAX_ITEMS} items)")
        return items
    return _redact_text(repr(value), _depth)


# ----------------------------------------------------------------------------------------------- keys


def key_id(public: Ed25519PublicKey) -> str:
    """Short id of a public key: the first 16 hex digits of SHA-256 of its 32 raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _public_hex(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def _private_from_text(text: str, source: str) -> Ed25519PrivateKey:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(stripped.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditError(f"{source}: not an Ed25519 private key")
        return key
    try:
        seed = bytes.fromhex(stripped)
    except ValueError:
        raise AuditError(f"{source}: expected a PEM key or 64 hex digits") from None
    if len(seed) != 32:
        raise AuditError(f"{source}: an Ed25519 seed is 32 bytes (64 hex digits)")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_private_key(key: Ed25519PrivateKey | str | os.PathLike[str] | None = None) -> tuple[Ed25519PrivateKey, str]:
    """Resolve the signing key and say where it came from (argument, environment, or generated)."""
    if isinstance(key, Ed25519PrivateKey):
        return key, "given"
    if key is not None:
        path = Path(key)
        if path.is_file():
            return _private_from_text(path.read_text(), str(path)), f"file {path}"
        return _private_from_text(str(key), "key argument"), "given"
    if os.environ.get(KEY_ENV):
        return _private_from_text(os.environ[KEY_ENV], f"${KEY_ENV}"), f"${KEY_ENV}"
    if os.environ.get(KEY_FILE_ENV):
        path = Path(os.environ[KEY_FILE_ENV])
        try:
            return _private_from_text(path.read_text(), str(path)), f"file {path}"
        except OSError as exc:
            raise AuditError(f"cannot read audit key file {path}: {exc}") from exc
    return Ed25519PrivateKey.generate(), "generated"


def _public_from_text(text: str, source: str) -> list[Ed25519PublicKey]:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(stripped.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise AuditError(f"{source}: not an Ed25519 public key")
        return [key]
    keys = []
    for line in stripped.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            raw = bytes.fromhex(line)
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            raise AuditError(f"{source}: expected 64 hex digits per line or a PEM public key") from None
    return keys


def load_public_keys(spec: str | os.PathLike[str]) -> list[Ed25519PublicKey]:
    """Public keys from a file (hex lines or PEM) or from a string of 64 hex digits."""
    path = Path(spec)
    if path.is_file():
        return _public_from_text(path.read_text(), str(path))
    return _public_from_text(str(spec), "public key")


def _canonical(record: dict[str, Any]) -> bytes:
    """The one serialisation of a record: sorted keys, compact separators, ASCII only (``\\uXXXX`` escapes).

    The standard library's encoder defines it; orjson writes the same bytes in a tenth of the time whenever its
    output is ASCII without DEL and spells no float differently (only numbers below 1e-4 do: ``1.5e-05`` against
    orjson's ``0.000015``, ``1e-07`` against ``1e-7``), so it writes the record and the standard library only
    what orjson cannot match (tests/mcp/test_audit.py compares the two on generated records). A record holds no
    NaN (``_fields`` keeps numbers finite, the reader refuses the constant), which orjson would write as null."""
    try:
        out = orjson.dumps(record, option=_ORJSON_SORTED)
    except TypeError:  # orjson.JSONEncodeError: a subclass, an integer past 64 bits, a lone surrogate
        return _CANONICAL.encode(record).encode()
    if out.isascii() and b"\x7f" not in out and not ((b"e-" in out or b"0.0000" in out) and _SMALL_FLOAT.search(out)):
        return out
    return _CANONICAL.encode(record).encode()


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)  # built once
_ORJSON_SORTED = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
#: A number token (after ``:``, ``,`` or ``[``) with a negative exponent or four zeros after ``0.``: the floats
#: orjson spells otherwise than ``repr``. RE2: linear, and it may match inside a string (the fallback is exact).
_SMALL_FLOAT = bytes_pattern(rb"[:,\[]-?[0-9]+(?:\.[0-9]+)?e-|[:,\[]-?0\.0000")


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_record(raw: bytes) -> dict[str, Any] | str:
    """The record one line spells, or why it is not one: only the canonical serialisation of a record is read."""
    if not raw.isascii():
        return "not in canonical form (bytes outside ASCII)"
    try:
        rec = json.loads(raw.decode("ascii"), object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        return f"duplicate key {exc.args[0]!r} (other JSON readers may see a different record)"
    except (ValueError, RecursionError):
        return "not valid JSON"
    if not isinstance(rec, dict):
        return "not a JSON object"
    try:
        canonical = _canonical(rec)
    except (ValueError, TypeError, RecursionError):  # pragma: no cover - what parses re-serialises
        canonical = b""
    if canonical != raw:
        return "not in canonical form (a record must be exactly its canonical JSON: sorted keys, compact, ASCII)"
    return rec


def _content_hash(rec: dict[str, Any]) -> str:
    """SHA-256 of the canonical record without ``hash`` and ``sig``."""
    return hashlib.sha256(_canonical({k: v for k, v in rec.items() if k not in ("hash", "sig")})).hexdigest()


def _self_consistent(rec: dict[str, Any] | str) -> bool:
    """A record whose ``hash`` matches its content and whose ``seq`` is a count: a head the chain can continue."""
    if not isinstance(rec, dict):
        return False
    seq = rec.get("seq")
    return (
        isinstance(rec.get("hash"), str)
        and isinstance(seq, int)
        and not isinstance(seq, bool)
        and seq >= 0
        and (rec["hash"] == _content_hash(rec))
    )


_SECOND: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text (shared by every record in it)


def _now_iso() -> str:
    """UTC now as ``2026-11-21T06:00:00.123456Z``; the date and time of day are formatted once a second."""
    global _SECOND
    micros = time.time_ns() // 1000
    second, fraction = divmod(micros, 1_000_000)
    cached, text = _SECOND
    if cached != second:
        t = time.gmtime(second)
        text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        _SECOND = (second, text)
    return f"{text}.{fraction:06d}Z"


def _ranges(seqs: list[int]) -> list[list[int]]:
    """``[3, 4, 5, 9]`` -> ``[[3, 5], [9, 9]]`` (ascending input)."""
    out: list[list[int]] = []
    for seq in seqs:
        if out and out[-1][1] == seq - 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return out


def _digest(hashes: Iterable[str]) -> str:
    """What a checkpoint signs for the records it covers: SHA-256 of their hashes concatenated in order."""
    return hashlib.sha256("".join(hashes).encode("ascii")).hexdigest()


_SIGNED_EVENTS = frozenset({"checkpoint", "recovery"})  # records that must carry their own signature
_KID_AT = b',"kid":"'
_LIVE: weakref.WeakSet[AuditLog] = weakref.WeakSet()


def _after_fork() -> None:
    """A forked child starts its logs' locks and signer afresh; the parent signs the records it wrote itself."""
    for log in list(_LIVE):
        log._lock = threading.Lock()
        log._wake = threading.Condition(log._lock)
        log._thread = None
        log._own = []


os.register_at_fork(after_in_child=_after_fork)


@atexit.register
def _close_all() -> None:
    """Sign what is still unsigned when the interpreter exits without closing a log."""
    for log in list(_LIVE):
        with contextlib.suppress(Exception):  # exit must not fail on a log that cannot be written any more
            log.close()


# ----------------------------------------------------------------------------------------------- writer


class AuditLog:
    """Appends hash-chained records to ``path``, signed at checkpoints (see the module docstring for the format).

    Opening the log checks its tail: bytes after the last good record (a torn or corrupt line) are set aside in
    place and a signed ``recovery`` record, linked to the last good record, says how many and their SHA-256.
    ``write`` raises ``AuditError`` when a record could not be written whole (disk full, file removed or
    replaced, closed), and on every call after a checkpoint failed: the caller must then fail closed.
    ``checkpoint_records`` / ``checkpoint_ms`` bound how many of this writer's records, and for how long, wait
    unsigned; ``fsync=True`` syncs every record (on the caller's path) and every checkpoint.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key: Ed25519PrivateKey | str | os.PathLike[str] | None = None,
        fsync: bool = False,
        checkpoint_records: int = 256,
        checkpoint_ms: float = 200.0,
    ) -> None:
        if checkpoint_records < 1 or not checkpoint_ms > 0:
            raise ValueError("checkpoint_records must be at least 1 and checkpoint_ms positive")
        self.path = Path(path)
        self._key, self.key_source = load_private_key(key)
        self.public_key = self._key.public_key()
        self.kid = key_id(self.public_key)
        self.public_key_path = self.path.with_name(self.path.name + ".pub")
        self._fsync = fsync
        self._every = checkpoint_records
        self._interval = checkpoint_ms / 1000.0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._own: list[tuple[int, str]] = []  # (seq, hash) of this writer's records no checkpoint covers yet
        self._oldest = 0.0  # monotonic time of the oldest of them
        self._failed = ""  # why a checkpoint failed: every later write is refused
        self._closing = False
        self._thread: threading.Thread | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc}") from exc
        opened = os.fstat(self._fd)
        self._inode = (opened.st_dev, opened.st_ino)  # the file this fd writes to, for ever
        self._end = -1  # file size after our last write; -1 = unknown, re-read the tail
        self._prev = GENESIS
        self._seq = 0
        #: How many bytes the last tail check set aside (0 when the log was whole).
        self.recovered_bytes = 0
        self._publish_public_key()
        with self._lock:
            self._locked(lambda: self._sync(opening=True))
        _LIVE.add(self)

    def _publish_public_key(self) -> None:
        line = _public_hex(self.public_key)
        try:
            existing = self.public_key_path.read_text() if self.public_key_path.exists() else ""
            if line not in existing.split():
                with open(self.public_key_path, "a", encoding="ascii") as fh:
                    fh.write(f"{line}\n")
        except OSError as exc:
            raise AuditError(f"cannot write public key {self.public_key_path}: {exc}") from exc

    def _locked(self, work: Any) -> Any:
        """Run ``work()`` holding the file lock; any OS error becomes an ``AuditError`` and forces a re-read."""
        if self._fd < 0:
            raise AuditError(f"audit log {self.path} is closed")
        locked = False
        try:
            if _fcntl is not None:
                _fcntl.flock(self._fd, _fcntl.LOCK_EX)
                locked = True
            return work()
        except OSError as exc:
            self._end = -1  # a partial write may be on disk: the next write checks the tail again
            raise AuditError(f"cannot write audit log {self.path}: {exc}") from exc
        finally:
            if locked:
                _fcntl.flock(self._fd, _fcntl.LOCK_UN)

    def _rfind_newline(self, end: int) -> int:
        """Offset of the last newline in bytes [0, end) of the file, or -1."""
        block = 65536
        pos = end
        while pos > 0:
            start = max(0, pos - block)
            found = os.pread(self._fd, pos - start, start).rfind(b"\n")
            if found >= 0:
                return start + found
            pos = start
        return -1

    def _last_good(self, size: int) -> tuple[int, dict[str, Any] | None]:
        """End offset and record of the file's last self-consistent record ((0, None) if none)."""
        line_end = self._rfind_newline(size) + 1  # bytes after the last newline are a torn line
        while line_end > 0:
            start = self._rfind_newline(line_end - 1) + 1
            rec = _parse_record(os.pread(self._fd, line_end - 1 - start, start))
            if isinstance(rec, dict) and _self_consistent(rec):
                return line_end, rec
            line_end = start
        return 0, None

    def _sha256_range(self, start: int, end: int, extra: bytes) -> str:
        digest = hashlib.sha256()
        pos = start
        while pos < end:
            chunk = os.pread(self._fd, min(1 << 20, end - pos), pos)
            if not chunk:  # pragma: no cover - the file shrank while locked
                break
            digest.update(chunk)
            pos += len(chunk)
        digest.update(extra)
        return digest.hexdigest()

    def _sync(self, opening: bool = False) -> None:
        """Continue the chain from the file's last good record; set aside anything after it with a recovery.

        On opening, a last record without a signature belongs to a writer that stopped before its checkpoint (or
        is still writing): the recovery record acknowledges such records, so the verifier reports them as never
        signed rather than as not yet signed (a later checkpoint of a live writer still proves them).
        """
        size = os.fstat(self._fd).st_size
        missing = self._end - size if self._end > size else 0  # the file shrank since our last record
        good_end, last = self._last_good(size)
        self._prev, self._seq = (GENESIS, 0) if last is None else (str(last["hash"]), int(last["seq"]) + 1)
        self._end = size
        self._own = [own for own in self._own if own[0] < self._seq]  # ours past the chain's end are gone from it
        junk = size - good_end
        self.recovered_bytes = junk
        unsigned = opening and last is not None and "sig" not in last
        if not junk and not missing and not unsigned:
            return
        prefix = b"" if not junk or os.pread(self._fd, 1, size - 1) == b"\n" else b"\n"  # end a torn line
        if junk:
            reason = "torn or corrupt records after the last good record"
        elif missing:
            reason = "the log shrank"
        else:
            reason = "records after the last signature were never signed by their writer"
        details: dict[str, Any] = {
            "set_aside_bytes": junk + len(prefix),
            "set_aside_from_byte": good_end,
            "set_aside_sha256": self._sha256_range(good_end, size, prefix),
            "reason": reason,
        }
        if missing:
            details["missing_bytes"] = missing
        if unsigned:
            details["unsigned_before"] = self._seq  # every record before this one that no signature covers
        self._append(_fields("recovery", details=details), prefix=prefix, sign=True)

    def _check_same_file(self) -> os.stat_result:
        """Refuse to write into a log that was removed or replaced (those records would reach nobody); the
        file's stat, for the size check."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            raise AuditError(f"audit log {self.path} was removed while in use") from None
        if (on_disk.st_dev, on_disk.st_ino) != self._inode:
            raise AuditError(f"audit log {self.path} was replaced by another file while in use")
        return on_disk  # the file our fd writes to: its size is the fd's (one system call, not two)

    def _signature(self, digest: str) -> str:
        return base64.b64encode(self._key.sign(bytes.fromhex(digest))).decode("ascii")

    def _record(self, fields: dict[str, Any], sign: bool) -> tuple[dict[str, Any], bytes]:
        rec = dict(fields)
        rec["seq"] = self._seq
        rec["kid"] = self.kid
        rec["prev"] = self._prev
        body = _canonical(rec)
        digest = hashlib.sha256(body).hexdigest()
        rec["hash"] = digest
        if sign:
            rec["sig"] = self._signature(digest)
            return rec, _canonical(rec) + b"\n"
        # "hash" sorts just before "kid", the last top-level key of a record that can be followed by an object:
        # the line is the body with the hash spliced in there (one serialisation instead of two).
        at = body.rfind(_KID_AT)
        return rec, body[:at] + b',"hash":"' + digest.encode("ascii") + b'"' + body[at:] + b"\n"

    def write(
        self,
        event_type: str,
        *,
        session_id: str = "",
        tool: str = "",
        decision: str = "",
        details: dict[str, Any] | None = None,
        request_id: Any = None,
        arguments: Any = None,
        rule: str = "",
        latency_us: float | None = None,
        timestamp: str | None = None,
    ) -> dict[str, Any]:
        """Append one record (arguments redacted) and return it as written; ``AuditError`` if it was not written.

        The line is in the file when this returns; its signature follows at the next checkpoint.
        """
        fields = _fields(
            event_type,
            session_id=session_id,
            tool=tool,
            decision=decision,
            details=details,
            request_id=request_id,
            arguments=arguments,
            rule=rule,
            latency_us=latency_us,
            timestamp=timestamp,
        )

        def work() -> dict[str, Any]:
            if self._failed:
                raise AuditError(self._failed)
            if self._check_same_file().st_size != self._end:
                self._sync()
            rec = self._append(fields)
            if self._fsync:
                os.fsync(self._fd)
            return rec

        with self._lock:
            rec: dict[str, Any] = self._locked(work)
            self._own.append((rec["seq"], rec["hash"]))
            if len(self._own) == 1:
                self._oldest = time.monotonic()
                if self._thread is None:
                    self._thread = threading.Thread(target=self._checkpoints, name="sentinel-audit", daemon=True)
                    self._thread.start()
                else:
                    self._wake.notify()
            elif len(self._own) >= self._every:
                self._wake.notify()
            return rec

    def _append(self, fields: dict[str, Any], prefix: bytes = b"", sign: bool = False) -> dict[str, Any]:
        rec, line = self._record(fields, sign)
        data = prefix + line if prefix else line
        written = os.write(self._fd, data)
        if written != len(data):  # a full disk: the tail is torn, the next write sets it aside
            self._end = -1
            raise AuditError(f"short write to {self.path} ({written} of {len(data)} bytes; disk full?)")
        self._prev, self._seq = rec["hash"], rec["seq"] + 1
        self._end += written  # exact while we hold the lock; anything else changes the size and forces a re-read
        return rec

    def _checkpoint_locked(self) -> None:
        """Sign this writer's records written since its last checkpoint (caller holds ``_lock``)."""
        if not self._own or self._failed:
            return
        own = self._own
        details = {"covers": _ranges([seq for seq, _ in own]), "digest": _digest(h for _, h in own)}

        def work() -> None:
            if self._check_same_file().st_size != self._end:
                self._sync()
            self._append(_fields("checkpoint", details=details), sign=True)
            if self._fsync:
                os.fsync(self._fd)

        try:
            self._locked(work)
        except Exception as exc:  # the records stay unsigned: nothing more may be written as if audited
            self._failed = f"audit checkpoint failed, no record is written from now on: {exc}"
            raise AuditError(self._failed) from exc
        self._own = []

    def checkpoint(self) -> None:
        """Sign now what this writer wrote since its last checkpoint (``AuditError`` if it cannot)."""
        with self._lock:
            self._checkpoint_locked()

    def _checkpoints(self) -> None:
        """The background signer: a checkpoint every ``checkpoint_records`` records or ``checkpoint_ms``."""
        with self._lock:
            while not self._closing:
                if not self._own:
                    self._wake.wait()
                    continue
                left = self._oldest + self._interval - time.monotonic()
                if len(self._own) < self._every and left > 0:
                    self._wake.wait(left)
                    continue
                try:
                    self._checkpoint_locked()
                except AuditError:
                    return  # recorded in _failed: every later write raises

    def close(self) -> None:
        """Sign what is unsigned, then close the file (further writes raise)."""
        with self._lock:
            if self._fd < 0:
                return
            self._closing = True
            self._wake.notify_all()
            try:
                self._checkpoint_locked()
            except AuditError:
                pass  # the records stay unsigned; the verifier reports them
            finally:
                os.close(self._fd)
                self._fd = -1
        _LIVE.discard(self)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fields(
    event_type: str,
    *,
    session_id: str = "",
    tool: str = "",
    decision: str = "",
    details: dict[str, Any] | None = None,
    request_id: Any = None,
    arguments: Any = None,
    rule: str = "",
    latency_us: float | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The content of one record: strings made encodable, secrets redacted, numbers finite."""
    if isinstance(request_id, str):
        request_id = _clean(request_id)
    elif isinstance(request_id, int) and not isinstance(request_id, bool) and request_id.bit_length() <= 64:
        pass
    elif request_id is not None:
        request_id = _clean(repr(request_id))[:_MAX_STR]
    latency = None if latency_us is None else float(latency_us)
    return {
        "timestamp": _clean(timestamp) if timestamp else _now_iso(),
        "session_id": _clean(session_id),
        "event_type": _clean(event_type),
        "tool": _clean(tool),
        "decision": _clean(decision),
        "details": redact_for_log(details) if details else {},
        "request_id": request_id,
        "arguments": redact_for_log(arguments) if arguments is not None else None,
        "rule": _clean(rule),
        "latency_us": round(latency, 1) if latency is not None and math.isfinite(latency) else None,
    }


# ----------------------------------------------------------------------------------------------- verifier


@dataclass
class Recovery:
    """A recovery the verifier accepted: at ``line`` a signed record set aside ``set_aside_bytes`` before it
    and/or acknowledged ``unsigned_records`` records before it that their writer never signed."""

    line: int
    set_aside_bytes: int
    set_aside_lines: int
    reason: str
    unsigned_records: int = 0


@dataclass
class AuditReport:
    """The outcome of ``verify_log``: whether the log is whole and proven, how many records, the first bad one."""

    ok: bool
    records: int = 0  # records that verify (checkpoints not counted)
    first_bad_line: int | None = None
    reason: str = ""
    truncated_tail: bool = False
    keys: list[str] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)
    checkpoints: int = 0
    #: Records no signature covers and no recovery acknowledges (a writer still within its checkpoint interval,
    #: or an edit): not proven, so ``ok`` is false.
    unsigned: int = 0
    #: Records a recovery acknowledged as never signed by their writer (it stopped without closing the log).
    never_signed: int = 0

    def summary(self) -> str:
        """One human line."""
        if self.ok:
            tail = " (a torn last line was ignored: truncated tail)" if self.truncated_tail else ""
            rec = ""
            if self.recoveries:
                parts = []
                for r in self.recoveries:
                    what = (
                        [f"set aside {r.set_aside_bytes} bytes"] if r.set_aside_bytes or not r.unsigned_records else []
                    )
                    if r.unsigned_records:
                        what.append(f"{r.unsigned_records} record(s) before it never signed")
                    parts.append(f"line {r.line} {' and '.join(what)} ({r.reason})")
                rec = f"; whole with {len(self.recoveries)} recovery record(s): " + "; ".join(parts)
            signed = f" ({self.checkpoints} signed checkpoint(s))" if self.checkpoints else ""
            return f"OK: {self.records} records, hash chain and signatures verify{signed}{rec}{tail}"
        return f"BAD at line {self.first_bad_line}: {self.reason} ({self.records} records before it verify)"


def _check_record(raw: bytes, prev: str, seq: int, by_kid: dict[str, Ed25519PublicKey]) -> dict[str, Any] | str:
    """The record on one line if it is canonical, continues the chain at (prev, seq), is by a trusted key and, if
    it carries a signature (checkpoints and recoveries must), is signed; else why not."""
    rec = _parse_record(raw)
    if isinstance(rec, str):
        return rec
    claimed, sig = rec.get("hash"), rec.get("sig")
    if not isinstance(claimed, str):
        return "missing hash"
    if sig is None and rec.get("event_type") in _SIGNED_EVENTS:
        return f"{rec.get('event_type')} record without a signature"
    if sig is not None and not isinstance(sig, str):
        return "signature is not a string"
    if rec.get("prev") != prev:
        return "chain broken: 'prev' does not match the previous record's hash (record removed or reordered)"
    if rec.get("seq") != seq or isinstance(rec.get("seq"), bool):
        return f"sequence number {rec.get('seq')!r}, expected {seq}"
    if _content_hash(rec) != claimed:
        return "record hash does not match its content (record modified)"
    key = by_kid.get(str(rec.get("kid")))
    if key is None:
        return f"written by unknown key id {rec.get('kid')!r}"
    if sig is not None:
        try:
            key.verify(base64.b64decode(sig, validate=True), bytes.fromhex(claimed))
        except (InvalidSignature, binascii.Error, ValueError):
            return "signature does not verify"
    return rec


def _set_aside(rec: dict[str, Any]) -> tuple[Any, Any, Any] | None:
    """(bytes, first byte, sha256) a recovery record claims it set aside, or None for any other record."""
    if rec.get("event_type") != "recovery":
        return None
    details = rec.get("details")
    if not isinstance(details, dict):
        return (None, None, None)
    return details.get("set_aside_bytes"), details.get("set_aside_from_byte"), details.get("set_aside_sha256")


class _Signatures:
    """Which records a signature proves: their own, or a checkpoint of their writer that covers them."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[str, int]] = {}  # seq -> (hash, line) of records no signature covers yet
        self.acknowledged: dict[int, tuple[str, int, Recovery]] = {}  # ... that a recovery said were never signed

    def see(self, rec: dict[str, Any], line: int, recovery: Recovery | None) -> str:
        """Account for one good record of the chain; why it is bad, or ``""``."""
        seq, digest = int(rec["seq"]), str(rec["hash"])
        if "sig" not in rec:
            self.pending[seq] = (digest, line)
            return ""
        event = rec.get("event_type")
        found_details = rec.get("details")
        details: dict[str, Any] = found_details if isinstance(found_details, dict) else {}
        if event == "recovery" and isinstance(details.get("unsigned_before"), int) and recovery is not None:
            for old in [s for s in self.pending if s < details["unsigned_before"]]:
                old_hash, old_line = self.pending.pop(old)
                self.acknowledged[old] = (old_hash, old_line, recovery)
                recovery.unsigned_records += 1
        if event != "checkpoint":
            return ""
        covers, claimed = details.get("covers"), details.get("digest")
        seqs: list[int] = []
        if not isinstance(covers, list) or not isinstance(claimed, str):
            return "checkpoint without 'covers' and 'digest'"
        budget = len(self.pending) + len(self.acknowledged)
        for span in covers:
            if not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)):
                return "checkpoint 'covers' is not a list of [first, last] sequence numbers"
            first, last = span
            if first > last or last >= seq or (seqs and first <= seqs[-1]) or last - first + 1 > budget - len(seqs):
                return "checkpoint covers records that are not unsigned records before it"
            seqs.extend(range(first, last + 1))
        hashes = []
        for s in seqs:
            found = self.pending.get(s) or self.acknowledged.get(s)
            if found is None:
                return f"checkpoint covers record {s}, which is not an unsigned record before it"
            hashes.append(found[0])
        if _digest(hashes) != claimed:
            return "checkpoint digest does not match the records it covers (a record changed, or not its writer's)"
        for s in seqs:
            if s in self.pending:
                del self.pending[s]
            else:
                self.acknowledged.pop(s)[2].unsigned_records -= 1
        return ""


def verify_log(
    path: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | Ed25519PublicKey | Iterable[Ed25519PublicKey] | None = None,
) -> AuditReport:
    """Check every record's form, hash, chain link, sequence number and signature; stop at the first bad one.

    Each record must be signed itself or covered by a later checkpoint of its writer (``covers`` and ``digest``
    match the records at those sequence numbers exactly); records nothing signs are reported as not proven,
    unless a recovery acknowledged them as never signed. Lines that are not good records are accepted only when
    the next record is a signed ``recovery`` linked to the last good record that names exactly those bytes
    (count, offset, SHA-256); otherwise the first of them is reported. A torn last line (no final newline) is
    reported as a truncated tail.
    """
    p = Path(path)
    if public_key is None:
        pub_path = p.with_name(p.name + ".pub")
        if not pub_path.is_file():
            raise AuditError(f"no public key given and {pub_path} does not exist")
        keys = load_public_keys(pub_path)
    elif isinstance(public_key, Ed25519PublicKey):
        keys = [public_key]
    elif isinstance(public_key, (str, os.PathLike)):
        keys = load_public_keys(public_key)
    else:
        keys = list(public_key)
    by_kid = {key_id(k): k for k in keys}
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AuditError(f"cannot read {p}: {exc}") from exc
    lines = data.split(b"\n")
    tail = lines.pop()  # text after the final newline: a torn tail
    report = AuditReport(ok=True, keys=sorted(by_kid))

    def bad(number: int, reason: str) -> AuditReport:
        report.ok, report.first_bad_line, report.reason = False, number, reason
        return report

    prev, seq, offset = GENESIS, 0, 0
    junk_from = -1  # byte offset of the first line after the last good record that is not a good record
    junk_line, junk_reason, junk_hash = 0, "", hashlib.sha256()
    signatures = _Signatures()
    only_acknowledging: list[Recovery] = []  # recoveries that set nothing aside: reported if a record stays unsigned
    for number, raw in enumerate(lines, start=1):
        result = _check_record(raw, prev, seq, by_kid)
        claim = _set_aside(result) if isinstance(result, dict) else None
        recovery = None
        if junk_from < 0 and isinstance(result, dict):
            if claim is not None:
                if claim[0] != 0:
                    return bad(number, f"recovery record says {claim[0]!r} bytes were set aside, none precede it")
                recovery = Recovery(number, 0, 0, str(result["details"].get("reason", "")))
                report.recoveries.append(recovery)
                if "missing_bytes" not in result["details"]:
                    only_acknowledging.append(recovery)
        elif junk_from < 0:
            assert isinstance(result, str)
            junk_from, junk_line, junk_reason, junk_hash = offset, number, result, hashlib.sha256(raw + b"\n")
            offset += len(raw) + 1
            continue
        elif claim is None:
            junk_hash.update(raw + b"\n")
            offset += len(raw) + 1
            continue
        elif claim != (offset - junk_from, junk_from, junk_hash.hexdigest()):
            return bad(number, "recovery record does not match the bytes set aside before it (changed or removed)")
        else:
            assert isinstance(result, dict)
            reason = str(result["details"].get("reason", ""))
            recovery = Recovery(number, offset - junk_from, number - junk_line, reason)
            report.recoveries.append(recovery)
            junk_from = -1
        assert isinstance(result, dict)
        problem = signatures.see(result, number, recovery)
        if problem:
            return bad(number, problem)
        prev, seq = str(result["hash"]), seq + 1
        if result.get("event_type") == "checkpoint":
            report.checkpoints += 1
        else:
            report.records += 1
        offset += len(raw) + 1
    if junk_from >= 0:
        return bad(junk_line, junk_reason)
    report.truncated_tail = tail != b""
    report.recoveries = [r for r in report.recoveries if r.unsigned_records or r not in only_acknowledging]
    report.never_signed = len(signatures.acknowledged)
    if signatures.pending:
        report.unsigned = len(signatures.pending)
        lines_unsigned = sorted(line for _, line in signatures.pending.values())
        report.records -= report.unsigned
        return bad(
            lines_unsigned[0],
            f"{report.unsigned} record(s) from here on are not signed: no checkpoint of their writer covers them "
            "(a writer still running signs within its checkpoint interval; else they were added or changed)",
        )
    return report
