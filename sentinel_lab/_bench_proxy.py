"""Proxy overhead: ``tools/call`` round trips with the official MCP client, direct and through the proxy.

Three sessions talk to the same tool server program (the bundled demo server) and are open at the same time:
direct, through the proxy with a *relay* policy (a static ALLOW rule, no verifier, no spotlighting: the cost of
the relay itself), and through the proxy with the *full* policy (static rule, the verifier's content checks,
spotlighting and the output scan: the real enforcement path). Calls are timed interleaved in a rotating order
after a warm-up, so drift in machine load hits every side equally. The headline ``overhead_median_ms`` is the
full path; ``relay_overhead_median_ms`` separates what the relay costs from what the checks cost.
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


def _rank(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100.0 * len(ordered)) - 1))]


def _machine() -> dict[str, Any]:
    try:
        from sentinel_lab.bench import machine

        return machine()
    except Exception:  # the harness module is optional here
        import platform

        return {"cpu": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


async def _measure(calls: int, warmup: int, policies: dict[str, Path], errlog: Any) -> dict[str, list[float]]:
    from contextlib import AsyncExitStack

    from mcp import ClientSession, StdioServerParameters, stdio_client

    server = [sys.executable, "-m", "sentinel_lab.demo_server"]
    params = {"direct": StdioServerParameters(command=server[0], args=server[1:])}
    for side, path in policies.items():
        params[side] = StdioServerParameters(
            command=sys.executable, args=["-m", "sentinel_lab._cli", "proxy", "--policy", str(path), "--", *server]
        )
    async with AsyncExitStack() as stack:
        sessions = {}
        for side in _SIDES:
            read, write = await stack.enter_async_context(stdio_client(params[side], errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            await session.list_tools()
            sessions[side] = session
        samples: dict[str, list[float]] = {side: [] for side in _SIDES}
        args = {"city": "Paris"}
        for i in range(warmup + calls):
            shift = i % len(_SIDES)
            for side in _SIDES[shift:] + _SIDES[:shift]:
                t0 = time.perf_counter_ns()
                result = await sessions[side].call_tool("get_weather", args)
                elapsed = (time.perf_counter_ns() - t0) / 1e6
                if result.is_error:
                    raise RuntimeError(f"benchmark call failed ({side}): {result}")
                if i >= warmup:
                    samples[side].append(elapsed)
        return samples


def bench_proxy(calls: int = 1000, warmup: int = 100) -> dict[str, Any]:
    """Median and p99 round trips (ms) direct, through a bare relay and through the full proxy; overheads."""
    import anyio

    if calls < 1:
        raise ValueError("calls must be at least 1")
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        policies = {"relay": Path(tmp) / "relay.yaml", "full": Path(tmp) / "full.yaml"}
        policies["relay"].write_text(RELAY_POLICY)
        policies["full"].write_text(FULL_POLICY)
        with open(Path(tmp) / "stderr.log", "w") as errlog:
            samples = anyio.run(_measure, calls, warmup, policies, errlog)
    ordered = {side: sorted(values) for side, values in samples.items()}
    median = {side: statistics.median(values) for side, values in ordered.items()}
    p99 = {side: _rank(values, 99) for side, values in ordered.items()}
    paired = sorted(b - a for a, b in zip(samples["direct"], samples["full"], strict=True))
    overhead = median["full"] - median["direct"]
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
        "path": "full: static rule + verifier + spotlighting + output scan; relay: static rule only",
        "machine": _machine(),
    }
