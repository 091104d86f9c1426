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


# Deep, wide and odd values: nesting far past every bound, JSON text inside strings (itself nested), lone
# surrogates, huge integers, bytes, non-string keys. verify() answers with a Verdict or InvalidAction only.
_odd_text = st.one_of(
    tricky,
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=8),  # lone surrogates
    st.text(st.characters(categories=("Mn", "Cf", "Zs")), max_size=40),  # combining marks, invisibles
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(["%25" * 50, "\\u0041" * 40, "%u002e" * 30, "../" * 200, "0x7f." * 40]),
)
_odd_leaf = st.one_of(
    leaf,
    _odd_text,
    st.integers(4300, 6000).map(lambda n: 10**n),
    st.binary(max_size=30),
    st.just(float("nan")),
)
_odd_key = st.one_of(_odd_text, st.integers(), st.none(), st.binary(max_size=8))


def _as_json_text(value: object) -> object:
    """``value`` as JSON text when it has one (JSON inside a string), else ``value`` itself."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        return value


def _deepen(value: object, depth: int, as_list: bool) -> object:
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


_odd_nested = st.recursive(
    _odd_leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=6),
        st.dictionaries(_odd_key, kids, max_size=6),
        st.tuples(kids, st.integers(50, 3000), st.booleans()).map(lambda t: _deepen(*t)),
        kids.map(_as_json_text),  # JSON in a string
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arguments=st.dictionaries(_odd_key, _odd_nested, max_size=5), shape=st.sampled_from(["tool", "mcp", "openai"]))
def test_deep_wide_and_odd_arguments_never_crash(arguments: dict, shape: str) -> None:
    if shape == "tool":
        action: object = {"tool": "exec", "args": arguments}
    elif shape == "mcp":
        action = {"name": "write_file", "arguments": arguments}
    else:
        try:
            encoded = json.dumps(arguments, default=str)
        except (TypeError, ValueError, RecursionError):
            encoded = "[" * 5000 + "]" * 5000
        action = {"type": "function", "function": {"name": "fetch_url", "arguments": encoded}}
    for verifier in (VERIFIER, LIMITED):
        try:
            verdict = verifier.verify(action, {"user_goal": "tidy up the docs"})
        except InvalidAction:
            continue
        _check_loosely(verdict)


LIMITED = Verifier(workspace="/workspace/project")  # with the rate limiter, which fingerprints the arguments


def _check_loosely(verdict: Verdict) -> None:
    """The verdict is well formed; its dict may hold values JSON cannot encode (huge ints), so only shape."""
    assert isinstance(verdict, Verdict)
    assert verdict.allowed == (not verdict.violations)
    assert 0.0 <= verdict.confidence <= 1.0
    for v in verdict.violations:
        assert v.policy and v.reason
