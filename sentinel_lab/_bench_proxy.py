"""Proxy overhead: ``tools/call`` round trips with the official MCP client, direct and through the proxy.

Both sessions talk to the same tool server program (the bundled demo server), are open at the same time, and are
timed interleaved (A B, B A, ...) after a warm-up, so drift in machine load hits both sides equally. The proxy
runs a policy that allows the tool with the verifier, spotlighting and the output scan on: the overhead measured
is the real enforcement path, not a bare relay.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["BENCH_POLICY", "TARGET_OVERHEAD_MS", "bench_proxy"]

TARGET_OVERHEAD_MS = 0.15

BENCH_POLICY = """\
name: bench-proxy
static_rules:
  get_weather: ALLOW
verifier:
  enabled: true
  rate_limit: false
spotlight: {enabled: true, scan_output: flag}
proxy: {pin_tools: warn, hide_denied_tools: true}
"""


def _rank(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100.0 * len(ordered)) - 1))]


def _machine() -> dict[str, Any]:
    try:
        from sentinel_lab.bench import machine

        return machine()
    except Exception:  # the harness module is optional here
        import platform

        return {"cpu": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


async def _measure(calls: int, warmup: int, policy: Path, errlog: Any) -> tuple[list[float], list[float]]:
    from contextlib import AsyncExitStack

    from mcp import ClientSession, StdioServerParameters, stdio_client

    server = [sys.executable, "-m", "sentinel_lab.demo_server"]
    direct = StdioServerParameters(command=server[0], args=server[1:])
    proxied = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sentinel_lab._cli", "proxy", "--policy", str(policy), "--", *server],
    )
    async with AsyncExitStack() as stack:
        sessions = []
        for params in (direct, proxied):
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            await session.list_tools()
            sessions.append(session)
        samples: tuple[list[float], list[float]] = ([], [])
        args = {"city": "Paris"}
        for i in range(warmup + calls):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for which in order:
                t0 = time.perf_counter_ns()
                result = await sessions[which].call_tool("get_weather", args)
                elapsed = (time.perf_counter_ns() - t0) / 1e6
                if result.is_error:
                    raise RuntimeError(f"benchmark call failed: {result}")
                if i >= warmup:
                    samples[which].append(elapsed)
        return samples


def bench_proxy(calls: int = 1000, warmup: int = 100) -> dict[str, Any]:
    """Median and p99 round-trip times (ms) direct and through the proxy, the overhead, and the machine."""
    import anyio

    if calls < 1:
        raise ValueError("calls must be at least 1")
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        policy = Path(tmp) / "bench.yaml"
        policy.write_text(BENCH_POLICY)
        with open(Path(tmp) / "stderr.log", "w") as errlog:
            direct, proxied = anyio.run(_measure, calls, warmup, policy, errlog)
    d, p = sorted(direct), sorted(proxied)
    paired = sorted(b - a for a, b in zip(direct, proxied, strict=True))
    overhead = statistics.median(p) - statistics.median(d)
    return {
        "calls": calls,
        "warmup": warmup,
        "direct_median_ms": round(statistics.median(d), 4),
        "direct_p99_ms": round(_rank(d, 99), 4),
        "proxy_median_ms": round(statistics.median(p), 4),
        "proxy_p99_ms": round(_rank(p, 99), 4),
        "overhead_median_ms": round(overhead, 4),
        "overhead_p99_ms": round(_rank(p, 99) - _rank(d, 99), 4),
        "paired_overhead_median_ms": round(statistics.median(paired), 4),
        "target_overhead_ms": TARGET_OVERHEAD_MS,
        "meets_target": overhead <= TARGET_OVERHEAD_MS,
        "path": "verifier + spotlighting + output scan (policy allows the call)",
        "machine": _machine(),
    }
