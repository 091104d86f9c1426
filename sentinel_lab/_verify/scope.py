"""Scope: which tools an agent may call, which directory roots it may touch and which hosts it may reach.

Tool names match as everywhere (``_text.glob.tool_matches``): a blocked pattern ignoring case, an allowed one
exactly. Roots compare by path components (``/workspace/project-secrets`` is outside ``/workspace/project``); hosts
compare on label boundaries (``api.example.com`` is inside ``example.com``, ``badexample.com`` is not).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sentinel_lab._analysis._paths import is_under
from sentinel_lab._checks import host_matches
from sentinel_lab._core.errors import PolicyError
from sentinel_lab._core.verdict import Violation
from sentinel_lab._text.glob import ToolPattern, tool_matches

if TYPE_CHECKING:
    from sentinel_lab._analysis import Analysis

__all__ = ["Scope", "check_scope", "under_root"]


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"scope.{key} must be a list of strings, got {value!r:.80}", key=key)


def under_root(path: str, root: str) -> bool:
    """True when absolute ``path`` is ``root`` or inside it, compared by whole components after both are read
    by the one path canonicaliser (``_analysis._paths``)."""
    return is_under(path, root)


@dataclass(frozen=True, slots=True)
class Scope:
    """What the agent is allowed to touch; empty tuples mean "no restriction" (blocked_tools: none blocked)."""

    allowed_tools: tuple[str, ...] = ()
    blocked_tools: tuple[str, ...] = ()
    allowed_roots: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_any(cls, value: Scope | Mapping[str, Any] | None) -> Scope:
        """Build from None, a mapping with the field names, or a Scope; unknown keys are an error."""
        if value is None:
            return cls()
        if isinstance(value, Scope):
            return value
        if not isinstance(value, Mapping):
            raise PolicyError(f"scope must be a mapping, not {type(value).__name__}", key="scope")
        return cls().merged(value)

    def merged(self, override: Mapping[str, Any]) -> Scope:
        """A copy with the keys of ``override`` replaced (per-call scope)."""
        known = {f.name for f in fields(self)}
        changes: dict[str, tuple[str, ...]] = {}
        for key, val in override.items():
            if key not in known:
                raise PolicyError(f"unknown scope key; expected one of {sorted(known)}", key=str(key))
            items = _strings(val, key)
            if key == "allowed_roots":
                items = tuple(posixpath.normpath(r) for r in items)
            changes[key] = items
        return replace(self, **changes) if changes else self

    @property
    def restricts_content(self) -> bool:
        return bool(self.allowed_roots or self.allowed_hosts)


@lru_cache(maxsize=256)
def _patterns(patterns: tuple[str, ...]) -> tuple[ToolPattern, ...]:
    return tuple(ToolPattern(p) for p in patterns)


def _tool_in(tool: str, patterns: tuple[str, ...], *, deny: bool) -> bool:
    """Tool names as everywhere (``_text.glob.tool_matches``): blocked ignoring case, allowed exactly."""
    return tool_matches(tool, _patterns(patterns), deny=deny)


def check_scope(a: Analysis, scope: Scope) -> list[Violation]:
    """Violations of ``scope`` by the analysed call; paths and hosts are only parsed when scope names them."""
    out: list[Violation] = []
    if scope.blocked_tools and _tool_in(a.tool, scope.blocked_tools, deny=True):
        out.append(Violation("scope_enforcement", f"tool '{a.tool}' is blocked by scope", "high", a.tool))
    if scope.allowed_tools and not _tool_in(a.tool, scope.allowed_tools, deny=False):
        out.append(Violation("scope_enforcement", f"tool '{a.tool}' is not in the allowed tools", "high", a.tool))
    if scope.allowed_roots:
        for ref in a.paths:
            resolved = getattr(ref, "resolved", None)
            if resolved and not any(under_root(resolved, r) for r in scope.allowed_roots):
                out.append(
                    Violation("scope_enforcement", f"path outside the allowed roots: {resolved}", "high", ref.raw)
                )
                break
    if scope.allowed_hosts:
        for ep in a.endpoints:
            host = getattr(ep, "host", "")
            if host and not host_matches(host, scope.allowed_hosts):
                out.append(Violation("scope_enforcement", f"host outside the allowed hosts: {host}", "high", ep.raw))
                break
    return out
