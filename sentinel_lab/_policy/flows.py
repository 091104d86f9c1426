"""Flow rules: "after any untrusted read, no send outside the allowed domains", across every server of a gateway.

A policy's ``flows`` list holds rules of this shape (validated by ``_policy.model``)::

    flows:
      - name: no-exfiltration-after-untrusted-read
        after: {tools: ["web__*"], upstreams: [fetch], taints: [untrusted]}   # any of these arms the rule
        deny: {tools: ["mail__send_*"], upstreams: [chat], sends: true}        # the calls it then refuses
        unless: {hosts: [api.github.com, "*.example.com"]}                     # optional: destinations allowed
        message: "..."                                                         # optional
        severity: high                                                         # optional

- **after** arms the rule for the rest of the session: a call of a tool matching ``tools`` (or of any tool of an
  upstream in ``upstreams``) that ran (``record``: its answer came back, errors included), or the session holding
  one of ``taints`` (read at each decision, so ``REMOVE_TAINT`` disarms that part; ``"*"``: any taint).
- **deny** names what an armed rule refuses: tools by glob, every tool of an upstream, and with ``sends: true``
  any call whose arguments name a destination (a URL or host the call reaches, an e-mail address).
- **unless.hosts** lets a denied call through when it names at least one destination and every destination is one
  of the hosts or a subdomain of one (``_text.hosts``). A call with no readable destination is refused (fail
  closed): a rule about sends cannot vouch for a call it cannot read.

Tools are matched ignoring case on both sides (arming and refusing both restrict). The decision is a pure function
of (rules, armed flow names, taints, call): the engine keeps the armed names in ``SessionState.flows``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sentinel_lab._analysis import analyse
from sentinel_lab._core.verdict import Violation
from sentinel_lab._policy.conditions import host_of
from sentinel_lab._text.glob import ToolPattern, tool_matches
from sentinel_lab._text.hosts import host_matches

__all__ = ["FlowRule", "arm", "destinations", "flow_violations"]

_SHOWN = 5


@dataclass(frozen=True, slots=True)
class FlowRule:
    """One entry of ``flows``: what arms it, what it then denies, and which destinations stay allowed."""

    index: int
    name: str
    after_tools: tuple[ToolPattern, ...] = ()
    after_taints: tuple[str, ...] = ()
    deny_tools: tuple[ToolPattern, ...] = ()
    deny_sends: bool = False
    unless_hosts: tuple[str, ...] = ()
    message: str = ""
    severity: str = "high"
    spec: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def rule(self) -> str:
        """How verdicts name this rule: ``flows.<name>``."""
        return f"flows.{self.name}"

    def arms_on(self, tool: str) -> bool:
        """Whether a call of ``tool`` that ran arms the rule."""
        return tool_matches(tool, self.after_tools, deny=True)

    def armed_by(self, armed: frozenset[str], taints: frozenset[str]) -> str | None:
        """What armed the rule (for the reason), or None when it is not armed."""
        if self.name in armed:
            return "a call of " + " / ".join(p.pattern for p in self.after_tools[:_SHOWN]) + " ran"
        if self.after_taints and taints:
            hit = sorted(taints) if "*" in self.after_taints else sorted(taints.intersection(self.after_taints))
            if hit:
                return f"the session was tainted with {hit}"
        return None


def destinations(tool: str, args: Mapping[str, Any]) -> tuple[str, ...]:
    """The hosts a call reaches, as the verifier's analysis reads its arguments: URLs and hosts it uses (not ones
    merely mentioned in prose) and the domains of e-mail addresses given as values; sorted, without repeats."""
    analysis = analyse(tool, args)
    found = {e.host.lower().rstrip(".") for e in analysis.endpoints if e.context != "prose" and e.host}
    for text in analysis.texts:
        value = text.norm.strip()
        if text.is_key or "@" not in value or any(c.isspace() for c in value):
            continue
        host = host_of(value)
        if host:
            found.add(host)
    return tuple(sorted(found))


def _denies(rule: FlowRule, tool: str, args: Mapping[str, Any]) -> tuple[bool, tuple[str, ...] | None]:
    """Whether the armed rule applies to this call, and the call's destinations when they were read."""
    if tool_matches(tool, rule.deny_tools, deny=True):
        return True, None
    if rule.deny_sends:
        hosts = destinations(tool, args)
        return bool(hosts), hosts
    return False, None


def flow_violations(
    rules: Iterable[FlowRule], armed: frozenset[str], taints: frozenset[str], tool: str, args: Mapping[str, Any]
) -> list[tuple[Violation, str]]:
    """The violations of every armed flow rule this call breaks, with the rule's name, in file order."""
    out: list[tuple[Violation, str]] = []
    for rule in rules:
        why = rule.armed_by(armed, taints)
        if why is None:
            continue
        applies, hosts = _denies(rule, tool, args)
        if not applies:
            continue
        if rule.unless_hosts:
            if hosts is None:
                hosts = destinations(tool, args)
            outside = [h for h in hosts if not host_matches(h, rule.unless_hosts)]
            if hosts and not outside:
                continue
            detail = (
                f"destination {', '.join(outside[:_SHOWN])} is outside the allowed hosts"
                if hosts
                else "no destination host could be read from its arguments"
            )
            evidence = ",".join(outside[:_SHOWN])
        else:
            detail = "the flow denies it"
            evidence = ",".join((hosts or ())[:_SHOWN])
        reason = rule.message or f"flow '{rule.name}': '{tool}' is not allowed after {why} ({detail})"
        out.append((Violation("flows", reason, rule.severity, evidence or tool), rule.rule))
    return out


def arm(rules: Iterable[FlowRule], armed: frozenset[str], tool: str) -> frozenset[str]:
    """The armed flow names after a call of ``tool`` ran."""
    new = {rule.name for rule in rules if rule.name not in armed and rule.arms_on(tool)}
    return armed | new if new else armed
