"""Immutable results: a ``Violation`` found by one check, the ``IntentResult``, and the final ``Verdict``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "POLICIES",
    "SEVERITIES",
    "IntentResult",
    "Severity",
    "Verdict",
    "Violation",
]

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}

#: The eight built-in policy names, in the order the verifier reports them.
POLICIES: tuple[str, ...] = (
    "privilege_escalation",
    "data_exfiltration",
    "internal_access",
    "file_traversal",
    "system_commands",
    "intent_alignment",
    "rate_limit",
    "scope_enforcement",
)


_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason to block: which policy, why, how bad, and the offending text (trimmed)."""

    policy: str
    reason: str
    severity: str = "high"
    evidence: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "reason": self.reason,
            "severity": self.severity,
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class IntentResult:
    """How well an action fits the user's stated goal: a score in 0..1 and whether it passes."""

    score: float
    aligned: bool
    method: str  # "heuristic" | "llm" | "heuristic+llm"
    reason: str = ""

    @property
    def confidence(self) -> float:
        """The seed's name for the score."""
        return self.score

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "aligned": self.aligned, "method": self.method, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on one tool call. ``allowed`` is final; ``violations`` say why not.

    ``decision`` is ``allow``, ``block``, ``flag`` (would be blocked, but the policy is in audit mode, so
    ``allowed`` stays true) or ``ask`` (not allowed until a human approves this exact call; ``approval`` is the
    digest the approval is bound to, see ``_policy.approvals``); ``rule`` names what decided (e.g.
    ``static_rules.send_email``); ``args`` is a read-only view of the call's arguments.
    """

    allowed: bool
    violations: tuple[Violation, ...] = ()
    confidence: float = 1.0
    intent: IntentResult | None = None
    elapsed_us: float = 0.0
    tool: str = ""
    decision: str = ""
    rule: str = ""
    taints: frozenset[str] = field(default_factory=frozenset)
    args: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)
    session_id: str = ""
    at: float = 0.0  # wall-clock time of the decision (epoch seconds)
    approval: str = ""  # decision "ask": the approval digest (session, tool, canonical arguments, policy)

    def __post_init__(self) -> None:
        if not self.decision:
            object.__setattr__(self, "decision", "allow" if self.allowed else "block")

    @property
    def blocked(self) -> bool:
        return not self.allowed

    @property
    def top(self) -> Violation | None:
        """The most severe violation (first among equals), or None."""
        if not self.violations:
            return None
        return max(self.violations, key=lambda v: SEVERITY_RANK.get(v.severity, 0))

    @property
    def policy(self) -> str:
        top = self.top
        return top.policy if top else ""

    @property
    def severity(self) -> str:
        top = self.top
        return top.severity if top else ""

    @property
    def reason(self) -> str:
        top = self.top
        return top.reason if top else "allowed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "decision": self.decision,
            "tool": self.tool,
            "rule": self.rule,
            "confidence": self.confidence,
            "violations": [v.to_dict() for v in self.violations],
            "intent": self.intent.to_dict() if self.intent else None,
            "elapsed_us": self.elapsed_us,
            "taints": sorted(self.taints),
            "session_id": self.session_id,
            "at": self.at,
        } | ({"approval": self.approval} if self.approval else {})
