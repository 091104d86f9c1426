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

**The stateless revision (2026-07-28)**, told apart per request: a message without ``Mcp-Session-Id`` that is
``server/discover`` or carries ``io.modelcontextprotocol/protocolVersion`` in ``params._meta``.

- Its ``Mcp-Method``, ``MCP-Protocol-Version`` and (for ``tools/call``, ``prompts/get``, ``resources/read``)
  ``Mcp-Name`` headers are required and must match the body (``_mcp/http_headers.py``), else ``400`` with
  ``-32020`` (audited); a routing header sent twice is refused in either revision. So is a ``tools/call``
  whose ``Mcp-Param-*`` headers disagree with the arguments its tool's ``x-mcp-header`` annotations name (the
  schemas are learnt from the ``tools/list`` answers relayed; headers for a tool not listed yet are refused,
  and the official client lists again and retries). No answer carries ``Mcp-Session-Id``.
- **Session tokens.** The ``server/discover`` answer carries a signed token (the relay's session id format,
  ``_mcp/session_id.py``) in ``result._meta["sentinel/session"]``, registered in the state store before it is
  handed out (and the answer marked ``ttlMs: 0``, ``cacheScope: private``: it is this client's alone). The
  client presents it in ``params._meta`` of later requests. A token that does not verify, or that this
  gateway's store does not know (never issued, expired, or on a worker with its own memory store), is ``400``
  with ``-32011`` (audited) on any request. **A ``tools/call``, a ``tasks/*`` request or a task-augmented request
  without a token is refused the same way** (fail closed: judging it in a fresh session would let a client
  shed its taint by leaving the token out).
- **State by token.** Every stateless client of one gateway worker shares one relay, so one upstream (a tool
  server, or a session with the upstream URL) started on first use and again after it ends; each call is judged
  and recorded in the policy session of the token it presented (``_mcp/state_store.py``: taints and armed flow
  rules in memory or in Redis, never from the client). Rate limits are per token within one worker. Client ids
  and progress tokens are replaced by the gateway's own on the way in (clients may reuse each other's) and put
  back on the way out; a server message that is about no single request (anything but progress) has no client
  to go to and is dropped (a server request is answered with an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from sentinel_lab._core.wire import (
    AUTH_CODE,
    AUTH_PREFIX,
    HEADER_MISMATCH,
    INVALID_REQUEST,
    PROTOCOL_VERSION_META,
    PROXY_ERROR_CODE,
    PROXY_ERROR_PREFIX,
    SESSION_META_KEY,
)
from sentinel_lab._mcp.framing import MISSING, FrameError, decode, encode, valid_id
from sentinel_lab._mcp.http import UrlProxy, _Quiet
from sentinel_lab._mcp.http_headers import ParamHeaders, duplicated, mismatch
from sentinel_lab._mcp.relay import Proxy, _log, _Pending, _session_gated
from sentinel_lab._mcp.session_id import SessionIds, key_from_env, nonce_of
from sentinel_lab._mcp.state_store import MemoryStore, StateStore, StateStoreError, TokenSessions

__all__ = ["DEFAULT_MAX_SESSIONS", "MCP_PATH", "Gateway", "GatewaySession", "GatewayUrlSession", "run_gateway"]

MCP_PATH = "/mcp"
#: Sessions open at once (each one runs its own tool server or upstream session); more are refused with 503.
DEFAULT_MAX_SESSIONS = 64
_BACKLOG = 256
_SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


class _Stream:
    """Where one POST's answer goes (and, for an event stream, the server messages sent meanwhile).

    A stateless request reaches the shared relay under a gateway id (``client_id``); ``wire_id`` is the id the
    client sent, put back into the answer. ``token`` is the session token a ``server/discover`` answer carries
    (``fresh``: issued by this request, registered in the state store when the answer is a result). Its
    ``progressToken`` is replaced by the gateway id too (clients' tokens may collide) and put back in progress
    notifications."""

    __slots__ = ("answered", "client_id", "closed", "fresh", "progress", "queue", "sse", "token", "wire_id")

    def __init__(self, client_id: Any, sse: bool) -> None:
        self.client_id, self.sse = client_id, sse
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.answered = False
        self.closed = False
        self.wire_id: Any = MISSING
        self.progress: Any = MISSING  # the client's progressToken, when the gateway gave the relay its own
        self.token: str | None = None
        self.fresh = False

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
        # set on the one relay that serves every stateless (2026-07-28) client of the gateway: the policy
        # sessions of the session tokens, and which token each pending request presented
        self.tokens: TokenSessions | None = None
        self.entry_keys: dict[int, str] = {}
        self.param_headers = ParamHeaders()  # x-mcp-header annotations of the tools its client was listed

    def _tools_list_result(self, result: dict[str, Any]) -> None:
        super()._tools_list_result(result)
        tools = result.get("tools")
        if type(tools) is list:
            self.param_headers.learn(tools)

    @property
    def header_id(self) -> str | None:
        """The ``Mcp-Session-Id`` its answers carry (none for the stateless relay: that revision has no session)."""
        return self.session_id if self.tokens is None else None

    def _register(self, rid: Any, method: str, modern: bool, meta: Any, tool: str = "", args: Any = None) -> _Pending:
        entry = super()._register(rid, method, modern, meta, tool, args)
        token = meta.get(SESSION_META_KEY) if self.tokens is not None and type(meta) is dict else None
        if type(token) is str:  # its signature was checked by the gateway and by the relay before this
            if len(self.entry_keys) > 1024 + 2 * (len(self.pending) + len(self.cancelled)):
                live = self.pending.keys() | self.cancelled.keys()
                self.entry_keys = {pid: key for pid, key in self.entry_keys.items() if pid in live}
            self.entry_keys[entry.pid] = nonce_of(token)
        return entry

    def _policy_session(self, entry: _Pending) -> Any:
        """The stateless relay judges and records each call in the policy session of the token it presented
        (a call without one never gets here: the gateway refuses it; were it to, this raises and it is denied)."""
        if self.tokens is None:
            return self.session
        key = self.entry_keys.get(entry.pid)
        if key is None:
            raise StateStoreError("the request presented no session token")
        return self.tokens.session(key)

    def _record(self, entry: _Pending, ran: bool) -> None:
        super()._record(entry, ran)
        self.entry_keys.pop(entry.pid, None)

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
            if stream.wire_id is not MISSING:
                msg["id"] = stream.wire_id
            if stream.token is not None:
                msg = self._issue_token(msg, stream)
            stream.finish(encode(msg))
            return
        if self.tokens is not None:
            self._stateless_server_message(msg)
            return
        data = encode(msg)
        target = self._route(msg)
        if target is None:
            self.backlog.append(data)
        else:
            target.event(data)

    def _issue_token(self, msg: dict[str, Any], stream: _Stream) -> dict[str, Any]:
        """A ``server/discover`` result carries the client's session token in ``_meta`` (a fresh one is
        registered in the state store first: no token is handed out without its state) and is marked
        uncacheable, since it is this client's alone."""
        result = msg.get("result")
        token = stream.token
        if type(result) is not dict or token is None or self.tokens is None:
            return msg
        try:
            if stream.fresh:
                self.tokens.store.create(nonce_of(token))
        except StateStoreError as exc:
            _log(f"could not issue a session token: {exc}")
            message = f"{PROXY_ERROR_PREFIX}the session state store is unavailable"
            return {"jsonrpc": "2.0", "id": msg.get("id"), "error": _error(PROXY_ERROR_CODE, message)}
        meta = result.get("_meta")
        if type(meta) is not dict:
            meta = result["_meta"] = {}
        meta[SESSION_META_KEY] = token
        result["ttlMs"], result["cacheScope"] = 0, "private"
        if stream.fresh:
            self._audit("session_token", session_id=token, decision="allow", details={"issued": True})
        return msg

    def _stateless_server_message(self, msg: dict[str, Any]) -> None:
        """The stateless relay serves many clients: a server message goes only to the stream of the request it
        is about (progress); anything else has no one client to go to and is dropped, a server request answered
        with an error (the 2026-07-28 revision asks the client through an ``InputRequiredResult`` instead)."""
        target = self._progress_stream(msg)
        if target is not None:
            if target.progress is not MISSING:
                msg["params"]["progressToken"] = target.progress
            target.event(encode(msg))
            return
        method = str(msg.get("method"))[:60]
        _log(f"dropped a server {method!r} message: no single stateless client it is for")
        sreq = self.server_requests.pop(msg["id"], None) if type(msg.get("id")) is int else None
        if sreq is not None:
            self.server_ids.pop(sreq.server_id, None)
            message = "Invalid Request: a stateless (2026-07-28) client cannot be sent a server request"
            self._server_error(sreq.server_id, INVALID_REQUEST, message)

    def _progress_stream(self, msg: dict[str, Any]) -> _Stream | None:
        """The open event stream of the request a progress notification is about (None: not one)."""
        params = msg.get("params")
        if msg.get("method") == "notifications/progress" and type(params) is dict:
            token = params.get("progressToken")
            for entry in self.pending.values():
                if entry.progress == token:
                    stream = self.streams.get(entry.client_id)
                    if stream is not None and stream.sse and not stream.closed:
                        return stream
        return None

    def _route(self, msg: dict[str, Any]) -> _Stream | None:
        """A server message goes to the event stream of the request it is about when that is known (progress),
        else to the latest open event stream of a POST, else to the GET stream (else it waits for one)."""
        about = self._progress_stream(msg)
        if about is not None:
            return about
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


def _stateless(msg: dict[str, Any]) -> bool:
    """Whether a message sent without ``Mcp-Session-Id`` is of the 2026-07-28 revision: ``server/discover``, or
    a protocol version in ``params._meta`` (never ``initialize``: that opens a session of an older revision)."""
    method = msg.get("method")
    if method == "server/discover":
        return True
    if method == "initialize":
        return False
    params = msg.get("params")
    meta = params.get("_meta") if type(params) is dict else None
    return type(meta) is dict and PROTOCOL_VERSION_META in meta


def _sid_headers(session: HttpClientSide | None) -> dict[str, str]:
    sid = session.header_id if session is not None else None
    return {"Mcp-Session-Id": sid} if sid is not None else {}


class Gateway:
    """The ASGI application: sessions by signed id, each a relay; ``make_session(key)`` builds one. Stateless
    (2026-07-28) clients share one more relay, their policy state kept in ``store`` by session token."""

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
        store: StateStore | None = None,
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
        self.store: StateStore = store if store is not None else MemoryStore()
        self.tokens: TokenSessions | None = None  # made with the first stateless relay (it knows the policy)
        self.stateless: HttpClientSide | None = None
        self.stateless_lock = asyncio.Lock()
        self.next_wire = 0
        self.app = Starlette(
            routes=[Route(path, self._endpoint, methods=["GET", "POST", "DELETE"])],
            lifespan=self._lifespan,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        yield
        for session in [*self.sessions.values(), *([self.stateless] if self.stateless is not None else [])]:
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

        return Response(encode(body), status_code=status, media_type="application/json", headers=_sid_headers(session))

    @staticmethod
    def _encoded(data: bytes, status: int = 200, session: HttpClientSide | None = None) -> Any:
        """A response whose body ``encode`` made already (what ``_json`` would send, without a second pass)."""
        from starlette.responses import Response

        return Response(data, status_code=status, media_type="application/json", headers=_sid_headers(session))

    @staticmethod
    def _empty(status: int, session: HttpClientSide | None = None) -> Any:
        from starlette.responses import Response

        return Response(b"", status_code=status, headers=_sid_headers(session))

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

        headers = {**_SSE_HEADERS, **_sid_headers(session)}
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
        if msg is not None and request.headers.get("mcp-session-id") is None and _stateless(msg):
            return await self._stateless_post(request, msg)
        headers_wrong = duplicated(request.headers.raw) or mismatch(request.headers, msg, required=False)
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

    async def _new_session(self, rid: Any) -> tuple[HttpClientSide | None, Any]:
        """Start a session and its upstream; a server that cannot start answers the ``initialize`` with an error."""
        if len(self.sessions) >= self.max_sessions:
            _log(f"refused a new session: {self.max_sessions} sessions are open (each has its own upstream)")
            message = f"{PROXY_ERROR_PREFIX}too many open sessions ({self.max_sessions}); end one with DELETE"
            return None, self._json(_rpc_error(rid, PROXY_ERROR_CODE, message), 503)
        session, refused = await self._launch(rid, stateless=False)
        if session is not None:
            self.sessions[session.session_id] = session
        return session, refused

    async def _launch(self, rid: Any, *, stateless: bool) -> tuple[HttpClientSide | None, Any]:
        """Build a relay, run it and wait until it serves (``stateless``: the one judging by session token)."""
        session = self.make_session(self.key)
        if stateless:
            if self.tokens is None:  # one per gateway: a token refused once stays refused across relay restarts
                self.tokens = TokenSessions(session.policy, self.store)
            session.tokens = self.tokens
        run = asyncio.ensure_future(session.run())
        self.runs.add(run)

        def ended(task: asyncio.Task[int]) -> None:
            self.runs.discard(task)
            if self.sessions.get(session.session_id) is session:
                del self.sessions[session.session_id]
            if self.stateless is session:
                self.stateless = None
            if not task.cancelled() and task.exception() is not None:
                _log(f"a session could not start: {task.exception()}")

        run.add_done_callback(ended)
        waits: list[asyncio.Future[Any]] = [run, session.ready]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not session.ready.done():
            exc = run.exception() if not run.cancelled() else None
            message = f"{PROXY_ERROR_PREFIX}the tool server could not be started ({exc})"
            return None, self._json(_rpc_error(rid, PROXY_ERROR_CODE, message), 502)
        return session, None

    # ------------------------------------------------------------------ the stateless revision (2026-07-28)

    async def _stateless_post(self, request: Any, msg: dict[str, Any]) -> Any:
        """A request of the 2026-07-28 revision: no session, so its routing headers must be there and match the
        body, and a call that can reach tool work must present a session token this gateway issued; then the
        shared stateless relay judges it in that token's policy session."""
        rid = msg.get("id")
        method = msg.get("method")
        if type(method) is not str or "id" not in msg or not valid_id(rid):
            if type(method) is str and "id" not in msg:  # the revision has no client notifications over HTTP
                _log(f"dropped a {method[:60]!r} notification of a stateless client (nothing to relay it to)")
                return self._empty(202)
            message = "Invalid Request: a stateless request needs a method and a string or integer id"
            return self._json(_rpc_error(rid, INVALID_REQUEST, message), 400)
        wrong = duplicated(request.headers.raw) or mismatch(request.headers, msg, required=True)
        if wrong:
            return self._headers_refused(rid, method, wrong)
        params = msg.get("params")
        meta = params.get("_meta") if type(params) is dict else None
        token = meta.get(SESSION_META_KEY, MISSING) if type(meta) is dict else MISSING
        if token is not MISSING:
            refused = self._check_token(rid, method, token)
            if refused is not None:
                return refused
        elif _session_gated(method, params):
            detail = f'missing session token (call server/discover and present its _meta["{SESSION_META_KEY}"])'
            return self._token_refused(rid, method, detail)
        relay, refused = await self._stateless_relay(rid)
        if relay is None:
            return refused
        if method == "tools/call" and type(params) is dict:
            wrong = relay.param_headers.check(request.headers, params.get("name"), params.get("arguments"))
            if wrong:
                return self._headers_refused(rid, method, wrong)
        self.next_wire += 1
        inner = self.next_wire  # the relay's client id and progress token: clients' own ones may collide
        stream = _Stream(inner, "text/event-stream" in request.headers.get("accept", ""))
        stream.wire_id = rid
        if method == "server/discover":
            stream.token, stream.fresh = (token, False) if type(token) is str else (self.ids.mint(), True)
        if type(meta) is dict and "progressToken" in meta:
            stream.progress, meta["progressToken"] = meta["progressToken"], inner
        msg["id"] = inner
        return await self._deliver(relay, encode(msg), msg, stream.sse, stream)

    def _headers_refused(self, rid: Any, method: str, wrong: str) -> Any:
        _log(f"refused a stateless {method[:60]!r} request: {wrong}")
        self._audit("bad_input", decision="block", request_id=rid, details={"reason": wrong, "method": method[:200]})
        return self._json(_rpc_error(rid, HEADER_MISMATCH, wrong), 400)

    def _check_token(self, rid: Any, method: str, token: Any) -> Any:
        """None when ``token`` is a well-signed token whose state this gateway keeps, else the refusal."""
        ok, detail = self.ids.validate(token)
        if ok:
            key = nonce_of(token)
            if self.tokens is not None and key in self.tokens.poisoned:
                return self._token_refused(rid, method, "this session's state could not be stored; start a new one")
            try:
                known = self.store.load(key) is not None
            except StateStoreError as exc:
                _log(f"refused a stateless {method[:60]!r} request: {exc}")
                message = f"{PROXY_ERROR_PREFIX}the session state store is unavailable"
                return self._json(_rpc_error(rid, PROXY_ERROR_CODE, message), 503)
            if known:
                return None
            detail = "unknown or expired session token (call server/discover for a new one)"
        return self._token_refused(rid, method, detail)

    def _token_refused(self, rid: Any, method: str, detail: str) -> Any:
        _log(f"refused a stateless {method[:60]!r} request: {detail}")
        self._audit(
            "auth_error",
            decision="block",
            request_id=rid,
            details={"where": "session token", "detail": detail, "method": method[:200]},
        )
        return self._json(_rpc_error(rid, AUTH_CODE, f"{AUTH_PREFIX}{detail}"), 400)

    async def _stateless_relay(self, rid: Any) -> tuple[HttpClientSide | None, Any]:
        """The relay every stateless client of this worker shares (one upstream: a tool server or a session
        with the upstream URL), started on first use and again after its upstream ended."""
        async with self.stateless_lock:
            relay = self.stateless
            if relay is not None and not relay.closing:
                return relay, None
            relay, refused = await self._launch(rid, stateless=True)
            self.stateless = relay
            return relay, refused

    # ------------------------------------------------------------------ delivery

    async def _deliver(
        self,
        session: HttpClientSide,
        body: bytes,
        msg: dict[str, Any] | None,
        sse: bool,
        stream: _Stream | None = None,
    ) -> Any:
        """Hand one judged body to the session's relay; answer a request from its stream, anything else now."""
        if msg is not None and type(msg.get("method")) is str and valid_id(msg.get("id")):
            rid = msg["id"]
            if rid not in session.streams:
                stream = stream if stream is not None else _Stream(rid, sse)
                session.streams[rid] = stream
                session._safe_client_message(msg, len(body))
                if sse:
                    return self._stream_response(stream, session)
                data = await stream.queue.get()
                if data is None:
                    return self._empty(202, session)
                return self._encoded(data, 200, session)  # the relay's own serialisation, sent as it is
        session.capture = []
        refused = session.stats["bad_input"]
        try:
            if msg is None:
                session._safe_client_line(body)  # unreadable: the relay's decoder words the refusal
            else:
                session._safe_client_message(msg, len(body))
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


class _OneSend:
    """A connection's transport that hands the kernel what one step of the event loop wrote as one ``send``.

    uvicorn writes a response's head (status line and headers), its body and, for an event stream, each chunk and
    the end of the stream apart: two or three ``send`` system calls, as many TCP segments and often as many
    wake-ups of the client for one JSON-RPC answer. Writes made in one step are joined and sent at the loop's next
    turn (before it waits for anything), so what the client receives and its order are unchanged.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(data) for data in self._held)

    def close(self) -> None:
        self._flush()
        self._transport.close()


def _http_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (the one it would pick), on a transport that sends a step's writes as one."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class OneSendHTTP(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(_OneSend(transport))

    return OneSendHTTP


def run_gateway(host: str, port: int, gateway: Gateway) -> int:
    """Serve ``gateway`` with uvicorn until SIGINT/SIGTERM; returns the exit status."""
    import uvicorn

    config = uvicorn.Config(
        gateway, host=host, port=port, log_level="warning", lifespan="on", access_log=False, http=_http_protocol()
    )
    server = uvicorn.Server(config)
    _log(f"gateway listening on http://{host}:{port}{MCP_PATH}")
    server.run()
    return 0
