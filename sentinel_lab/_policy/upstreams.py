"""The upstream servers a multi-server gateway policy names, and the tool namespace each one gets.

A policy's ``upstreams`` section maps a name to a server (``command: [...]`` with optional ``env`` and ``cwd``,
or ``url: http(s)://...``). Every tool of upstream ``fs`` is seen by the host, the rules and the audit log as
``fs__<tool>``: the name, the separator ``__`` (two underscores) and the server's own tool name.

Why this rule for names: 1 to 32 ASCII letters, digits, ``-`` and ``_``, starting with a letter, with no ``__``
inside and no ``_`` at the end. Then the first ``__`` of a namespaced name always ends the upstream's name, so
``split_name`` is unambiguous whatever the server's own tool names contain, and ``fs__read_file`` is a valid MCP
tool name (letters, digits, ``_``, ``-``, ``.``) whenever ``read_file`` is. Names are unique ignoring case,
because rules that deny match tool names ignoring case (``_text.glob``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["MAX_NAME", "SEPARATOR", "Upstream", "name_problem", "namespaced", "split_name"]

SEPARATOR = "__"
MAX_NAME = 32
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass(frozen=True, slots=True)
class Upstream:
    """One server behind the gateway: a command to start (stdio) or a Streamable HTTP URL."""

    name: str
    command: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    cwd: str | None = None
    description: str = ""

    @property
    def label(self) -> str:
        """How logs and audit records name the server: its URL or its program."""
        return self.url if self.url is not None else (self.command[0] if self.command else "")

    def to_dict(self) -> dict[str, Any]:
        """The canonical spelling, as the policy file would write it."""
        out: dict[str, Any] = {"url": self.url} if self.url is not None else {"command": list(self.command)}
        if self.env:
            out["env"] = dict(self.env)
        if self.cwd is not None:
            out["cwd"] = self.cwd
        if self.description:
            out["description"] = self.description
        return out


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an upstream's name (its tools' namespace), or None when it can."""
    if not name:
        return "an upstream name must not be empty"
    if len(name) > MAX_NAME:
        return f"an upstream name has at most {MAX_NAME} characters"
    bad = sorted({c for c in name if c not in _NAME_CHARS})
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        return f"an upstream name may hold only ASCII letters, digits, '-' and '_' (found {shown})"
    if not name[0].isalpha():
        return "an upstream name must start with a letter"
    if SEPARATOR in name:
        return f"an upstream name must not contain the namespace separator '{SEPARATOR}'"
    if name.endswith("_"):
        return f"an upstream name must not end with '_' (its tools would read '{name}{SEPARATOR}...' ambiguously)"
    return None


def namespaced(upstream: str, tool: str) -> str:
    """The name the host and the policy see for ``tool`` of ``upstream``."""
    return f"{upstream}{SEPARATOR}{tool}"


def split_name(name: str) -> tuple[str, str] | None:
    """``(upstream, tool)`` of a namespaced name, or None when it has no namespace."""
    upstream, sep, tool = name.partition(SEPARATOR)
    if not sep or not tool or name_problem(upstream) is not None:
        return None
    return upstream, tool
