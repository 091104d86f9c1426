"""Session ids: the seed's format, a signature that only the key holder can make, and constant-time checks."""

from __future__ import annotations

import base64
import hashlib
import hmac

from sentinel_lab._mcp.session_id import SESSION_ID_LENGTH, SessionIds, key_from_env, mint, validate

KEY = bytes(range(32))


def test_format_is_version_nonce_mac_68_chars() -> None:
    nonce = b"\x01" * 16
    sid = mint(KEY, nonce)
    assert len(sid) == SESSION_ID_LENGTH == 68
    version, raw, mac = sid.split(".")
    assert version == "1"
    assert base64.urlsafe_b64decode(raw + "==") == nonce
    expected = hmac.new(KEY, nonce, hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(mac + "=") == expected
    assert "=" not in sid


def test_valid_id_verifies_and_every_tampering_fails() -> None:
    sid = mint(KEY)
    assert validate(sid, KEY) == (True, "ok")
    assert validate(sid, b"other key")[0] is False
    flipped = sid[:-1] + ("A" if sid[-1] != "A" else "B")
    assert validate(flipped, KEY) == (False, "session id signature does not verify")
    other_nonce = mint(KEY).split(".")[1]
    spliced = ".".join(["1", other_nonce, sid.split(".")[2]])
    assert validate(spliced, KEY)[0] is False
    assert validate("2" + sid[1:], KEY)[0] is False
    for junk in (None, 42, "", "1.abc.def", "x" * 68, sid + "A", "1." + "!" * 22 + "." + "A" * 43):
        ok, detail = validate(junk, KEY)
        assert ok is False and detail


def test_ids_are_unique() -> None:
    ids = SessionIds(KEY)
    assert len({ids.mint() for _ in range(200)}) == 200


def test_key_from_env_hex_or_raw_and_generated_per_process() -> None:
    assert key_from_env("K", {"K": KEY.hex()}) == KEY
    assert key_from_env("K", {"K": "correct horse battery staple"}) == b"correct horse battery staple"
    assert key_from_env("K", {}) is None
    a, b = SessionIds(key_env="SENTINEL_TEST_UNSET_KEY"), SessionIds(key_env="SENTINEL_TEST_UNSET_KEY")
    assert a.key_source == "generated"
    assert a.validate(a.mint())[0] and not b.validate(a.mint())[0]


def test_ids_are_not_malleable_in_their_unused_base64_bits() -> None:
    """The last base64url character of a 32-byte MAC carries 2 unused bits: every other spelling is refused."""
    from sentinel_lab._mcp.session_id import mint, validate

    key = b"k" * 32
    for n in range(64):
        sid = mint(key, nonce=bytes([n]) * 16)
        assert validate(sid, key) == (True, "ok")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        for other in alphabet:
            if other != sid[-1]:
                assert validate(sid[:-1] + other, key)[0] is False
            if other != sid[23]:  # last character of the 16-byte nonce field also has unused bits
                assert validate(sid[:23] + other + sid[24:], key)[0] is False
