"""A tamper-evident audit log: one JSON line per decision, hash-chained and signed with Ed25519.

Record format (one line, UTF-8, ``\\n``-terminated, written with a single ``os.write`` on an ``O_APPEND`` fd)::

    {"seq": 7, "timestamp": "2026-11-21T06:00:00.123456Z", "session_id": "1.…", "event_type": "tool_call",
     "tool": "send_email", "decision": "block", "details": {...}, "request_id": 3, "arguments": {...},
     "rule": "taint_rules[1]", "latency_us": 41.2, "kid": "<16 hex>", "prev": "<64 hex>",
     "hash": "<64 hex>", "sig": "<base64 Ed25519 signature>"}

``hash`` is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the record without ``hash`` and
``sig``; since that includes ``prev`` (the previous record's ``hash``, or 64 zeros for the first), the records
form a chain. Every record's ``hash`` is signed (Ed25519, about 30 µs), so a verifier holding the public key can
prove each record, its order and that nothing before it was removed or changed; deleting records at the very end
is the one edit a chain cannot show, so keep the record count elsewhere if that matters.

Keys: ``key=`` (an ``Ed25519PrivateKey``, a PEM file, or a file/str of 64 hex digits = the raw 32-byte seed),
else ``$SENTINEL_AUDIT_KEY`` (hex seed) or ``$SENTINEL_AUDIT_KEY_FILE``, else a key generated for this process.
The public key (64 hex digits) is appended to ``<log>.pub`` unless already there; ``kid`` in each record is the
first 16 hex digits of SHA-256 of the raw public key. ``verify_log(path, public_key=...)`` trusts only the key(s)
given, else the keys in ``<log>.pub`` (which proves integrity only against someone who cannot also rewrite that
file: pass the key explicitly for that).

Several processes may append to one log: each write takes an ``flock`` and continues the chain from the file's
last record. A torn last line (a crash mid-write) is reported as a truncated tail by the verifier, and the next
writer cuts it off and records an ``audit_recovered`` event saying how many bytes it dropped. Arguments are
stored with secrets redacted (by key name and by value shape) and long strings shortened; tool outputs are
never logged.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sentinel_lab._exceptions import AuditError

try:  # POSIX advisory locks; elsewhere a single writer per file is assumed
    import fcntl as _fcntl
except ImportError:  # pragma: no cover
    _fcntl = None  # type: ignore[assignment]

__all__ = [
    "GENESIS",
    "AuditLog",
    "AuditReport",
    "key_id",
    "load_private_key",
    "load_public_keys",
    "redact",
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
_SECRET_KEY_EXACT = frozenset({"pwd", "pass", "key", "auth", "pin", "otp", "signature", "sig"})
_SECRET_PREFIXES = (
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "akia",
    "asia",
    "aiza",
    "ya29.",
    "hf_",
    "npm_",
    "pypi-",
)


# ----------------------------------------------------------------------------------------------- redaction


def _key_is_secret(key: str) -> bool:
    k = key.lower().replace("-", "").replace("_", "").replace(" ", "")
    return k in _SECRET_KEY_EXACT or any(part in k for part in _SECRET_KEY_PARTS)


_DIGEST_KEYS = ("sha256", "_hash", "digest")


def _is_hex(text: str) -> bool:
    return 0 < len(text) <= 128 and all(c in "0123456789abcdef" for c in text)


def _entropy(token: str) -> float:
    counts: dict[str, int] = {}
    for ch in token:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _token_is_secret(token: str) -> bool:
    t = token.strip("\"'`,;()[]{}<>")
    if len(t) < 12:
        return False
    low = t.lower()
    if low.startswith(_SECRET_PREFIXES) and len(t) >= 16:
        return True
    if low.startswith("eyj") and t.count(".") == 2 and len(t) >= 30:  # JWT
        return True
    if t.isdigit() and 13 <= len(t) <= 19 and _luhn(t):  # card number
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


def _redact_text(text: str) -> str:
    text = _clean(text)
    if "PRIVATE KEY-----" in text:
        return REDACTED
    low = text.lower()
    if low.startswith(("bearer ", "basic ", "token ")) and len(text) > 12:
        return text.split(" ", 1)[0] + " " + REDACTED
    tokens = text.split()
    if not any(_token_is_secret(tok) for tok in tokens):
        out = text
    else:
        out = " ".join(REDACTED if _token_is_secret(tok) else tok for tok in tokens)
    if len(out) > _MAX_STR:
        out = out[:_MAX_STR] + f"…(+{len(out) - _MAX_STR} chars)"
    return out


def redact(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with secrets replaced by ``[REDACTED]`` and long strings shortened.

    Secrets are found by key name (password, token, secret, api_key, authorization, ...) and by value shape
    (known token prefixes, JWTs, card numbers, long high-entropy strings, PEM private keys).
    """
    if isinstance(value, str):
        return _redact_text(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= _MAX_ITEMS:
                out["…"] = f"+{len(value) - _MAX_ITEMS} keys"
                break
            key = _clean(str(k))
            if _key_is_secret(key) and v not in (None, ""):
                out[key] = REDACTED
            elif isinstance(v, str) and key.lower().endswith(_DIGEST_KEYS) and _is_hex(v):
                out[key] = v  # a digest we computed (e.g. a tool pin), not a credential
            else:
                out[key] = redact(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        items = [redact(v, _depth + 1) for v in list(value)[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append(f"…(+{len(value) - _MAX_ITEMS} items)")
        return items
    return _redact_text(repr(value))


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
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ----------------------------------------------------------------------------------------------- writer


class AuditLog:
    """Appends signed, hash-chained records to ``path`` (see the module docstring for the format)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key: Ed25519PrivateKey | str | os.PathLike[str] | None = None,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self._key, self.key_source = load_private_key(key)
        self.public_key = self._key.public_key()
        self.kid = key_id(self.public_key)
        self.public_key_path = self.path.with_name(self.path.name + ".pub")
        self._fsync = fsync
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc}") from exc
        self._end = -1  # file size after our last write; -1 = unknown, re-read the tail
        self._prev = GENESIS
        self._seq = 0
        self._publish_public_key()

    def _publish_public_key(self) -> None:
        line = _public_hex(self.public_key)
        try:
            existing = self.public_key_path.read_text() if self.public_key_path.exists() else ""
            if line not in existing.split():
                with open(self.public_key_path, "a", encoding="ascii") as fh:
                    fh.write(f"{line}\n")
        except OSError as exc:
            raise AuditError(f"cannot write public key {self.public_key_path}: {exc}") from exc

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

    def _resync(self) -> int:
        """Read the chain head from the file's last line; cut a torn tail. Returns bytes dropped."""
        size = os.fstat(self._fd).st_size
        dropped = 0
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            keep = self._rfind_newline(size) + 1
            dropped = size - keep
            os.ftruncate(self._fd, keep)
            size = keep
        if size == 0:
            self._prev, self._seq, self._end = GENESIS, 0, 0
            return dropped
        start = self._rfind_newline(size - 1) + 1
        last = os.pread(self._fd, size - 1 - start, start)
        try:
            rec = json.loads(last)
            self._prev, self._seq = str(rec["hash"]), int(rec["seq"]) + 1
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"{self.path}: last record is not a valid audit record; refusing to extend") from exc
        self._end = size
        return dropped

    def _record(self, fields: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        rec = dict(fields)
        rec["seq"] = self._seq
        rec["kid"] = self.kid
        rec["prev"] = self._prev
        digest = hashlib.sha256(_canonical(rec)).hexdigest()
        rec["hash"] = digest
        rec["sig"] = base64.b64encode(self._key.sign(bytes.fromhex(digest))).decode("ascii")
        line = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        return rec, line

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
        """Append one record (arguments redacted) and return it as written."""
        if isinstance(request_id, str):
            request_id = _clean(request_id)
        elif not (isinstance(request_id, int) or request_id is None):
            request_id = _clean(str(request_id))
        fields: dict[str, Any] = {
            "timestamp": timestamp or _now_iso(),
            "session_id": _clean(session_id),
            "event_type": _clean(event_type),
            "tool": _clean(tool),
            "decision": _clean(decision),
            "details": redact(details or {}),
            "request_id": request_id,
            "arguments": redact(arguments) if arguments is not None else None,
            "rule": _clean(rule),
            "latency_us": None if latency_us is None else round(float(latency_us), 1),
        }
        with self._lock:
            locked = False
            try:
                if _fcntl is not None:
                    _fcntl.flock(self._fd, _fcntl.LOCK_EX)
                    locked = True
                if os.fstat(self._fd).st_size != self._end:
                    dropped = self._resync()
                    if dropped:
                        note = {
                            "timestamp": _now_iso(),
                            "session_id": session_id,
                            "event_type": "audit_recovered",
                            "tool": "",
                            "decision": "",
                            "details": {"dropped_torn_tail_bytes": dropped},
                            "request_id": None,
                            "arguments": None,
                            "rule": "",
                            "latency_us": None,
                        }
                        self._append(note)
                return self._append(fields)
            except OSError as exc:
                raise AuditError(f"cannot write audit log {self.path}: {exc}") from exc
            finally:
                if locked:
                    _fcntl.flock(self._fd, _fcntl.LOCK_UN)

    def _append(self, fields: dict[str, Any]) -> dict[str, Any]:
        rec, line = self._record(fields)
        written = os.write(self._fd, line)
        if written != len(line):  # pragma: no cover - regular files write whole
            raise AuditError(f"short write to {self.path}")
        if self._fsync:
            os.fsync(self._fd)
        self._prev, self._seq = rec["hash"], rec["seq"] + 1
        self._end = os.fstat(self._fd).st_size
        return rec

    def close(self) -> None:
        """Close the file (further writes raise)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------- verifier


@dataclass
class AuditReport:
    """The outcome of ``verify_log``: whether the log is whole, how many records, and the first bad one."""

    ok: bool
    records: int = 0
    first_bad_line: int | None = None
    reason: str = ""
    truncated_tail: bool = False
    keys: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One human line."""
        if self.ok:
            tail = " (a torn last line was ignored: truncated tail)" if self.truncated_tail else ""
            return f"OK: {self.records} records, hash chain and signatures verify{tail}"
        return f"BAD at line {self.first_bad_line}: {self.reason} ({self.records} records before it verify)"


def verify_log(
    path: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | Ed25519PublicKey | Iterable[Ed25519PublicKey] | None = None,
) -> AuditReport:
    """Check every record's hash, chain link, sequence number and signature; stop at the first bad one."""
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
    torn = lines.pop() != b""  # text after the final newline: a torn tail
    report = AuditReport(ok=True, truncated_tail=torn, keys=sorted(by_kid))
    prev, seq = GENESIS, 0
    for number, raw in enumerate(lines, start=1):

        def bad(reason: str, number: int = number) -> AuditReport:
            report.ok, report.first_bad_line, report.reason = False, number, reason
            return report

        try:
            rec = json.loads(raw)
        except ValueError:
            return bad("not valid JSON")
        if not isinstance(rec, dict):
            return bad("not a JSON object")
        claimed, sig = rec.pop("hash", None), rec.pop("sig", None)
        if not isinstance(claimed, str) or not isinstance(sig, str):
            return bad("missing hash or signature")
        if rec.get("prev") != prev:
            return bad("chain broken: 'prev' does not match the previous record's hash (record removed or reordered)")
        if rec.get("seq") != seq:
            return bad(f"sequence number {rec.get('seq')!r}, expected {seq}")
        if hashlib.sha256(_canonical(rec)).hexdigest() != claimed:
            return bad("record hash does not match its content (record modified)")
        key = by_kid.get(str(rec.get("kid")))
        if key is None:
            return bad(f"signed by unknown key id {rec.get('kid')!r}")
        try:
            key.verify(base64.b64decode(sig, validate=True), bytes.fromhex(claimed))
        except (InvalidSignature, binascii.Error, ValueError):
            return bad("signature does not verify")
        prev, seq = claimed, seq + 1
        report.records += 1
    return report
