"""The secret detector's own API: previews of one secret, and the token catalogue the audit redactor shares."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel_lab._analysis._secrets import TOKEN_PREFIXES, find_secrets, luhn, preview
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


def _luhn_by_definition(digits: str) -> bool:
    """Double every second digit from the right, add the digits of each product, and test the sum mod 10."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += sum(int(x) for x in str(d))
    return total % 10 == 0


@pytest.mark.parametrize("number", ["4111111111111111", "5500005555555559", "378282246310005", "6011111111111117"])
def test_luhn_accepts_card_numbers_and_rejects_one_digit_off(number: str) -> None:
    assert luhn(number) and _luhn_by_definition(number)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not luhn(wrong)
    # the audit log's redactor uses the same checksum: a number one digit off is not a card there either
    assert redact_for_log({"n": number})["n"] == "[REDACTED]"
    assert redact_for_log({"n": wrong})["n"] == wrong


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=25))
def test_luhn_matches_the_definition(digits: str) -> None:
    assert luhn(digits) == _luhn_by_definition(digits)
