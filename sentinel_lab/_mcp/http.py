"""The proxy in front of a remote MCP server over Streamable HTTP (``sentinel-lab proxy --upstream-url URL``).

The host still speaks stdio to the proxy; the relay (``_mcp/relay.py``) judges every message exactly as it does
for a stdio server, and only the upstream side changes: each message the relay forwards (its own ``encode`` of
what it judged, under its own ids) is POSTed to the URL with ``httpx2`` (the HTTP client the official SDK uses).

- An answer may come as ``application/json`` or as ``text/event-stream``; every body and every SSE event is read
  with the strict ``decode`` (bounded by ``max_message_bytes``) and handed to the relay as a server message, so
  server requests and notifications arriving on a POST's stream or on the GET stream are judged like stdio ones.
- The ``Mcp-Session-Id`` the server gives in its ``initialize`` answer, and the negotiated protocol version, are
  sent on every later request; the session is ended with ``DELETE`` when the host leaves. A request of the
  stateless 2026-07-28 revision carries its own ``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name``
  headers, and a ``tools/call`` the ``Mcp-Param-*`` headers its tool's ``x-mcp-header`` annotations ask for,
  written from the message the relay judged (``_mcp/http_headers.py``).
- **Exactly one answer.** A request whose POST fails (connection refused or lost, timeout, an HTTP error status,
  an unexpected content type, a stream that ends before the answer) is answered with ``-32603 "Sentinel Proxy
  Error: ..."``; a ``tools/call`` that may have reached the server taints the session as if it ran (fail closed).
  A server that cannot be reached answers nothing and runs nothing: every request gets that error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from sentinel_lab._core.wire import PROXY_ERROR_CODE, PROXY_ERROR_PREFIX
from sentinel_lab._mcp.framing import MISSING, FrameError, decode, encode
from sentinel_lab._mcp.http_headers import ParamHeaders, routing_headers
from sentinel_lab._mcp.relay import Proxy, _log, _Pending, serve

__all__ = ["DEFAULT_READ_TIMEOUT_S", "Oversize", "UrlProxy", "run_url_proxy", "sse_events"]

#: How long the proxy waits for more bytes of an answer before it gives up on it (a long tool call may be silent).
DEFAULT_READ_TIMEOUT_S = 300.0
_ERROR_BODY_BYTES = 64 * 1024
_EDGE = 4096
_MAX_HEADER_CHARS = 1024


class _Quiet:
    """Stands in for the stdio reader and writer of a server the proxy reaches over HTTP (nothing to pause)."""

    done = True
    sources: tuple[Any, ...] = ()

    def pause(self) -> None:
        """Nothing to pause."""

    def resume(self) -> None:
        """Nothing to resume."""

    def stop(self) -> None:
        """Nothing to stop."""

    def write(self, data: bytes) -> None:
        """Nothing is written to a stdio pipe."""

    def close(self) -> None:
        """Nothing to close."""

    def close_after_flush(self) -> None:
        """Nothing to close."""


class Oversize:
    """An SSE event or body over the limit: its first and last 4 KiB and its size (so its id can be answered)."""

    __slots__ = ("head", "size", "tail")

    def __init__(self, head: bytes, tail: bytes, size: int) -> None:
        self.head, self.tail, self.size = head, tail, size


async def sse_events(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes | Oversize]:
    """The ``data`` of each ``message`` event of a ``text/event-stream`` (lines joined by ``\\n``), or an
    ``Oversize`` for one over ``limit`` bytes (which is never buffered whole). An event the stream ends in the
    middle of is not dispatched (as the SSE standard says). Linear in the stream's size."""
    buf = bytearray()
    scan = 0  # buf[:scan] holds no newline
    cut, line_head = 0, b""  # bytes dropped from the long line in progress, and its first bytes
    data: list[bytes] = []
    size = 0
    event = b""
    over: Oversize | None = None
    async for chunk in chunks:
        buf += chunk
        start = 0
        while True:
            nl = buf.find(b"\n", scan)
            if nl < 0:
                scan = len(buf)  # the partial line is never searched twice
                break
            line = bytes(buf[start:nl])
            start = scan = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            dropped, head = cut, line_head
            cut, line_head = 0, b""
            if not line and not dropped:  # dispatch
                if over is not None:
                    yield over
                elif data and event in (b"", b"message"):
                    yield b"\n".join(data)
                data, size, event, over = [], 0, b"", None
                continue
            field, _, value = (head or line).partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"event" and not dropped:
                event = value
            elif field == b"data":
                size += dropped + len(line) - (len(head or line) - len(value)) + 1
                if over is not None:
                    over.tail, over.size = line[-_EDGE:], size
                elif size > limit:
                    joined = b"\n".join([*data, value])
                    over = Oversize(joined[:_EDGE], line[-_EDGE:], size)
                    data = []
                else:
                    data.append(value)
        if start:
            del buf[:start]
            scan -= start
            start = 0
        if len(buf) > limit + 2 * _EDGE:  # one line longer than any message may be: keep only its edges
            if not cut:
                line_head = bytes(buf[:_EDGE])
            drop = len(buf) - _EDGE
            cut += drop
            del buf[:drop]
            scan = len(buf)


