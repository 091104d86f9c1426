"""ASGI middleware: verify tool-call requests sent to a route before the application sees them.

A blocked call gets ``403`` with the verdict as JSON and never reaches the app; an allowed one reaches it with
the verdict in ``scope["sentinel.verdict"]`` (and ``request.state.sentinel_verdict`` in Starlette/FastAPI).
With a ``Policy``, a call the app answered with 2xx is recorded in the engine session, so taint applies.

What the app receives is exactly what was judged: the body is read strictly (UTF-8 without BOM, one JSON
object, no duplicate key at any depth, no NaN/Infinity, no lone surrogate, at most ``MAX_DEPTH`` levels), must
carry exactly one call shape (``tool``/``args``, MCP ``name``/``arguments``, OpenAI ``function``, Anthropic
``tool_use``; see ``sentinel_lab._analysis._actions``), and is passed on re-serialised from the parsed object, never as
the original bytes (arguments sent as a JSON string stay a string, re-serialised from the judged object;
``content-length`` is set to the new size). Anything else is ``400`` with a JSON ``error``; over ``max_body``
bytes ``413``.

Every request on the guarded path (and its sub-paths, matched after collapsing ``//`` and resolving
``.``/``..``, ignoring case) is handled here, whatever its method: a method in ``methods`` (default POST, PUT,
PATCH) must carry one tool call in its body (an empty body is ``400``); any other method, with or without a
body (GET, HEAD, DELETE, OPTIONS...), is ``405`` with an ``Allow`` header and never reaches the app, because a
request the middleware cannot judge must not run a tool (query strings are not read as calls). A WebSocket on
the guarded path is closed (code 1008) before it is accepted.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from sentinel_lab._analysis._actions import parse_action
from sentinel_lab._core.errors import InvalidAction
from sentinel_lab._core.verdict import Verdict
from sentinel_lab._verify.verifier import Verifier

if TYPE_CHECKING:
    from sentinel_lab._policy.engine import Session
    from sentinel_lab._policy.model import Policy

__all__ = ["MAX_DEPTH", "BodyError", "SentinelMiddleware", "call_shape", "read_body"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_DEPTH = 64  # nesting of objects and arrays in a body, the body itself counting as 1
MAX_NUMBER_CHARS = 400  # characters of one number literal


class BodyError(ValueError):
    """A request body that is not exactly one readable tool call; the message says why."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BodyError(f"duplicate key {json.dumps(key)[:80]}: readers disagree on which value counts")
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise BodyError(f"{name} is not JSON")


def _int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise BodyError(f"number of {len(literal)} characters (at most {MAX_NUMBER_CHARS})")
    return int(literal)


