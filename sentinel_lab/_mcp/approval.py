"""Approvals asked through the client: what the relay does with an ``ASK`` verdict on a ``tools/call``.

The engine says ``ask`` with a digest of (session, tool, canonical arguments, policy) (``_policy.approvals``);
this module asks the human, binds the answer to that digest in the connection's ``ApprovalStore`` (a random
ticket, single use, expiring after ``proxy.approval_ttl_s``) and audits every step as an ``approval`` record
(``details.event``: ``asked``, ``granted``, ``refused``, ``expired``, ``replayed``, ``unknown``, ``mismatch``,
``discarded``; the ticket appears only as a hash).

- **Handshake era**, the client declared ``elicitation`` in ``initialize``: the proxy sends its own
  ``elicitation/create`` (ids from the relay's counter for requests toward the client, so they never collide with
  a tool server's) naming the tool, the arguments and the reason, with a boolean ``approve`` field. The call
  waits unforwarded; ``accept`` with ``approve: true`` forwards exactly the judged message (re-judged first when
  the session's taint changed meanwhile); ``decline``, ``cancel``, ``false``, an error answer or no answer within
  the expiry denies it. A cancelled call's question is discarded.
- **2026-07-28 era**, the request's ``_meta`` carries the protocol version: the ``tools/call`` is answered with an
  ``InputRequiredResult`` (``resultType: "input_required"``) holding the same elicitation under
  ``inputRequests["sentinel/approval"]`` and ``requestState`` naming the ticket. The client's retry is judged
  again; its answer must name a ticket this connection issued, still open, for the same digest (other arguments:
  ``mismatch``), else it is refused; a replayed ``requestState`` is refused. The proxy's own ``requestState`` and
  every ``inputResponses`` entry of a retry are taken out before anything is forwarded (the answer is the
  client's text and never reaches the tool server); a tool server's own round state that the asked call carried
  is put back.
- **A client that cannot ask** (no elicitation capability in that era) gets the denial, saying so, with the
  verdict in the error data.

A tool server cannot pose as the proxy: ``strip_forged`` removes ``_meta["sentinel/approval"]`` from every
request it sends and from the input requests of its results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinel_lab._core.wire import APPROVAL_META_KEY
from sentinel_lab._policy.approvals import DEFAULT_TTL_S, ApprovalOutcome, ApprovalRequest, ApprovalStore

if TYPE_CHECKING:
    from sentinel_lab._mcp.relay import Proxy, _Pending

__all__ = [
    "APPROVAL_INPUT_KEY",
    "CAPABILITIES_META",
    "REQUEST_STATE_PREFIX",
    "Approvals",
    "Claim",
    "can_elicit",
    "strip_forged",
]

#: The key of the proxy's question in ``InputRequiredResult.inputRequests`` (and of its answer in a retry).
APPROVAL_INPUT_KEY = "sentinel/approval"
#: ``requestState`` values the proxy issues start with this; the rest is the ticket.
REQUEST_STATE_PREFIX = "sentinel-approval/1:"
#: Where a 2026-07-28 request carries the client's capabilities.
CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
_SUMMARY_CHARS = 800
_REASON_CHARS = 600
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Approve this call",
            "description": "Run this exact call once (true) or refuse it (false).",
        }
    },
    "required": ["approve"],
}


def can_elicit(capabilities: Any) -> bool:
    """Whether client capabilities allow a form elicitation (``{}`` means form; ``{"url": {}}`` alone does not)."""
    found = capabilities.get("elicitation") if type(capabilities) is dict else None
    if type(found) is not dict:
        return False
    return "form" in found or "url" not in found


def strip_forged(msg: dict[str, Any]) -> None:
    """Remove the proxy's approval marker from a tool server's request or result (only the proxy may ask)."""
    params = msg.get("params")
    if type(params) is dict:
        _drop_marker(params)
    result = msg.get("result")
    requests = result.get("inputRequests") if type(result) is dict else None
    if type(requests) is dict:
        for request in requests.values():
            inner = request.get("params") if type(request) is dict else None
            if type(inner) is dict:
                _drop_marker(inner)


def _drop_marker(params: dict[str, Any]) -> None:
    meta = params.get("_meta")
    if type(meta) is dict:
        meta.pop(APPROVAL_META_KEY, None)


def _accepted(answer: Any) -> bool:
    """An elicitation answer approves only as ``{"action": "accept", "content": {"approve": true}}``."""
    if type(answer) is not dict or answer.get("action") != "accept":
        return False
    content = answer.get("content")
    return type(content) is dict and content.get("approve") is True


def _summary(args: Any) -> str:
    """The arguments as one line of JSON for the message, cut with a note (the full ones are in ``_meta``)."""
    text = json.dumps(args, ensure_ascii=False, sort_keys=True, default=repr)
    if len(text) <= _SUMMARY_CHARS:
        return text
    return f"{text[:_SUMMARY_CHARS]}… ({len(text) - _SUMMARY_CHARS} more characters)"


def _reasons(verdict: Any) -> str:
    reasons = [str(v.reason) for v in getattr(verdict, "violations", ())] or [str(verdict.reason)]
    text = "; ".join(dict.fromkeys(reasons))
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


@dataclass(slots=True)
class Claim:
    """A retry's answer to a 2026-07-28 question: the ticket its ``requestState`` names, and whether it approves."""

    ticket: str
    accepted: bool


