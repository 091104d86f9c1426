"""The secret detector's own API: previews of one secret, and the token catalogue the audit redactor shares."""

from __future__ import annotations

import pytest

from sentinel_lab._analysis._secrets import TOKEN_PREFIXES, find_secrets, preview
from sentinel_lab._mcp.audit import redact_for_log

TOKENS = [
    "ghp_R4nd0mL00k1ngT0k3nF0rT3st1ngOnly0001",
    "glpat-abcdefghij0123456789XY",
    "xoxb-1234567890-abcdefghijk",
    "sk_live_abcdefghijklmnop12345678",
    "AKIAIOSFODNN7EXAMPLE",
    "hf_abcdefghijklmnopqrstuvwxyz01234567",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
]


def test_preview_keeps_a_hint_and_hides_the_rest() -> None:
    assert preview("hunter2") == "h…(7 chars)"
    assert preview("AKIAIOSFODNN7EXAMPLE") == "AKIA…(20 chars)"
    (found,) = find_secrets("key AKIAIOSFODNN7EXAMPLE here")
    assert found.preview == "AKIA…(20 chars)" and "IOSFODNN7" not in found.preview


@pytest.mark.parametrize("token", TOKENS)
def test_every_detected_token_is_also_redacted_in_audit_records(token: str) -> None:
    assert token.startswith(TOKEN_PREFIXES)
    assert find_secrets(f"x {token} y"), token
    assert redact_for_log(f"x {token} y") == "x [REDACTED] y"
