"""The policy engine: one decision per tool call as a pure function of (policy, session state, call).

``Session.check(tool, args)`` (and the pure ``decide(policy, state, tool, args)``) evaluates, in this order:

1. **static stage**: an exact ``static_rules`` name; else a DENY name or glob matching the tool in any case; else an
   ALLOW glob matching it exactly (tool names: ``_text.glob``); else an exact name in an argument or taint rule
   counts as listed (ALLOW); else ``default_action``. Argument, CHECK_TAINT and ADD_TAINT rules match the tool in
   any case too, REMOVE_TAINT rules exactly.
   Blocks as ``static_rules.<pattern>`` or ``default_action``.
2. **argument rules**, in file order: a rule for this tool whose ``deny_if`` fires or whose ``deny_unless``
   fails blocks as ``argument_rules[i]`` (0-based index in the file). Values are judged as the tool server will
   read them (JSON inside strings decoded, numeric and boolean strings coerced as pydantic does, e-mail
   addresses and host names without case; see ``_policy.conditions``); the evidence says which reading fired.
3. **taint rules**: each ``CHECK_TAINT`` rule for this tool, in file order, blocks as ``taint_rules[i]`` when the
   session holds one of its forbidden taints (``*`` forbids any); then each armed ``flows`` rule that denies this
   call blocks as ``flows.<name>`` (``_policy.flows``: armed by a call that ran or by a taint the session holds).
4. **verifier**: the built-in checks, scope and rate limit of ``sentinel_lab.Verifier`` configured by the
   policy's ``verifier`` section; blocks as ``verifier.<check>``. It keeps per-session rate-limit history
   (keyed by the session id), fed by the session's ``clock``.

In ``enforce`` mode the first stage that blocks decides and later stages do not run (so the verifier, and its
rate limiter, see only calls the policy rules let through). In ``audit`` mode every stage runs; if any would
block, the verdict is ``allowed=True, decision="flag"`` with all violations, and ``rule`` names the first stage
that would have blocked.

``check`` never changes taints: ``Session.record(tool, args, ok=True)`` applies the ``ADD_TAINT`` and
``REMOVE_TAINT`` rules for a call that actually ran and succeeded (in file order), and arms the flow rules whose
``after`` names the tool, so a source taints the session when its result comes back, not when it was merely
asked for. Sessions never share taints; rate-limit history lives in the policy's shared verifier keyed by
session id (a session made with a ``clock`` gets a verifier of its own), so give concurrent sessions distinct
ids (the default is a random one).
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sentinel_lab._core.verdict import Verdict, Violation
from sentinel_lab._policy.approvals import approval_digest, policy_digest
from sentinel_lab._policy.conditions import MISSING
from sentinel_lab._policy.flows import arm, flow_violations

if TYPE_CHECKING:
    from sentinel_lab._policy.model import Policy
    from sentinel_lab._verify.verifier import Verifier

__all__ = ["Session", "SessionState", "adecide", "decide", "record", "shared_verifier"]

_EVIDENCE = 120


@dataclass(frozen=True, slots=True)
class SessionState:
    """What a session remembers between calls: its id, its taints and the flow rules armed so far."""

    id: str
    taints: frozenset[str] = field(default_factory=frozenset)
    flows: frozenset[str] = field(default_factory=frozenset)


def _evidence(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _EVIDENCE else text[: _EVIDENCE - 3] + "..."


def _ask(reason: str, evidence: str) -> Violation:
    """What an ASK stage reports: the reason the call needs a human's approval."""
    return Violation("approval", f"approval required: {reason}", "medium", evidence)


def _static(policy: Policy, tool: str, asks: list[tuple[Violation, str]]) -> tuple[Violation | None, str]:
    action, rule = policy.static_decision(tool)
    if action == "ASK":
        asks.append((_ask(f"tool '{tool}' is allowed only with a human's approval ({rule})", tool), rule))
    if action in ("ALLOW", "ASK"):
        return None, rule
    if rule == "default_action":
        reason = f"tool '{tool}' is not listed in the policy (default_action DENY)"
        return Violation("default_action", reason, "high", tool), rule
    return Violation("static_rules", f"tool '{tool}' is denied by {rule}", "high", tool), rule


