"""Built-in checks: one module per concern, each a pure function ``check(analysis, settings) -> list[Violation]``.

A check reads the shared ``Analysis`` (normalised texts and parsed endpoints, paths and commands) and the
verifier's ``Settings``; it never mutates either and never raises on odd input (the verifier fails closed if
it does).
"""

from __future__ import annotations

from dataclasses import dataclass

from sentinel_lab import _vocab as vocab
from sentinel_lab._core.verdict import Violation
from sentinel_lab._text.hosts import host_matches

__all__ = ["PROFILES", "WRITE_PATH_KEYS", "WRITE_TOOL_WORDS", "Findings", "Settings", "host_matches"]

#: The verifier's profiles: what the deployment lets its agent do (see ``Settings.profile``).
PROFILES = ("workspace", "admin")


@dataclass(frozen=True, slots=True)
class Settings:
    """What the checks know about the deployment.

    ``workspace``: absolute POSIX path of the project the agent works in (``..`` that stays inside is fine);
    None means "no workspace": every path is judged on its own (sensitive files, leaving via ``..``).
    ``allowed_hosts``: hosts (and their subdomains, on label boundaries) that data may be sent to and that
    scope allows; empty means no restriction by scope, while exfiltration still judges what flows where.
    ``internal_hosts``: internal hosts the deployment explicitly permits (e.g. a local dev server).
    ``allowed_roots``: directories outside the workspace the deployment lets the agent use like its own.
    ``profile``: ``"workspace"`` (the default: an agent confined to its project) or ``"admin"`` (an agent that
    administers the machine: ``sudo`` of ordinary commands, service management and system reads are allowed).
    """

    workspace: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    internal_hosts: tuple[str, ...] = ()
    allowed_roots: tuple[str, ...] = ()
    profile: str = "workspace"


#: Words in a tool's name that say it writes files (``write_file``, ``fs.append``, ``upload_object`` ...).
WRITE_TOOL_WORDS: frozenset[str] = vocab.words("write_tool_words")
#: Argument keys that name the file a tool writes to.
WRITE_PATH_KEYS: frozenset[str] = vocab.words("write_path_keys")


class Findings:
    """Collects one check's violations: one per reason, at most ``limit``, evidence trimmed to 200 characters.

    ``admin``: the verifier's profile is ``admin``, so findings that are an administering agent's job
    (``administration``) are not recorded."""

    __slots__ = ("admin", "items", "limit", "policy", "seen")

    def __init__(self, policy: str, limit: int = 12, *, admin: bool = False) -> None:
        self.policy = policy
        self.limit = limit
        self.admin = admin
        self.items: list[Violation] = []
        self.seen: set[str] = set()

    def administration(self, reason: str, severity: str, evidence: str) -> None:
        """A finding that is the work of an agent administering the machine (enabling a service, managing an
        ordinary account, loading a kernel module by name, journal retention): a violation in the workspace
        profile, allowed in the admin profile."""
        if not self.admin:
            self.add(reason, severity, evidence)

    def add(self, reason: str, severity: str, evidence: str) -> None:
        if reason in self.seen or len(self.items) >= self.limit:
            return
        self.seen.add(reason)
        self.items.append(Violation(self.policy, reason, severity, evidence.strip()[:200]))

    def put(self, v: Violation) -> None:
        if v.reason in self.seen or len(self.items) >= self.limit:
            return
        self.seen.add(v.reason)
        self.items.append(v)