def _float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise BodyError(f"number of {len(literal)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(literal)
    if value in (_INF, -_INF):
        raise BodyError(f"number out of range: {literal[:40]}")
    return value


_INF = float("inf")
_DECODER = json.JSONDecoder(object_pairs_hook=_unique, parse_int=_int, parse_float=_float, parse_constant=_no_constant)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit``; iterative and linear."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _strict_json(text: str, what: str) -> Any:
    try:
        value = _DECODER.decode(text)
    except BodyError as exc:
        raise BodyError(f"{what}: {exc}") from None
    except RecursionError:
        raise BodyError(f"{what}: nesting deeper than {MAX_DEPTH}") from None
    except ValueError as exc:
        raise BodyError(f"{what} is not valid JSON: {exc}"[:200]) from None
    if (type(value) is dict or type(value) is list) and _too_deep(value, MAX_DEPTH):
        raise BodyError(f"{what}: nesting deeper than {MAX_DEPTH}")
    return value


def read_body(raw: bytes) -> dict[str, Any]:
    """Parse a request body strictly into one JSON object; raise ``BodyError`` saying what is wrong."""
    if not raw.strip():
        raise BodyError("empty body: a tool call is a JSON object")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BodyError("byte order mark: the body must be UTF-8 without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not UTF-8 (invalid byte at {exc.start})") from None
    value = _strict_json(text, "the body")
    if type(value) is not dict:
        raise BodyError(f"the body must be one JSON object, not {'an array' if type(value) is list else 'a scalar'}")
    return value


#: The keys that name a tool or carry its arguments, per call shape (see ``sentinel_lab._analysis._actions``).
_CALL_KEYS = frozenset({"tool", "args", "arguments", "name", "input", "function"})
_SHAPES: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {  # shape: (required keys, allowed call keys)
    "openai": (frozenset({"function"}), frozenset({"function"})),
    "anthropic": (frozenset({"name"}), frozenset({"name", "input"})),
    "tool": (frozenset({"tool"}), frozenset({"tool", "args", "arguments"})),
    "mcp": (frozenset({"name"}), frozenset({"name", "arguments"})),
}
_FUNCTION_KEYS = frozenset({"name", "arguments"})


def call_shape(body: Mapping[str, Any]) -> str:
    """The one call shape ``body`` has (``tool``, ``mcp``, ``openai``, ``anthropic``); ``BodyError`` when it has
    none, or keys of two (so no reader could take it for another call than the one judged)."""
    kind = body.get("type")
    shape = "openai" if kind == "function" else "anthropic" if kind == "tool_use" else None
    keys = _CALL_KEYS.intersection(body)
    if shape is None:
        if "tool" in keys and "name" in keys:
            raise BodyError("the body names its tool twice ('tool' and 'name'): send one call shape")
        shape = "tool" if "tool" in keys else "mcp" if "name" in keys else None
    if shape is None:
        raise BodyError(f"not a tool call: expected one of {', '.join(_SHAPES)} shapes (keys: {sorted(body)[:20]})")
    required, allowed = _SHAPES[shape]
    extra = sorted(keys - allowed)
    if extra:
        raise BodyError(f"keys of two call shapes: a {shape} call must not also carry {extra}")
    if not required <= keys:
        raise BodyError(f"a {shape} call needs {sorted(required)}")
    if shape == "tool" and {"args", "arguments"} <= keys:
        raise BodyError("the body carries arguments twice ('args' and 'arguments'): send one")
    if shape == "openai":
        fn = body["function"]
        if type(fn) is not dict or "name" not in fn:
            raise BodyError("an OpenAI call needs 'function': {'name': ..., 'arguments': ...}")
        inner = sorted(_CALL_KEYS.union({"type"}).intersection(fn) - _FUNCTION_KEYS)
        if inner:
            raise BodyError(f"keys of two call shapes: 'function' must not also carry {inner}")
    return shape


def _reencode(text: str, where: str) -> str:
    """Arguments sent as a JSON string: read strictly, re-serialised from the parsed object."""
    parsed = _strict_json(text, f"{where} (a JSON string)")
    if type(parsed) is not dict:
        raise BodyError(f"{where} must be an object (or a JSON string of one)")
    return _ENCODER.encode(parsed)


def _canonical_args(body: dict[str, Any], shape: str) -> dict[str, Any]:
    """``body`` with arguments sent as a JSON string replaced by the re-serialisation of what was judged."""
    if shape == "openai":
        fn = body["function"]
        value = fn.get("arguments")
        if isinstance(value, str) and value.strip():
            return {**body, "function": {**fn, "arguments": _reencode(value, "'function.arguments'")}}
        return body
    key = "input" if shape == "anthropic" else "args" if "args" in body else "arguments"
    value = body.get(key)
    if isinstance(value, str) and value.strip():
        return {**body, key: _reencode(value, f"'{key}'")}
    return body


def judged_call(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The parsed call and the exact bytes to pass on (its re-serialisation); ``BodyError`` when ambiguous."""
    body = read_body(raw)
    body = _canonical_args(body, call_shape(body))
    try:
        data = _ENCODER.encode(body).encode("utf-8")
    except UnicodeEncodeError:
        raise BodyError("lone surrogate escape (not a Unicode character)") from None
    return body, data


def _normal_path(path: str) -> str:
    """A path with ``//`` collapsed, ``.``/``..`` resolved and letters lower-cased, to compare guarded prefixes."""
    parts: list[str] = []
    for seg in path.replace("\\", "/").split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts).lower()


class SentinelMiddleware:
    """Guard ``path`` (and its sub-paths) of an ASGI app with a ``Verifier`` or a ``Policy``.

    The session is taken from the ``session_header`` request header (default ``x-sentinel-session``): it keys
    the verifier's rate limiter, or picks the policy engine session (taint state) for a ``Policy``. ``methods``
    are those that carry a call; every other method on the guarded path is refused (see the module docstring).
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier | Policy | None = None,
        *,
        path: str = "/api/tools",
        methods: tuple[str, ...] = ("POST", "PUT", "PATCH"),
        max_body: int = 1 << 20,
        session_header: str = "x-sentinel-session",
        max_sessions: int = 1000,
    ) -> None:
        self.app = app
        self.guard = verifier if verifier is not None else Verifier()
        self.path = _normal_path(path)
        self.methods = tuple(m.upper() for m in methods)
        self.max_body = max_body
        self.session_header = session_header.lower().encode("latin-1")
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._max_sessions = max_sessions

    def _guarded(self, scope: Scope) -> bool:
        if scope.get("type") not in ("http", "websocket"):
            return False
        if self.path == "/":
            return True
        for key in ("path", "raw_path"):
            value = scope.get(key)
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if isinstance(value, str):
                path = _normal_path(value.split("?", 1)[0])
                if path == self.path or path.startswith(self.path + "/"):
                    return True
        return False

    def _session_id(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name.lower() == self.session_header:
                return str(value.decode("latin-1"))[:256]
        return ""

    def _session(self, session_id: str) -> Session:
        assert not isinstance(self.guard, Verifier)  # sessions are the policy engine's
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
        return await self._session(session_id).acheck(tool, args)

    async def _read(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when the client left or the body is too large (answered 413)."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                await _json(send, 413, {"error": f"request body over {self.max_body} bytes"})
                return None
            chunks.append(body)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._guarded(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": "tool calls are HTTP requests here"})
            return
        method = str(scope.get("method", "")).upper()
        if method not in self.methods:
            allow = ", ".join(self.methods)
            await _json(send, 405, {"error": f"method {method} not allowed on a guarded path (use {allow})"}, allow)
            return
        raw = await self._read(receive, send)
        if raw is None:
            return
        session_id = self._session_id(scope)
        try:
            action, data = judged_call(raw)
            verdict = await self._decide(action, session_id)
        except (BodyError, InvalidAction) as exc:
            await _json(send, 400, {"error": f"not exactly one tool call: {exc}"})
            return
        if not verdict.allowed:
            await _json(send, 403, {"error": f"blocked: {verdict.reason}", "verdict": verdict.to_dict()})
            return
        scope["sentinel.verdict"] = verdict
        state = scope.setdefault("state", {})
        if isinstance(state, MutableMapping):
            state["sentinel_verdict"] = verdict
        headers = [
            (k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-length", b"transfer-encoding")
        ]
        scope["headers"] = [*headers, (b"content-length", str(len(data)).encode())]
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
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


async def _json(send: Send, status: int, payload: dict[str, Any], allow: str = "") -> None:
    body = json.dumps(payload, default=str).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", allow.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