def _arguments(
    policy: Policy, tool: str, args: Mapping[str, Any], asks: list[tuple[Violation, str]]
) -> list[tuple[Violation, str]]:
    """The argument rules that deny this call (those whose ``action`` is ASK are added to ``asks`` instead)."""
    out: list[tuple[Violation, str]] = []
    workspace = policy.verifier.workspace
    for rule in policy.argument_rules_for(tool):
        values = rule.arg.select(args)
        fired, value, reading, how = False, None, None, ""
        if rule.deny_if is not None:
            fired, value, reading = rule.deny_if.fires_if(values, workspace)
            how = "matches deny_if"
        if not fired and rule.deny_unless is not None:
            fired, value, reading = rule.deny_unless.fires_unless(values, workspace)
            how = "fails deny_unless"
        if fired:
            shown = "missing" if value is MISSING else _evidence(value)
            if reading is not value and reading is not MISSING:  # say how the server would read it
                shown = f"{shown} (read as {_evidence(reading if isinstance(reading, str) else repr(reading))})"
            reason = rule.message or f"argument '{rule.arg.text}' of '{tool}' {how} ({rule.name}): {shown}"
            if rule.action == "ASK":
                asks.append((_ask(reason, shown), rule.name))
                continue
            out.append((Violation("argument_rules", reason, rule.severity, shown), rule.name))
    return out


def _taints(policy: Policy, tool: str, taints: frozenset[str]) -> list[tuple[Violation, str]]:
    out: list[tuple[Violation, str]] = []
    if not taints:
        return out
    for rule in policy.taint_checks_for(tool):
        hit = sorted(taints) if "*" in rule.tags else sorted(taints.intersection(rule.tags))
        if hit:
            reason = rule.message or f"tool '{tool}' is not allowed after the session was tainted with {hit}"
            out.append((Violation("taint_rules", reason, "high", ",".join(hit)), rule.name))
    return out


class _Pending:
    """A decision in progress: the policy stages are done, the verifier's answer may still be needed."""

    __slots__ = ("allow_rule", "asks", "call_args", "confidence", "found", "intent", "t0")

    def __init__(self) -> None:
        self.t0 = time.perf_counter_ns()
        self.found: list[tuple[Violation, str]] = []
        self.asks: list[tuple[Violation, str]] = []  # stages that let the call run only with a human's approval
        self.intent: Any = None
        self.confidence = 1.0
        self.allow_rule = ""
        self.call_args: dict[str, Any] = {}


def _policy_stages(policy: Policy, state: SessionState, tool: Any, args: Any) -> tuple[_Pending, bool]:
    """Stages 1-3; returns the pending decision and whether the verifier must still run."""
    d = _Pending()
    if not isinstance(tool, str) or not tool:
        d.found.append(
            (Violation("invalid_call", f"tool name must be a non-empty string, got {tool!r:.60}"), "invalid")
        )
        return d, False
    if args is not None and not isinstance(args, Mapping):
        d.found.append(
            (Violation("invalid_call", f"arguments must be a mapping, not {type(args).__name__}"), "invalid")
        )
        return d, False
    d.call_args = dict(args or {})
    audit = policy.audit
    v, d.allow_rule = _static(policy, tool, d.asks)
    if v is not None:
        d.found.append((v, d.allow_rule))
    if audit or not d.found:
        d.found.extend(_arguments(policy, tool, d.call_args, d.asks))
    if audit or not d.found:
        d.found.extend(_taints(policy, tool, state.taints))
    if policy.flows and (audit or not d.found):
        d.found.extend(flow_violations(policy.flows, state.flows, state.taints, tool, d.call_args))
    return d, audit or not d.found


