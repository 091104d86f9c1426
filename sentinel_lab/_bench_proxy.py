"""Proxy overhead: ``tools/call`` round trips and throughput with the official MCP client, direct and proxied.

Every side talks to the same tool server program (the bundled demo server, an official-SDK ``MCPServer``) and all
sessions are open at the same time. Over stdio: ``direct``; ``bare``, a byte relay in its own Python process that
copies the bytes both ways and parses nothing (the floor of any proxy that is a process between the two: the hop
alone); the proxy with the *relay* policy (a static ALLOW rule,
no verifier, no spotlighting: the relay itself); with the *full* policy (static rule, the verifier's content
checks, spotlighting and the output scan: the real enforcement path); and the full policy with ``--audit``.
Over Streamable HTTP (``http=True``), with the SDK's HTTP client: ``http_direct`` (the server program served over
Streamable HTTP); ``sentinel-lab gateway --listen`` with the full policy in front of the server over stdio
(``gateway``) and the same with ``--audit`` (``gateway_audit``); and ``proxy --upstream-url`` in front of the
HTTP server, its client on stdio (``upstream_url``). Each proxied side is compared with its direct baseline:
stdio sides with ``direct``, HTTP sides with ``http_direct``.

Latency: one call at a time, interleaved in a rotating order after a warm-up, so drift in machine load hits every
side equally; p50/p95/p99 per side and the proxied/direct ratio of each. Throughput: ``inflight`` calls in flight
on one session, a side at a time in rotating order over a few rounds, the median rate per side and its ratio to
the baseline's. Nothing here asserts a timing; the ratio target is reported as met or missed.

Beside the round trips, ``handler_cost`` measures the relay's own work for one round trip in process, without
processes or I/O (µs, function calls, writes per message): a figure a shared machine's load moves far less, and a
call count it cannot move at all.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["BASELINE", "FULL_POLICY", "RELAY_POLICY", "SIDE_LABELS", "TARGET_RATIO", "bench_proxy", "handler_cost"]

#: Proxied/direct median round trip with the audit log on (issue target; printed, never asserted).
TARGET_RATIO = 1.10

FULL_POLICY = """\
name: bench-proxy-full
static_rules:
  get_weather: ALLOW
verifier:
  enabled: true
  rate_limit: false
spotlight: {enabled: true, scan_output: flag}
proxy: {pin_tools: warn, hide_denied_tools: true}
"""

RELAY_POLICY = """\
name: bench-proxy-relay
static_rules:
  get_weather: ALLOW
