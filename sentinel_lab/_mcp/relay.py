"""The MCP stdio security proxy: a full-duplex JSON-RPC relay that enforces a policy.

Install it as the server command of any MCP host; it starts the real tool server as its child::

    {"command": "/abs/venv/bin/python",
     "args": ["-m", "sentinel_lab", "proxy", "--policy", "/abs/p.yaml", "/abs/venv/bin/python", "/abs/tools.py"]}

One event loop watches four non-blocking file descriptors (client stdin/stdout, server stdin/stdout); lines are
split on ``\\n`` without re-joining and each is read once by the strict decoder of ``_framing`` (UTF-8 only, no
raw control characters, no duplicate keys, no NaN/Infinity, bounded depth and number size).

What the relay guarantees:

- **Only what was judged is forwarded.** Every message relayed in either direction (requests, responses,
  notifications, server requests and the client's answers to them) is the proxy's own serialisation
  (``encode``) of the object it parsed, never the original bytes: a second message hidden behind ``\\r``, another
  encoding or a duplicate key cannot reach the other side. A message that cannot be read is refused: from the
  client with the decoder's error (``-32700`` / ``-32600``) carrying its ``id`` whenever the id can be read.
- **Requests are requests.** A message without an ``id`` passes only if its method is a known notification
  (``notifications/...``); any other method without an id (``tools/call``, ``resources/read``, ``tasks/*`` ...)
  is never forwarded, and is logged and audited.
- **Session ids.** Replies to ``initialize`` / ``server/discover`` carry the connection's signed session id in
  ``result._meta["sentinel/session"]``. A request presenting an id that does not verify is refused with
  ``-32011 "Sentinel Auth Error: <detail>"``. With ``--require-session`` every message that can run a tool or
  reach a tool's work must carry a valid id: ``tools/call``, every ``tasks/*`` request (``tasks/get``,
  ``tasks/result``, ``tasks/list``, ``tasks/cancel`` read or steer tool work run as a task) and any request whose
  ``params`` asks for task execution (``params.task``). (The same messages without an id are refused anyway.)
- **Ids are the proxy's own.** Each request forwarded upstream gets a fresh proxy id (a counter) and its answer
  is mapped back to the client's id; server requests get a fresh proxy id toward the client and the client's
  answer is mapped back. ``notifications/cancelled`` (``requestId``) and ``notifications/progress``
  (``progressToken``, rewritten in the request's ``_meta``) are translated the same way; a message naming an id
  or token the proxy does not know is dropped. So a reused, cancelled or colliding id never receives another
  request's answer, and the taint recorded is that of the tool that really ran. A client request whose id is
  still pending is refused (``-32600``); so is a server request reusing a pending id (the server gets the error).
- **tools/call is judged** by the policy session (``session.check``); a denial is answered by the proxy with
  ``-32010 "Sentinel Security Block: <reason>"`` (``data`` carries the verdict) or, with
  ``proxy.deny_style: result``, an ``isError`` tool result shaped for the request's era. A call over 64 KiB is
  judged on a worker thread within ``analysis_budget_s`` (``--analysis-budget``, or ``proxy.analysis_budget_ms``)
  while other messages keep flowing; past the budget it is denied (fail closed). Smaller calls are judged inline.
- **ASK asks the human** (``_mcp/approval.py``): an ``ask`` verdict holds the call and asks through the client
  (its own ``elicitation/create`` in the handshake era, an ``InputRequiredResult`` in the 2026-07-28 era); only an
  approval bound to the call's digest, single use and within ``proxy.approval_ttl_s``, forwards it. A client that
  cannot ask gets the denial.
- **Taint fails closed.** The answer to a ``tools/call`` is recorded (``session.record(ok=True)``) whenever it
  returned anything: content or structured content whatever ``isError`` says, a non-boolean ``isError``, a
  JSON-RPC error, a created task, an unreadable or oversized reply, or a late answer to a cancelled call. Only an
  ``isError: true`` result with no content at all does not taint.
- **Everything the server sends is untrusted.** Every server message (responses of any method including errors,
  server requests, notifications) goes through ``protect_message`` (spotlighting) and the prompt-injection scan
  (``spotlight.scan_output``: flag|block|off). ``block`` withholds it: a ``tools/call`` answer becomes an
  ``isError`` result carrying the verdict, another response a ``-32010`` error, a server notification is dropped
  and a server request is dropped with an error answered to the server; each is logged and audited. Each
  distinct text of a message is scanned once (a result's text block often repeats its ``structuredContent``);
  with spotlighting and the scan both off the message is not walked at all.
- **Nothing is refused silently.** Every denied call is one line on stderr (``blocked a call of 'tool' (rule):
  reason``) as well as an audit record; whenever the set of tools a ``tools/list`` answer hides changes, one line
  says which (and that the host sees no tools at all when every tool is hidden) and a ``tools_hidden`` record is
  audited; a server that cannot be started is a ``startup_error`` record besides its line on stderr.
- **Tools are pinned.** ``tools/list`` answers hide tools the policy denies (``proxy.hide_denied_tools``); every
  field of each tool definition is pinned on first sight (``_pinning.ToolPins``): a change is reported on stderr
  and in the audit log (with ``proxy.pin_tools: block`` the tool is hidden and its calls refused), and a known
  definition reappearing under a new name is reported and audited.
- **Every client request gets exactly one answer**: the server's, or the proxy's error (``-32603``) when the
  server's reply is unreadable (the id is taken from the decoder, else sniffed from either end of the line, else,
  when exactly one request is pending, that one is answered), when the reply is over ``max_message_bytes``
  (wherever its id sits), when the server dies, and when the proxy gets SIGTERM/SIGINT/SIGHUP (all pending
  requests are answered before it exits). Non-JSON noise from the server (a line not starting with ``{``) is
  logged and dropped. Bad input never ends the proxy.

Process binding (``_mcp/process.py``): on Linux the tool server runs in a cgroup of its own (else the proxy is a
subreaper and its watchdog tracks descendants through /proc), in its own process group with
``PR_SET_PDEATHSIG(SIGKILL)``; a forked watchdog holding a pipe from the proxy kills every descendant when the pipe
closes, so even ``kill -9`` of the proxy takes the server and daemons it detached with ``setsid`` down. If the
server dies the proxy exits with status 1 and a message. When the client closes stdin, the proxy closes the
server's stdin, waits, then sends SIGTERM and finally SIGKILL.

The two transport sides are hooks (``_open_upstream`` / ``_close_upstream`` / ``_release_upstream`` and
``_send_server``; ``_open_client`` / ``_close_client`` and ``_send_client``): ``_mcp/http.py`` (a Streamable HTTP
server upstream) and ``_mcp/http_gateway.py`` (hosts over Streamable HTTP) replace them and keep all the judging.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sentinel_lab._analysis import _injection
from sentinel_lab._core.errors import ProxyError
from sentinel_lab._core.verdict import Verdict, Violation
from sentinel_lab._core.wire import (
    AUTH_CODE,
    AUTH_PREFIX,
    BLOCK_CODE,
    BLOCK_PREFIX,
    INVALID_PARAMS,
    INVALID_REQUEST,
    OUTPUT_SCAN_META_KEY,
    PROTOCOL_VERSION_META,
    PROXY_ERROR_CODE,
    PROXY_ERROR_PREFIX,
    SESSION_META_KEY,
    VERDICT_META_KEY,
)
from sentinel_lab._mcp.approval import Approvals, strip_forged
from sentinel_lab._mcp.framing import (
    MISSING,
    FrameError,
    _LineReader,
    _Writer,
    decode,
    encode,
    sniff_id,
    sniff_id_tail,
    valid_id,
)
from sentinel_lab._mcp.pinning import ToolPins
from sentinel_lab._mcp.process import Watchdog, signal_group, spawn_server, stop_server, wait_exit
from sentinel_lab._mcp.session_id import DEFAULT_KEY_ENV, SessionIds
from sentinel_lab._mcp.spotlight import protect_message
from sentinel_lab._policy.approvals import DEFAULT_TTL_S as DEFAULT_APPROVAL_TTL_S

__all__ = [
    "BLOCK_CODE",
    "DEFAULT_ANALYSIS_BUDGET_S",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION_META",
    "SESSION_ERROR_CODE",
    "SESSION_META_KEY",
    "VERDICT_META_KEY",
    "Proxy",
    "ProxyOptions",
    "run_proxy",
]

SESSION_ERROR_CODE = AUTH_CODE  # the name this module has always exported
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
DEFAULT_ANALYSIS_BUDGET_S = 2.0
_MAX_CANCELLED = 4096
#: A ``tools/call`` line longer than this is judged on the analysis thread, within the analysis budget.
_INLINE_JUDGE_BYTES = 64 * 1024
#: Notifications a client may send (MCP 2024-11-05 .. 2026-07-28); anything else without an id is refused.
_CLIENT_NOTIFICATIONS = frozenset(
    {
        "notifications/initialized",
        "notifications/cancelled",
        "notifications/progress",
        "notifications/roots/list_changed",
        "notifications/tasks/status",
        "notifications/elicitation/complete",
    }
)


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
    analysis_budget_s: float = DEFAULT_ANALYSIS_BUDGET_S
    approval_ttl_s: float = DEFAULT_APPROVAL_TTL_S

    @classmethod
    def from_policy(
        cls,
        policy: Any,
        *,
        require_session: bool | None = None,
        max_message_bytes: int | None = None,
        analysis_budget_s: float | None = None,
    ) -> ProxyOptions:
        """Settings from ``policy.proxy`` / ``.spotlight`` / ``.session`` (missing ones keep their defaults)."""
        opts = cls()
        proxy = getattr(policy, "proxy", None)
        spot = getattr(policy, "spotlight", None)
        sess = getattr(policy, "session", None)
        for obj, names in (
            (proxy, ("deny_style", "hide_denied_tools", "pin_tools", "max_message_bytes", "approval_ttl_s")),
            (sess, ("key_env",)),
        ):
            for name in names:
                value = getattr(obj, name, None)
                if value is not None:
                    setattr(opts, name, value)
        budget_ms: Any = getattr(proxy, "analysis_budget_ms", None)
        if type(budget_ms) in (int, float) and budget_ms > 0:
            opts.analysis_budget_s = float(budget_ms) / 1000.0
        if spot is not None:
            opts.spotlight = bool(getattr(spot, "enabled", True))
            opts.scan_output = str(getattr(spot, "scan_output", "flag") or "flag")
        if sess is not None and getattr(sess, "require", None) is not None:
            opts.require_session = bool(sess.require)
        if require_session:
            opts.require_session = True
        if max_message_bytes:
            opts.max_message_bytes = int(max_message_bytes)
        if analysis_budget_s is not None and analysis_budget_s > 0:
            opts.analysis_budget_s = float(analysis_budget_s)
        return opts


def _session_gated(method: str, params: Any) -> bool:
    """Whether a request can run a tool or reach a tool's work (``--require-session`` applies to it)."""
    return (
        method == "tools/call"
        or method.startswith("tasks/")
        or (type(params) is dict and params.get("task") is not None)
    )


