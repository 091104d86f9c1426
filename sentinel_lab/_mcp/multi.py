"""The multi-server gateway: several upstream MCP servers behind one relay, their tools namespaced.

The relay (``_mcp/relay.py``) judges every message exactly as for one server; this module replaces its upstream
side with a router over the servers a policy's ``upstreams`` names (``_policy.upstreams``): stdio children
(contained and stopped like the relay's own server) and Streamable HTTP servers (``_mcp/http.py``). What the
relay forwards is routed, and what the servers send is merged, under the router's own ids:

- **Tools** are ``<upstream>__<tool>``. ``tools/list`` asks every live server for all its pages (following each
  one's ``nextCursor``) and answers with one list holding them all, namespaced; a cursor from the client is
  refused (the gateway never hands one out). ``tools/call`` goes to the tool's server under its own name. So the
  static, argument, taint and flow rules, the verifier and the audit log all see the namespaced name, and a taint
  or flow armed by one server's tool restricts every other server's tools (one policy session per client).
- **Prompts** are namespaced the same way (``prompts/list``, ``prompts/get``, prompt completions). **Resources**
  keep their URIs (a URI is the server's address for its data and clients follow it as given): ``resources/list``
  and ``resources/templates/list`` merge every server's entries, and ``resources/read``, ``subscribe``,
  ``unsubscribe`` and resource completions go to the server that listed the URI (or a template whose fixed part
  starts it); a URI no server listed is refused, and a URI listed by two servers goes to the first in policy order.
- **Pins per upstream.** Each server's tool definitions are pinned by a ``ToolPins`` of its own, under the server's
  own names; a change is reported and (``pin_tools: block``) blocked under the namespaced name.
- **One server failing takes nothing else down.** A server that cannot start, exits or stops answering loses its
  tools (the client is sent ``notifications/tools/list_changed``); each request it still owed is answered once with
  ``-32603 "Sentinel Proxy Error: upstream '<name>' ..."`` (a call that may have run taints, as always), and its
  later calls get the same error without being sent. The others keep working. Only when no server can be started
  at all does the gateway refuse to start.
- Server requests (sampling, elicitation, roots) and notifications of every server reach the client under router
  ids and tokens, so two servers' ids can never collide; the client's answers go back to the server that asked.
  ``tasks/*`` requests are not routed (answered ``-32601``).
- **Both protocol eras.** A client of the 2026-07-28 revision opens with ``server/discover``, gathered like
  ``initialize``; the answers the router makes carry ``resultType``, a merged listing ``ttlMs: 0`` with a
  ``private`` ``cacheScope`` (what a session sees is filtered by its policy and may change with a server), and
  ``server/discover`` the gateway's own identity in ``_meta``. A server that answers ``server/discover`` with an
  error is left out (logged).
- A cancelled call's route is kept for its late answer (which still taints), at most as many as the relay keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from sentinel_lab._core.errors import ProxyError
from sentinel_lab._core.wire import (
    INVALID_PARAMS,
    PROXY_ERROR_CODE,
    PROXY_ERROR_PREFIX,
    SERVER_INFO_META,
)
from sentinel_lab._mcp.framing import MISSING, FrameError, _LineReader, _Writer, decode, encode, sniff_id, valid_id
from sentinel_lab._mcp.http import UrlProxy, _header_value, _Quiet
from sentinel_lab._mcp.http_gateway import HttpClientSide
from sentinel_lab._mcp.pinning import PinEvent, ToolPins
from sentinel_lab._mcp.process import (
    Watchdog,
    signal_group,
    spawn_server,
    stop_server,
    unchanged_environment,
    wait_exit,
)
from sentinel_lab._mcp.relay import _MAX_CANCELLED, Proxy, _log, serve
from sentinel_lab._policy.upstreams import Upstream, namespaced, split_name

__all__ = ["GatewayMultiSession", "MultiProxy", "run_multi_proxy"]

METHOD_NOT_FOUND = -32601
#: Pages asked of one server for one listing; a server that keeps handing out cursors is cut off there.
MAX_PAGES = 100
#: list method -> (the result's list key, the capability a server declares for it, whether names are namespaced)
_LISTS: dict[str, tuple[str, str, bool]] = {
    "tools/list": ("tools", "tools", True),
    "prompts/list": ("prompts", "prompts", True),
    "resources/list": ("resources", "resources", False),
    "resources/templates/list": ("resourceTemplates", "resources", False),
}
_BY_URI = ("resources/read", "resources/subscribe", "resources/unsubscribe")


def _params(msg: dict[str, Any]) -> dict[str, Any]:
    """A message's params when they are an object, else an empty one."""
    params = msg.get("params")
    return params if type(params) is dict else {}


