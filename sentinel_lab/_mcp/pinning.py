"""Tool pinning: detect a tool server changing a tool's definition after it was first listed (a "rug pull").

The pin of a tool is the SHA-256 of the canonical JSON of its WHOLE definition, every field included (name, title,
description, inputSchema, outputSchema, annotations, _meta, icons, execution, and anything else a server adds):
keys sorted at every level, no whitespace, ``ensure_ascii`` escapes, so a reordering of keys is not a change and
any other difference is. The encoder is iterative, so no definition is too deep to pin, and it never raises:
an integer too long for a decimal string is encoded as ``#int:<hex>`` (never valid JSON, so never equal to a
pin of a valid definition).

One ``ToolPins`` per proxy connection. ``observe`` takes each ``tools/list`` answer and returns events:

- ``changed``: a name seen before now has another definition than the first one pinned under it (reported once
  per new definition; details: ``first_sha256``, ``now_sha256`` and ``fields``, the top-level fields that differ).
- ``renamed``: a definition identical, apart from its name and titles (``title``, ``annotations.title``), to one
  pinned under another name in an EARLIER listing appears under a new name (details: ``earlier_name``,
  ``sha256``, ``definition_sha256``, ``earlier_listed``: whether the earlier name is still in this listing). Tools
  sharing one definition within the first listing they appear in are aliases, not renames.

With ``block=True`` every name that had an event stays blocked for the connection (``is_blocked``, ``blocked``),
even if the definition later changes back: the relay hides it and refuses its calls.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["PinEvent", "ToolPins", "canonical_json", "tool_pin"]

_TITLE_FIELDS = ("name", "title")


@dataclass(frozen=True, slots=True)
class PinEvent:
    """One finding about a tool definition: ``changed`` since first pinned, or ``renamed`` from another name."""

    kind: Literal["changed", "renamed"]
    name: str
    details: dict[str, Any] = field(default_factory=dict, hash=False)


def _scalar(value: Any) -> str:
    """The canonical JSON of one scalar (what ``json.dumps`` writes; see the module docstring for huge integers)."""
    if type(value) is int:
        try:
            return str(value)
        except ValueError:  # longer than the interpreter's decimal-string limit
            return f"#int:{value:x}"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(f"#{type(value).__name__}:{value!r}")


def canonical_json(value: Any) -> str:
    """Canonical JSON (sorted keys, compact, ASCII): equal to ``json.dumps(sort_keys=True, separators=(",", ":"))``.

    Iterative, so any depth is fine; never raises.
    """
    out: list[str] = []
    # each stack item is (True, literal text to emit) or (False, a value still to encode)
    stack: list[tuple[bool, Any]] = [(False, value)]
    while stack:
        literal, item = stack.pop()
        if literal:
            out.append(item)
            continue
        if isinstance(item, dict):
            if not item:
                out.append("{}")
                continue
            keys = sorted(item, key=str)
            pending: list[tuple[bool, Any]] = [(True, "{")]
            for index, key in enumerate(keys):
                text_key = key if type(key) is str else str(key)
                pending.append((True, ("," if index else "") + json.dumps(text_key) + ":"))
                pending.append((False, item[key]))
            pending.append((True, "}"))
            stack.extend(reversed(pending))
        elif isinstance(item, list | tuple):
            if not item:
                out.append("[]")
                continue
            pending = [(True, "[")]
            for index, element in enumerate(item):
                if index:
                    pending.append((True, ","))
                pending.append((False, element))
            pending.append((True, "]"))
            stack.extend(reversed(pending))
        else:
            out.append(_scalar(item))
    return "".join(out)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _field_digests(tool: dict[str, Any]) -> dict[str, str]:
    return {str(key): _sha(canonical_json(value)) for key, value in tool.items()}


def tool_pin(tool: dict[str, Any]) -> str:
    """The pin of one tool: SHA-256 (hex) of the canonical JSON of its whole definition."""
    return _sha(canonical_json(tool))


def _definition_pin(tool: dict[str, Any]) -> str:
    """The pin of a definition without its name and titles: equal for a tool renamed without other change."""
    body = {key: value for key, value in tool.items() if key not in _TITLE_FIELDS}
    annotations = body.get("annotations")
    if isinstance(annotations, dict) and "title" in annotations:
        body["annotations"] = {key: value for key, value in annotations.items() if key != "title"}
    return _sha(canonical_json(body))


class ToolPins:
    """The pins of one connection's tools: first definition per name, events when a listing departs from them."""

    def __init__(self, *, block: bool = False) -> None:
        self.block = block
        self._first: dict[str, str] = {}  # name -> pin of its first definition
        self._first_fields: dict[str, dict[str, str]] = {}  # name -> per-field digests of that definition
        self._definitions: dict[str, str] = {}  # definition pin (no name/titles) -> first name it was seen under
        self._reported: set[tuple[str, str]] = set()  # (name, pin) already reported as changed
        self._changed: set[str] = set()
        self._blocked: set[str] = set()

    @property
    def changed_names(self) -> frozenset[str]:
        """Names whose definition changed (or that reappeared renamed) at any time in this connection."""
        return frozenset(self._changed)

    @property
    def blocked(self) -> frozenset[str]:
        """Names the relay must hide and refuse (empty unless ``block=True``)."""
        return frozenset(self._blocked)

    def is_blocked(self, name: str) -> bool:
        """Whether calls to ``name`` must be refused (block mode, after a change or a rename)."""
        return name in self._blocked

    def pin(self, name: str) -> str | None:
        """The first pin recorded for ``name``, or None if it was never listed."""
        return self._first.get(name)

    def observe(self, tools: list[dict[str, Any]]) -> list[PinEvent]:
        """Pin the tools of one ``tools/list`` answer and return what changed (entries without a name are skipped)."""
        events: list[PinEvent] = []
        if not isinstance(tools, list | tuple):
            return events
        listed = [t for t in tools if isinstance(t, dict) and type(t.get("name")) is str]
        names = {t["name"] for t in listed}
        new_definitions: dict[str, str] = {}
        for tool in listed:
            name: str = tool["name"]
            pin = tool_pin(tool)
            first = self._first.get(name)
            if first is None:
                self._first[name] = pin
                self._first_fields[name] = _field_digests(tool)
                definition = _definition_pin(tool)
                earlier = self._definitions.get(definition)
                if earlier is not None and earlier != name:
                    events.append(
                        self._flag(
                            PinEvent(
                                "renamed",
                                name,
                                {
                                    "earlier_name": earlier,
                                    "sha256": pin,
                                    "definition_sha256": definition,
                                    "earlier_listed": earlier in names,
                                },
                            )
                        )
                    )
                elif earlier is None:
                    new_definitions.setdefault(definition, name)
            elif first != pin and (name, pin) not in self._reported:
                self._reported.add((name, pin))
                now_fields = _field_digests(tool)
                before = self._first_fields.get(name, {})
                fields = sorted(k for k in before.keys() | now_fields.keys() if before.get(k) != now_fields.get(k))
                events.append(
                    self._flag(PinEvent("changed", name, {"first_sha256": first, "now_sha256": pin, "fields": fields}))
                )
        for definition, name in new_definitions.items():  # visible to rename checks from the next listing on
            self._definitions.setdefault(definition, name)
        return events

    def _flag(self, event: PinEvent) -> PinEvent:
        self._changed.add(event.name)
        if self.block:
            self._blocked.add(event.name)
        return event