async def _read_bounded(resp: httpx2.Response, limit: int) -> bytes | Oversize:
    """A response body, or its edges when it is over ``limit`` bytes (never buffered past the limit)."""
    parts: list[bytes] = []
    size = 0
    head = b""
    tail = b""
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
            continue
        if parts:
            joined = b"".join(parts)
            head, tail, parts = joined[:_EDGE], joined[-_EDGE:], []
        tail = (tail + chunk)[-_EDGE:]
        if not head:
            head = chunk[:_EDGE]
    if size > limit:
        return Oversize(head, tail, size)
    return b"".join(parts)


def _header_value(value: Any) -> str | None:
    """A header value the proxy will send back: short visible ASCII, else None."""
    if type(value) is not str or not value or len(value) > _MAX_HEADER_CHARS:
        return None
    return value if all(0x21 <= ord(c) <= 0x7E for c in value) else None


class UrlProxy(Proxy):
    """The relay with a Streamable HTTP server upstream instead of a child process."""

    def __init__(self, url: str, policy: Any, *, read_timeout_s: float = DEFAULT_READ_TIMEOUT_S, **kwargs: Any) -> None:
        super().__init__([url], policy, **kwargs)
        self.url = url
        self.read_timeout_s = read_timeout_s
        self.upstream_session: str | None = None
        self.protocol_version: str | None = None
        self.exchanges: set[asyncio.Task[None]] = set()
        self.param_headers = ParamHeaders()  # x-mcp-header annotations of the tools the server listed

    # ------------------------------------------------------------------ lifecycle

    async def _open_upstream(self) -> None:
        """An HTTP client and the queue that keeps notifications and answers in the order they were judged."""
        timeout = httpx2.Timeout(10.0, read=self.read_timeout_s)
        self.http = httpx2.AsyncClient(timeout=timeout, follow_redirects=False)
        self.server_in: Any = _Quiet()
        self.from_server: Any = _Quiet()
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.sender = asyncio.ensure_future(self._send_loop())

    async def _close_upstream(self) -> None:
        """Send what was queued, give requests in flight the grace period, then end the upstream session."""
        self.outbox.put_nowait(None)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.sender), self.opts.grace_seconds)
        if self.exchanges:
            await asyncio.wait(list(self.exchanges), timeout=self.opts.grace_seconds)
        await self._end_session()

    async def _end_session(self) -> None:
        """``DELETE`` the upstream session (best effort) and close the client."""
        session, self.upstream_session = self.upstream_session, None
        if session is not None:
            with contextlib.suppress(httpx2.HTTPError, OSError):
                await self.http.delete(self.url, headers={"Mcp-Session-Id": session}, timeout=2.0)
        await self.http.aclose()

    async def _release_upstream(self) -> None:
        for task in [self.sender, *self.exchanges]:
            task.cancel()
        await self._end_session()

    # ------------------------------------------------------------------ sending

    def _send_server(self, msg: dict[str, Any]) -> None:
        self.outbox.put_nowait(msg)

    def _start(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.exchanges.add(task)
        task.add_done_callback(self.exchanges.discard)

    async def _send_loop(self) -> None:
        """Requests run concurrently; a notification or an answer is delivered before the next message goes."""
        while True:
            msg = await self.outbox.get()
            if msg is None:
                return
            if "method" in msg and "id" in msg:
                self._start(self._exchange(msg))
                continue
            await self._exchange(msg)
            if msg.get("method") == "notifications/initialized":
                self._start(self._listen())

    def _headers(self, accept: str = "application/json, text/event-stream") -> dict[str, str]:
        headers = {"Accept": accept, "Content-Type": "application/json"}
        if self.upstream_session is not None:
            headers["Mcp-Session-Id"] = self.upstream_session
        if self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    async def _exchange(self, msg: dict[str, Any]) -> None:
        """POST one message; feed what comes back to the relay; a request left unanswered gets an error."""
        is_request = "method" in msg and "id" in msg
        pid = msg["id"] if is_request else None
        method = str(msg.get("method", "response"))
        reached = False
        try:
            headers = {**self._headers(), **self._request_headers(msg)}
            request = self.http.build_request("POST", self.url, content=encode(msg), headers=headers)
            resp = await self.http.send(request, stream=True)
            reached = True
            try:
                await self._response(resp, pid, method)
            finally:
                await resp.aclose()
        except asyncio.CancelledError:
            raise
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
            self._lost(pid, f"the upstream server {self.url} cannot be reached ({type(exc).__name__})", ran=False)
        except httpx2.HTTPError as exc:
            self._lost(pid, f"the connection to the upstream server failed ({type(exc).__name__}: {exc})", ran=True)
        except Exception as exc:  # a bug must cost one message, not the connection
            _log(f"internal error relaying to the upstream: {type(exc).__name__}: {exc}")
            self._lost(pid, "internal error relaying to the upstream server", ran=reached)
        finally:
            if pid is not None and pid in self.pending:
                self._lost(pid, "the upstream server ended its answer without answering the request", ran=True)

    def _request_headers(self, msg: dict[str, Any]) -> dict[str, str]:
        """A 2026-07-28 request names itself in headers, and a ``tools/call`` repeats its annotated arguments
        (both written from the message the relay judged)."""
        headers = routing_headers(msg)
        if headers and msg.get("method") == "tools/call" and type(msg.get("params")) is dict:
            params = msg["params"]
            headers.update(self.param_headers.headers_for(params.get("name"), params.get("arguments")))
        return headers

    def _tools_list_result(self, result: dict[str, Any]) -> None:
        super()._tools_list_result(result)
        tools = result.get("tools")
        if type(tools) is list:
            self.param_headers.learn(tools)

    async def _response(self, resp: httpx2.Response, pid: Any, method: str) -> None:
        status = resp.status_code
        if method == "initialize" and status < 300:
            self.upstream_session = _header_value(resp.headers.get("mcp-session-id")) or self.upstream_session
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if status >= 400:
            await self._http_error(resp, pid, method, status, ctype)
            return
        if status in (202, 204) or pid is None:
            return
        limit = self.opts.max_message_bytes
        if ctype == "text/event-stream":
            async for event in sse_events(resp.aiter_bytes(), limit):
                self._server_payload(event)
        elif ctype == "application/json":
            self._server_payload(await _read_bounded(resp, limit))
        else:
            self._lost(pid, f"the upstream server answered with content type {ctype or 'none'!r}", ran=True)

    async def _http_error(self, resp: httpx2.Response, pid: Any, method: str, status: int, ctype: str) -> None:
        """An HTTP error status: the server's own JSON-RPC error for this request if it sent one, else ours."""
        body = await _read_bounded(resp, _ERROR_BODY_BYTES)
        if status == 404 and self.upstream_session is not None:
            _log("the upstream server says the session is gone (HTTP 404)")
        if pid is None:
            _log(f"the upstream server refused a {method[:60]!r} message with HTTP {status}")
            return
        if ctype == "application/json" and isinstance(body, bytes):
            try:
                obj = decode(body)
            except FrameError:
                obj = {}
            if obj.get("id", MISSING) == pid and "error" in obj:
                self._safe_server_line(body)
                return
        self._lost(pid, f"the upstream server answered HTTP {status}", ran=status >= 500)

    def _server_payload(self, payload: bytes | Oversize) -> None:
        if isinstance(payload, Oversize):
            self._server_oversize(payload.head, payload.tail, payload.size)
        else:
            self._safe_server_line(payload)

    async def _listen(self) -> None:
        """The GET stream, for server requests and notifications not tied to a POST (405: the server has none)."""
        try:
            async with self.http.stream("GET", self.url, headers=self._headers("text/event-stream")) as resp:
                ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                if resp.status_code != 200 or ctype != "text/event-stream":
                    return
                async for event in sse_events(resp.aiter_bytes(), self.opts.max_message_bytes):
                    self._server_payload(event)
        except asyncio.CancelledError:
            raise
        except httpx2.HTTPError as exc:
            if not self.closing:
                _log(f"the upstream server's GET stream ended ({type(exc).__name__})")

    def _lost(self, pid: Any, reason: str, *, ran: bool) -> None:
        """Answer the request ``pid`` (if still pending) with an error; a call that may have run taints."""
        if pid is None:
            if not self.closing:
                _log(f"a message could not be delivered: {reason}")
            return
        entry: _Pending | None = self._take(pid)
        if entry is None:
            late = self.cancelled.pop(pid, None) if type(pid) is int else None
            if late is not None and ran:
                self._record(late, True)
            return
        _log(f"answered a {entry.method[:60]!r} request with an error: {reason}")
        self._reply_error(entry.client_id, PROXY_ERROR_CODE, f"{PROXY_ERROR_PREFIX}{reason}")
        self._audit(
            "bad_output",
            tool=entry.tool,
            decision="block",
            request_id=entry.client_id,
            details={"reason": reason[:200], "method": entry.method},
        )
        if entry.method == "tools/call" and ran:
            self._record(entry, True)

    def _protect_and_send(self, msg: dict[str, Any], entry: _Pending) -> None:
        """Remember the negotiated protocol version (sent as ``MCP-Protocol-Version`` from now on)."""
        result = msg.get("result")
        if entry.method == "initialize" and type(result) is dict:
            self.protocol_version = _header_value(result.get("protocolVersion")) or self.protocol_version
        super()._protect_and_send(msg, entry)


def run_url_proxy(url: str, policy: Any, *, options: Any = None, audit: Any = None) -> int:
    """Run the proxy on this process's stdin/stdout in front of the server at ``url``; returns the exit status."""
    return serve(UrlProxy(url, policy, options=options, audit=audit))