def _version() -> str:
    try:
        return metadata.version("sentinel-lab")
    except metadata.PackageNotFoundError:
        return "0"


class _Out:
    """A request the router sent to one server: for the relay's request ``pid``, or one part of a ``_Gather``."""

    __slots__ = ("gather", "pid")

    def __init__(self, pid: int | None, gather: _Gather | None = None) -> None:
        self.pid, self.gather = pid, gather


class _Gather:
    """One relay request answered from every server's answers (``initialize``, listings, ``logging/setLevel``)."""

    __slots__ = ("done", "failed", "items", "method", "msg", "pages", "parts", "pid", "results")

    def __init__(self, pid: int, method: str, msg: dict[str, Any]) -> None:
        self.pid, self.method, self.msg = pid, method, msg
        self.parts: dict[str, int] = {}  # upstream name -> uid of its request in flight
        self.results: dict[str, dict[str, Any]] = {}
        self.items: dict[str, list[Any]] = {}
        self.pages: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        self.done = False


# ----------------------------------------------------------------------------------------------- links


class _Link:
    """One upstream server as the router sees it: send a message, get lines back, learn when it is gone."""

    def __init__(self, mux: MultiProxy, spec: Upstream) -> None:
        self.mux, self.spec, self.name = mux, spec, spec.name
        self.out: dict[int, _Out] = {}  # uid -> what it answers
        self.pins = ToolPins()
        self.alive = False
        self.ready = False  # its initialize (or discover) answer came back
        self.capabilities: dict[str, Any] = {}
        self.gone = ""  # why it is gone

    async def open(self) -> None:
        raise NotImplementedError

    def send(self, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Stop it gracefully."""

    async def release(self) -> None:
        """Make sure it is gone."""

    def initialized(self, result: dict[str, Any]) -> None:
        """Its initialize answer (the HTTP link keeps the negotiated version)."""


class _StdioLink(_Link):
    """A child server on pipes, contained by ``_mcp/process.py`` as the relay's own server is."""

    async def open(self) -> None:
        mux = self.mux
        env = {**(unchanged_environment() or dict(os.environ)), **self.spec.env} if self.spec.env else None
        self.watchdog = Watchdog()
        try:
            self.proc = spawn_server(self.spec.command, env, adopt_orphans=True, cwd=self.spec.cwd)
        except ProxyError:
            self.watchdog.disarm()
            raise
        self.watchdog.arm(self.proc)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.writer = _Writer(mux.loop, os.dup(self.proc.stdin.fileno()), lambda: None)
        self.proc.stdin.close()
        self.out_fd = os.dup(self.proc.stdout.fileno())
        self.proc.stdout.close()
        self.reader = _LineReader(
            mux.loop,
            self.out_fd,
            mux.opts.max_message_bytes,
            lambda line: mux._link_line(self, line),
            lambda head, *rest: mux._link_unreadable(
                self, head, rest[0] if len(rest) > 1 else b"", f"a reply of {rest[-1]} bytes is over the limit"
            ),
            self._eof,
        )
        self.alive = True

    def send(self, msg: dict[str, Any]) -> None:
        if not self.writer.sources and self.mux.from_client is not None:
            self.writer.sources = (self.mux.from_client,)
        self.writer.write(encode(msg))

    def _eof(self) -> None:
        if self.alive and not self.mux.closing:
            task = asyncio.ensure_future(self._crashed())
            self.mux._tasks.add(task)
            task.add_done_callback(self.mux._tasks.discard)

    async def _crashed(self) -> None:
        await wait_exit(self.proc, 1.0)
        code = self.proc.poll()
        what = f"exited with code {code}" if code is not None else "closed its stdout"
        self.writer.close()
        await self.release()
        self.mux._link_died(self, what)

    async def close(self) -> None:
        await stop_server(
            self.proc, self.writer.close_after_flush, self.mux.opts.grace_seconds, lambda: self.reader.done
        )

    async def release(self) -> None:
        if not hasattr(self, "proc"):
            return
        self.reader.stop()
        with contextlib.suppress(OSError):
            os.close(self.out_fd)
        if self.proc.poll() is None:
            signal_group(self.proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2.0)
        signal_group(self.proc, signal.SIGKILL)
        self.watchdog.disarm()


class _UrlTransport(UrlProxy):
    """The HTTP client side of ``_mcp/http.py``, delivering to a ``_UrlLink`` instead of judging itself."""

    def __init__(self, link: _UrlLink, url: str) -> None:
        super().__init__(url, link.mux.policy, options=link.mux.opts)
        self.link = link
        self.closing = False
        self.pending = link.out  # type: ignore[assignment]  # in flight: what UrlProxy answers when lost

    def _safe_server_line(self, line: bytes) -> None:
        self.link.mux._link_line(self.link, line)

    def _server_oversize(self, prefix: bytes, *rest: Any) -> None:
        suffix = rest[0] if len(rest) > 1 else b""
        self.link.mux._link_unreadable(self.link, prefix, suffix, f"a reply of {rest[-1]} bytes is over the limit")

    def _lost(self, pid: Any, reason: str, *, ran: bool) -> None:
        if pid is None:
            if not self.closing:
                _log(f"upstream {self.link.name!r}: a message could not be delivered: {reason}")
            return
        self.link.mux._link_lost(self.link, pid, reason, ran)


class _UrlLink(_Link):
    """A Streamable HTTP server: each request its own exchange; a failed exchange answers only that request."""

    async def open(self) -> None:
        assert self.spec.url is not None
        self.http = _UrlTransport(self, self.spec.url)
        await self.http._open_upstream()
        self.alive = True

    def send(self, msg: dict[str, Any]) -> None:
        self.http._send_server(msg)

    def initialized(self, result: dict[str, Any]) -> None:
        self.http.protocol_version = _header_value(result.get("protocolVersion")) or self.http.protocol_version

    async def close(self) -> None:
        self.http.closing = True
        await self.http._close_upstream()

    async def release(self) -> None:
        if hasattr(self, "http"):
            await self.http._release_upstream()


class _AllReaders:
    """The relay's "server reader" for backpressure: pausing it pauses every stdio server's output."""

    def __init__(self, links: Mapping[str, _Link]) -> None:
        self.links = links

    def _readers(self) -> list[Any]:
        return [link.reader for link in self.links.values() if isinstance(link, _StdioLink) and hasattr(link, "reader")]

    @property
    def done(self) -> bool:
        return all(r.done for r in self._readers())

    def pause(self) -> None:
        for r in self._readers():
            r.pause()

    def resume(self) -> None:
        for r in self._readers():
            r.resume()

    def stop(self) -> None:
        for r in self._readers():
            r.stop()


# ----------------------------------------------------------------------------------------------- the router


class MultiProxy(Proxy):
    """The relay in front of every server a policy's ``upstreams`` names (see the module docstring)."""

    def __init__(self, policy: Any, *, upstreams: Mapping[str, Upstream] | None = None, **kwargs: Any) -> None:
        specs = upstreams if upstreams is not None else policy.upstreams
        super().__init__([f"{name}={spec.label}" for name, spec in specs.items()], policy, **kwargs)
        self.specs: Mapping[str, Upstream] = specs
        self.links: dict[str, _Link] = {}
        self.from_client: Any = None
        self.next_uid = 0
        self.routed: dict[int, tuple[_Link, int]] = {}  # relay pid -> (link, uid) of a routed request
        self.cancelled_routes: dict[int, None] = {}  # relay pids of cancelled routed requests, oldest first
        self.gathers: dict[int, _Gather] = {}  # relay pid -> its gather
        self.server_reqs: dict[int, tuple[_Link, Any]] = {}  # router id toward the relay -> (link, server's id)
        self.server_req_ids: dict[tuple[str, Any], int] = {}
        self.server_tokens: dict[int, tuple[_Link, Any]] = {}  # router progress token -> (link, server's token)
        self.resource_owner: dict[str, str] = {}  # URI -> upstream that listed it
        self.template_owner: list[tuple[str, str]] = []  # (fixed prefix of a template, upstream)
        self.client_ready = False

    # ------------------------------------------------------------------ lifecycle

    def _server_label(self) -> list[str]:
        return self.command

    async def _open_upstream(self) -> None:
        """Start every server; one that cannot start is reported and left out; none at all: ``ProxyError``."""
        self.server_in: Any = _Quiet()
        self.from_server: Any = _AllReaders(self.links)
        reasons = []
        for name, spec in self.specs.items():
            link: _Link = _UrlLink(self, spec) if spec.url is not None else _StdioLink(self, spec)
            try:
                await link.open()
            except ProxyError as exc:
                reasons.append(f"{name}: {exc}")
                link.gone = f"could not be started ({exc})"
                _log(f"upstream {name!r} could not be started: {exc}")
                self._audit("startup_error", decision="error", details={"upstream": name, "reason": str(exc)[:500]})
            self.links[name] = link
        if not any(link.alive for link in self.links.values()):
            raise ProxyError("no upstream server could be started: " + "; ".join(reasons))

    async def _close_upstream(self) -> None:
        live = [link for link in self.links.values() if link.alive]
        for link in live:
            link.alive = False
        await asyncio.gather(*(link.close() for link in live), return_exceptions=True)

    async def _release_upstream(self) -> None:
        await asyncio.gather(*(link.release() for link in self.links.values()), return_exceptions=True)

    # ------------------------------------------------------------------ relay -> servers

    def _uid(self, link: _Link, out: _Out) -> int:
        self.next_uid += 1
        link.out[self.next_uid] = out
        return self.next_uid

    def _send_server(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method is None:  # the client's answer to a server request
            rid = msg.get("id")
            target = self.server_reqs.pop(rid, None) if type(rid) is int else None
            if target is None:
                _log("dropped a client answer to a server request of no live upstream")
                return
            link, server_id = target
            self.server_req_ids.pop((link.name, server_id), None)
            if link.alive:
                msg["id"] = server_id
                link.send(msg)
            return
        if "id" not in msg:
            self._notification_out(msg, str(method))
            return
        self._request_out(msg, msg["id"], str(method))

    def _ready_links(self, capability: str | None = None) -> list[_Link]:
        return [
            link
            for link in self.links.values()
            if link.alive and link.ready and (capability is None or capability in link.capabilities)
        ]

    def _request_out(self, msg: dict[str, Any], pid: int, method: str) -> None:
        params = _params(msg)
        if method in ("initialize", "server/discover"):
            self._gather(msg, pid, method, [link for link in self.links.values() if link.alive])
        elif method in _LISTS:
            if params.get("cursor") is not None:
                self._refuse(pid, INVALID_PARAMS, "Invalid params: unknown cursor (the gateway lists in one page)")
                return
            self._gather(msg, pid, method, self._ready_links(_LISTS[method][1]))
        elif method == "logging/setLevel":
            self._gather(msg, pid, method, self._ready_links("logging"))
        elif method == "ping":
            self._answer(pid, {})
        elif method in ("tools/call", "prompts/get"):
            self._by_name(msg, pid, params, params)
        elif method in _BY_URI:
            self._by_uri(msg, pid, params.get("uri"))
        elif method == "completion/complete":
            ref = params.get("ref")
            if type(ref) is dict and ref.get("type") == "ref/prompt":
                self._by_name(msg, pid, params, ref)
            else:
                self._by_uri(msg, pid, ref.get("uri") if type(ref) is dict else None)
        else:
            self._refuse(pid, METHOD_NOT_FOUND, f"Method not found: {method[:80]!r} is not routed by the gateway")

    def _send_to(self, msg: dict[str, Any], pid: int, link: _Link) -> None:
        """Send one relay request to one server under a router id."""
        if not link.alive or not link.ready:
            why = link.gone or "is not initialized"
            self._refuse(pid, PROXY_ERROR_CODE, f"{PROXY_ERROR_PREFIX}upstream '{link.name}' {why}")
            return
        uid = self._uid(link, _Out(pid))
        self.routed[pid] = (link, uid)
        msg["id"] = uid
        link.send(msg)

    def _by_name(self, msg: dict[str, Any], pid: int, params: dict[str, Any], holder: dict[str, Any]) -> None:
        name = holder.get("name")
        parts = split_name(name) if type(name) is str else None
        link = self.links.get(parts[0]) if parts is not None else None
        if parts is None or link is None:
            upstreams = ", ".join(self.links)
            self._refuse(pid, INVALID_PARAMS, f"Invalid params: {str(name)[:80]!r} names no upstream ({upstreams})")
            return
        holder["name"] = parts[1]
        self._send_to(msg, pid, link)

    def _by_uri(self, msg: dict[str, Any], pid: int, uri: Any) -> None:
        owner = self.resource_owner.get(uri) if type(uri) is str else None
        if owner is None and type(uri) is str:
            owner = next((name for prefix, name in self.template_owner if prefix and uri.startswith(prefix)), None)
        if owner is None:
            serving = self._ready_links("resources")
            owner = serving[0].name if len(serving) == 1 else None
        if owner is None:
            self._refuse(pid, INVALID_PARAMS, f"Invalid params: no upstream lists the resource {str(uri)[:120]!r}")
            return
        self._send_to(msg, pid, self.links[owner])

    def _gather(self, msg: dict[str, Any], pid: int, method: str, links: list[_Link]) -> None:
        gather = _Gather(pid, method, msg)
        self.gathers[pid] = gather
        for link in links:
            self._gather_send(gather, link, dict(msg))
        self._gather_check(gather)

    def _gather_send(self, gather: _Gather, link: _Link, msg: dict[str, Any]) -> None:
        uid = self._uid(link, _Out(None, gather))
        gather.parts[link.name] = uid
        msg["id"] = uid
        link.send(msg)

    def _forget_cancelled_routes(self, pid: int) -> None:
        """Keep the routes of at most ``_MAX_CANCELLED`` cancelled requests (as the relay keeps their entries).

        A server may never answer a cancelled request; its route is kept so that a late answer still taints, and
        the oldest is dropped past the bound so that cancelling cannot grow the gateway's memory without end.
        """
        self.cancelled_routes[pid] = None
        while len(self.cancelled_routes) > _MAX_CANCELLED:
            oldest = next(iter(self.cancelled_routes))
            del self.cancelled_routes[oldest]
            route = self.routed.pop(oldest, None)
            if route is not None:
                route[0].out.pop(route[1], None)

    def _notification_out(self, msg: dict[str, Any], method: str) -> None:
        params = _params(msg)
        if method == "notifications/cancelled":
            pid = params.get("requestId")
            if type(pid) is not int:
                return
            gather = self.gathers.pop(pid, None)
            if gather is not None:
                gather.done = True
                for name, uid in gather.parts.items():
                    self.links[name].out.pop(uid, None)
                    if self.links[name].alive:
                        self.links[name].send({**msg, "params": {**params, "requestId": uid}})
                return
            target = self.routed.get(pid)
            if target is not None and target[0].alive:  # the route stays: a late answer still taints
                target[0].send({**msg, "params": {**params, "requestId": target[1]}})
                self._forget_cancelled_routes(pid)
            return
        if method == "notifications/progress":  # for a server request: back to the server that asked
            token = params.get("progressToken")
            target = self.server_tokens.get(token) if type(token) is int else None
            if target is not None and target[0].alive:
                target[0].send({**msg, "params": {**params, "progressToken": target[1]}})
            return
        if method == "notifications/initialized":
            self.client_ready = True
        for link in self._ready_links():
            link.send(msg)

    # ------------------------------------------------------------------ answers the router makes

    def _answer(self, pid: int, result: dict[str, Any]) -> None:
        """An answer made from the servers' answers, judged by the relay like any server message; for a
        2026-07-28 request it has that revision's ``resultType`` (and a merged listing is not to be cached)."""
        entry = self.pending.get(pid)
        if entry is not None and entry.modern:
            result.setdefault("resultType", "complete")
            if entry.method in _LISTS:
                result.setdefault("ttlMs", 0)
                result.setdefault("cacheScope", "private")
        self._safe_server_line(encode({"jsonrpc": "2.0", "id": pid, "result": result}))

    def _refuse(self, pid: Any, code: int, message: str, *, ran: bool = False) -> None:
        """The router's own error for relay request ``pid`` (exactly once: only while it is pending)."""
        entry = self._take(pid)
        if entry is None:
            late = self.cancelled.pop(pid, None) if type(pid) is int else None
            if late is not None and ran:
                self._record(late, True)
            return
        self._reply_error(entry.client_id, code, message)
        if code == PROXY_ERROR_CODE:
            _log(f"answered a {entry.method[:60]!r} request with an error: {message}"[:400])
            self._audit(
                "bad_output",
                tool=entry.tool,
                decision="block",
                request_id=entry.client_id,
                details={"reason": message[:200], "method": entry.method},
            )
        if entry.method == "tools/call" and ran:
            self._record(entry, True)

    # ------------------------------------------------------------------ servers -> relay

    def _link_line(self, link: _Link, line: bytes) -> None:
        try:
            self._on_link_line(link, line)
        except Exception as exc:  # a bug must cost one message, not the gateway
            _log(f"internal error on a message of upstream {link.name!r}: {type(exc).__name__}: {exc}")

    def _on_link_line(self, link: _Link, line: bytes) -> None:
        try:
            msg = decode(line)
        except FrameError as exc:
            if not line.lstrip(b" \t\r").startswith(b"{"):
                _log(f"dropped a non-JSON line from upstream {link.name!r}: {line[:120]!r}")
                return
            self._link_unreadable(link, line[:4096], line[-4096:], f"a reply could not be read ({exc.message})", exc.id)
            return
        if "method" in msg:
            self._link_message(link, msg)
            return
        uid = msg.get("id", MISSING)
        out = link.out.pop(uid, None) if type(uid) is int else None
        if out is None:
            _log(f"dropped a response of upstream {link.name!r} to no pending request")
            return
        if out.gather is not None:
            self._gather_part(out.gather, link, msg)
            return
        assert out.pid is not None
        self.routed.pop(out.pid, None)
        self.cancelled_routes.pop(out.pid, None)
        msg["id"] = out.pid
        self._safe_server_line(encode(msg))

    def _link_message(self, link: _Link, msg: dict[str, Any]) -> None:
        """A server request or notification, under router ids and tokens (the relay then judges it)."""
        method = msg.get("method")
        params = msg.get("params")
        rid = msg.get("id", MISSING)
        if rid is not MISSING:
            if not valid_id(rid) or (link.name, rid) in self.server_req_ids:
                _log(f"dropped a request of upstream {link.name!r} with an invalid or reused id")
                return
            self.next_uid += 1
            self.server_reqs[self.next_uid] = (link, rid)
            self.server_req_ids[(link.name, rid)] = self.next_uid
            msg["id"] = self.next_uid
            meta = params.get("_meta") if type(params) is dict else None
            if type(meta) is dict and "progressToken" in meta:
                self.next_uid += 1
                self.server_tokens[self.next_uid] = (link, meta["progressToken"])
                meta["progressToken"] = self.next_uid
        elif method == "notifications/progress":
            token = params.get("progressToken") if type(params) is dict else None
            route = self.routed.get(token) if type(token) is int else None
            if route is None or route[0] is not link:  # a server reports progress only on its own requests
                return
        elif method == "notifications/cancelled" and type(params) is dict:
            mine = self.server_req_ids.pop((link.name, params.get("requestId")), None)
            if mine is None:
                return
            self.server_reqs.pop(mine, None)
            params["requestId"] = mine
        self._safe_server_line(encode(msg))

    def _link_unreadable(self, link: _Link, head: bytes, tail: bytes, reason: str, rid: Any = MISSING) -> None:
        """A server line that cannot be relayed: the request it answered (when it can be told) gets an error."""
        _log(f"dropped an unreadable message of upstream {link.name!r}: {reason}")
        if b'"method"' in head[:256]:
            return
        for candidate in (rid, sniff_id(head), sniff_id(tail[-256:]) if tail else MISSING):
            if type(candidate) is int and candidate in link.out:
                rid = candidate
                break
        else:
            rid = next(iter(link.out)) if len(link.out) == 1 else MISSING
        if rid is not MISSING:
            out = link.out.pop(rid)
            self._fail_out(link, out, f"{PROXY_ERROR_PREFIX}upstream '{link.name}': {reason}", ran=True)

    def _link_lost(self, link: _Link, uid: Any, reason: str, ran: bool) -> None:
        out = link.out.pop(uid, None) if type(uid) is int else None
        if out is not None:
            self._fail_out(link, out, f"{PROXY_ERROR_PREFIX}upstream '{link.name}': {reason}", ran=ran)

    def _fail_out(self, link: _Link, out: _Out, message: str, *, ran: bool) -> None:
        if out.gather is not None:
            out.gather.parts.pop(link.name, None)
            out.gather.failed[link.name] = message
            self._gather_check(out.gather)
            return
        assert out.pid is not None
        self.routed.pop(out.pid, None)
        self.cancelled_routes.pop(out.pid, None)
        self._refuse(out.pid, PROXY_ERROR_CODE, message, ran=ran)

    def _link_died(self, link: _Link, what: str) -> None:
        """A server is gone: every request it owed is answered; its tools go away; the others carry on."""
        if not link.alive:
            return
        link.alive = False
        link.gone = what
        owed = list(link.out.values())
        link.out.clear()
        for out in owed:
            self._fail_out(link, out, f"{PROXY_ERROR_PREFIX}upstream '{link.name}' {what} before answering", ran=True)
        for rid, (owner, server_id) in list(self.server_reqs.items()):
            if owner is link:
                del self.server_reqs[rid]
                self.server_req_ids.pop((link.name, server_id), None)
        _log(f"upstream {link.name!r} {what}; answered {len(owed)} pending request(s); its tools are gone")
        self._audit(
            "server_exit", decision="error", details={"upstream": link.name, "what": what, "pending": len(owed)}
        )
        if self.client_ready and not self.closing and "tools" in link.capabilities:
            self._safe_server_line(encode({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}))

    # ------------------------------------------------------------------ merging

    def _gather_part(self, gather: _Gather, link: _Link, msg: dict[str, Any]) -> None:
        if gather.done:
            return
        gather.parts.pop(link.name, None)
        result = msg.get("result")
        if type(result) is not dict:
            error = msg.get("error")
            detail = error.get("message") if type(error) is dict else None
            gather.failed[link.name] = f"upstream '{link.name}' answered an error ({str(detail)[:120]})"
            self._gather_check(gather)
            return
        if gather.method in ("initialize", "server/discover"):
            link.ready = True
            caps = result.get("capabilities")
            link.capabilities = dict(caps) if type(caps) is dict else {}
            link.initialized(result)
            gather.results[link.name] = result
        elif gather.method in _LISTS:
            key, _, renamed = _LISTS[gather.method]
            items = result.get(key)
            page = [dict(i) for i in items if type(i) is dict] if type(items) is list else []
            if renamed:
                for item in page:
                    if type(item.get("name")) is str:
                        item["name"] = namespaced(link.name, item["name"])
            gather.items.setdefault(link.name, []).extend(page)
            cursor = result.get("nextCursor")
            pages = gather.pages[link.name] = gather.pages.get(link.name, 0) + 1
            gather.results[link.name] = result
            if type(cursor) is str and cursor and pages < MAX_PAGES and link.alive:
                params = dict(gather.msg.get("params") or {})
                params["cursor"] = cursor
                self._gather_send(gather, link, {**gather.msg, "params": params})
                return
            if type(cursor) is str and cursor:
                _log(f"upstream {link.name!r} listed more than {MAX_PAGES} pages for {gather.method}; cut off there")
        else:
            gather.results[link.name] = result
        self._gather_check(gather)

    def _gather_check(self, gather: _Gather) -> None:
        if gather.done or gather.parts:
            return
        gather.done = True
        self.gathers.pop(gather.pid, None)
        for reason in gather.failed.values():
            _log(f"{gather.method}: {reason}"[:400])
        if not gather.results and (gather.failed or gather.method in ("initialize", "server/discover")):
            reasons = "; ".join(gather.failed.values()) or "no upstream is running"
            self._refuse(gather.pid, PROXY_ERROR_CODE, f"{PROXY_ERROR_PREFIX}no upstream answered: {reasons}"[:2000])
            return
        if gather.method in ("initialize", "server/discover"):
            self._answer(gather.pid, self._merged_init(gather))
        elif gather.method in _LISTS:
            key = _LISTS[gather.method][0]
            merged: list[Any] = []
            for name in self.links:
                for item in gather.items.get(name, []):
                    merged.append(item)
                    self._learn_resource(gather.method, name, item)
            self._answer(gather.pid, {key: merged})
        else:
            self._answer(gather.pid, {})

    def _learn_resource(self, method: str, name: str, item: dict[str, Any]) -> None:
        if method == "resources/list" and type(item.get("uri")) is str:
            self.resource_owner.setdefault(item["uri"], name)
        elif method == "resources/templates/list" and type(item.get("uriTemplate")) is str:
            prefix = item["uriTemplate"].split("{", 1)[0]
            if (prefix, name) not in self.template_owner:
                self.template_owner.append((prefix, name))

    def _merged_init(self, gather: _Gather) -> dict[str, Any]:
        """The first server's answer (policy order) with every server's capabilities and instructions merged."""
        answers = [(name, gather.results[name]) for name in self.links if name in gather.results]
        merged = dict(answers[0][1])
        caps: dict[str, Any] = {"tools": {"listChanged": True}}
        subscribe = False
        for _, result in answers:
            theirs = result.get("capabilities")
            if type(theirs) is not dict:
                continue
            for key in ("prompts", "resources", "logging", "completions"):
                if key in theirs:
                    caps[key] = {"listChanged": True} if key in ("prompts", "resources") else {}
            res = theirs.get("resources")
            subscribe = subscribe or (type(res) is dict and res.get("subscribe") is True)
        if subscribe:
            caps["resources"]["subscribe"] = True
        merged["capabilities"] = caps
        info = {"name": "sentinel-lab-gateway", "version": _version()}
        if gather.method == "initialize":
            merged["serverInfo"] = info
        else:  # 2026-07-28: the server's identity travels in ``_meta``
            meta = merged.get("_meta")
            merged["_meta"] = {**(meta if type(meta) is dict else {}), SERVER_INFO_META: info}
        notes = [f"[{name}] {r['instructions']}" for name, r in answers if type(r.get("instructions")) is str]
        merged.pop("instructions", None)
        if notes:
            merged["instructions"] = "\n".join(notes)
        versions = {r.get("protocolVersion") for _, r in answers}
        if len(versions) > 1:
            shown = sorted(map(str, versions))
            _log(f"upstreams negotiated different protocol versions {shown}; the host sees the first")
        return merged

    # ------------------------------------------------------------------ pins per upstream

    def _observe_pins(self, tools: list[dict[str, Any]]) -> list[Any]:
        """Each server's tools pinned by its own ``ToolPins`` under its own names; events under namespaced names."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for tool in tools:
            parts = split_name(tool["name"])
            if parts is not None and parts[0] in self.links:
                groups.setdefault(parts[0], []).append({**tool, "name": parts[1]})
        events: list[Any] = []
        for name, group in groups.items():
            for event in self.links[name].pins.observe(group):
                details = {**event.details, "upstream": name}
                if "earlier_name" in details:
                    details["earlier_name"] = namespaced(name, str(details["earlier_name"]))
                events.append(PinEvent(event.kind, namespaced(name, event.name), details))
        return events


class GatewayMultiSession(HttpClientSide, MultiProxy):
    """One HTTP session of ``sentinel-lab gateway`` in front of every server the policy names."""


def run_multi_proxy(policy: Any, *, options: Any = None, audit: Any = None) -> int:
    """Run the gateway on this process's stdin/stdout in front of the policy's upstreams; returns the exit status."""
    return serve(MultiProxy(policy, options=options, audit=audit))
