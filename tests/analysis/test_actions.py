"""The four tool-call shapes unwrap to the same (tool, args); anything else is a clear InvalidAction."""

from __future__ import annotations

import pytest

from sentinel_lab import InvalidAction, SentinelError
from sentinel_lab._analysis._actions import parse_action

ARGS = {"path": "src/main.py", "n": [1, {"x": "y"}]}


@pytest.mark.parametrize(
    "action",
    [
        {"tool": "read_file", "args": ARGS},
        {"name": "read_file", "arguments": ARGS},
        {
            "type": "function",
            "function": {"name": "read_file", "arguments": '{"path": "src/main.py", "n": [1, {"x": "y"}]}'},
        },
        {"type": "function", "function": {"name": "read_file", "arguments": ARGS}},
        {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": ARGS},
    ],
)
def test_shapes_unwrap_to_the_same_call(action: dict) -> None:
    assert parse_action(action) == ("read_file", ARGS)


def test_missing_arguments_mean_empty() -> None:
    assert parse_action({"tool": "now"}) == ("now", {})
    assert parse_action({"name": "now", "arguments": None}) == ("now", {})


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        ("exec rm -rf /", "must be a mapping"),
        ({"command": "ls"}, "unrecognised action shape (keys: command)"),
        ({"tool": "", "args": {}}, "non-empty string"),
        ({"tool": 3, "args": {}}, "non-empty string"),
        ({"tool": "x", "args": ["a"]}, "must be an object"),
        ({"type": "function", "function": {"name": "x", "arguments": "{not json"}}, "not valid JSON"),
        ({"type": "function", "function": {"name": "x", "arguments": "[1]"}}, "must be an object"),
        ({"type": "tool_use", "input": {}}, "tool_use name"),
    ],
)
def test_bad_shapes_raise_invalid_action(action: object, fragment: str) -> None:
    with pytest.raises(InvalidAction) as info:
        parse_action(action)
    assert fragment in str(info.value)
    assert isinstance(info.value, SentinelError)
    assert isinstance(info.value, ValueError)