@dataclass(slots=True)
class _Asked:
    """A handshake-era question in flight: the held call, the verdict it got and the ticket its answer settles."""

    msg: dict[str, Any]
    entry: _Pending
    verdict: Any
    session_id: str
    request: ApprovalRequest
    state: Any
    timer: Any = None


class Approvals:
    """The approval channel of one relay connection (``proxy``): questions asked, answers bound to their call."""

    def __init__(
        self,
        proxy: Proxy,
        ttl_s: float = DEFAULT_TTL_S,
        *,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.proxy = proxy
        self.log = log  # the relay's one-line stderr report
        self.store = ApprovalStore(ttl_s=ttl_s)
        self.client_elicits = False  # handshake era: the client declared elicitation in initialize
        self.asked: dict[int, _Asked] = {}  # by the proxy's id of its elicitation/create toward the client
        self.carried: dict[str, dict[str, Any]] = {}  # ticket -> the tool server's own round state of the call

    # ------------------------------------------------------------------ what the relay calls

    def initialize(self, params: Any) -> None:
        """Note whether the client can be asked (its ``initialize`` capabilities)."""
        self.client_elicits = can_elicit(params.get("capabilities") if type(params) is dict else None)

    def claim(self, params: dict[str, Any]) -> Claim | None:
        """Take the proxy's ``requestState`` and every ``inputResponses`` entry out of a ``tools/call`` retry.

        None when the request names no ticket of the proxy's (it passes unchanged). Otherwise the client's answer
        is kept only as a yes or no and never forwarded; the tool server's own round state, if the asked call
        carried one, is put back.
        """
        state = params.get("requestState")
        if type(state) is not str or not state.startswith(REQUEST_STATE_PREFIX):
            return None
        del params["requestState"]
        responses = params.pop("inputResponses", None)
        answer = responses.get(APPROVAL_INPUT_KEY) if type(responses) is dict else None
        ticket = state[len(REQUEST_STATE_PREFIX) :]
        params.update(self.carried.pop(ticket, {}))
        return Claim(ticket, _accepted(answer))

    def decided(
        self, msg: dict[str, Any], entry: _Pending, verdict: Any, latency_us: float, meta: Any, session_id: str
    ) -> bool:
        """Settle an ``ask`` verdict (True: handled here); any other verdict is the relay's (False)."""
        claim: Claim | None = entry.claim
        entry.claim = None
        if verdict.decision != "ask" or not verdict.approval:
            if claim is not None:  # judged on its own merits now: the question it answered is void
                self._discarded(self.store.discard(claim.ticket), entry)
            return False
        self.proxy._audit_call(entry, verdict, latency_us, session_id)
        if claim is not None:  # settled before the sweep below, so a late answer is told it came late
            outcome = self.store.answer(claim.ticket, verdict.approval, claim.accepted)
            self._conclude(msg, entry, verdict, outcome, "input_required")
            self._expire()
            return True
        self._expire()
        if entry.modern:
            capabilities = meta.get(CAPABILITIES_META) if type(meta) is dict else None
            if can_elicit(capabilities):
                self._input_required(msg, entry, verdict, session_id)
            else:
                self._cannot_ask(entry, verdict, "its request declares no elicitation capability")
        elif self.client_elicits:
            self._elicit(msg, entry, verdict, session_id)
        else:
            self._cannot_ask(entry, verdict, "it declared no elicitation capability in initialize")
        return True

    def client_response(self, rid: Any, msg: dict[str, Any]) -> bool:
        """The client's answer to one of the proxy's questions (True), or not one of them (False).

        The answer is settled on the next turn of the loop, not while the client's message is being handled: a
        transport that answers that message itself (the HTTP gateway's reply to a POST) must not take the held
        call's answer for its own.
        """
        asked = self.asked.pop(rid, None) if type(rid) is int else None
        if asked is None:
            return False
        if asked.timer is not None:
            asked.timer.cancel()
        accepted = "error" not in msg and _accepted(msg.get("result"))
        self.proxy.loop.call_soon(self._answered, asked, accepted)
        return True

    def _answered(self, asked: _Asked, accepted: bool) -> None:
        entry = asked.entry
        if self.proxy.pending.get(entry.pid) is not entry:  # cancelled, or answered at shutdown, meanwhile
            self._discarded(self.store.discard(asked.request.ticket), entry)
            return
        entry.judging = False
        outcome = self.store.answer(asked.request.ticket, asked.verdict.approval, accepted)
        if outcome.granted:
            verdict = self._rejudge(asked)
            if verdict is not asked.verdict:
                self._audit(outcome, entry, asked.verdict, "elicitation")
                self._decide_again(asked, verdict)
                return
        self._conclude(asked.msg, entry, asked.verdict, outcome, "elicitation")

    def withdraw(self, entry: _Pending) -> None:
        """A held call was cancelled: its question is withdrawn from the client and can never be granted."""
        for sid, asked in list(self.asked.items()):
            if asked.entry is entry:
                del self.asked[sid]
                if asked.timer is not None:
                    asked.timer.cancel()
                self._cancel_question(sid, "the call was cancelled")
                self._discarded(self.store.discard(asked.request.ticket), entry)

    def _cancel_question(self, sid: int, reason: str) -> None:
        self.proxy._send_client(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": sid, "reason": reason}}
        )

    # ------------------------------------------------------------------ asking

    def _question(self, entry: _Pending, verdict: Any, request: ApprovalRequest) -> dict[str, Any]:
        """The ``elicitation/create`` params: a message a human can read, the boolean schema, the call as data."""
        reason = _reasons(verdict)
        message = (
            f"Approve one call of the tool '{entry.tool}'?\n"
            f"Why it needs approval: {reason}\n"
            f"Arguments: {_summary(entry.args)}\n"
            f"This approval is for this exact call only and expires in {self.store.ttl_s:g} s."
        )
        about = {
            "tool": entry.tool,
            "arguments": entry.args,
            "reason": reason,
            "rule": str(verdict.rule),
            "digest": request.digest,
            "expires_in_s": self.store.ttl_s,
        }
        return {"message": message, "requestedSchema": _SCHEMA, "_meta": {APPROVAL_META_KEY: about}}

    def _elicit(self, msg: dict[str, Any], entry: _Pending, verdict: Any, session_id: str) -> None:
        """Handshake era: hold the call and send the proxy's own ``elicitation/create`` to the client."""
        proxy = self.proxy
        request = self.store.open(verdict.approval, tool=entry.tool, session_id=session_id)
        proxy.next_server_id += 1
        sid = proxy.next_server_id
        asked = _Asked(msg, entry, verdict, session_id, request, getattr(proxy.session, "state", None))
        self.asked[sid] = asked
        entry.judging = True  # a cancellation of a held call is never forwarded: the server never saw it
        self._audit_event("asked", entry, verdict, request, "elicitation")
        proxy._send_client(
            {
                "jsonrpc": "2.0",
                "id": sid,
                "method": "elicitation/create",
                "params": self._question(entry, verdict, request),
            }
        )
        asked.timer = proxy.loop.call_later(self.store.ttl_s, self._timed_out, sid)

    def _input_required(self, msg: dict[str, Any], entry: _Pending, verdict: Any, session_id: str) -> None:
        """2026-07-28 era: answer the call with an ``InputRequiredResult`` whose ``requestState`` names the ticket."""
        proxy = self.proxy
        request = self.store.open(verdict.approval, tool=entry.tool, session_id=session_id)
        params = msg.get("params")
        carried = {k: params[k] for k in ("inputResponses", "requestState") if type(params) is dict and k in params}
        if carried:  # the tool server's own round: restored when the approved retry is forwarded
            self.carried[request.ticket] = carried
            while len(self.carried) > self.store.max_open:
                del self.carried[next(iter(self.carried))]
        self._audit_event("asked", entry, verdict, request, "input_required")
        proxy._take(entry.pid)
        result = {
            "resultType": "input_required",
            "inputRequests": {
                APPROVAL_INPUT_KEY: {"method": "elicitation/create", "params": self._question(entry, verdict, request)}
            },
            "requestState": REQUEST_STATE_PREFIX + request.ticket,
        }
        proxy._send_client({"jsonrpc": "2.0", "id": entry.client_id, "result": result})

    def _timed_out(self, sid: int) -> None:
        """No answer within the expiry: the question is withdrawn and the call denied as expired."""
        asked = self.asked.get(sid)
        if asked is None:
            return
        left = asked.request.expires_at - self.store.clock()
        if left >= 0:  # the loop's timer may fire a little early
            asked.timer = self.proxy.loop.call_later(left + 0.01, self._timed_out, sid)
            return
        del self.asked[sid]
        self._cancel_question(sid, "the approval expired")
        entry = asked.entry
        entry.judging = False
        if self.proxy.pending.get(entry.pid) is not entry:
            self._discarded(self.store.discard(asked.request.ticket), entry)
            return
        self.store.discard(asked.request.ticket)  # spent: a late answer is never a grant
        reason = f"no answer came within the approval's expiry ({self.store.ttl_s:g} s)"
        self._conclude(
            asked.msg, entry, asked.verdict, ApprovalOutcome("expired", reason, asked.request), "elicitation"
        )

    # ------------------------------------------------------------------ answers

    def _rejudge(self, asked: _Asked) -> Any:
        """The verdict to act on after a grant: the asked one, unless the session's taint changed meanwhile
        (then the call is judged again; an ``ask`` for the same digest stands as approved)."""
        state = getattr(self.proxy.session, "state", None)
        if state is asked.state:
            return asked.verdict
        verdict, _ = self.proxy._judge(asked.entry.tool, asked.entry.args, asked.entry)
        if verdict.decision == "ask" and verdict.approval == asked.verdict.approval:
            return asked.verdict
        return verdict

    def _decide_again(self, asked: _Asked, verdict: Any) -> None:
        """The call was approved but the session changed and it was judged again: that verdict decides."""
        entry, proxy = asked.entry, self.proxy
        if verdict.allowed:
            proxy._audit_call(entry, verdict, 0.0, asked.session_id)
            self._forward(asked.msg, entry)
            return
        self._deny(entry, verdict, "it was approved, but the session changed meanwhile and the call is now refused")
        proxy._audit_call(entry, verdict, 0.0, asked.session_id)

    def _conclude(self, msg: dict[str, Any], entry: _Pending, verdict: Any, outcome: ApprovalOutcome, via: str) -> None:
        """Audit the answer; forward the judged call when it was granted, else deny it with the reason."""
        self._audit(outcome, entry, verdict, via)
        if outcome.granted:
            self._forward(msg, entry)
            return
        self._deny(entry, verdict, f"not approved ({outcome.event}): {outcome.reason}", outcome.event)

    def _forward(self, msg: dict[str, Any], entry: _Pending) -> None:
        proxy = self.proxy
        if proxy.audit_error is not None:  # the grant could not be recorded: the call does not run
            proxy._take(entry.pid)
            proxy._refuse_unaudited(entry.client_id)
            return
        proxy._forward_request(msg, entry)  # exactly what was judged, re-serialised under the proxy's id

    def _cannot_ask(self, entry: _Pending, verdict: Any, why: str) -> None:
        self._deny(entry, verdict, f"this client cannot be asked for approvals ({why})", "cannot_ask")

    def _deny(self, entry: _Pending, verdict: Any, note: str, event: str = "") -> None:
        proxy = self.proxy
        proxy.stats["blocked"] += 1
        self.log(
            f"blocked a call of {entry.tool[:80]!r} ({verdict.rule or verdict.policy}): {verdict.reason}; {note}"[:600]
        )
        proxy._take(entry.pid)
        approval = {"event": event, "digest": verdict.approval} if event else None
        proxy._deny(entry.client_id, entry.tool, verdict, entry.modern, note=note, approval=approval)

    # ------------------------------------------------------------------ audit

    def _expire(self) -> None:
        """Drop the questions past their expiry that nobody answered (2026-07-28 ones; a held call has a timer)."""
        held = {asked.request.ticket for asked in self.asked.values()}
        for request in self.store.expire():
            if request.ticket in held:
                continue
            self.carried.pop(request.ticket, None)
            self.proxy._audit(
                "approval",
                session_id=request.session_id or self.proxy.session_id,
                tool=request.tool,
                decision="block",
                details={"event": "expired", "ticket": _ticket_id(request.ticket), "digest": request.digest},
            )

    def _discarded(self, request: ApprovalRequest | None, entry: _Pending) -> None:
        if request is not None:
            self._audit_event("discarded", entry, None, request, "")

    def _audit(self, outcome: ApprovalOutcome, entry: _Pending, verdict: Any, via: str) -> None:
        request = outcome.request
        self.proxy._audit(
            "approval",
            tool=entry.tool,
            decision="allow" if outcome.granted else "block",
            request_id=entry.client_id,
            arguments=entry.args if outcome.granted else None,
            rule=str(verdict.rule),
            details={
                "event": outcome.event,
                "reason": outcome.reason,
                "via": via,
                "digest": verdict.approval,
                "ticket": _ticket_id(request.ticket) if request is not None else "",
            },
        )

    def _audit_event(self, event: str, entry: _Pending, verdict: Any, request: ApprovalRequest, via: str) -> None:
        self.proxy._audit(
            "approval",
            session_id=request.session_id or self.proxy.session_id,
            tool=entry.tool,
            decision="ask" if event == "asked" else "block",
            request_id=entry.client_id,
            arguments=entry.args if event == "asked" else None,
            rule=str(verdict.rule) if verdict is not None else "",
            details={
                "event": event,
                "via": via,
                "digest": request.digest,
                "ticket": _ticket_id(request.ticket),
                "expires_in_s": self.store.ttl_s,
            },
        )


def _ticket_id(ticket: str) -> str:
    """How the audit log names a ticket: a hash (the ticket itself answers the question)."""
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()[:16]
