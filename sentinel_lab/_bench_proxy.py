"""Proxy overhead: ``tools/call`` round trips with the official MCP client, direct and through the proxy.

Three sessions talk to the same tool server program (the bundled demo server) and are open at the same time:
direct, through the proxy with a *relay* policy (a static ALLOW rule, no verifier, no spotlighting: the cost of
the relay itself), and through the proxy with the *full* policy (static rule, the verifier's content checks,
spotlighting and the output scan: the real enforcement path). Calls are timed interleaved in a rotating order
after a warm-up, so drift in machine load hits every side equally. The headline ``overhead_median_ms`` is the
full path; ``relay_overhead_median_ms`` separates what the relay costs from what the checks cost.

Over HTTP (``http=True``) two more sessions join the rotation, with the official Streamable HTTP client: the same
server program served over Streamable HTTP (``http_direct``), and ``sentinel-lab gateway`` with the full policy
in front of it (``http_gateway``, one more HTTP hop: what a deployment in front of a remote server pays).
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
import time
from pathlib import Path
from typing import Any

__all__ = ["FULL_POLICY", "RELAY_POLICY", "TARGET_OVERHEAD_MS", "bench_proxy"]

TARGET_OVERHEAD_MS = 0.15

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

_SIDES = ("direct", "relay", "full")
_HTTP_SIDES = ("http_direct", "http_gateway")
_HTTP_SERVER = (
    "import sys; from sentinel_lab.demo_server import build_server; "
    "build_server().run(transport='streamable-http', host='127.0.0.1', port=int(sys.argv[1]))"
)


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
def _http_servers(full_policy: Path, errlog: Any) -> Any:
    """The demo server over Streamable HTTP and the gateway in front of it; yields their two URLs."""
    server_port, gateway_port = _free_port(), _free_port()
    server_url = f"http://127.0.0.1:{server_port}/mcp"
    commands = [
        ([sys.executable, "-c", _HTTP_SERVER, str(server_port)], server_port),
        (
            [
                *(sys.executable, "-m", "sentinel_lab._cli", "gateway", "--listen", f"127.0.0.1:{gateway_port}"),
                *("--policy", str(full_policy), "--upstream-url", server_url),
            ],
            gateway_port,
        ),
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for command, port in commands:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog)
            procs.append(proc)
            deadline = time.monotonic() + 60
            while not _listening(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"benchmark server did not start: {command[:4]}")
                time.sleep(0.05)
        yield {"http_direct": server_url, "http_gateway": f"http://127.0.0.1:{gateway_port}/mcp"}
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


async def _measure(
    calls: int, warmup: int, policies: dict[str, Path], errlog: Any, urls: dict[str, str] | None = None
) -> dict[str, list[float]]:
    from contextlib import AsyncExitStack

    from mcp import ClientSession, StdioServerParameters, stdio_client

    server = [sys.executable, "-m", "sentinel_lab.demo_server"]
    params = {"direct": StdioServerParameters(command=server[0], args=server[1:])}
    for side, path in policies.items():
        params[side] = StdioServerParameters(
            command=sys.executable, args=["-m", "sentinel_lab._cli", "proxy", "--policy", str(path), "--", *server]
        )
    sides = _SIDES + (_HTTP_SIDES if urls else ())
    async with AsyncExitStack() as stack:
        sessions = {}
        for side in sides:
            if side in _HTTP_SIDES:
                from mcp.client.streamable_http import streamable_http_client

                assert urls is not None
                streams = await stack.enter_async_context(streamable_http_client(urls[side]))
                read, write = streams[0], streams[1]
            else:
                read, write = await stack.enter_async_context(stdio_client(params[side], errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            await session.list_tools()
            sessions[side] = session
        samples: dict[str, list[float]] = {side: [] for side in sides}
        args = {"city": "Paris"}
        for i in range(warmup + calls):
            shift = i % len(sides)
            for side in sides[shift:] + sides[:shift]:
                t0 = time.perf_counter_ns()
                result = await sessions[side].call_tool("get_weather", args)
                elapsed = (time.perf_counter_ns() - t0) / 1e6
                if result.is_error:
                    raise RuntimeError(f"benchmark call failed ({side}): {result}")
                if i >= warmup:
                    samples[side].append(elapsed)
        return samples


def bench_proxy(calls: int = 1000, warmup: int = 100, http: bool = True) -> dict[str, Any]:
    """Median and p99 round trips (ms) direct, through a bare relay and through the full proxy; overheads; with
    ``http`` also direct over Streamable HTTP and through the gateway."""
    import anyio

    if calls < 1:
        raise ValueError("calls must be at least 1")
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        policies = {"relay": Path(tmp) / "relay.yaml", "full": Path(tmp) / "full.yaml"}
        policies["relay"].write_text(RELAY_POLICY)
        policies["full"].write_text(FULL_POLICY)
        with open(Path(tmp) / "stderr.log", "w") as errlog:
            if http:
                with _http_servers(policies["full"], errlog) as urls:
                    samples = anyio.run(_measure, calls, warmup, policies, errlog, urls)
            else:
                samples = anyio.run(_measure, calls, warmup, policies, errlog)
    ordered = {side: sorted(values) for side, values in samples.items()}
    median = {side: statistics.median(values) for side, values in ordered.items()}
    p99 = {side: _rank(values, 99) for side, values in ordered.items()}
    paired = sorted(b - a for a, b in zip(samples["direct"], samples["full"], strict=True))
    overhead = median["full"] - median["direct"]
    over_http: dict[str, Any] = {}
    if http:
        over_http = {
            "http_direct_median_ms": round(median["http_direct"], 4),
            "http_direct_p99_ms": round(p99["http_direct"], 4),
            "http_gateway_median_ms": round(median["http_gateway"], 4),
            "http_gateway_p99_ms": round(p99["http_gateway"], 4),
            "http_overhead_median_ms": round(median["http_gateway"] - median["http_direct"], 4),
        }
    return {
        "calls": calls,
        "warmup": warmup,
        "direct_median_ms": round(median["direct"], 4),
        "direct_p99_ms": round(p99["direct"], 4),
        "proxy_median_ms": round(median["full"], 4),
        "proxy_p99_ms": round(p99["full"], 4),
        "overhead_median_ms": round(overhead, 4),
        "overhead_p99_ms": round(p99["full"] - p99["direct"], 4),
        "paired_overhead_median_ms": round(statistics.median(paired), 4),
        "relay_median_ms": round(median["relay"], 4),
        "relay_overhead_median_ms": round(median["relay"] - median["direct"], 4),
        "target_overhead_ms": TARGET_OVERHEAD_MS,
        "meets_target": overhead <= TARGET_OVERHEAD_MS,
        **over_http,
        "path": "full: static rule + verifier + spotlighting + output scan; relay: static rule only"
        + ("; http_gateway: the full policy in the gateway, in front of the server over HTTP" if http else ""),
        "machine": _machine(),
    }