def _verifier_context(state: SessionState, context: Mapping[str, Any] | None) -> dict[str, Any]:
    ctx = dict(context or {})
    ctx["session_id"] = state.id
    return ctx


def _verifier_error(exc: BaseException) -> Verdict:
    reason = f"verifier raised {type(exc).__name__}: {exc}; failing closed"
    return Verdict(allowed=False, violations=(Violation("verifier", reason, "high"),), rule="verifier")


def _merge_verifier(policy: Policy, d: _Pending, vv: Verdict) -> None:
    d.intent = vv.intent
    if vv.allowed or not d.found:
        d.confidence = vv.confidence
    if not vv.allowed:
        found = [(viol, vv.rule or f"verifier.{viol.policy}") for viol in vv.violations]
        settings = policy.verifier
        if found and all(settings.finding_action(v.policy, v.severity) == "ASK" for v, _ in found):
            # every finding may run with a human's approval (verifier.on_finding); one DENY finding denies
            d.asks.extend((_ask(v.reason, v.evidence), f"verifier.on_finding.{v.policy}") for v, _ in found)
        else:
            d.found.extend(found)


def _verdict(policy: Policy, state: SessionState, tool: Any, d: _Pending) -> Verdict:
    found, approval = d.found, ""
    if not found and d.asks:  # a denial always wins over an ask; in audit mode the call runs, flagged
        found = d.asks
        if not policy.audit:
            approval = approval_digest(state.id, tool, d.call_args, policy_digest(policy))
    if not found:
        allowed, decision, rule = True, "allow", d.allow_rule
    elif policy.audit:
        allowed, decision, rule = True, "flag", found[0][1]
    elif approval:
        allowed, decision, rule = False, "ask", found[0][1]
    else:
        allowed, decision, rule = False, "block", found[0][1]
    return Verdict(
        allowed=allowed,
        violations=tuple(v for v, _ in found),
        confidence=d.confidence,
        intent=d.intent,
        elapsed_us=(time.perf_counter_ns() - d.t0) / 1000.0,
        tool=tool if isinstance(tool, str) else repr(tool),
        decision=decision,
        rule=rule,
        taints=state.taints,
        args=MappingProxyType(d.call_args),
        session_id=state.id,
        at=time.time(),
        approval=approval,
    )


_shared: dict[int, Verifier | None] = {}
_shared_lock = threading.Lock()


def shared_verifier(policy: Policy) -> Verifier | None:
    """The verifier every clock-less session of this policy object shares (rate-limit history keyed by session
    id), built on first use and forgotten with the policy. Keyed by identity: two equal policies loaded apart
    keep separate histories."""
    key = id(policy)
    with _shared_lock:
        if key in _shared:
            return _shared[key]
        verifier = _shared[key] = policy.make_verifier()
        weakref.finalize(policy, _shared.pop, key, None)
        return verifier


def decide(
    policy: Policy,
    state: SessionState,
    tool: str,
    args: Mapping[str, Any] | None,
    *,
    context: Mapping[str, Any] | None = None,
    verifier: Verifier | None = None,
) -> tuple[Verdict, SessionState]:
    """Decide one call (see the module docstring for the order); returns the verdict and the state after it.

    ``verifier`` defaults to the policy's shared one; ``context`` is passed to it (``user_goal``,
    ``conversation``, ``scope``) with ``session_id`` set to the session's id.
    """
    d, run_verifier = _policy_stages(policy, state, tool, args)
    ver = (verifier if verifier is not None else shared_verifier(policy)) if run_verifier else None
    if ver is not None:
        try:
            vv = ver.verify({"tool": tool, "args": d.call_args}, _verifier_context(state, context))
        except Exception as exc:  # fail closed
            vv = _verifier_error(exc)
        _merge_verifier(policy, d, vv)
    return _verdict(policy, state, tool, d), state


