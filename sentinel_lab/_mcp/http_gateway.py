"""The proxy serving hosts over Streamable HTTP (``sentinel-lab gateway --listen 127.0.0.1:PORT``).

An ASGI application (Starlette routing, run by uvicorn) on one path (``/mcp``): ``POST`` carries one JSON-RPC
message, answered as ``application/json`` or, when the client accepts it, as a ``text/event-stream`` that also
carries the server's requests and notifications; ``GET`` opens the session's server stream; ``DELETE`` ends the
session. Every HTTP session is one relay (``_mcp/relay.py``) with its own policy session (taint) and its own
upstream: a child tool server started for it, or a session with an upstream Streamable HTTP server.

- **Session identity** is the relay's signed id, issued as ``Mcp-Session-Id`` in the ``initialize`` answer. A
  request without it (other than ``initialize``) is ``400``; an id whose signature does not verify is ``400``
  with ``-32011 "Sentinel Auth Error: ..."`` and audited; a well-signed id of no live session is ``404``. The
  session's state is the gateway's: nothing the client sends can choose or change it.
- **Bodies** are read up to ``max_message_bytes`` (over it: ``413`` with a JSON-RPC error) and parsed by the
  relay's strict ``decode``: an unreadable body gets the parse error (``400``). ``Mcp-Method`` / ``Mcp-Name``
  headers, when sent, must match the body or the request is ``400``.
- **Exactly one answer** per request: the relay's (the server's answer, a block, or its error), and when the
  session ends (``DELETE``, the upstream dies, the gateway stops) every open request gets the proxy's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from sentinel_lab._core.wire import (
    AUTH_CODE,
    AUTH_PREFIX,
    INVALID_REQUEST,
    PROXY_ERROR_CODE,
    PROXY_ERROR_PREFIX,
)
from sentinel_lab._mcp.framing import FrameError, decode, encode, valid_id
from sentinel_lab._mcp.http import UrlProxy, _Quiet
from sentinel_lab._mcp.relay import Proxy, _log
from sentinel_lab._mcp.session_id import SessionIds, key_from_env

__all__ = ["DEFAULT_MAX_SESSIONS", "MCP_PATH", "Gateway", "GatewaySession", "GatewayUrlSession", "run_gateway"]

MCP_PATH = "/mcp"
#: Sessions open at once (each one runs its own tool server or upstream session); more are refused with 503.
DEFAULT_MAX_SESSIONS = 64
_BACKLOG = 256
_SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


class _Stream:
    """Where one POST's answer goes (and, for an event stream, the server messages sent meanwhile)."""

    __slots__ = ("answered", "client_id", "closed", "queue", "sse")

    def __init__(self, client_id: Any, sse: bool) -> None:
        self.client_id, self.sse = client_id, sse
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.answered = False
        self.closed = False

    def event(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    def finish(self, data: bytes | None) -> None:
        """The final answer (None: the stream ends without one, e.g. after a cancellation)."""
        if self.closed:
            return
        self.answered = data is not None
        self.closed = True
        if data is not None:
            self.queue.put_nowait(data)
        self.queue.put_nowait(None)


class HttpClientSide(Proxy):
    """The relay's client side over HTTP: each answer goes to the POST that asked for it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # every request of this session came with its signed Mcp-Session-Id, checked by the gateway: that is the
        # id --require-session asks for (one presented in params._meta is still checked)
        self.opts = dataclasses.replace(self.opts, require_session=False)
        self.streams: dict[Any, _Stream] = {}  # by the client's id of a request whose POST is open
        self.get_stream: _Stream | None = None
        self.backlog: deque[bytes] = deque(maxlen=_BACKLOG)  # server messages with nowhere to go yet
        self.capture: list[dict[str, Any]] | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _open_client(self) -> None:
        self.client: Any = _Quiet()
        self.from_client: Any = _Quiet()
        if not self.ready.done():
            self.ready.set_result(None)

    async def _close_client(self) -> None:
        """Every POST still open gets an answer; the server stream ends."""
        for stream in list(self.streams.values()):
            message = f"{PROXY_ERROR_PREFIX}the session ended before an answer"
            stream.finish(
                encode({"jsonrpc": "2.0", "id": stream.client_id, "error": _error(PROXY_ERROR_CODE, message)})
            )
        self.streams.clear()
        if self.get_stream is not None:
            self.get_stream.finish(None)

    def _send_client(self, msg: dict[str, Any]) -> None:
        if "method" not in msg:  # an answer: to its POST
            if self.capture is not None:
                self.capture.append(msg)
                return
            rid = msg.get("id")
            stream = self.streams.pop(rid, None) if valid_id(rid) else None
            if stream is None:
                _log(f"dropped an answer for a request whose HTTP exchange is gone (id {str(rid)[:40]!r})")
                return
            stream.finish(encode(msg))
            return
        data = encode(msg)
        target = self._route(msg)
        if target is None:
            self.backlog.append(data)
        else:
            target.event(data)

    def _route(self, msg: dict[str, Any]) -> _Stream | None:
        """A server message goes to the event stream of the request it is about when that is known (progress),
        else to the latest open event stream of a POST, else to the GET stream (else it waits for one)."""
        params = msg.get("params")
        if msg.get("method") == "notifications/progress" and type(params) is dict:
            token = params.get("progressToken")
            for entry in self.pending.values():
                if entry.progress == token:
                    stream = self.streams.get(entry.client_id)
                    if stream is not None and stream.sse and not stream.closed:
                        return stream
        for stream in reversed(list(self.streams.values())):
            if stream.sse and not stream.closed:
                return stream
        if self.get_stream is not None and not self.get_stream.closed:
            return self.get_stream
        return None

    def _end_abandoned(self) -> None:
        """After a cancellation nobody answers the cancelled request: its POST ends without an answer."""
        for rid, stream in list(self.streams.items()):
            if rid not in self.by_client:
                del self.streams[rid]
                stream.finish(None)

    def open_get_stream(self) -> _Stream:
        stream = _Stream(None, True)
        self.get_stream = stream
        while self.backlog:
            stream.event(self.backlog.popleft())
        return stream

    def end(self, reason: str) -> None:
        """End the session: open requests are answered with ``reason``; the upstream is shut down."""
        self._fail_pending(f"{PROXY_ERROR_PREFIX}{reason}")
        self._begin_shutdown(0)


class GatewaySession(HttpClientSide):
    """One HTTP session in front of its own child tool server."""


class GatewayUrlSession(HttpClientSide, UrlProxy):
    """One HTTP session in front of an upstream Streamable HTTP server."""


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _rpc_error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid if valid_id(rid) else None, "error": _error(code, message)}


class Gateway:
    """The ASGI application: sessions by signed id, each a relay; ``make_session(key)`` builds one."""

    def __init__(
        self,
        make_session: Callable[[bytes], HttpClientSide],
        *,
        max_message_bytes: int,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        key: bytes | None = None,
        key_env: str = "SENTINEL_SESSION_KEY",
        audit: Any = None,
        path: str = MCP_PATH,
    ) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Route

        self.key = key if key is not None else (key_from_env(key_env) or secrets.token_bytes(32))
        self.ids = SessionIds(self.key)
        self.make_session = make_session
        self.max_message_bytes = max_message_bytes
        self.max_sessions = max_sessions
        self.audit = audit
        self.sessions: dict[str, HttpClientSide] = {}
        self.runs: set[asyncio.Task[int]] = set()
        self.app = Starlette(
            routes=[Route(path, self._endpoint, methods=["GET", "POST", "DELETE"])],
            lifespan=self._lifespan,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        yield
        for session in list(self.sessions.values()):
            session.end("the gateway is stopping")
        if self.runs:
            await asyncio.wait(list(self.runs), timeout=10.0)

    def _audit(self, event_type: str, **fields: Any) -> None:
        if self.audit is None:
            return
        try:
            self.audit.write(event_type, **fields)
        except Exception as exc:
            _log(f"audit write failed: {exc}")

    # ------------------------------------------------------------------ responses

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200, session: HttpClientSide | None = None) -> Any:
        from starlette.responses import Response

        headers = {"Mcp-Session-Id": session.session_id} if session is not None else {}
        return Response(encode(body), status_code=status, media_type="application/json", headers=headers)

    @staticmethod
    def _empty(status: int, session: HttpClientSide | None = None) -> Any:
        from starlette.responses import Response

        headers = {"Mcp-Session-Id": session.session_id} if session is not None else {}
        return Response(b"", status_code=status, headers=headers)

    def _stream_response(self, stream: _Stream, session: HttpClientSide) -> Any:
        from starlette.responses import StreamingResponse

        async def events() -> AsyncIterator[bytes]:
            try:
                while True:
                    data = await stream.queue.get()
                    if data is None:
                        return
                    yield b"event: message\ndata: " + data.rstrip(b"\n") + b"\n\n"
            finally:
                if session.get_stream is stream:
                    session.get_stream = None
                stream.closed = True

        headers = {**_SSE_HEADERS, "Mcp-Session-Id": session.session_id}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    # ------------------------------------------------------------------ the endpoint

    async def _endpoint(self, request: Any) -> Any:
        try:
            if request.method == "POST":
                return await self._post(request)
            if request.method == "GET":
                return await self._get(request)
            return await self._delete(request)
        except Exception as exc:  # never crash the gateway; the request learns it failed
            _log(f"internal error on an HTTP request: {type(exc).__name__}: {exc}")
            return self._json(_rpc_error(None, PROXY_ERROR_CODE, f"{PROXY_ERROR_PREFIX}internal error"), 500)

    def _session(self, request: Any) -> tuple[HttpClientSide | None, Any]:
        """The live session the request names, or the response refusing it (400 missing/forged, 404 unknown)."""
        sid = request.headers.get("mcp-session-id")
        if sid is None:
            message = "Bad Request: the Mcp-Session-Id header is required (start with initialize)"
            return None, self._json(_rpc_error(None, INVALID_REQUEST, message), 400)
        ok, detail = self.ids.validate(sid)
        if not ok:
            _log(f"refused an HTTP request with an invalid session id: {detail}")
            self._audit("auth_error", decision="block", details={"where": "Mcp-Session-Id", "detail": detail})
            return None, self._json(_rpc_error(None, AUTH_CODE, f"{AUTH_PREFIX}{detail}"), 400)
        session = self.sessions.get(sid)
        if session is None or session.closing:
            message = "Not Found: no such session (it ended); start a new one with initialize"
            return None, self._json(_rpc_error(None, INVALID_REQUEST, message), 404)
        return session, None

    async def _read_body(self, request: Any) -> bytes | None:
        """The body, or None when it is longer than the limit (never buffered past it)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_message_bytes:
            return None
        parts: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_message_bytes:
                return None
            parts.append(chunk)
        return b"".join(parts)

    async def _post(self, request: Any) -> Any:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            message = "Invalid Request: Content-Type must be application/json"
            return self._json(_rpc_error(None, INVALID_REQUEST, message), 415)
        body = await self._read_body(request)
        if body is None:
            limit = self.max_message_bytes
            _log(f"refused an HTTP body over the limit of {limit} bytes")
            self._audit("bad_input", decision="block", details={"reason": "oversize", "limit": limit})
            message = f"Invalid Request: message exceeds the limit of {limit} bytes"
            return self._json(_rpc_error(None, INVALID_REQUEST, message), 413)
        try:
            msg: dict[str, Any] | None = decode(body)
        except FrameError as exc:
            msg, error = None, exc
        headers_wrong = self._headers_mismatch(request, msg)
        if request.headers.get("mcp-session-id") is None:
            if msg is None:
                return self._json(_rpc_error(error.id, error.code, error.message), 400)
            if msg.get("method") != "initialize" or not valid_id(msg.get("id")):
                return self._session(request)[1]
            if headers_wrong:
                return self._json(_rpc_error(msg.get("id"), INVALID_REQUEST, headers_wrong), 400)
            session, refused = await self._new_session(msg.get("id"))
            if session is None:
                return refused
        else:
            session, refused = self._session(request)
            if session is None:
                return refused
        if headers_wrong:
            rid = msg.get("id") if msg is not None else None
            session._audit("bad_input", decision="block", details={"reason": headers_wrong[:200]})
            return self._json(_rpc_error(rid, INVALID_REQUEST, headers_wrong), 400, session)
        sse = "text/event-stream" in request.headers.get("accept", "")
        return await self._deliver(session, body, msg, sse)

    @staticmethod
    def _headers_mismatch(request: Any, msg: dict[str, Any] | None) -> str:
        """Why the ``Mcp-Method`` / ``Mcp-Name`` headers disagree with the body ('' when they agree or are absent)."""
        method = request.headers.get("mcp-method")
        name = request.headers.get("mcp-name")
        if method is None and name is None:
            return ""
        body_method = msg.get("method") if msg is not None else None
        if method is not None and method != body_method:
            return "Invalid Request: the Mcp-Method header does not match the body's method"
        if name is not None:
            params = msg.get("params") if msg is not None else None
            names = [params.get(k) for k in ("name", "uri")] if type(params) is dict else []
            if name not in [n for n in names if type(n) is str]:
                return "Invalid Request: the Mcp-Name header does not match the body"
        return ""

    async def _new_session(self, rid: Any) -> tuple[HttpClientSide | None, Any]:
        """Start a session and its upstream; a server that cannot start answers the ``initialize`` with an error."""
        if len(self.sessions) >= self.max_sessions:
            _log(f"refused a new session: {self.max_sessions} sessions are open (each has its own upstream)")
            message = f"{PROXY_ERROR_PREFIX}too many open sessions ({self.max_sessions}); end one with DELETE"
            return None, self._json(_rpc_error(rid, PROXY_ERROR_CODE, message), 503)
        session = self.make_session(self.key)
        run = asyncio.ensure_future(session.run())
        self.runs.add(run)

        def ended(task: asyncio.Task[int]) -> None:
            self.runs.discard(task)
            if self.sessions.get(session.session_id) is session:
                del self.sessions[session.session_id]
            if not task.cancelled() and task.exception() is not None:
                _log(f"a session could not start: {task.exception()}")

        run.add_done_callback(ended)
        waits: list[asyncio.Future[Any]] = [run, session.ready]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not session.ready.done():
            exc = run.exception() if not run.cancelled() else None
            message = f"{PROXY_ERROR_PREFIX}the tool server could not be started ({exc})"
            return None, self._json(_rpc_error(rid, PROXY_ERROR_CODE, message), 502)
        self.sessions[session.session_id] = session
        return session, None

    async def _deliver(self, session: HttpClientSide, body: bytes, msg: dict[str, Any] | None, sse: bool) -> Any:
        """Hand one judged body to the session's relay; answer a request from its stream, anything else now."""
        if msg is not None and type(msg.get("method")) is str and valid_id(msg.get("id")):
            rid = msg["id"]
            if rid not in session.streams:
                stream = _Stream(rid, sse)
                session.streams[rid] = stream
                session._safe_client_line(body)
                if sse:
                    return self._stream_response(stream, session)
                data = await stream.queue.get()
                if data is None:
                    return self._empty(202, session)
                return self._json(json.loads(data), 200, session)
        session.capture = []
        refused = session.stats["bad_input"]
        try:
            session._safe_client_line(body)
            if msg is not None and msg.get("method") == "notifications/cancelled":
                session._end_abandoned()
        finally:
            replies, session.capture = session.capture, None
        if replies:
            status = 400 if msg is None or "error" in replies[0] else 200
            return self._json(replies[0], status, session)
        if session.stats["bad_input"] > refused:
            message = "Invalid Request: the message was refused (see the gateway's log)"
            return self._json(_rpc_error(None, INVALID_REQUEST, message), 400, session)
        return self._empty(202, session)

    async def _get(self, request: Any) -> Any:
        session, refused = self._session(request)
        if session is None:
            return refused
        if "text/event-stream" not in request.headers.get("accept", ""):
            return self._json(_rpc_error(None, INVALID_REQUEST, "Not Acceptable: GET needs text/event-stream"), 406)
        if session.get_stream is not None and not session.get_stream.closed:
            message = "Conflict: this session's server stream is already open"
            return self._json(_rpc_error(None, INVALID_REQUEST, message), 409, session)
        return self._stream_response(session.open_get_stream(), session)

    async def _delete(self, request: Any) -> Any:
        session, refused = self._session(request)
        if session is None:
            return refused
        del self.sessions[session.session_id]
        session.end("the client ended the session")
        return self._empty(200)


def run_gateway(host: str, port: int, gateway: Gateway) -> int:
    """Serve ``gateway`` with uvicorn until SIGINT/SIGTERM; returns the exit status."""
    import uvicorn

    config = uvicorn.Config(gateway, host=host, port=port, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    _log(f"gateway listening on http://{host}:{port}{MCP_PATH}")
    server.run()
    return 0
