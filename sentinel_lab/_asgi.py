"""ASGI middleware: verify tool-call requests posted to a route before the application sees them.

A blocked call gets ``403`` with the verdict as JSON and never reaches the app; an allowed one reaches it with
the verdict in ``scope["sentinel.verdict"]`` (and ``request.state.sentinel_verdict`` in Starlette/FastAPI).
With a ``Policy``, a call the app answered with 2xx is recorded in the engine session, so taint applies.
Bodies that are not a tool call get ``400``; bodies over ``max_body`` bytes get ``413``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from sentinel_lab._actions import parse_action
from sentinel_lab._exceptions import InvalidAction
from sentinel_lab._verdict import Verdict
from sentinel_lab._verifier import Verifier

if TYPE_CHECKING:
    from sentinel_lab._engine import Session
    from sentinel_lab._policy import Policy

__all__ = ["SentinelMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SentinelMiddleware:
    """Guard ``path`` (and its sub-paths) of an ASGI app with a ``Verifier`` or a ``Policy``.

    The session is taken from the ``session_header`` request header (default ``x-sentinel-session``): it keys
    the verifier's rate limiter, or picks the policy engine session (taint state) for a ``Policy``.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier | Policy | None = None,
        *,
        path: str = "/api/tools",
        methods: tuple[str, ...] = ("POST",),
        max_body: int = 1 << 20,
        session_header: str = "x-sentinel-session",
        max_sessions: int = 1000,
    ) -> None:
        self.app = app
        self.guard = verifier if verifier is not None else Verifier()
        self.path = path.rstrip("/") or "/"
        self.methods = tuple(m.upper() for m in methods)
        self.max_body = max_body
        self.session_header = session_header.lower().encode("latin-1")
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._max_sessions = max_sessions

    def _guarded(self, scope: Scope) -> bool:
        if scope.get("type") != "http" or scope.get("method", "").upper() not in self.methods:
            return False
        path = scope.get("path", "")
        return path == self.path or path.startswith(self.path + "/") or self.path == "/"

    def _session_id(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name.lower() == self.session_header:
                return value.decode("latin-1")[:256]
        return ""

    def _session(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = self.guard.new_session(session_id=session_id or None)
            if len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(session_id)
        return session

    async def _decide(self, action: Any, session_id: str) -> Verdict:
        if isinstance(self.guard, Verifier):
            return await self.guard.averify(action, {"session_id": session_id} if session_id else None)
        tool, args = parse_action(action)
        return self._session(session_id).check(tool, args)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._guarded(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                await _json(send, 413, {"error": f"request body over {self.max_body} bytes"})
                return
            chunks.append(body)
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        session_id = self._session_id(scope)
        try:
            action = json.loads(raw)
            verdict = await self._decide(action, session_id)
        except (ValueError, InvalidAction) as exc:
            await _json(send, 400, {"error": f"not a tool call: {exc}"})
            return
        if not verdict.allowed:
            await _json(send, 403, {"error": f"blocked: {verdict.reason}", "verdict": verdict.to_dict()})
            return
        scope["sentinel.verdict"] = verdict
        state = scope.setdefault("state", {})
        if isinstance(state, MutableMapping):
            state["sentinel_verdict"] = verdict
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message.get("status", 0))
            await send(message)

        await self.app(scope, replay, watch)
        if not isinstance(self.guard, Verifier):  # the call ran: apply its effects (a source taints the session)
            tool, args = parse_action(action)
            self._session(session_id).record(tool, args, ok=200 <= status < 300)


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, default=str).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