async def adecide(
    policy: Policy,
    state: SessionState,
    tool: str,
    args: Mapping[str, Any] | None,
    *,
    context: Mapping[str, Any] | None = None,
    verifier: Verifier | None = None,
) -> tuple[Verdict, SessionState]:
    """``decide`` for async code: awaits async custom checks and an async intent llm of the verifier."""
    d, run_verifier = _policy_stages(policy, state, tool, args)
    ver = (verifier if verifier is not None else shared_verifier(policy)) if run_verifier else None
    if ver is not None:
        try:
            vv = await ver.averify({"tool": tool, "args": d.call_args}, _verifier_context(state, context))
        except Exception as exc:  # fail closed
            vv = _verifier_error(exc)
        _merge_verifier(policy, d, vv)
    return _verdict(policy, state, tool, d), state


def record(
    policy: Policy, state: SessionState, tool: str, args: Mapping[str, Any] | None, ok: bool = True
) -> SessionState:
    """The state after ``tool`` ran: its ADD_TAINT / REMOVE_TAINT rules applied in file order when ``ok``."""
    if not ok or not isinstance(tool, str):
        return state
    taints = set(state.taints)
    # adding a taint restricts later calls (matched ignoring case); removing one relaxes them (exactly)
    for rule in policy.taint_effects_for(tool):
        if rule.action == "ADD_TAINT":
            taints.update(rule.tags)
        else:
            taints.difference_update(rule.tags)
    new = frozenset(taints)
    flows = arm(policy.flows, state.flows, tool) if policy.flows else state.flows
    return state if new == state.taints and flows == state.flows else replace(state, taints=new, flows=flows)


class Session:
    """One agent conversation under a policy: ``check`` decides calls, ``record`` applies the effects of calls
    that ran. Thread-safe; independent of every other session."""

    def __init__(
        self, policy: Policy, *, clock: Callable[[], float] | None = None, session_id: str | None = None
    ) -> None:
        self.policy = policy
        self.clock = clock
        self._state = SessionState(session_id or secrets.token_hex(8))
        self._verifier = policy.make_verifier(clock) if clock is not None else shared_verifier(policy)
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        """The session id (used as the rate-limit key and in every verdict)."""
        return self._state.id

    @property
    def taints(self) -> frozenset[str]:
        """The taints the session holds now."""
        return self._state.taints

    @property
    def verifier(self) -> Verifier | None:
        """The verifier this session uses (the policy's shared one, or its own when a clock was given)."""
        return self._verifier

    @property
    def state(self) -> SessionState:
        """The immutable state snapshot (for ``decide``)."""
        return self._state

    def check(
        self, tool: str, args: Mapping[str, Any] | None = None, *, context: Mapping[str, Any] | None = None
    ) -> Verdict:
        """Decide whether ``tool(args)`` may run now; changes no taint (see ``record``)."""
        verdict, _ = decide(self.policy, self._state, tool, args, context=context, verifier=self._verifier)
        return verdict

    async def acheck(
        self, tool: str, args: Mapping[str, Any] | None = None, *, context: Mapping[str, Any] | None = None
    ) -> Verdict:
        """``check`` for async code (awaits async custom checks of the verifier)."""
        verdict, _ = await adecide(self.policy, self._state, tool, args, context=context, verifier=self._verifier)
        return verdict

    def record(self, tool: str, args: Mapping[str, Any] | None = None, ok: bool = True) -> frozenset[str]:
        """Apply the effects of a call that ran (taints only when ``ok``); returns the taints after it."""
        with self._lock:
            self._state = record(self.policy, self._state, tool, args, ok)
            return self._state.taints

    def reset(self) -> None:
        """Forget taints and rate-limit history; the id stays."""
        with self._lock:
            self._state = SessionState(self._state.id)
        if self._verifier is not None:
            self._verifier.reset(self._state.id)

    def __repr__(self) -> str:
        return f"<Session {self.id} taints={sorted(self.taints)} policy={self.policy.source}>"
