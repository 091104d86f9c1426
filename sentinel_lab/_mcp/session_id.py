"""Signed session ids in the seed's wire format, checked in constant time.

An id is ``"1." + b64url_nopad(16 random bytes) + "." + b64url_nopad(HMAC-SHA256(key, those 16 bytes))``:
2 + 22 + 1 + 43 = 68 characters. Anyone can read an id; only a holder of the key can make one that verifies.
The key comes from an environment variable (64 hex digits, or any other text taken as raw UTF-8 bytes) or is
generated once per process, so ids from one proxy process are not accepted by another unless they share a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

from sentinel_lab._core.wire import SESSION_META_KEY

__all__ = [
    "DEFAULT_KEY_ENV",
    "SESSION_ID_LENGTH",
    "SESSION_META_KEY",
    "SessionIds",
    "key_from_env",
    "mint",
    "nonce_of",
    "validate",
]

#: The environment variable the key is read from unless the policy names another one.
DEFAULT_KEY_ENV = "SENTINEL_SESSION_KEY"
SESSION_ID_LENGTH = 68
_VERSION = "1"
_NONCE_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_from_env(name: str = DEFAULT_KEY_ENV, environ: dict[str, str] | None = None) -> bytes | None:
    """The HMAC key named by ``name`` in the environment: hex if it is even-length hex, else raw bytes."""
    env = os.environ if environ is None else environ
    value = env.get(name or DEFAULT_KEY_ENV, "")
    if not value:
        return None
    text = value.strip()
    if len(text) >= 32 and len(text) % 2 == 0:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return value.encode("utf-8")


def mint(key: bytes, nonce: bytes | None = None) -> str:
    """A new session id signed with ``key`` (a fresh random nonce unless one is given, for tests)."""
    raw = secrets.token_bytes(_NONCE_BYTES) if nonce is None else nonce
    if len(raw) != _NONCE_BYTES:
        raise ValueError("a session nonce is 16 bytes")
    tag = hmac.new(key, raw, hashlib.sha256).digest()
    return f"{_VERSION}.{_b64(raw)}.{_b64(tag)}"


def validate(session_id: object, key: bytes) -> tuple[bool, str]:
    """Check an id's shape and signature; returns ``(ok, detail)`` where detail says what is wrong."""
    if not isinstance(session_id, str):
        return False, "session id must be a string"
    if len(session_id) != SESSION_ID_LENGTH:
        return False, f"session id must be {SESSION_ID_LENGTH} characters, got {len(session_id)}"
    parts = session_id.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return False, "session id is not in the '1.<nonce>.<mac>' format"
    try:
        raw = _unb64(parts[1])
        tag = _unb64(parts[2])
    except (binascii.Error, ValueError):
        return False, "session id is not base64url"
    if len(raw) != _NONCE_BYTES or len(tag) != 32:
        return False, "session id has the wrong field lengths"
    # Compare the canonical encoding, not the decoded bytes: base64url's unused trailing bits would otherwise
    # let several spellings of one signature pass (malleable ids).
    expected = _b64(hmac.new(key, raw, hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode("ascii"), parts[2].encode("ascii")) or _b64(raw) != parts[1]:
        return False, "session id signature does not verify"
    return True, "ok"


def nonce_of(session_id: str) -> str:
    """The nonce field of an id that verified: it names the session (a state store's key, an audit record's
    session) without the signature that makes the id a credential."""
    return session_id.split(".")[1]


class SessionIds:
    """Mints and validates ids with one key (from ``key_env`` in the environment, else random per process)."""

    def __init__(self, key: bytes | None = None, *, key_env: str = DEFAULT_KEY_ENV) -> None:
        found = key if key is not None else key_from_env(key_env)
        self.key_source = "given" if key is not None else ("env" if found is not None else "generated")
        self._key = found if found is not None else secrets.token_bytes(32)

    def mint(self) -> str:
        """A fresh signed id."""
        return mint(self._key)

    def validate(self, session_id: object) -> tuple[bool, str]:
        """``(ok, detail)`` for a presented id."""
        return validate(session_id, self._key)
