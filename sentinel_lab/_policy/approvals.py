"""Human approvals bound to the exact call: the approval digest and a single-use, expiring store of asks.

A policy says ``ASK`` (a static rule, an argument rule's ``action``, or ``verifier.on_finding``); the engine then
returns a verdict with ``decision="ask"`` and ``approval`` = ``approval_digest(session, tool, arguments, policy)``:
SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the session id, the tool name as the engine
saw it (namespaced by its upstream in a gateway), the arguments and the policy's own digest. Any change to one of
them (another argument value, another session, an edited policy) is another digest and needs another approval;
the order of keys is not part of it.

``ApprovalStore`` is the small piece of state the proxy owns: ``open`` records an ask (a random ticket, the
digest, an expiry from the injected clock), ``answer`` settles it exactly once. A ticket that was already
answered is a replay, a ticket never issued is unknown (forged), an answer after the expiry is expired, an answer
for another digest is a mismatch: all refused. Only an accepted answer for the same digest, in time, grants.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel_lab._policy.model import Policy

__all__ = [
    "DEFAULT_TTL_S",
    "EVENTS",
    "ApprovalOutcome",
    "ApprovalRequest",
    "ApprovalStore",
    "approval_digest",
    "canonical_json",
    "policy_digest",
]

#: Seconds an ask stays answerable.
DEFAULT_TTL_S = 300.0
#: What ``ApprovalStore.answer`` can conclude; every one but ``granted`` refuses the call.
EVENTS: tuple[str, ...] = ("granted", "refused", "expired", "replayed", "unknown", "mismatch")
_DOMAIN = "sentinel-lab/approval/1"
_MAX_OPEN = 256
_MAX_SPENT = 4096


def _unjsonable(value: Any) -> Any:
    """A stable stand-in for a value JSON cannot hold (an SDK caller's tuple, set or object)."""
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted(repr(v) for v in value)}
    if isinstance(value, tuple):
        return list(value)
    return {"$repr": f"{type(value).__name__}:{value!r}"}


def canonical_json(value: Any) -> bytes:
    """The canonical serialisation digests are taken over: sorted keys, no spaces, UTF-8 (lone surrogates kept)."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_unjsonable
    )
    return text.encode("utf-8", "surrogatepass")


_policy_digests: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_digest_lock = threading.Lock()


def policy_digest(policy: Policy) -> str:
    """SHA-256 of the policy's canonical content (``to_dict``): the policy version an approval is bound to."""
    with _digest_lock:
        found = _policy_digests.get(policy)
        if found is None:
            found = hashlib.sha256(canonical_json(policy.to_dict())).hexdigest()
            _policy_digests[policy] = found
        return found


def approval_digest(session_id: str, tool: str, args: Mapping[str, Any] | None, policy: str) -> str:
    """The digest an approval is bound to (``policy`` is ``policy_digest(...)``); 64 hex digits."""
    payload = [_DOMAIN, session_id, tool, dict(args or {}), policy]
    return hashlib.sha256(canonical_json(payload)).hexdigest()


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One open ask: the ticket that names it, the digest of the call, and when it stops being answerable."""

    ticket: str
    digest: str
    tool: str
    session_id: str
    issued_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    """How an answer was settled: ``granted`` or the reason it was refused (one of ``EVENTS``)."""

    event: str
    reason: str
    request: ApprovalRequest | None = None

    @property
    def granted(self) -> bool:
        return self.event == "granted"


class ApprovalStore:
    """Open asks and spent tickets of one proxy connection; ``clock`` gives monotonic seconds (tests inject it).

    Thread-safe. At most ``max_open`` asks are open (the oldest is dropped, as expired, past that); the last
    ``max_spent`` answered tickets are remembered so a replay is told apart from a forgery.
    """

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        max_open: int = _MAX_OPEN,
        max_spent: int = _MAX_SPENT,
    ) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s!r}")
        self.ttl_s = float(ttl_s)
        self.clock = clock
        self.max_open = max(1, int(max_open))
        self.max_spent = max(1, int(max_spent))
        self._open: OrderedDict[str, ApprovalRequest] = OrderedDict()
        self._spent: OrderedDict[str, str] = OrderedDict()  # ticket -> the event that settled it
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._open)

    def open(self, digest: str, *, tool: str = "", session_id: str = "") -> ApprovalRequest:
        """Record an ask for the call with ``digest``; the returned ticket is what an answer must name."""
        now = self.clock()
        request = ApprovalRequest(secrets.token_urlsafe(18), digest, tool, session_id, now, now + self.ttl_s)
        with self._lock:
            while len(self._open) >= self.max_open:
                ticket, _ = self._open.popitem(last=False)
                self._spend(ticket, "expired")
            self._open[request.ticket] = request
        return request

    def answer(self, ticket: Any, digest: str, accepted: bool) -> ApprovalOutcome:
        """Settle the ask ``ticket`` for the call with ``digest``, once; see the module docstring for the rules."""
        now = self.clock()
        with self._lock:
            if type(ticket) is not str or not ticket:
                return ApprovalOutcome("unknown", "the approval names no ticket")
            if ticket in self._spent:
                return ApprovalOutcome(
                    "replayed", f"this approval was already used ({self._spent[ticket]}); a new approval is needed"
                )
            request = self._open.pop(ticket, None)
            if request is None:
                return ApprovalOutcome("unknown", "the approval names no ticket this proxy issued")
            if now > request.expires_at:
                event, reason = "expired", f"the approval came after its expiry ({self.ttl_s:g} s)"
            elif not secrets.compare_digest(request.digest, digest):
                event, reason = "mismatch", "the call is not the one that was approved; a new approval is needed"
            elif not accepted:
                event, reason = "refused", "the user did not approve the call"
            else:
                event, reason = "granted", "approved by the user"
            self._spend(ticket, event)
        return ApprovalOutcome(event, reason, request)

    def expire(self) -> list[ApprovalRequest]:
        """Drop every open ask past its expiry and return them (so the owner can audit each)."""
        now = self.clock()
        with self._lock:
            gone = [r for r in self._open.values() if now > r.expires_at]
            for r in gone:
                del self._open[r.ticket]
                self._spend(r.ticket, "expired")
        return gone

    def discard(self, ticket: str) -> ApprovalRequest | None:
        """Forget an open ask whose call went away (cancelled, answered at shutdown); it can never be granted."""
        with self._lock:
            request = self._open.pop(ticket, None)
            if request is not None:
                self._spend(ticket, "discarded")
        return request

    def _spend(self, ticket: str, event: str) -> None:
        self._spent[ticket] = event
        while len(self._spent) > self.max_spent:
            self._spent.popitem(last=False)