verifier: {enabled: false}
spotlight: {enabled: false, scan_output: "off"}
proxy: {pin_tools: "off", hide_denied_tools: false}
"""

_STDIO_SIDES = ("direct", "bare", "relay", "full", "audit")
_HTTP_SIDES = ("http_direct", "gateway", "gateway_audit", "upstream_url")
_OVER_HTTP = frozenset({"http_direct", "gateway", "gateway_audit"})  # the client speaks Streamable HTTP

#: The side each proxied side is compared with.
BASELINE = {
    "bare": "direct",
    "relay": "direct",
    "full": "direct",
    "audit": "direct",
    "gateway": "http_direct",
    "gateway_audit": "http_direct",
    "upstream_url": "http_direct",
}

SIDE_LABELS = {
    "direct": "stdio direct",
    "bare": "stdio byte relay (floor)",
    "relay": "stdio proxy, relay policy",
    "full": "stdio proxy, full policy",
    "audit": "stdio proxy, full policy + audit",
    "http_direct": "HTTP direct",
    "gateway": "HTTP gateway -> stdio server",
    "gateway_audit": "HTTP gateway + audit -> stdio",
    "upstream_url": "stdio proxy --upstream-url HTTP",
}

_HTTP_SERVER = (
    "import sys; from sentinel_lab.demo_server import build_server; "
    "build_server().run(transport='streamable-http', host='127.0.0.1', port=int(sys.argv[1]))"
)
_CLI = (sys.executable, "-m", "sentinel_lab._cli")
_SERVER = (sys.executable, "-m", "sentinel_lab.demo_server")


def _rank(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100.0 * len(ordered)) - 1))]


def _machine() -> dict[str, Any]:
    try:
        from sentinel_lab.bench import machine

        return machine()
    except Exception:  # the harness module is optional here
        import platform

        return {"cpu": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def _http_servers(full_policy: Path, audit_dir: Path, errlog: Any) -> Iterator[dict[str, str]]:
    """The demo server over Streamable HTTP and two gateways (without and with audit) in front of the server over
    stdio; yields the three URLs."""
    ports = {side: _free_port() for side in ("http_direct", "gateway", "gateway_audit")}
    gateway = (*_CLI, "gateway", "--policy", str(full_policy))
    commands = {
        "http_direct": [sys.executable, "-c", _HTTP_SERVER, str(ports["http_direct"])],
        "gateway": [*gateway, "--listen", f"127.0.0.1:{ports['gateway']}", "--", *_SERVER],
        "gateway_audit": [
            *gateway,
            *("--audit", str(audit_dir / "gateway.jsonl"), "--listen", f"127.0.0.1:{ports['gateway_audit']}"),
            *("--", *_SERVER),
        ],
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for side, command in commands.items():
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog)
            procs.append(proc)
            deadline = time.monotonic() + 60
            while not _listening(ports[side]):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"benchmark server did not start: {' '.join(command[2:5])}")
                time.sleep(0.05)
        yield {side: f"http://127.0.0.1:{port}/mcp" for side, port in ports.items()}
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _stdio_command(side: str, policies: dict[str, Path], audit_dir: Path, urls: dict[str, str]) -> list[str]:
    if side == "direct":
        return list(_SERVER)
    if side == "bare":
        return [sys.executable, "-m", "sentinel_lab._bench_proxy", *_SERVER]
    policy = policies["relay" if side == "relay" else "full"]
    proxy = [*_CLI, "proxy", "--policy", str(policy)]
    if side == "audit":
        proxy += ["--audit", str(audit_dir / "proxy.jsonl")]
    if side == "upstream_url":
        return [*proxy, "--upstream-url", urls["http_direct"]]
    return [*proxy, "--", *_SERVER]


async def _measure(
    sides: tuple[str, ...],
    calls: int,
    warmup: int,
    inflight: int,
    rounds: int,
    policies: dict[str, Path],
    audit_dir: Path,
    errlog: Any,
    urls: dict[str, str],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Latency samples (ms) per side, then throughput per round (calls/s) per side."""
    from contextlib import AsyncExitStack

    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    args = {"city": "Paris"}
    async with AsyncExitStack() as stack:
        sessions: dict[str, ClientSession] = {}
        for side in sides:
            if side in _OVER_HTTP:
                from mcp.client.streamable_http import streamable_http_client

                streams = await stack.enter_async_context(streamable_http_client(urls[side]))
                read, write = streams[0], streams[1]
            else:
                command = _stdio_command(side, policies, audit_dir, urls)
                params = StdioServerParameters(command=command[0], args=command[1:])
                read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            await session.list_tools()
            sessions[side] = session

        async def call(side: str) -> None:
            result = await sessions[side].call_tool("get_weather", args)
            if result.is_error:
                raise RuntimeError(f"benchmark call failed ({side}): {result}")

        samples: dict[str, list[float]] = {side: [] for side in sides}
        for i in range(warmup + calls):
            shift = i % len(sides)
            for side in sides[shift:] + sides[:shift]:
                t0 = time.perf_counter_ns()
                await call(side)
                elapsed = (time.perf_counter_ns() - t0) / 1e6
                if i >= warmup:
                    samples[side].append(elapsed)

        rates: dict[str, list[float]] = {side: [] for side in sides}
        per_round = max(inflight, calls // rounds)
        for r in range(rounds):
            shift = r % len(sides)
            for side in sides[shift:] + sides[:shift]:
                left = per_round

                async def worker(side: str = side) -> None:
                    nonlocal left
                    while left > 0:
                        left -= 1
                        await call(side)

                t0 = time.perf_counter_ns()
                async with anyio.create_task_group() as tg:
                    for _ in range(inflight):
                        tg.start_soon(worker)
                rates[side].append(per_round / ((time.perf_counter_ns() - t0) / 1e9))
        return samples, rates


class _Frames:
    """Stands in for the relay's fd writers: counts the frames written, keeps none."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1


_HANDLER_REQUEST = (
    '{"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}},"jsonrpc":"2.0","id":%d}\n'
)
_HANDLER_ANSWER = (
    '{"jsonrpc":"2.0","id":%d,"result":{"content":[{"type":"text","text":"Weather in Paris: 21 C, light wind."}],'
    '"structuredContent":{"result":"Weather in Paris: 21 C, light wind."},"isError":false}}\n'
)


def handler_cost(side: str, calls: int = 2000, repeats: int = 5) -> dict[str, float]:
    """The relay's own work for one ``tools/call`` round trip of ``side`` (relay, full or audit), in process and
    without I/O: the client's line and the demo server's answer through its line handlers, frames counted, not
    written (the audit log is a real file). Returns the best of ``repeats`` runs in µs per round trip, the function
    calls per round trip (Python and built-in, counted by ``cProfile``: the same on any machine for the same code)
    and frames written per message.
    """
    import cProfile
    import pstats

    from sentinel_lab._mcp.audit import AuditLog
    from sentinel_lab._mcp.relay import Proxy
    from sentinel_lab._policy.model import Policy

    if side not in ("relay", "full", "audit"):
        raise ValueError(f"no handler measure for side {side!r}")
    with tempfile.TemporaryDirectory(prefix="sentinel-handler-") as tmp:
        audit = AuditLog(Path(tmp) / "audit.jsonl") if side == "audit" else None
        try:
            proxy = Proxy(["true"], Policy.from_yaml(RELAY_POLICY if side == "relay" else FULL_POLICY), audit=audit)
            client, server = _Frames(), _Frames()
            proxy.client, proxy.server_in = client, server  # type: ignore[assignment]
            count = iter(range(1, 1 << 62))

            def one() -> None:
                proxy._on_client_line((_HANDLER_REQUEST % next(count)).encode())
                proxy._on_server_line((_HANDLER_ANSWER % proxy.next_id).encode())

            for _ in range(200):
                one()
            best = math.inf
            for _ in range(repeats):
                t0 = time.perf_counter_ns()
                for _ in range(calls):
                    one()
                best = min(best, (time.perf_counter_ns() - t0) / calls / 1000.0)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(100):
                one()
            profiler.disable()
            counted = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
            function_calls = sum(entry[0] for entry in counted.values()) / 100
            messages = 2 * (200 + repeats * calls + 100)
            frames = client.writes + server.writes
        finally:
            if audit is not None:
                audit.close()
    return {
        "us_per_call": round(best, 1),
        "function_calls": round(function_calls),
        "frames_per_message": frames / messages,
    }


def _summary(samples: dict[str, list[float]], rates: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for side, values in samples.items():
        ordered = sorted(values)
        out[side] = {
            "n": len(ordered),
            "p50_ms": round(statistics.median(ordered), 4),
            "p95_ms": round(_rank(ordered, 95), 4),
            "p99_ms": round(_rank(ordered, 99), 4),
            "calls_per_s": round(statistics.median(rates[side]), 1),
        }
    for side, stats in out.items():
        base = out.get(BASELINE.get(side, ""))
        if base is None:
            continue
        for q in ("p50", "p95", "p99"):
            stats[f"ratio_{q}"] = round(stats[f"{q}_ms"] / base[f"{q}_ms"], 3)
        stats["ratio_throughput"] = round(stats["calls_per_s"] / base["calls_per_s"], 3)
    return out


def bench_proxy(
    calls: int = 1000, warmup: int = 100, http: bool = True, inflight: int = 16, rounds: int = 3
) -> dict[str, Any]:
    """Round-trip percentiles and throughput (``inflight`` calls in flight) direct and through the proxy over stdio,
    and with ``http`` direct over Streamable HTTP, through the gateway and through ``proxy --upstream-url``; each
    proxied side's ratios to its direct baseline, the audit-on targets, and the machine."""
    import anyio

    if calls < 1 or warmup < 0 or inflight < 1 or rounds < 1:
        raise ValueError("calls, inflight and rounds must be at least 1, warmup at least 0")
    sides = _STDIO_SIDES + (_HTTP_SIDES if http else ())
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        folder = Path(tmp)
        policies = {"relay": folder / "relay.yaml", "full": folder / "full.yaml"}
        policies["relay"].write_text(RELAY_POLICY)
        policies["full"].write_text(FULL_POLICY)
        with open(folder / "stderr.log", "w") as errlog, contextlib.ExitStack() as stack:
            urls = stack.enter_context(_http_servers(policies["full"], folder, errlog)) if http else {}
            samples, rates = anyio.run(_measure, sides, calls, warmup, inflight, rounds, policies, folder, errlog, urls)
    stats = _summary(samples, rates)
    handler = {side: handler_cost(side, calls=max(50, 2 * calls)) for side in ("relay", "full", "audit")}
    median = {side: stats[side]["p50_ms"] for side in sides}
    paired = sorted(b - a for a, b in zip(samples["direct"], samples["full"], strict=True))
    targets = [
        {
            "name": f"p50 ratio: {SIDE_LABELS[side]}",
            "side": side,
            "value": stats[side]["ratio_p50"],
            "target": TARGET_RATIO,
            "met": stats[side]["ratio_p50"] <= TARGET_RATIO,
        }
        for side in ("audit", "gateway_audit")
        if side in stats
    ]
    return {
        "calls": calls,
        "warmup": warmup,
        "inflight": inflight,
        "rounds": rounds,
        "sides": stats,
        "targets": targets,
        "handler": handler,
        "direct_median_ms": median["direct"],
        "direct_p99_ms": stats["direct"]["p99_ms"],
        "proxy_median_ms": median["full"],
        "proxy_p99_ms": stats["full"]["p99_ms"],
        "overhead_median_ms": round(median["full"] - median["direct"], 4),
        "paired_overhead_median_ms": round(statistics.median(paired), 4),
        "relay_median_ms": median["relay"],
        "relay_overhead_median_ms": round(median["relay"] - median["direct"], 4),
        "audit_median_ms": median["audit"],
        "audit_overhead_median_ms": round(median["audit"] - median["direct"], 4),
        "path": "full: static rule + verifier + spotlighting + output scan; relay: static rule only; "
        "audit: full + --audit"
        + ("; gateway: the full policy in `gateway --listen` in front of the server over stdio" if http else ""),
        "machine": _machine(),
    }


def _pump(source: int, sink: int) -> None:
    """Copy bytes from ``source`` to ``sink`` until end of file (blocking reads, every byte written)."""
    while chunk := os.read(source, 65536):
        view = memoryview(chunk)
        while view:
            view = view[os.write(sink, view) :]


def bare_relay(command: list[str]) -> int:
    """Run ``command`` and copy this process's stdin to it and its stdout to ours, parsing nothing: the ``bare``
    side, the cost of an extra process on the path alone. A benchmark's baseline, never a way to serve a tool."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    server_in = proc.stdin

    def upstream() -> None:
        with contextlib.suppress(OSError):
            _pump(sys.stdin.fileno(), server_in.fileno())
        server_in.close()

    threading.Thread(target=upstream, daemon=True).start()
    with contextlib.suppress(OSError):
        _pump(proc.stdout.fileno(), sys.stdout.fileno())
    return proc.wait()


if __name__ == "__main__":
    sys.exit(bare_relay(sys.argv[1:]))
