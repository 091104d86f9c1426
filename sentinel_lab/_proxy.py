"""The MCP stdio security proxy: a transparent, full-duplex JSON-RPC relay that enforces a policy.

Install it as the server command of any MCP host; it starts the real tool server as its child::

    {"command": "sentinel-lab", "args": ["proxy", "--policy", "p.yaml", "--", "python", "tools.py"]}

How it works. One event loop watches four non-blocking file descriptors (client stdin/stdout, server
stdin/stdout). Lines are split without re-joining (a line is assembled once from its chunks) and each is parsed
with one ``json.loads``. Messages the proxy does not need to change are forwarded as the original bytes. What it
inspects:

- client ``tools/call``: the policy session decides (``session.check``); a denial is answered by the proxy with
  JSON-RPC error ``-32000 "Sentinel Security Block: <reason>"`` (``data`` carries the verdict) or, with
  ``proxy.deny_style: result``, an ``isError`` tool result shaped for the request's protocol era.
- server replies to ``tools/call``: ``session.record`` (sources taint the session only once they really ran),
  spotlighting of every untrusted text, and a prompt-injection scan (``spotlight.scan_output``: flag|block|off).
- server replies to ``tools/list``: tools the policy denies are hidden (``proxy.hide_denied_tools``), and each
  tool's name, description and input schema are pinned by SHA-256 on first sight; a change is reported on stderr
  and in the audit log, and with ``proxy.pin_tools: block`` the changed tool is hidden and its calls refused.
- replies to ``initialize`` / ``server/discover``: the connection's signed session id is added as
  ``result._meta["sentinel/session"]``. A client may present it back in ``params._meta["sentinel/session"]`` of
  any request; a presented id that does not verify is refused with ``-32001 "Sentinel Auth Error: <detail>"``,
  and with ``--require-session`` every ``tools/call`` must carry a valid one.

Everything else (notifications both ways, server-initiated requests such as sampling, elicitation and
``roots/list`` and the client's answers to them, pings, resources, prompts) passes through untouched.
``notifications/cancelled`` drops the pending entry, so a late answer is not relayed (a cancelled ``tools/call``
that still completes is recorded, so a source taints the session even if its result was abandoned). Bad input is
answered and never ends the proxy: non-JSON -> -32700 (id null), batches and invalid requests -> -32600, a line
longer than ``max_message_bytes`` is discarded up to its newline without being buffered and refused with -32600
when its id can be read from the first 4 KiB. Non-JSON lines from the server are logged to stderr and dropped.

Process binding: the tool server runs in its own process group with ``PR_SET_PDEATHSIG(SIGKILL)`` (Linux), and a
forked watchdog holding a pipe from the proxy kills that whole group when the pipe closes, so even ``kill -9`` of
the proxy takes the server and its children with it. If the server dies, every pending request gets a -32603
error reply and the proxy exits with status 1 and a message. When the client closes stdin, the proxy closes the
server's stdin, waits, then sends SIGTERM and finally SIGKILL to the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sentinel_lab._exceptions import ProxyError
from sentinel_lab._framing import _ASCII_ENCODER, MISSING, _LineReader, _Writer, encode, sniff_id, valid_id
from sentinel_lab._process import Watchdog, spawn_server
from sentinel_lab._session_id import DEFAULT_KEY_ENV, SESSION_META_KEY, SessionIds
from sentinel_lab._spotlight import spotlight_result

__all__ = [
    "BLOCK_CODE",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION_META",
    "SESSION_ERROR_CODE",
    "SESSION_META_KEY",
    "VERDICT_META_KEY",
    "Proxy",
    "ProxyOptions",
    "run_proxy",
]

BLOCK_CODE = -32000
SESSION_ERROR_CODE = -32001
PROXY_ERROR_CODE = -32603
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
#: In a blocked call's ``isError`` result (``deny_style: result``, or output blocked): ``_meta[key]`` = verdict.
VERDICT_META_KEY = "sentinel/verdict"
_MAX_CANCELLED = 4096
_INSPECTED = frozenset({"tools/call", "tools/list", "initialize", "server/discover"})


def _log(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.write(2, f"sentinel-lab proxy: {message}\n".encode("utf-8", "replace"))


# ----------------------------------------------------------------------------------------------- settings


@dataclass
class ProxyOptions:
    """Proxy settings; ``from_policy`` reads them from the policy and lets command-line flags override."""

    deny_style: str = "error"
    hide_denied_tools: bool = True
    pin_tools: str = "warn"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    spotlight: bool = True
    scan_output: str = "flag"
    require_session: bool = False
    key_env: str = DEFAULT_KEY_ENV
    grace_seconds: float = 2.0

    @classmethod
    def from_policy(
        cls, policy: Any, *, require_session: bool | None = None, max_message_bytes: int | None = None
    ) -> ProxyOptions:
        """Settings from ``policy.proxy`` / ``.spotlight`` / ``.session`` (missing ones keep their defaults)."""
        opts = cls()
        proxy = getattr(policy, "proxy", None)
        spot = getattr(policy, "spotlight", None)
        sess = getattr(policy, "session", None)
        for obj, names in (
            (proxy, ("deny_style", "hide_denied_tools", "pin_tools", "max_message_bytes")),
            (sess, ("key_env",)),
        ):
            for name in names:
                value = getattr(obj, name, None)
                if value is not None:
                    setattr(opts, name, value)
        if spot is not None:
            opts.spotlight = bool(getattr(spot, "enabled", True))
            opts.scan_output = str(getattr(spot, "scan_output", "flag") or "flag")
        if sess is not None and getattr(sess, "require", None) is not None:
            opts.require_session = bool(sess.require)
        if require_session:
            opts.require_session = True
        if max_message_bytes:
            opts.max_message_bytes = int(max_message_bytes)
        return opts


def _tool_pin(tool: dict[str, Any]) -> str:
    material = {
        "name": tool.get("name"),
        "description": tool.get("description"),
        "inputSchema": tool.get("inputSchema"),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class _Pending:
    __slots__ = ("args", "method", "modern", "span", "t0", "tool")

    def __init__(self, method: str, modern: bool, tool: str = "", args: Any = None) -> None:
        self.method, self.modern, self.tool, self.args = method, modern, tool, args
        self.t0 = 0.0
        self.span: Any = None


class _ScanFailure:
    """Stands in for findings when the scanner itself failed (so block mode withholds the output)."""

    kind = "scanner_error"
    score = 1.0

    def __init__(self, evidence: str) -> None:
        self.evidence = evidence


def _load_scanner() -> Callable[[str], list[Any]] | None:
    """The prompt-injection scanner: findings for a text whose combined score reaches the threshold, else []."""
    try:
        from sentinel_lab._analysis import _injection
    except Exception:  # the scanner is optional: absent or broken means no scanning
        return None
    scan = _injection.scan
    score_of = getattr(_injection, "score_of", None)
    threshold = float(getattr(_injection, "THRESHOLD", 0.5))

    def findings(text: str) -> list[Any]:
        found = scan(text)
        if found and score_of is not None and score_of(found) < threshold:
            return []
        return list(found)

    return findings


class _Tracer:
    """OpenTelemetry spans per decision, joined to the client's ``traceparent`` (the ``otel`` extra).

    Spans are made only when tracing is really configured: a global SDK tracer provider is already installed
    (e.g. by ``opentelemetry-instrument``), or ``OTEL_TRACES_EXPORTER`` is ``console`` / ``otlp`` (then the proxy
    installs an SDK provider exporting to stderr or OTLP). Otherwise, or without the extra, this costs nothing.
    """

    def __init__(self, provider: Any = None) -> None:
        self.tracer: Any = None
        try:
            from opentelemetry import trace
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError:
            return
        if provider is None:
            provider = self._configured_provider(trace)
        if provider is None:
            return
        self.tracer = provider.get_tracer("sentinel_lab.proxy")
        self.propagator = TraceContextTextMapPropagator()

    @staticmethod
    def _configured_provider(trace: Any) -> Any:
        current = trace.get_tracer_provider()
        if type(current).__name__ not in ("ProxyTracerProvider", "NoOpTracerProvider"):
            return current
        exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        if exporter_name not in ("console", "otlp"):
            return None
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import (
                BatchSpanProcessor,
                ConsoleSpanExporter,
                SimpleSpanProcessor,
            )

            provider = TracerProvider(resource=Resource.create({"service.name": "sentinel-lab-proxy"}))
            if exporter_name == "console":
                provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        except ImportError as exc:
            _log(f"OpenTelemetry tracing requested but not available: {exc}")
            return None
        trace.set_tracer_provider(provider)
        return provider

    def decision(self, tool: str, meta: Any, verdict: Any, request_id: Any, session_id: str) -> None:
        """One span for one decision, a child of the client's span when it sent ``_meta.traceparent``."""
        if self.tracer is None:
            return
        ctx = None
        if type(meta) is dict and type(meta.get("traceparent")) is str:
            carrier = {"traceparent": meta["traceparent"]}
            if type(meta.get("tracestate")) is str:
                carrier["tracestate"] = meta["tracestate"]
            ctx = self.propagator.extract(carrier)
        span = self.tracer.start_span(f"sentinel.decide {tool}", context=ctx)
        if span.is_recording():
            span.set_attribute("mcp.tool.name", tool)
            span.set_attribute("sentinel.decision", str(getattr(verdict, "decision", "")))
            span.set_attribute("sentinel.rule", str(getattr(verdict, "rule", "")))
            span.set_attribute("sentinel.reason", str(getattr(verdict, "reason", "")))
            span.set_attribute("sentinel.session_id", session_id)
            span.set_attribute("jsonrpc.request_id", str(request_id))
        span.end()