class _Pending:
    """A client request forwarded upstream under the proxy's id ``pid``, until its one answer goes back."""

    __slots__ = ("args", "claim", "client_id", "judging", "method", "modern", "pid", "progress", "span", "t0", "tool")

    def __init__(
        self, method: str, modern: bool, tool: str = "", args: Any = None, *, pid: int = 0, client_id: Any = None
    ) -> None:
        self.method, self.modern, self.tool, self.args = method, modern, tool, args
        self.pid, self.client_id = pid, client_id
        self.progress: Any = MISSING  # the client's progressToken, replaced by ``pid`` upstream
        self.judging = False  # a tools/call still being judged (analysis thread) or held for an approval
        self.claim: Any = None  # a retry's answer to an approval question (``_mcp.approval.Claim``)
        self.t0 = 0.0
        self.span: Any = None


class _ServerRequest:
    """A server-initiated request relayed to the client under the proxy's id, mapped back on the answer."""

    __slots__ = ("method", "progress", "server_id")

    def __init__(self, server_id: Any, method: str) -> None:
        self.server_id, self.method = server_id, method
        self.progress: Any = MISSING


class _AnalysisThread(concurrent.futures.Executor):
    """One daemon worker for judging large calls: a judgement that overruns its budget cannot delay exit."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((future, fn, args, kwargs))
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="sentinel-analysis", daemon=True)
            self._thread.start()
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting coroutine
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._jobs.put(None)

    def drain(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until every job queued so far has run; False if that took too long."""
        if self._thread is None:
            return True
        try:
            self.submit(lambda: None).result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True


class _ScanFailure:
    """Stands in for findings when the scanner itself failed (so block mode withholds the output)."""

    kind = "scanner_error"
    score = 1.0

    def __init__(self, evidence: str) -> None:
        self.evidence = evidence


