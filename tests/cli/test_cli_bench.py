"""`sentinel-lab bench` as a real subprocess with tiny iteration counts: the structure it prints, targets
marked met or missed (never asserted on timings), and the side-by-side run against a real Node process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _seed_standin import make_standin

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node and npm are not installed"
)
TARGET = re.compile(r"^target  .+  (met|MISSED|n/a)$")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel_lab._cli", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_verify_prints_hot_and_cold_with_the_p99_target() -> None:
    out = run("verify", "--calls", "40", "--warmup", "4")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "-- hot" in lines and "-- hot, verdict cache off" in lines
    assert any(line.startswith("-- cold (the ") and "verdict cache" in line for line in lines)
    for key in ("all", "benign", "malicious"):
        assert sum(1 for line in lines if line.startswith(f"{key} ") and "p99=" in line) == 3
    targets = [line for line in lines if line.startswith("target")]
    assert len(targets) == 3 and all(TARGET.match(t) for t in targets)
    assert lines[-1].startswith("machine: ") and "cores" in lines[-1]


@needs_node
def test_verify_against_the_seed_prints_both_sides_ratios_and_node(tmp_path: Path) -> None:
    env = {**os.environ, "SENTINEL_LAB_CACHE": str(tmp_path / "cache")}
    spec = str(make_standin(tmp_path / "standin"))
    out = run("verify", "--against", "mikoshi", "--seed-package", spec, "--calls", "8", "--warmup", "2", env=env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert (tmp_path / "cache" / "seed").is_dir()  # installed on demand into the cache folder
    for temperature in ("hot", "cold"):
        section = text.split(f"-- {temperature}")[1].split("-- ")[0]
        for label in ("ours", "seed (same work)", "seed (defaults)"):
            assert re.search(rf"^{re.escape(label)} +n= +8 +p50=.+p95=.+p99=", section, re.M), section
        assert re.search(r"^ratio ours/seed \(same work\) +p50=[\d.]+x  p95=[\d.]+x  p99=[\d.]+x$", section, re.M)
    targets = [line for line in text.splitlines() if line.startswith("target")]
    assert len(targets) == 4 and all(TARGET.match(t) for t in targets)
    assert re.search(r"^machine: .+, \d+ cores, CPython [\d.]+, Node v\d+", text, re.M)
    as_json = run(
        "verify", "--against", "mikoshi", "--seed-package", spec, "--calls", "4", "--warmup", "1", "--json", env=env
    )
    result = json.loads(as_json.stdout)
    assert set(result["runs"]) == {"hot", "cold"} and result["runs"]["hot"]["same_work"]["n"] == 4


def test_verify_against_the_seed_without_node_says_so_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "SENTINEL_LAB_CACHE": str(tmp_path / "cache")}
    out = run("verify", "--against", "mikoshi", "--calls", "4", env=env)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "'node' was not found on PATH" in out.stderr


def test_scaling_prints_sizes_growth_rules_and_sessions() -> None:
    out = run(
        *("scaling", "--sizes", "512,2048", "--repeats", "1", "--kinds", "benign,percent_u,zero_width"),
        *("--rule-counts", "10,20", "--session-counts", "3,6", "--calls", "10", "--warmup", "1"),
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    size_line = r"^\S+ +\d+ bytes  median +[\d.]+ ms +[\d.]+ ms/MiB  \(CPU [\d.]+ ms/MiB\)$"
    sizes = [line for line in lines if re.match(size_line, line)]
    assert len(sizes) == 3 * 2
    growth = [line for line in lines if line.startswith("growth  ")]
    assert [g.split()[1] for g in growth] == ["benign", "percent_u", "zero_width"]
    assert all(re.search(r"exponent -?[\d.]+ .*\(CPU [\d.]+ ms/MiB\)$", g) for g in growth)
    # the 1 MiB target is not measured at these sizes: n/a, never a made-up verdict
    assert [line for line in lines if "1 MiB" in line and line.endswith("n/a")] and not any(
        "1 MiB" in line and line.endswith(("met", "MISSED")) for line in lines
    )
    kinds = ("static_exact", "static_glob", "argument", "argument_glob", "taint")
    for kind in kinds:
        assert sum(1 for line in lines if re.match(rf"^{kind} +\d+ rules  listed +[\d.]+ µs  unlisted", line)) == 2
    assert re.search(r"^taint +20 rules .* record +[\d.]+ µs$", out.stdout, re.M)
    rule_targets = [line for line in lines if line.startswith("target") and "rules" in line]
    assert len(rule_targets) == 2 * len(kinds) + 1 and all(TARGET.match(t) for t in rule_targets)
    sessions = [line for line in lines if re.match(r"^ +\d+ sessions  p50=", line)]
    assert len(sessions) == 2 and all("0 live evicted" in s for s in sessions)
    assert any(line.startswith("target  sessions: 6/3") and TARGET.match(line) for line in lines)
    assert lines[-1].startswith("machine: ")


def test_scaling_refuses_a_bad_size_list() -> None:
    out = run("scaling", "--sizes", "12,abc")
    assert out.returncode == 2 and "comma-separated integers" in out.stderr


PROXY_SIDE = re.compile(
    r"^(?P<label>.+?) +p50= *[\d.]+ms  p95= *[\d.]+ms  p99= *[\d.]+ms +\d+ calls/s"
    r"(?P<ratio>  ratio p50=[\d.]+x  p95=[\d.]+x  p99=[\d.]+x  throughput=[\d.]+x)?$"
)


def test_proxy_prints_every_side_ratios_throughput_targets_and_machine() -> None:
    out = run("proxy", "--calls", "3", "--warmup", "1", "--inflight", "4")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "throughput with 4 calls in flight" in lines[0]
    sides = [m for m in map(PROXY_SIDE.match, lines) if m]
    baselines = [m["label"] for m in sides if not m["ratio"]]
    assert baselines == ["stdio direct", "HTTP direct"] and len(sides) == 9, out.stdout
    labels = {m["label"] for m in sides}
    assert {
        "stdio byte relay (floor)",
        "stdio proxy, full policy + audit",
        "HTTP gateway -> stdio server",
        "HTTP gateway + audit -> stdio",
    } <= labels
    assert "stdio proxy --upstream-url HTTP" in labels
    targets = [line for line in lines if line.startswith("target")]
    assert len(targets) == 2 and all(TARGET.match(t) and "<= 1.1x" in t for t in targets)
    assert lines[-1].startswith("machine: ") and "cores" in lines[-1]
    stdio_only = run("proxy", "--calls", "2", "--warmup", "0", "--inflight", "2", "--no-http", "--json")
    result = json.loads(stdio_only.stdout)
    assert set(result["sides"]) == {"direct", "bare", "relay", "full", "audit"} and result["inflight"] == 2
