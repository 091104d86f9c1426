"""Property-based tests: random nested arguments and random Unicode never make verify() raise anything but
InvalidAction, and the verdict is always well formed."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel_lab import InvalidAction, Verdict, Verifier

VERIFIER = Verifier(workspace="/workspace/project", rate_limit=False)

# Strings biased toward the characters our parsers care about, plus arbitrary Unicode.
_ALPHABET = st.sampled_from(list("/.\\%&;:@[]{}()$`'\"|<>!#*?~=+-_ 0123456789abcxfAZ\u200b\u202e\ufeff\U000e0041ѕ"))
tricky = st.one_of(st.text(_ALPHABET, max_size=80), st.text(max_size=80))
leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), tricky)
nested = st.recursive(
    leaf, lambda kids: st.one_of(st.lists(kids, max_size=5), st.dictionaries(tricky, kids, max_size=5)), max_leaves=30
)
args = st.dictionaries(tricky, nested, max_size=6)


def _check(verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    assert verdict.allowed == (not verdict.violations)
    assert 0.0 <= verdict.confidence <= 1.0
    for v in verdict.violations:
        assert v.severity in ("critical", "high", "medium", "low")
        assert v.policy and v.reason
    json.dumps(verdict.to_dict(), default=str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool=tricky, arguments=args)
def test_random_nested_arguments_never_crash(tool: str, arguments: dict) -> None:
    try:
        verdict = VERIFIER.verify({"tool": tool, "args": arguments})
    except InvalidAction:
        assert not tool.strip()  # only an empty tool name is an invalid shape here
        return
    _check(verdict)
    # JSON-in-string arguments (OpenAI shape) reach the same decision
    try:
        encoded = json.dumps(arguments)
    except (TypeError, ValueError):
        return
    if tool.strip() and "NaN" not in encoded and "Infinity" not in encoded:
        again = VERIFIER.verify({"type": "function", "function": {"name": tool, "arguments": encoded}})
        assert again.allowed == verdict.allowed


@settings(max_examples=200, deadline=None)
@given(action=st.one_of(leaf, st.lists(nested, max_size=3), st.dictionaries(tricky, nested, max_size=4)))
def test_arbitrary_values_as_actions_raise_only_invalid_action(action: object) -> None:
    try:
        verdict = VERIFIER.verify(action)
    except InvalidAction:
        return
    _check(verdict)
