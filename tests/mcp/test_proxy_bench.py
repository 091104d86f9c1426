"""``bench_proxy``: real round trips and throughput with the official clients, direct, through the proxy and the
gateway, over stdio and Streamable HTTP, with and without audit (short runs: structure, never timings)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from sentinel_lab._bench_proxy import BASELINE, TARGET_RATIO, bench_proxy, handler_cost

STDIO = {"direct", "bare", "relay", "full", "audit"}
HTTP = {"http_direct", "gateway", "gateway_audit", "upstream_url"}


def test_bench_proxy_short_run_reports_every_side_its_ratios_and_the_targets() -> None:
    result = bench_proxy(calls=6, warmup=1, inflight=4, rounds=2)
    assert result["calls"] == 6 and result["inflight"] == 4 and result["rounds"] == 2
    sides = result["sides"]
    assert set(sides) == STDIO | HTTP
    for side, stats in sides.items():
        assert stats["n"] == 6
        assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"] and math.isfinite(stats["p99_ms"])
        assert stats["calls_per_s"] > 0
        base = BASELINE.get(side)
        if base is None:
            assert "ratio_p50" not in stats
            continue
        assert (base in STDIO) == (side in STDIO)  # compared over the same transport
        for q in ("p50", "p95", "p99"):
            assert stats[f"ratio_{q}"] == pytest.approx(stats[f"{q}_ms"] / sides[base][f"{q}_ms"], rel=1e-2)
        assert stats["ratio_throughput"] == pytest.approx(stats["calls_per_s"] / sides[base]["calls_per_s"], rel=1e-2)
    assert [t["side"] for t in result["targets"]] == ["audit", "gateway_audit"]
    for target in result["targets"]:
        assert target["target"] == TARGET_RATIO and target["value"] == sides[target["side"]]["ratio_p50"]
        assert target["met"] == (target["value"] <= TARGET_RATIO)
    # the flat keys the latency notebook reads
    assert (
        result["direct_median_ms"] == sides["direct"]["p50_ms"] and result["proxy_median_ms"] == sides["full"]["p50_ms"]
    )
    assert result["overhead_median_ms"] == pytest.approx(sides["full"]["p50_ms"] - sides["direct"]["p50_ms"], abs=1e-3)
    assert result["relay_overhead_median_ms"] == pytest.approx(
        sides["relay"]["p50_ms"] - sides["direct"]["p50_ms"], abs=1e-3
    )
    assert result["machine"]["cores"]
    assert set(result["handler"]) == {"relay", "full", "audit"}


def test_handler_cost_counts_the_relay_work_of_one_round_trip() -> None:
    costs = {side: handler_cost(side, calls=20, repeats=1) for side in ("relay", "full", "audit")}
    for cost in costs.values():
        assert cost["us_per_call"] > 0 and cost["frames_per_message"] == 1.0  # one write per message relayed
    # enforcement and audit add work, never remove it
    assert costs["relay"]["function_calls"] < costs["full"]["function_calls"] < costs["audit"]["function_calls"]
    with pytest.raises(ValueError):
        handler_cost("direct")


def test_bench_proxy_without_http_reports_stdio_only() -> None:
    result = bench_proxy(calls=3, warmup=0, http=False, inflight=2, rounds=1)
    assert set(result["sides"]) == STDIO and [t["side"] for t in result["targets"]] == ["audit"]


@pytest.mark.parametrize("kw", [{"calls": 0}, {"inflight": 0}, {"rounds": 0}, {"warmup": -1}])
def test_bench_proxy_rejects_bad_counts(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        bench_proxy(**kw)


def test_the_floor_side_relays_every_byte_both_ways_and_the_child_exit_code() -> None:
    """``bare`` copies bytes unchanged (no framing, no parse) and exits with the child's code."""
    data = b"".join(bytes([i % 256]) * (i % 7) for i in range(70_000))  # > 64 KiB: several reads
    script = "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1]); sys.exit(3)"
    done = subprocess.run(
        [sys.executable, "-m", "sentinel_lab._bench_proxy", sys.executable, "-c", script],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert done.stdout == data[::-1] and done.returncode == 3
