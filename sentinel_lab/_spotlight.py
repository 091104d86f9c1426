"""Spotlighting: mark untrusted tool output so a model can tell data from instructions.

Each text is wrapped as ``<<<SENTINEL_DATA_START:{id}>>>\\n{text}\\n<<<SENTINEL_DATA_END:{id}>>>`` with a fresh
random id per item. Any ``<<<SENTINEL_DATA_`` already inside the text (a forged start or end marker) is
rewritten to ``<<<ESCAPED_SENTINEL_DATA_``, so a tool cannot close the wrapper early or fake a trusted region,
and a forged marker cannot guess the id either. ``spotlight_result`` applies this to an MCP ``tools/call``
result in place: ``content[].text``, embedded resource text, and every string value of ``structuredContent``.
"""

from __future__ import annotations

import secrets
from typing import Any

__all__ = ["END", "MARKER_PREFIX", "START", "neutralise", "spotlight_result", "unwrap", "wrap"]

MARKER_PREFIX = "<<<SENTINEL_DATA_"
START = "<<<SENTINEL_DATA_START:"
END = "<<<SENTINEL_DATA_END:"
_ESCAPED = "<<<ESCAPED_SENTINEL_DATA_"
_MAX_DEPTH = 64


def neutralise(text: str) -> str:
    """Defuse any marker prefix inside ``text`` so it cannot open or close a wrapper."""
    if MARKER_PREFIX not in text:
        return text
    return text.replace(MARKER_PREFIX, _ESCAPED)


def wrap(text: str, item_id: str | None = None) -> str:
    """Wrap one untrusted text in randomized delimiters (a new 128-bit id unless one is given)."""
    ident = item_id or secrets.token_hex(16)
    return f"{START}{ident}>>>\n{neutralise(text)}\n{END}{ident}>>>"


def unwrap(text: str) -> tuple[str, str] | None:
    """Split a wrapped text into ``(id, inner text)``; None if it is not exactly one well-formed wrapper."""
    if not text.startswith(START):
        return None
    head_end = text.find(">>>\n", len(START))
    if head_end < 0:
        return None
    ident = text[len(START) : head_end]
    tail = f"\n{END}{ident}>>>"
    if not ident or not text.endswith(tail) or len(text) < head_end + 4 + len(tail):
        return None
    return ident, text[head_end + 4 : len(text) - len(tail)]


def _wrap_strings(value: Any, found: list[str], depth: int) -> Any:
    if isinstance(value, str):
        found.append(value)
        return wrap(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _wrap_strings(v, found, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_wrap_strings(v, found, depth + 1) for v in value]
    return value


def _collect_strings(value: Any, found: list[str], depth: int) -> None:
    if isinstance(value, str):
        found.append(value)
    elif depth < _MAX_DEPTH and isinstance(value, dict):
        for v in value.values():
            _collect_strings(v, found, depth + 1)
    elif depth < _MAX_DEPTH and isinstance(value, list):
        for v in value:
            _collect_strings(v, found, depth + 1)


def spotlight_result(result: dict[str, Any], *, wrap_texts: bool = True) -> list[str]:
    """Wrap every untrusted text of a ``tools/call`` result in place; return the original texts (for scanning).

    With ``wrap_texts=False`` nothing changes and only the texts are collected.
    """
    found: list[str] = []
    content = result.get("content")
    if isinstance(content, list):
        for item in content:
            if not isinstance(item, dict):
                continue
            text = item.get("text")
            if isinstance(text, str):
                found.append(text)
                if wrap_texts:
                    item["text"] = wrap(text)
            resource = item.get("resource")
            if isinstance(resource, dict) and isinstance(resource.get("text"), str):
                found.append(resource["text"])
                if wrap_texts:
                    resource["text"] = wrap(resource["text"])
    if "structuredContent" in result:
        structured = result["structuredContent"]
        if wrap_texts:
            result["structuredContent"] = _wrap_strings(structured, found, 0)
        else:
            _collect_strings(structured, found, 0)
    return found