# ----------------------------------------------------------------------------------------------- the proxy


class Proxy:
    """One client connection: relays between this process's stdio and the tool server, enforcing ``policy``."""

    def __init__(
        self,
        command: Sequence[str],
        policy: Any,
        *,
        options: ProxyOptions | None = None,
        audit: Any = None,
        session_key: bytes | None = None,
        client_fds: tuple[int, int] = (0, 1),
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.policy = policy
        self.opts = options or ProxyOptions.from_policy(policy)
        self.audit = audit
        self.ids = SessionIds(session_key, key_env=self.opts.key_env)
        self.session_id = self.ids.mint()
        self.session = self._new_session()
        self.client_in, self.client_out = client_fds
        self.env = env
        self.pending: dict[Any, Any] = {}
        self.cancelled: dict[Any, _Pending] = {}
        self.pins: dict[str, str] = {}
        self.pin_blocked: set[str] = set()
        self.scan = _load_scanner() if self.opts.scan_output != "off" else None
        self.tracer = _Tracer()
        self.exit_code = 0
        self.stats = {"calls": 0, "blocked": 0, "flagged": 0, "bad_input": 0}
        self._tasks: set[asyncio.Future[None]] = set()

    def _new_session(self) -> Any:
        try:
            return self.policy.new_session(session_id=self.session_id)
        except TypeError:
            return self.policy.new_session()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        """Relay until the client closes stdin (exit 0) or the tool server dies (exit 1)."""
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.finished: asyncio.Future[int] = loop.create_future()
        self.watchdog = Watchdog()
        try:
            self.proc = spawn_server(self.command, self.env)
        except ProxyError:
            self.watchdog.disarm()
            raise
        self.watchdog.arm(self.proc.pid)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.server_in = _Writer(loop, os.dup(self.proc.stdin.fileno()), self._server_write_failed)
        self.proc.stdin.close()
        server_out_fd = os.dup(self.proc.stdout.fileno())
        self.proc.stdout.close()
        self.client = _Writer(loop, self.client_out, self._client_gone)
        limit = self.opts.max_message_bytes
        self.from_client = _LineReader(
            loop, self.client_in, limit, self._safe_client_line, self._client_oversize, self._client_eof
        )
        self.from_server = _LineReader(
            loop, server_out_fd, limit, self._safe_server_line, self._server_oversize, self._server_eof
        )
        self.server_in.sources = (self.from_client,)
        # the client gets the server's output and the proxy's own replies to client input: a client that
        # does not read pauses both
        self.client.sources = (self.from_server, self.from_client)
        self.closing = False
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)
        self._audit("session_start", details={"server": self.command[:1], "key_source": self.ids.key_source})
        try:
            code = await self.finished
        finally:
            self.from_client.stop()
            self.from_server.stop()
            with contextlib.suppress(OSError):
                os.close(server_out_fd)
            await self.client.drain(2.0)
            self._reap()
            self.watchdog.disarm()
            for fd in (self.client_in, self.client_out):  # leave the caller's stdio as we found it
                with contextlib.suppress(OSError, ValueError):
                    os.set_blocking(fd, True)
        return code

    def _on_signal(self, sig: int) -> None:
        _log(f"received signal {sig}; stopping the tool server")
        self._begin_shutdown(128 + sig)

    def _client_eof(self) -> None:
        self._begin_shutdown(0)

    def _client_gone(self) -> None:
        self._begin_shutdown(0)

    def _server_write_failed(self) -> None:
        pass  # the server's stdout EOF reports the crash

    def _begin_shutdown(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        self.exit_code = code
        self.from_client.stop()
        self.server_in.close_after_flush()
        self._tasks.add(asyncio.ensure_future(self._stop_server()))

    async def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def _stop_server(self) -> None:
        grace = self.opts.grace_seconds
        if not await self._wait_exit(grace):
            self._signal_group(signal.SIGTERM)
            if not await self._wait_exit(grace):
                self._signal_group(signal.SIGKILL)
                await self._wait_exit(grace)
        # let the server's last output reach the client
        deadline = time.monotonic() + 0.5
        while not self.from_server.done and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if not self.finished.done():
            self.finished.set_result(self.exit_code)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(OSError):
            if os.name == "posix":
                os.killpg(self.proc.pid, sig)
            else:  # pragma: no cover
                self.proc.send_signal(sig)

    def _reap(self) -> None:
        if self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2.0)
        self._signal_group(signal.SIGKILL)  # any children the server left behind

    def _server_eof(self) -> None:
        if self.closing:
            return
        self._tasks.add(asyncio.ensure_future(self._server_crashed()))

    async def _server_crashed(self) -> None:
        await self._wait_exit(1.0)
        code = self.proc.poll()
        what = f"exited with code {code}" if code is not None else "closed its stdout"
        if self.closing:
            return
        self.closing = True
        self.from_client.stop()
        pending = list(self.pending.items())
        self.pending.clear()
        for rid, _entry in pending:
            self._reply_error(rid, PROXY_ERROR_CODE, f"Sentinel Proxy Error: tool server {what} before answering")
        _log(f"tool server {what} unexpectedly; answered {len(pending)} pending request(s) with errors; exiting")
        self._audit("server_exit", decision="error", details={"what": what, "pending": len(pending)})
        self.server_in.close()
        if not self.finished.done():
            self.finished.set_result(1)

    # ------------------------------------------------------------------ replies

    def _send_client(self, msg: dict[str, Any]) -> None:
        self.client.write(encode(msg))

    def _reply_error(self, rid: Any, code: int, message: str, data: Any = None) -> None:
        err: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            err["data"] = data
        self._send_client({"jsonrpc": "2.0", "id": rid, "error": err})

    def _audit(self, event_type: str, **fields: Any) -> None:
        if self.audit is None:
            return
        try:
            self.audit.write(event_type, session_id=fields.pop("session_id", self.session_id), **fields)
        except Exception as exc:  # the audit log must never take the relay down
            _log(f"audit write failed: {exc}")

    # ------------------------------------------------------------------ client -> server

    def _safe_client_line(self, line: bytes) -> None:
        try:
            self._on_client_line(line)
        except Exception as exc:  # a bug must cost one message, not the connection
            _log(f"internal error on a client message: {type(exc).__name__}: {exc}")
            rid = sniff_id(line)
            if rid is not MISSING and rid not in self.pending:
                self._reply_error(rid, PROXY_ERROR_CODE, "Sentinel Proxy Error: internal error; request not forwarded")

    def _safe_server_line(self, line: bytes) -> None:
        try:
            self._on_server_line(line)
        except Exception as exc:
            _log(f"internal error on a tool server message: {type(exc).__name__}: {exc}")

    def _client_oversize(self, prefix: bytes, size: int) -> None:
        self.stats["bad_input"] += 1
        rid = sniff_id(prefix)
        limit = self.opts.max_message_bytes
        if rid is not MISSING and b'"method"' in prefix:
            self._reply_error(
                rid, INVALID_REQUEST, f"Invalid Request: message of {size} bytes exceeds the limit of {limit}"
            )
        else:
            _log(f"dropped a client message of {size} bytes (limit {limit}); no request id found")
        self._audit("bad_input", decision="block", details={"reason": "oversize", "bytes": size})

    def _on_client_line(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            self.stats["bad_input"] += 1
            self._reply_error(None, PARSE_ERROR, "Parse error: message is not valid JSON")
            return
        if type(msg) is not dict:
            self.stats["bad_input"] += 1
            text = "batches are not supported" if type(msg) is list else "message must be a JSON object"
            self._reply_error(None, INVALID_REQUEST, f"Invalid Request: {text}")
            return
        method = msg.get("method", MISSING)
        rid = msg.get("id", MISSING)
        if method is MISSING:  # a response to a server-initiated request
            if msg.get("jsonrpc") != "2.0" or rid is MISSING or ("result" not in msg and "error" not in msg):
                self.stats["bad_input"] += 1
                _log("dropped an invalid message from the client (no method, not a response)")
                return
            self.server_in.write(line)
            return
        if msg.get("jsonrpc") != "2.0" or type(method) is not str:
            self.stats["bad_input"] += 1
            if rid is not MISSING:
                self._reply_error(
                    rid if valid_id(rid) else None, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 request"
                )
            return
        params = msg.get("params")
        if rid is MISSING:  # notification
            if method == "notifications/cancelled" and type(params) is dict:
                cancelled = params.get("requestId")
                if valid_id(cancelled):
                    entry = self.pending.pop(cancelled, None)
                    if type(entry) is _Pending and entry.method == "tools/call":
                        self.cancelled[cancelled] = entry
                        if len(self.cancelled) > _MAX_CANCELLED:
                            del self.cancelled[next(iter(self.cancelled))]
            self.server_in.write(line)
            return
        if not valid_id(rid):
            self.stats["bad_input"] += 1
            self._reply_error(None, INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
            return
        if rid in self.pending:
            self.stats["bad_input"] += 1
            self._reply_error(rid, INVALID_REQUEST, "Invalid Request: id is already in use by a pending request")
            return
        if params is not None and type(params) is not dict:
            self.stats["bad_input"] += 1
            self._reply_error(rid, INVALID_REQUEST, "Invalid Request: params must be an object")
            return
        meta = params.get("_meta") if params else None
        if type(meta) is not dict:
            meta = None
        presented = meta.get(SESSION_META_KEY, MISSING) if meta else MISSING
        if presented is not MISSING:
            ok, detail = self.ids.validate(presented)
            if not ok:
                self._auth_error(rid, method, detail, params)
                return
        if method not in _INSPECTED:
            self.pending[rid] = method
            self.server_in.write(line)
            return
        modern = bool(meta) and PROTOCOL_VERSION_META in meta  # type: ignore[operator]
        if method == "tools/call":
            self._tools_call(msg, rid, params or {}, meta, modern, presented)
            return
        self.pending[rid] = _Pending(method, modern)
        self.server_in.write(line)

    def _auth_error(self, rid: Any, method: str, detail: str, params: Any) -> None:
        tool = params.get("name", "") if method == "tools/call" and isinstance(params, dict) else ""
        self._reply_error(rid, SESSION_ERROR_CODE, f"Sentinel Auth Error: {detail}")
        self._audit(
            "auth_error", tool=str(tool), decision="block", request_id=rid, details={"method": method, "detail": detail}
        )

    def _tools_call(
        self, msg: dict[str, Any], rid: Any, params: dict[str, Any], meta: Any, modern: bool, presented: Any
    ) -> None:
        name = params.get("name")
        if type(name) is not str or not name:
            self.stats["bad_input"] += 1
            self._reply_error(rid, INVALID_PARAMS, "Invalid params: tools/call needs a non-empty string 'name'")
            return
        args = params.get("arguments")
        if args is None:
            args = {}
        elif type(args) is not dict:
            self.stats["bad_input"] += 1
            self._reply_error(rid, INVALID_PARAMS, "Invalid params: tools/call 'arguments' must be an object")
            return
        if presented is MISSING and self.opts.require_session:
            self._auth_error(rid, "tools/call", f'missing session id (params._meta["{SESSION_META_KEY}"])', params)
            return
        session_id = presented if presented is not MISSING else self.session_id
        self.stats["calls"] += 1
        t0 = time.perf_counter()
        if name in self.pin_blocked:
            verdict: Any = _pin_verdict(name)
        else:
            try:
                verdict = self.session.check(name, args)
            except Exception as exc:  # fail closed
                verdict = _error_verdict(name, exc)
        latency_us = (time.perf_counter() - t0) * 1e6
        self.tracer.decision(name, meta, verdict, rid, session_id)
        if not verdict.allowed:
            self.stats["blocked"] += 1
            self._deny(rid, name, verdict, modern)
        else:
            if verdict.decision == "flag":
                self.stats["flagged"] += 1
            entry = _Pending("tools/call", modern, name, args)
            self.pending[rid] = entry
            # forward what was checked, re-serialized: duplicate keys or odd escapes in the original bytes
            # cannot make the tool server read a different call than the policy saw
            self.server_in.write(_ASCII_ENCODER.encode(msg).encode("ascii") + b"\n")
        self._audit(
            "tool_call",
            session_id=session_id,
            tool=name,
            decision=verdict.decision,
            request_id=rid,
            arguments=args,
            rule=verdict.rule,
            latency_us=latency_us,
            details={"reason": verdict.reason, "policy": verdict.policy} if verdict.decision != "allow" else {},
        )

    def _deny(self, rid: Any, name: str, verdict: Any, modern: bool) -> None:
        message = f"Sentinel Security Block: {verdict.reason}"
        data = {
            "tool": name,
            "decision": verdict.decision,
            "rule": verdict.rule,
            "reason": verdict.reason,
            "violations": [v.to_dict() for v in verdict.violations],
            "taints": sorted(getattr(verdict, "taints", ()) or ()),
        }
        if self.opts.deny_style == "result":
            self._send_client({"jsonrpc": "2.0", "id": rid, "result": _error_result(message, modern, data)})
            return
        self._reply_error(rid, BLOCK_CODE, message, data)

    # ------------------------------------------------------------------ server -> client

    def _server_oversize(self, prefix: bytes, size: int) -> None:
        rid = sniff_id(prefix)
        limit = self.opts.max_message_bytes
        if rid is not MISSING and b'"method"' not in prefix[:64] and rid in self.pending:
            self.pending.pop(rid, None)
            self._reply_error(
                rid, PROXY_ERROR_CODE, f"Sentinel Proxy Error: tool server reply of {size} bytes exceeds {limit}"
            )
        _log(f"dropped a tool server message of {size} bytes (limit {limit})")

    def _on_server_line(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            _log(f"dropped a non-JSON line from the tool server: {line[:120]!r}")
            return
        if type(msg) is not dict:
            _log("dropped a non-object message (batch?) from the tool server")
            return
        if "method" in msg:  # server notification or server-initiated request
            self.client.write(line)
            return
        rid = msg.get("id", MISSING)
        if rid is MISSING or not valid_id(rid):
            _log("dropped a tool server response without a valid id")
            return
        entry = self.pending.pop(rid, MISSING)
        if entry is MISSING:
            late = self.cancelled.pop(rid, None)
            if late is not None:  # cancelled, but it ran: its effects count, its answer is not relayed
                result = msg.get("result")
                ok = type(result) is dict and not result.get("isError") and "error" not in msg
                with contextlib.suppress(Exception):
                    self.session.record(late.tool, late.args, ok=ok)
            return  # cancelled by the client, or never asked for
        if type(entry) is str:
            self.client.write(line)
            return
        method = entry.method
        result = msg.get("result")
        if method == "tools/call":
            self._tools_call_result(msg, entry, result)
            return
        if method == "tools/list" and type(result) is dict:
            self._tools_list_result(result)
        elif method in ("initialize", "server/discover") and type(result) is dict:
            meta = result.get("_meta")
            if type(meta) is not dict:
                meta = result["_meta"] = {}
            meta[SESSION_META_KEY] = self.session_id
        else:
            self.client.write(line)
            return
        self._send_client(msg)

    def _tools_call_result(self, msg: dict[str, Any], entry: _Pending, result: Any) -> None:
        """Spotlight, scan (before forwarding in block mode, after it in flag mode), then record the call."""
        is_result = type(result) is dict
        if is_result and type(result.get("_meta")) is dict:
            result["_meta"].pop(VERDICT_META_KEY, None)  # only the proxy may say a call was blocked
        texts = spotlight_result(result, wrap_texts=self.opts.spotlight) if is_result else []
        scan_first = self.scan is not None and texts and self.opts.scan_output == "block"
        if scan_first:
            self._scan_output(msg, entry, texts)
        self._send_client(msg)
        if self.scan is not None and texts and not scan_first:
            self._scan_output(msg, entry, texts)
        ok = is_result and not result.get("isError") and "error" not in msg
        try:
            self.session.record(entry.tool, entry.args, ok=ok)
        except Exception as exc:
            _log(f"policy session failed to record {entry.tool}: {exc}")

    def _scan_output(self, msg: dict[str, Any], entry: _Pending, texts: list[str]) -> None:
        assert self.scan is not None
        findings: list[Any] = []
        for text in texts:
            try:
                findings.extend(self.scan(text))
            except Exception as exc:  # a scanner that fails cannot vouch for the output: count it as a finding
                _log(f"output scan failed: {exc}")
                findings.append(_ScanFailure(f"scanner error: {type(exc).__name__}"))
                break
        if not findings:
            return
        kinds = sorted({str(getattr(f, "kind", "injection")) for f in findings})
        block = self.opts.scan_output == "block"
        _log(
            f"prompt injection signs in the output of {entry.tool!r}: {', '.join(kinds)}"
            + ("; result withheld" if block else "")
        )
        self._audit(
            "output_scan",
            tool=entry.tool,
            decision="block" if block else "flag",
            request_id=msg.get("id"),
            details={
                "kinds": kinds,
                "evidence": [str(getattr(f, "evidence", ""))[:120] for f in findings[:5]],
            },
        )
        if block:
            text = (
                f"Sentinel Security Block: the output of '{entry.tool}' looks like a prompt injection"
                f" ({', '.join(kinds)})"
            )
            data = {
                "tool": entry.tool,
                "decision": "block",
                "rule": "spotlight.scan_output",
                "reason": text.split(": ", 1)[1],
                "violations": [{"policy": "output_injection", "reason": text.split(": ", 1)[1], "severity": "high"}],
                "taints": [],
            }
            msg["result"] = _error_result(text, entry.modern, data)

    def _tools_list_result(self, result: dict[str, Any]) -> None:
        tools = result.get("tools")
        if type(tools) is not list:
            return
        kept = []
        for tool in tools:
            if type(tool) is not dict or type(tool.get("name")) is not str:
                continue
            name = tool["name"]
            if self.opts.pin_tools != "off":
                pin = _tool_pin(tool)
                first = self.pins.setdefault(name, pin)
                if first != pin:
                    blocked = self.opts.pin_tools == "block"
                    _log(
                        f"tool {name!r} changed its definition since it was first listed (possible rug pull)"
                        + ("; it is now blocked" if blocked else "")
                    )
                    self._audit(
                        "tool_pin",
                        tool=name,
                        decision="block" if blocked else "flag",
                        details={"first_sha256": first, "now_sha256": pin},
                    )
                    if blocked:
                        self.pin_blocked.add(name)
                if name in self.pin_blocked:
                    continue
            if self.opts.hide_denied_tools:
                try:
                    allowed = self.policy.tool_allowed(name)
                except Exception:
                    allowed = True
                if not allowed:
                    continue
            kept.append(tool)
        result["tools"] = kept


def _error_result(text: str, modern: bool, verdict: dict[str, Any]) -> dict[str, Any]:
    """An ``isError`` tool result made by the proxy, shaped for the request's era, carrying the verdict."""
    result: dict[str, Any] = {
        "content": [{"type": "text", "text": text}],
        "isError": True,
        "_meta": {VERDICT_META_KEY: verdict},
    }
    if modern:
        result["resultType"] = "complete"
    return result


def _pin_verdict(name: str) -> Any:
    from sentinel_lab._verdict import Verdict, Violation

    reason = f"tool '{name}' changed its definition since it was first listed (possible rug pull)"
    return Verdict(
        allowed=False,
        violations=(Violation("tool_pinning", reason, "high"),),
        tool=name,
        decision="block",
        rule="proxy.pin_tools",
    )


def _error_verdict(name: str, exc: BaseException) -> Any:
    from sentinel_lab._verdict import Verdict, Violation

    reason = f"policy engine error ({type(exc).__name__}: {exc}); failing closed"
    return Verdict(
        allowed=False,
        violations=(Violation("engine_error", reason, "high"),),
        tool=name,
        decision="block",
        rule="error",
    )


def run_proxy(
    command: Sequence[str],
    policy: Any,
    *,
    options: ProxyOptions | None = None,
    audit: Any = None,
    session_key: bytes | None = None,
) -> int:
    """Run the proxy on this process's stdin/stdout until the client leaves; returns the exit status."""
    proxy = Proxy(command, policy, options=options, audit=audit, session_key=session_key)
    try:
        return asyncio.run(proxy.run())
    except ProxyError as exc:
        _log(str(exc))
        return 1