def _load_scanner() -> Callable[[str], list[Any]] | None:
    """The prompt-injection scanner: findings for a text whose combined score reaches the threshold, else []."""
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
        self.pending: dict[int, _Pending] = {}  # by the proxy's upstream id
        self.by_client: dict[Any, int] = {}  # client id of a pending request -> its upstream id
        self.cancelled: dict[int, _Pending] = {}  # cancelled tools/call still expected to answer (for taint)
        self.next_id = 0
        self.server_requests: dict[int, _ServerRequest] = {}  # by the proxy's id toward the client
        self.server_ids: dict[Any, int] = {}  # the server's id of a pending server request -> the proxy's id
        self.next_server_id = 0
        self.pins = ToolPins()
        self.pin_blocked: set[str] = set()
        self.hidden_reported: frozenset[str] = frozenset()
        self.analysis: _AnalysisThread | None = None
        self.scan = _load_scanner() if self.opts.scan_output != "off" else None
        self.tracer = _Tracer()
        self.exit_code = 0
        self.stats = {"calls": 0, "blocked": 0, "flagged": 0, "bad_input": 0}
        self.audit_error: str | None = None  # set once an audit write fails: from then on no tool call runs
        self.approvals = Approvals(self, self.opts.approval_ttl_s, log=_log)  # policy ASK: asked through the client
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
        self.closing = False
        await self._open_upstream()
        try:
            self._open_client()
            self._audit("session_start", details={"server": self._server_label(), "key_source": self.ids.key_source})
            code = await self.finished
        finally:
            self.from_client.stop()
            await self._close_client()
            await self._release_upstream()
        return code

    def _server_label(self) -> list[str]:
        """What the audit log's ``session_start`` record names as the server."""
        return self.command[:1]

    async def _open_upstream(self) -> None:
        """Start the tool server as a child and read its stdout (raises ``ProxyError`` if it cannot start)."""
        loop = self.loop
        self.watchdog = Watchdog()
        try:
            self.proc = spawn_server(self.command, self.env, adopt_orphans=True)
        except ProxyError as exc:
            self.watchdog.disarm()
            self._audit("startup_error", decision="error", details={"reason": str(exc)[:500]})
            raise
        self.watchdog.arm(self.proc)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.server_in = _Writer(loop, os.dup(self.proc.stdin.fileno()), self._server_write_failed)
        self.proc.stdin.close()
        self.server_out_fd = os.dup(self.proc.stdout.fileno())
        self.proc.stdout.close()
        self.from_server = _LineReader(
            loop,
            self.server_out_fd,
            self.opts.max_message_bytes,
            self._safe_server_line,
            self._server_oversize,
            self._server_eof,
        )

    async def _release_upstream(self) -> None:
        """Stop reading the server and make sure it and its descendants are gone."""
        self.from_server.stop()
        with contextlib.suppress(OSError):
            os.close(self.server_out_fd)
        self._reap()
        self.watchdog.disarm()

    def _open_client(self) -> None:
        """Serve the client on this process's stdin/stdout (with backpressure both ways) and handle signals."""
        loop = self.loop
        self.client = _Writer(loop, self.client_out, self._client_gone)
        self.from_client = _LineReader(
            loop,
            self.client_in,
            self.opts.max_message_bytes,
            self._safe_client_line,
            self._client_oversize,
            self._client_eof,
        )
        self.server_in.sources = (self.from_client,)
        # the client gets the server's output and the proxy's own replies to client input: a client that
        # does not read pauses both
        self.client.sources = (self.from_server, self.from_client)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)

    async def _close_client(self) -> None:
        """Flush what the client is still owed and leave the caller's stdio as we found it."""
        await self.client.drain(2.0)
        for fd in (self.client_in, self.client_out):
            with contextlib.suppress(OSError, ValueError):
                os.set_blocking(fd, True)

    def _on_signal(self, sig: int) -> None:
        _log(f"received signal {sig}; stopping the tool server")
        answered = self._fail_pending(f"{PROXY_ERROR_PREFIX}the proxy is stopping (signal {sig}) before an answer")
        if answered:
            self._audit("proxy_exit", decision="error", details={"signal": sig, "pending": answered})
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
        self._tasks.add(asyncio.ensure_future(self._stop_server()))

    async def _stop_server(self) -> None:
        await self._close_upstream()
        if not self.finished.done():
            self.finished.set_result(self.exit_code)

    async def _close_upstream(self) -> None:
        """Close the server's stdin, give it time, then SIGTERM and SIGKILL; let its last output through."""
        await stop_server(
            self.proc, self.server_in.close_after_flush, self.opts.grace_seconds, lambda: self.from_server.done
        )

    def _reap(self) -> None:
        if self.proc.poll() is None:
            signal_group(self.proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2.0)
        signal_group(self.proc, signal.SIGKILL)  # any children the server left behind

    def _server_eof(self) -> None:
        if self.closing:
            return
        self._tasks.add(asyncio.ensure_future(self._server_crashed()))

    async def _server_crashed(self) -> None:
        await wait_exit(self.proc, 1.0)
        code = self.proc.poll()
        what = f"exited with code {code}" if code is not None else "closed its stdout"
        if self.closing:
            return
        self._upstream_died(f"tool server {what}")
        self.server_in.close()

    def _upstream_died(self, what: str) -> None:
        """The upstream is gone: answer every pending request with an error, audit it, and end (status 1)."""
        if self.closing:
            return
        self.closing = True
        self.from_client.stop()
        answered = self._fail_pending(f"{PROXY_ERROR_PREFIX}{what} before answering")
        _log(f"{what} unexpectedly; answered {answered} pending request(s) with errors; exiting")
        self._audit("server_exit", decision="error", details={"what": what, "pending": answered})
        if not self.finished.done():
            self.finished.set_result(1)

    # ------------------------------------------------------------------ replies

    def _send_client(self, msg: dict[str, Any]) -> None:
        self.client.write(encode(msg))

    def _send_server(self, msg: dict[str, Any]) -> None:
        self.server_in.write(encode(msg))

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
        except Exception as exc:  # never crash the relay; but no tool runs unaudited from now on (fail closed)
            if self.audit_error is None:
                _log(f"audit write failed: {exc}; tool calls are refused from now on")
            self.audit_error = f"{type(exc).__name__}: {exc}"

    def _refuse_unaudited(self, rid: Any) -> bool:
        """Answer ``rid`` with an error when the audit log has failed (a tool must not run unaudited)."""
        if self.audit_error is None:
            return False
        message = f"{PROXY_ERROR_PREFIX}the audit log cannot be written ({self.audit_error}); tool calls are refused"
        self._reply_error(rid, PROXY_ERROR_CODE, message)
        return True

    def _fail_pending(self, message: str) -> int:
        """Answer every pending client request with ``message`` (once each); returns how many were answered."""
        entries = list(self.pending.values())
        self.pending.clear()
        self.by_client.clear()
        for entry in entries:
            self._reply_error(entry.client_id, PROXY_ERROR_CODE, message)
        return len(entries)

    def _take(self, pid: Any) -> _Pending | None:
        """Remove and return the pending request with upstream id ``pid`` (None if there is none)."""
        if type(pid) is not int:
            return None
        entry = self.pending.pop(pid, None)
        if entry is not None:
            self.by_client.pop(entry.client_id, None)
        return entry

    # ------------------------------------------------------------------ client -> server

    def _safe_client_line(self, line: bytes) -> None:
        try:
            self._on_client_line(line)
        except Exception as exc:  # a bug must cost one message, not the connection
            _log(f"internal error on a client message: {type(exc).__name__}: {exc}")
            rid = sniff_id(line)
            if rid is not MISSING and rid not in self.by_client:
                self._reply_error(rid, PROXY_ERROR_CODE, PROXY_ERROR_PREFIX + "internal error; request not forwarded")

    def _safe_client_message(self, msg: dict[str, Any], size: int) -> None:
        """``_safe_client_line`` for a message its caller already read with ``decode`` from ``size`` bytes (the
        HTTP gateway reads each body once): the same judging, without parsing the same bytes twice."""
        rid = msg.get("id", MISSING)
        try:
            self._on_client_message(msg, size)
        except Exception as exc:  # a bug must cost one message, not the connection
            _log(f"internal error on a client message: {type(exc).__name__}: {exc}")
            if valid_id(rid) and rid not in self.by_client:
                self._reply_error(rid, PROXY_ERROR_CODE, PROXY_ERROR_PREFIX + "internal error; request not forwarded")

    def _safe_server_line(self, line: bytes) -> None:
        try:
            self._on_server_line(line)
        except Exception as exc:
            _log(f"internal error on a tool server message: {type(exc).__name__}: {exc}")

    def _client_oversize(self, prefix: bytes, *rest: Any) -> None:
        size = rest[-1]
        suffix = rest[0] if len(rest) > 1 else b""
        self.stats["bad_input"] += 1
        rid = sniff_id(prefix)
        if rid is MISSING and suffix:
            rid = sniff_id_tail(suffix)
        limit = self.opts.max_message_bytes
        if rid is not MISSING:
            self._reply_error(
                rid, INVALID_REQUEST, f"Invalid Request: message of {size} bytes exceeds the limit of {limit}"
            )
        else:
            _log(f"dropped a client message of {size} bytes (limit {limit}); no request id found")
        self._audit(
            "bad_input", decision="block", request_id=_audit_id(rid), details={"reason": "oversize", "bytes": size}
        )

    def _refuse_client(self, rid: Any, code: int, message: str, reason: str) -> None:
        """Answer a client message the proxy will not forward and audit it."""
        self.stats["bad_input"] += 1
        self._reply_error(rid if valid_id(rid) else None, code, message)
        self._audit("bad_input", decision="block", request_id=_audit_id(rid), details={"reason": reason})

    def _on_client_line(self, line: bytes) -> None:
        try:
            msg = decode(line)
        except FrameError as exc:
            self._refuse_client(exc.id, exc.code, exc.message, "unreadable")
            return
        self._on_client_message(msg, len(line))

    def _on_client_message(self, msg: dict[str, Any], size: int) -> None:
        """One message from the client, as ``decode`` read it from ``size`` bytes: judged, then forwarded as the
        proxy's own serialisation, refused, or answered by the proxy."""
        method = msg.get("method", MISSING)
        rid = msg.get("id", MISSING)
        if method is MISSING:  # the client's answer to a server-initiated request
            self._client_response(msg, rid)
            return
        if msg.get("jsonrpc") != "2.0" or type(method) is not str:
            if rid is MISSING:
                self.stats["bad_input"] += 1
                _log("dropped an invalid notification from the client (not JSON-RPC 2.0)")
                self._audit("bad_input", decision="block", details={"reason": "invalid notification"})
            else:
                self._refuse_client(rid, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 request", "invalid")
            return
        params = msg.get("params")
        if rid is MISSING:
            self._client_notification(msg, method, params)
            return
        if not valid_id(rid):
            self._refuse_client(None, INVALID_REQUEST, "Invalid Request: id must be a string or an integer", "bad id")
            return
        if rid in self.by_client:
            self._refuse_client(
                rid, INVALID_REQUEST, "Invalid Request: id is already in use by a pending request", "id in use"
            )
            return
        if params is not None and type(params) is not dict:
            self._refuse_client(rid, INVALID_REQUEST, "Invalid Request: params must be an object", "bad params")
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
        elif self.opts.require_session and _session_gated(method, params):
            self._auth_error(rid, method, f'missing session id (params._meta["{SESSION_META_KEY}"])', params)
            return
        modern = bool(meta) and PROTOCOL_VERSION_META in meta  # type: ignore[operator]
        if method == "tools/call":
            self._tools_call(msg, rid, params or {}, meta, modern, presented, size)
            return
        if method == "initialize":
            self.approvals.initialize(params)
        self._forward_request(msg, self._register(rid, method, modern, meta))

    def _register(self, rid: Any, method: str, modern: bool, meta: Any, tool: str = "", args: Any = None) -> _Pending:
        """Give a client request the proxy's own upstream id and remember it until it is answered."""
        self.next_id += 1
        entry = _Pending(method, modern, tool, args, pid=self.next_id, client_id=rid)
        if type(meta) is dict and "progressToken" in meta:
            entry.progress = meta["progressToken"]
        self.pending[entry.pid] = entry
        self.by_client[rid] = entry.pid
        return entry

    def _forward_request(self, msg: dict[str, Any], entry: _Pending) -> None:
        msg["id"] = entry.pid
        if entry.progress is not MISSING:
            msg["params"]["_meta"]["progressToken"] = entry.pid
        self._send_server(msg)

    def _client_response(self, msg: dict[str, Any], rid: Any) -> None:
        """The client's answer to a server request: relayed under the server's own id, once."""
        if msg.get("jsonrpc") != "2.0" or rid is MISSING or ("result" not in msg and "error" not in msg):
            self.stats["bad_input"] += 1
            _log("dropped an invalid message from the client (no method, not a response)")
            self._audit("bad_input", decision="block", details={"reason": "invalid response"})
            return
        if self.approvals.client_response(rid, msg):  # the answer to the proxy's own approval question
            return
        entry = self.server_requests.pop(rid, None) if type(rid) is int else None
        if entry is None:
            _log(f"dropped a client answer to an unknown server request (id {str(rid)[:40]!r})")
            return
        self.server_ids.pop(entry.server_id, None)
        msg["id"] = entry.server_id
        self._send_server(msg)

    def _client_notification(self, msg: dict[str, Any], method: str, params: Any) -> None:
        """Known notifications pass (ids and tokens translated); a request method without an id never does."""
        if method not in _CLIENT_NOTIFICATIONS:
            self.stats["bad_input"] += 1
            tool = params.get("name") if method == "tools/call" and type(params) is dict else ""
            _log(f"refused a {method[:60]!r} message without an id (only notifications may omit it); not forwarded")
            self._audit(
                "tool_call" if method == "tools/call" else "bad_input",
                tool=tool if type(tool) is str else "",
                decision="block",
                rule="proxy.request_without_id",
                details={"reason": "request method without id", "method": method[:200]},
            )
            return
        if method == "notifications/cancelled":
            if type(params) is not dict:
                return
            entry = self.by_client.get(params.get("requestId"), None) if valid_id(params.get("requestId")) else None
            pending = self._take(entry) if entry is not None else None
            if pending is None:
                _log("dropped a cancellation of no pending request")
                return
            if pending.judging:  # never forwarded: nothing to cancel upstream, and it never will be
                self.approvals.withdraw(pending)  # a question asked about it is withdrawn
                return
            if pending.method == "tools/call":
                self.cancelled[pending.pid] = pending
                if len(self.cancelled) > _MAX_CANCELLED:
                    del self.cancelled[next(iter(self.cancelled))]
            params["requestId"] = pending.pid
        elif method == "notifications/progress":
            token = params.get("progressToken") if type(params) is dict else None
            sreq = self.server_requests.get(token) if type(token) is int else None
            if sreq is None or sreq.progress is MISSING:
                _log("dropped a progress notification for no pending server request")
                return
            params["progressToken"] = sreq.progress
        self._send_server(msg)

    def _auth_error(self, rid: Any, method: str, detail: str, params: Any) -> None:
        tool = params.get("name", "") if method == "tools/call" and isinstance(params, dict) else ""
        _log(f"refused a {method[:60]!r} request: {detail}")
        self._reply_error(rid, AUTH_CODE, f"{AUTH_PREFIX}{detail}")
        self._audit(
            "auth_error", tool=str(tool), decision="block", request_id=rid, details={"method": method, "detail": detail}
        )

    def _tools_call(
        self, msg: dict[str, Any], rid: Any, params: dict[str, Any], meta: Any, modern: bool, presented: Any, size: int
    ) -> None:
        name = params.get("name")
        if type(name) is not str or not name:
            self._refuse_client(
                rid, INVALID_PARAMS, "Invalid params: tools/call needs a non-empty string 'name'", "bad tools/call"
            )
            return
        args = params.get("arguments")
        if args is None:
            args = {}
        elif type(args) is not dict:
            self._refuse_client(
                rid, INVALID_PARAMS, "Invalid params: tools/call 'arguments' must be an object", "bad tools/call"
            )
            return
        session_id = presented if presented is not MISSING else self.session_id
        if self._refuse_unaudited(rid):
            return
        claim = self.approvals.claim(params)  # the proxy's own round state: taken out, never forwarded
        self.stats["calls"] += 1
        entry = self._register(rid, "tools/call", modern, meta, name, args)
        entry.claim = claim
        if size > _INLINE_JUDGE_BYTES:
            entry.judging = True
            task = asyncio.ensure_future(self._judge_off_loop(msg, entry, meta, session_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        verdict, latency_us = self._judge(name, args, entry)
        self._decided(msg, entry, verdict, latency_us, meta, session_id)

    def _policy_session(self, entry: _Pending) -> Any:
        """The policy session that judges and records ``entry``: the connection's own (the HTTP gateway's
        stateless side picks the one of the session token the request presented)."""
        return self.session

    def _judge(self, name: str, args: dict[str, Any], entry: _Pending | None = None) -> tuple[Any, float]:
        """The verdict on one call and how long it took (µs); any failure of the engine denies."""
        t0 = time.perf_counter()
        if name in self.pin_blocked:
            verdict: Any = _pin_verdict(name)
        else:
            try:
                session = self.session if entry is None else self._policy_session(entry)
                verdict = session.check(name, args)
            except Exception as exc:  # fail closed
                verdict = _error_verdict(name, exc)
        return verdict, (time.perf_counter() - t0) * 1e6

    async def _judge_off_loop(self, msg: dict[str, Any], entry: _Pending, meta: Any, session_id: str) -> None:
        """Judge a large call on the analysis thread; past the budget it is denied (the thread's answer is dropped)."""
        budget = self.opts.analysis_budget_s
        if self.analysis is None:
            self.analysis = _AnalysisThread()
        try:
            job = self.loop.run_in_executor(self.analysis, self._judge, entry.tool, entry.args, entry)
            verdict, latency_us = await asyncio.wait_for(job, budget)
            if latency_us > budget * 1e6:  # finished, but after the budget (the loop saw it late): still denied
                raise asyncio.TimeoutError
        except asyncio.TimeoutError:
            verdict, latency_us = _budget_verdict(entry.tool, budget), budget * 1e6
            _log(f"analysis of a call of {entry.tool!r} exceeded its budget of {budget:g} s; denied")
        except Exception as exc:  # fail closed
            verdict, latency_us = _error_verdict(entry.tool, exc), 0.0
        entry.judging = False
        if self.pending.get(entry.pid) is not entry:  # cancelled, or answered at shutdown, meanwhile
            self._audit_call(entry, verdict, latency_us, session_id, abandoned=True, off_loop=True)
            return
        if verdict.allowed and self.audit is not None:  # the record is written (off the loop) before the call runs
            await self.loop.run_in_executor(self.analysis, self._audit_call, entry, verdict, latency_us, session_id)
            if self.pending.get(entry.pid) is not entry:
                return
            self._decided(msg, entry, verdict, latency_us, meta, session_id, audited=True)
            return
        self._decided(msg, entry, verdict, latency_us, meta, session_id, off_loop=True)

    def _decided(
        self,
        msg: dict[str, Any],
        entry: _Pending,
        verdict: Any,
        latency_us: float,
        meta: Any,
        session_id: str,
        off_loop: bool = False,
        audited: bool = False,
    ) -> None:
        """Answer a denied call, or forward an allowed one once its audit record is written (``audited``: it is)."""
        self.tracer.decision(entry.tool, meta, verdict, entry.client_id, session_id)
        if self.approvals.decided(msg, entry, verdict, latency_us, meta, session_id):  # ask: asked or settled
            return
        if not verdict.allowed:
            self.stats["blocked"] += 1
            _log(f"blocked a call of {entry.tool[:80]!r} ({verdict.rule or verdict.policy}): {verdict.reason}"[:600])
            self._take(entry.pid)
            self._deny(entry.client_id, entry.tool, verdict, entry.modern)
            self._audit_call(entry, verdict, latency_us, session_id, off_loop=off_loop)
            return
        if not audited:
            self._audit_call(entry, verdict, latency_us, session_id)
        if self.audit_error is not None:  # the record of this call could not be written: the call does not run
            self._take(entry.pid)
            self._refuse_unaudited(entry.client_id)
            return
        if verdict.decision == "flag":
            self.stats["flagged"] += 1
        self._forward_request(msg, entry)  # what was judged, re-serialised under the proxy's id

    def _audit_call(
        self,
        entry: _Pending,
        verdict: Any,
        latency_us: float,
        session_id: str,
        abandoned: bool = False,
        off_loop: bool = False,
    ) -> None:
        """The decision's audit record; for a large call it is written on the analysis thread (redacting large
        arguments takes time the other messages should not wait for)."""
        details: dict[str, Any] = {}
        if verdict.decision != "allow":
            details = {"reason": verdict.reason, "policy": verdict.policy}
        if abandoned:
            details["abandoned"] = "cancelled or shut down before the verdict; not forwarded"
        fields: dict[str, Any] = {
            "session_id": session_id,
            "tool": entry.tool,
            "decision": verdict.decision,
            "request_id": entry.client_id,
            "arguments": entry.args,
            "rule": verdict.rule,
            "latency_us": latency_us,
            "details": details,
        }
        if off_loop and self.analysis is not None and self.audit is not None:
            self.analysis.submit(self._audit, "tool_call", **fields)
            return
        self._audit("tool_call", **fields)

    def _deny(self, rid: Any, name: str, verdict: Any, modern: bool, *, note: str = "", approval: Any = None) -> None:
        message = f"{BLOCK_PREFIX}{verdict.reason}" + (f"; {note}" if note else "")
        data = {
            "tool": name,
            "decision": verdict.decision,
            "rule": verdict.rule,
            "reason": verdict.reason,
            "violations": [v.to_dict() for v in verdict.violations],
            "taints": sorted(getattr(verdict, "taints", ()) or ()),
        }
        if approval is not None:
            data["approval"] = approval
        if self.opts.deny_style == "result":
            self._send_client({"jsonrpc": "2.0", "id": rid, "result": _error_result(message, modern, data)})
            return
        self._reply_error(rid, BLOCK_CODE, message, data)

    # ------------------------------------------------------------------ server -> client

    def _server_oversize(self, prefix: bytes, *rest: Any) -> None:
        size = rest[-1]
        suffix = rest[0] if len(rest) > 1 else b""
        limit = self.opts.max_message_bytes
        _log(f"dropped a tool server message of {size} bytes (limit {limit})")
        self._unreadable_reply(
            prefix, suffix, MISSING, f"{PROXY_ERROR_PREFIX}tool server reply of {size} bytes exceeds {limit}"
        )

    def _unreadable_reply(self, head: bytes, tail: bytes, rid: Any, message: str) -> None:
        """A server line the proxy cannot relay: answer the request it was for, so no client request hangs."""
        looks_like_message = head.lstrip(b" \t\r").startswith(b"{")
        if b'"method"' in head[:256]:  # a server request or notification: nobody waits for it
            self._audit("bad_output", decision="block", details={"reason": message[:200], "kind": "server message"})
            return
        if rid is MISSING or type(rid) is not int or rid not in self.pending:
            rid = sniff_id(head)
        if (rid is MISSING or rid not in self.pending) and tail:
            rid = sniff_id_tail(tail)
        entry = self._take(rid)
        if entry is None and looks_like_message and len(self.pending) == 1:
            entry = self._take(next(iter(self.pending)))
        if entry is None:
            if type(rid) is int and rid in self.cancelled:
                late = self.cancelled.pop(rid)
                self._record(late, True)
            return
        self._reply_error(entry.client_id, PROXY_ERROR_CODE, message)
        self._audit(
            "bad_output",
            tool=entry.tool,
            decision="block",
            request_id=_audit_id(entry.client_id),
            details={"reason": message[:200], "method": entry.method},
        )
        if entry.method == "tools/call":  # it ran and answered something: its effects count (fail closed)
            self._record(entry, True)

    def _on_server_line(self, line: bytes) -> None:
        try:
            msg = decode(line)
        except FrameError as exc:
            if not line.lstrip(b" \t\r").startswith(b"{"):
                _log(f"dropped a non-JSON line from the tool server: {line[:120]!r}")
                return
            _log(f"dropped an unreadable tool server message ({exc.message}): {line[:120]!r}")
            self._unreadable_reply(
                line[:4096],
                line[-4096:],
                exc.id,
                f"{PROXY_ERROR_PREFIX}tool server reply could not be read ({exc.message})",
            )
            return
        if "method" in msg:  # server notification or server-initiated request
            self._server_message(msg)
            return
        rid = msg.get("id", MISSING)
        entry = self._take(rid)
        if entry is None:
            late = self.cancelled.pop(rid, None) if type(rid) is int else None
            if late is not None:  # cancelled, but it ran: its effects count, its answer is not relayed
                self._record(late, _returned_content(msg))
            elif not valid_id(rid):
                _log("dropped a tool server response without a valid id")
            else:
                _log(f"dropped a tool server response to no pending request (id {str(rid)[:40]!r})")
            return
        msg["id"] = entry.client_id
        if "result" not in msg and "error" not in msg:
            self._reply_error(entry.client_id, PROXY_ERROR_CODE, PROXY_ERROR_PREFIX + "tool server reply is invalid")
            if entry.method == "tools/call":
                self._record(entry, True)
            return
        if entry.method == "tools/call":
            self._tools_call_result(msg, entry, msg.get("result"))
            return
        self._protect_and_send(msg, entry)

    def _server_message(self, msg: dict[str, Any]) -> None:
        """A server request or notification: ids and tokens translated, texts spotlighted and scanned."""
        method = msg.get("method")
        rid = msg.get("id", MISSING)
        if msg.get("jsonrpc") != "2.0" or type(method) is not str:
            _log("dropped an invalid message from the tool server")
            if valid_id(rid):
                self._server_error(rid, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 request")
            return
        params = msg.get("params")
        if rid is MISSING and not method.startswith("notifications/"):
            _log(f"dropped a {method[:60]!r} message without an id from the tool server")
            self._audit(
                "bad_output", decision="block", details={"reason": "request method without id", "method": method}
            )
            return
        if rid is not MISSING and not valid_id(rid):
            _log("dropped a tool server request with an invalid id")
            return
        if rid is not MISSING and rid in self.server_ids:
            self._server_error(rid, INVALID_REQUEST, "Invalid Request: id is already in use by a pending request")
            return
        strip_forged(msg)  # only the proxy asks for approvals
        texts = self._protect(msg, None)
        block = self.scan is not None and texts and self.opts.scan_output == "block"
        if block and self._scan_texts(texts, f"server {method[:60]}", rid if rid is not MISSING else None, block=True):
            if rid is not MISSING:
                self._server_error(rid, BLOCK_CODE, BLOCK_PREFIX + "request withheld (prompt injection signs)")
            return
        if rid is not MISSING:
            self.next_server_id += 1
            sreq = _ServerRequest(rid, method)
            meta = params.get("_meta") if type(params) is dict else None
            if type(meta) is dict and "progressToken" in meta:
                sreq.progress = meta["progressToken"]
                meta["progressToken"] = self.next_server_id
            self.server_requests[self.next_server_id] = sreq
            self.server_ids[rid] = self.next_server_id
            msg["id"] = self.next_server_id
        elif not self._translate_server_notification(method, params):
            return
        self._send_client(msg)
        if self.scan is not None and texts and not block:
            self._scan_texts(texts, f"server {method[:60]}", rid if rid is not MISSING else None, block=False)

    def _translate_server_notification(self, method: str, params: Any) -> bool:
        """Map the ids a server notification names to the client's; False if it names nothing pending."""
        if method == "notifications/progress":
            token = params.get("progressToken") if type(params) is dict else None
            entry = self.pending.get(token) if type(token) is int else None
            if entry is None or entry.progress is MISSING:
                _log("dropped a progress notification for no pending request")
                return False
            params["progressToken"] = entry.progress
        elif method == "notifications/cancelled":
            request_id = params.get("requestId") if type(params) is dict else None
            sid = self.server_ids.pop(request_id, None) if valid_id(request_id) else None
            if sid is None:
                return False
            self.server_requests.pop(sid, None)
            params["requestId"] = sid
        return True

    def _server_error(self, rid: Any, code: int, message: str) -> None:
        self._send_server({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})

    def _protect_and_send(self, msg: dict[str, Any], entry: _Pending) -> None:
        """Spotlight and scan a response; in block mode a response with injection signs becomes an error."""
        texts = self._protect(msg, entry.method)
        block = self.scan is not None and texts and self.opts.scan_output == "block"
        if block:
            kinds = self._scan_texts(texts, entry.tool or entry.method, entry.client_id, block=True)
            if kinds:
                reason = f"the answer to '{entry.method}' looks like a prompt injection ({', '.join(kinds)})"
                msg = {"jsonrpc": "2.0", "id": entry.client_id}
                msg["error"] = {
                    "code": BLOCK_CODE,
                    "message": f"{BLOCK_PREFIX}{reason}",
                    "data": {"decision": "block", "rule": "spotlight.scan_output", "reason": reason},
                }
        result = msg.get("result")
        if entry.method == "tools/list" and type(result) is dict:
            self._tools_list_result(result)
        elif entry.method in ("initialize", "server/discover") and type(result) is dict:
            meta = result.get("_meta")
            if type(meta) is not dict:
                meta = result["_meta"] = {}
            meta[SESSION_META_KEY] = self.session_id
        self._send_client(msg)
        if self.scan is not None and texts and not block:
            self._scan_texts(texts, entry.tool or entry.method, entry.client_id, block=False)

    def _tools_call_result(self, msg: dict[str, Any], entry: _Pending, result: Any) -> None:
        """Spotlight, scan (before forwarding in block mode, after it in flag mode), then record the call."""
        ran = _returned_content(msg)
        if type(result) is dict and type(result.get("_meta")) is dict:
            result["_meta"].pop(VERDICT_META_KEY, None)  # only the proxy may say a call was blocked
            result["_meta"].pop(OUTPUT_SCAN_META_KEY, None)  # ...or what its scan found
        strip_forged(msg)  # ...or ask for an approval
        structured: list[str] = []
        texts = self._protect(msg, "tools/call", structured)
        scan_first = self.scan is not None and (texts or structured) and self.opts.scan_output == "block"
        early: list[Any] = []
        seen: dict[str, list[Any]] = {}  # each distinct text is scanned once (a result's text block usually
        # repeats its structuredContent as JSON, or as the very string)
        if scan_first:
            self._scan_output(msg, entry, texts + structured)
        elif self.scan is not None and structured and type(result) is dict:
            early = self._flag_structured(result, structured, seen)
        self._send_client(msg)
        if self.scan is not None and (texts or early) and not scan_first:
            findings = early + (self._findings(texts, seen) if texts else [])
            self._report_findings(findings, entry.tool, entry.client_id, block=False)
        self._record(entry, ran)

    def _protect(self, msg: dict[str, Any], answered: str | None, structured: list[str] | None = None) -> list[str]:
        """Spotlight a server message in place and return its texts for the scan; with spotlighting and the scan
        both off there is nothing to wrap or scan, so the walk is skipped."""
        if self.scan is None and not self.opts.spotlight:
            return []
        return protect_message(msg, answered, wrap=self.opts.spotlight, structured=structured)

    def _flag_structured(
        self, result: dict[str, Any], structured: list[str], seen: dict[str, list[Any]] | None = None
    ) -> list[Any]:
        """Flag mode: ``structuredContent`` is never wrapped, so what the scan finds in it travels with it in
        ``_meta`` (scanned before the result leaves; logged and audited with the rest of the result's texts)."""
        findings = self._findings(structured, seen)
        if findings:
            meta = result.get("_meta")
            if type(meta) is not dict:
                meta = result["_meta"] = {}
            kinds = sorted({str(getattr(f, "kind", "injection")) for f in findings})
            meta[OUTPUT_SCAN_META_KEY] = {"decision": "flag", "kinds": kinds, "field": "structuredContent"}
        return findings

    def _scan_output(self, msg: dict[str, Any], entry: _Pending, texts: list[str]) -> None:
        """Block mode for a ``tools/call`` answer: with injection signs its result becomes an ``isError`` result."""
        kinds = self._scan_texts(texts, entry.tool, entry.client_id, block=True)
        if not kinds:
            return
        text = f"{BLOCK_PREFIX}the output of '{entry.tool}' looks like a prompt injection ({', '.join(kinds)})"
        reason = text.split(": ", 1)[1]
        data = {
            "tool": entry.tool,
            "decision": "block",
            "rule": "spotlight.scan_output",
            "reason": reason,
            "violations": [{"policy": "output_injection", "reason": reason, "severity": "high"}],
            "taints": [],
        }
        msg.pop("error", None)
        msg["result"] = _error_result(text, entry.modern, data)

    def _record(self, entry: _Pending, ran: bool) -> None:
        try:
            self._policy_session(entry).record(entry.tool, entry.args, ok=ran)
        except Exception as exc:
            _log(f"policy session failed to record {entry.tool}: {exc}")

    def _scan_texts(self, texts: list[str], what: str, request_id: Any, *, block: bool) -> list[str]:
        """Scan untrusted texts; with findings log and audit them and return their kinds (else [])."""
        return self._report_findings(self._findings(texts), what, request_id, block=block)

    def _findings(self, texts: list[str], seen: dict[str, list[Any]] | None = None) -> list[Any]:
        """What the injection scanner finds in ``texts`` (a scanner failure counts as a finding). ``seen`` holds
        the findings of texts of the same message scanned already: a text met again is not scanned again (the
        scan is a function of the text alone), and its findings still count each time it occurs."""
        assert self.scan is not None
        findings: list[Any] = []
        for text in texts:
            try:
                found = seen.get(text) if seen is not None else None
                if found is None:
                    found = self.scan(text)
                    if seen is not None:
                        seen[text] = found
                findings.extend(found)
            except Exception as exc:  # a scanner that fails cannot vouch for the output: count it as a finding
                _log(f"output scan failed: {exc}")
                findings.append(_ScanFailure(f"scanner error: {type(exc).__name__}"))
                break
        return findings

    def _report_findings(self, findings: list[Any], what: str, request_id: Any, *, block: bool) -> list[str]:
        """Log and audit findings (one record per message); return their kinds (else [])."""
        if not findings:
            return []
        kinds = sorted({str(getattr(f, "kind", "injection")) for f in findings})
        _log(f"prompt injection signs in the output of {what!r}: {', '.join(kinds)}" + ("; withheld" if block else ""))
        self._audit(
            "output_scan",
            tool=what,
            decision="block" if block else "flag",
            request_id=_audit_id(request_id),
            details={
                "kinds": kinds,
                "evidence": [str(getattr(f, "evidence", ""))[:120] for f in findings[:5]],
            },
        )
        return kinds

    def _tools_list_result(self, result: dict[str, Any]) -> None:
        tools = result.get("tools")
        if type(tools) is not list:
            return
        valid = [t for t in tools if type(t) is dict and type(t.get("name")) is str]
        if self.opts.pin_tools != "off":
            try:
                events = self._observe_pins(valid)
            except Exception as exc:  # a pin store that fails cannot vouch for the list
                _log(f"tool pinning failed: {type(exc).__name__}: {exc}")
                events = []
            for event in events:
                self._pin_event(event)
        kept = []
        hidden: list[str] = []
        for tool in valid:
            name = tool["name"]
            if name in self.pin_blocked:
                hidden.append(name)
                continue
            if self.opts.hide_denied_tools:
                try:
                    allowed = self.policy.tool_allowed(name)
                except Exception:
                    allowed = True
                if not allowed:
                    hidden.append(name)
                    continue
            kept.append(tool)
        result["tools"] = kept
        self._report_hidden(hidden, len(valid))

    def _observe_pins(self, tools: list[dict[str, Any]]) -> list[Any]:
        """Pin the tools of one ``tools/list`` answer (a gateway of several servers pins each server's apart)."""
        return self.pins.observe(tools)

    def _report_hidden(self, hidden: list[str], listed: int) -> None:
        """One line on stderr and one audit record whenever the set of hidden tools changes (so an empty tool
        list in a host is never a mystery); the same list again says nothing."""
        key = frozenset(hidden)
        if key == self.hidden_reported:
            return
        self.hidden_reported = key
        if not hidden:
            return
        names = ", ".join(sorted(hidden)[:20]) + (f" and {len(hidden) - 20} more" if len(hidden) > 20 else "")
        if len(hidden) == listed:
            what = f"every tool the server lists ({listed}) is hidden by the policy; the host sees no tools: {names}"
        else:
            what = f"{len(hidden)} of {listed} tools hidden by the policy: {names}"
        _log(what)
        self._audit(
            "tools_hidden",
            decision="block",
            rule="proxy.hide_denied_tools",
            details={"listed": listed, "hidden": sorted(hidden)[:200], "all": len(hidden) == listed},
        )

    def _pin_event(self, event: Any) -> None:
        name = str(event.name)
        details = dict(getattr(event, "details", {}) or {})
        if event.kind == "renamed":
            _log(f"tool {name!r} has the definition of another tool listed earlier under another name")
            self._audit("tool_pin", tool=name, decision="flag", details={"kind": "renamed", **details})
            return
        blocked = self.opts.pin_tools == "block"
        _log(
            f"tool {name!r} changed its definition since it was first listed (possible rug pull)"
            + ("; it is now blocked" if blocked else "")
        )
        self._audit(
            "tool_pin", tool=name, decision="block" if blocked else "flag", details={"kind": "changed", **details}
        )
        if blocked:
            self.pin_blocked.add(name)


def _audit_id(rid: Any) -> Any:
    """A request id as the audit log records it (None when there is none)."""
    return rid if valid_id(rid) else None


def _returned_content(msg: dict[str, Any]) -> bool:
    """Whether a ``tools/call`` answer counts as the tool having run and returned something (fail closed)."""
    if "result" not in msg:
        return True  # a JSON-RPC error carries the server's text to the model
    result = msg["result"]
    if type(result) is not dict:
        return True
    is_error = result.get("isError", False)
    if type(is_error) is not bool:
        return True  # a non-boolean isError is an error with content
    if result.get("content") or result.get("structuredContent") is not None or result.get("task") is not None:
        return True
    return not is_error


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


def _proxy_block(name: str, policy: str, reason: str, rule: str) -> Verdict:
    """A blocking verdict the proxy makes itself (not the engine's): one high-severity violation."""
    return Verdict(
        allowed=False, violations=(Violation(policy, reason, "high"),), tool=name, decision="block", rule=rule
    )


def _pin_verdict(name: str) -> Verdict:
    reason = f"tool '{name}' changed its definition since it was first listed (possible rug pull)"
    return _proxy_block(name, "tool_pinning", reason, "proxy.pin_tools")


def _budget_verdict(name: str, budget: float) -> Verdict:
    reason = f"analysis of this call exceeded its budget of {budget:g} s; failing closed"
    return _proxy_block(name, "analysis_budget", reason, "proxy.analysis_budget")


def _error_verdict(name: str, exc: BaseException) -> Verdict:
    reason = f"policy engine error ({type(exc).__name__}: {exc}); failing closed"
    return _proxy_block(name, "engine_error", reason, "error")


def run_proxy(
    command: Sequence[str],
    policy: Any,
    *,
    options: ProxyOptions | None = None,
    audit: Any = None,
    session_key: bytes | None = None,
) -> int:
    """Run the proxy on this process's stdin/stdout until the client leaves; returns the exit status."""
    return serve(Proxy(command, policy, options=options, audit=audit, session_key=session_key))


def serve(proxy: Proxy) -> int:
    """Run ``proxy`` until the client leaves, then let the analysis thread finish its audit records."""
    try:
        return asyncio.run(proxy.run())
    except ProxyError as exc:
        _log(str(exc))
        return 1
    finally:
        if proxy.analysis is not None and not proxy.analysis.drain(3.0):  # audit records still being written
            _log("the analysis thread did not finish in time; some audit records may be missing")
