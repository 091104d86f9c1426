"""Turn any common tool-call shape into ``(tool, args)``; anything else is an ``InvalidAction``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinel_lab._core.errors import InvalidAction
from sentinel_lab._text.normalize import JSONTooDeep, loads_json

__all__ = ["parse_action"]

_SHAPES = (
    '{"tool", "args"}, MCP {"name", "arguments"}, OpenAI {"type": "function", "function": {"name", '
    '"arguments"}}, or Anthropic {"type": "tool_use", "name", "input"}'
)


def _args(value: Any, where: str) -> dict[str, Any]:
    """Arguments must be a mapping (or a JSON string of one, as OpenAI sends); None means no arguments."""
    if type(value) is dict:
        return value.copy()
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        try:
            value = loads_json(text)
        except JSONTooDeep:
            raise InvalidAction(f"{where} is JSON nested too deeply to read") from None
        except ValueError as exc:
            raise InvalidAction(f"{where} is a string but not valid JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise InvalidAction(f"{where} must be an object, not {type(value).__name__}")
    return dict(value)


def _name(value: Any, where: str) -> str:
    if type(value) is str and value and not value[0].isspace():
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidAction(f"{where} must be a non-empty string, got {value!r:.60}")
    return value


def parse_action(action: Any) -> tuple[str, dict[str, Any]]:
    """Return ``(tool, args)`` for the four supported shapes, or raise ``InvalidAction`` saying what is wrong."""
    if type(action) is not dict and not isinstance(action, Mapping):
        raise InvalidAction(f"an action must be a mapping ({_SHAPES}), not {type(action).__name__}")
    kind = action.get("type")
    if kind == "function" and isinstance(action.get("function"), Mapping):
        fn = action["function"]
        return _name(fn.get("name"), "function.name"), _args(fn.get("arguments"), "function.arguments")
    if kind == "tool_use":
        return _name(action.get("name"), "tool_use name"), _args(action.get("input"), "tool_use input")
    if "tool" in action:
        return _name(action["tool"], "'tool'"), _args(action.get("args", action.get("arguments")), "'args'")
    if "name" in action and ("arguments" in action or len(action) == 1 or "_meta" in action):
        return _name(action["name"], "'name'"), _args(action.get("arguments"), "'arguments'")
    keys = ", ".join(sorted(map(str, action))) or "none"
    raise InvalidAction(f"unrecognised action shape (keys: {keys}); expected {_SHAPES}")
