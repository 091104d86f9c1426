"""``bench_proxy``: real round trips with the official client, direct and through the proxy (a short run)."""

from __future__ import annotations

import math

import pytest

from sentinel_lab._bench_proxy import TARGET_OVERHEAD_MS, bench_proxy


def test_bench_proxy_short_run_reports_both_paths() -> None:
    result = bench_proxy(calls=30, warmup=5)
    assert result["calls"] == 30 and result["target_overhead_ms"] == TARGET_OVERHEAD_MS
    for key in ("direct_median_ms", "direct_p99_ms", "proxy_median_ms", "proxy_p99_ms", "relay_median_ms"):
        assert math.isfinite(result[key]) and result[key] > 0
    assert result["direct_p99_ms"] >= result["direct_median_ms"]
    overhead = result["proxy_median_ms"] - result["direct_median_ms"]
    assert result["overhead_median_ms"] == pytest.approx(overhead, abs=1e-3)
    assert isinstance(result["meets_target"], bool)
    relay = result["relay_median_ms"] - result["direct_median_ms"]
    assert result["relay_overhead_median_ms"] == pytest.approx(relay, abs=1e-3)
    assert result["machine"]["cores"]
    # over Streamable HTTP: the SDK's HTTP client direct to the server and through the gateway
    for key in ("http_direct_median_ms", "http_direct_p99_ms", "http_gateway_median_ms", "http_gateway_p99_ms"):
        assert math.isfinite(result[key]) and result[key] > 0
    http = result["http_gateway_median_ms"] - result["http_direct_median_ms"]
    assert result["http_overhead_median_ms"] == pytest.approx(http, abs=1e-3)


def test_bench_proxy_without_http_reports_stdio_only() -> None:
    result = bench_proxy(calls=5, warmup=1, http=False)
    assert "http_gateway_median_ms" not in result and math.isfinite(result["proxy_median_ms"])


def test_bench_proxy_rejects_zero_calls() -> None:
    with pytest.raises(ValueError):
        bench_proxy(calls=0)
