"""``sentinel-lab bench verify|components|scaling|rules|proxy``: print latency percentiles with the machine.

``bench proxy`` prints round-trip percentiles, proxied/direct ratios and throughput over stdio and Streamable HTTP,
with and without audit; ``bench verify --against mikoshi`` runs the seed verifier (mikoshi-sentinel, from npm, in
Node) side by side; ``bench scaling`` prints time per MiB for every adversarial family with its growth exponent,
then check cost against the number of rules of each kind and against the number of sessions. Targets are printed
as met or missed; nothing here fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from sentinel_lab import bench
from sentinel_lab._bench_seed import SEED_ENV, SEED_SPEC, SeedUnavailable, seed_spec


def _ints(text: str) -> tuple[int, ...]:
    """A comma-separated list of positive integers (``1024,4096``)."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what", choices=["verify", "components", "scaling", "rules", "proxy"], help="which benchmark to run"
    )
    parser.add_argument("--calls", type=int, default=None, help="timed calls (default depends on the benchmark)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed warm-up calls")
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON")
    parser.add_argument(
        "--against",
        choices=["mikoshi"],
        default=None,
        help="verify: run the seed verifier (mikoshi-sentinel in Node) side by side, interleaved",
    )
    parser.add_argument(
        "--seed-package",
        default=None,
        metavar="SPEC",
        help=f"npm install spec of the seed package (default ${SEED_ENV}, else {SEED_SPEC}; a tarball or folder "
        "works too)",
    )
    parser.add_argument("--sizes", type=_ints, default=None, help="scaling: argument sizes in bytes, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="scaling: timed repeats per size")
    parser.add_argument("--kinds", default=None, help="scaling: argument kinds, comma-separated (default: all)")
    parser.add_argument("--rule-counts", type=_ints, default=None, help="scaling: numbers of rules, comma-separated")
    parser.add_argument(
        "--session-counts", type=_ints, default=None, help="scaling: numbers of sessions, comma-separated"
    )
    parser.add_argument("--inflight", type=int, default=16, help="proxy: calls in flight for the throughput run")
    parser.add_argument("--no-http", action="store_true", help="proxy: stdio only (no Streamable HTTP sides)")


def _machine_line(m: Mapping[str, Any]) -> str:
    node = f", Node {m['node']}" if m.get("node") else ""
    core = "" if "compiled" not in m else ", core compiled (mypyc)" if m["compiled"] else ", core pure Python"
    return f"machine: {m['cpu']}, {m['cores']} cores, {m['python']}{node}, {m['platform']}{core}"


def _mark(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")


def _target_line(name: str, value: float, op: str, target: float, met: bool | None, unit: str = "") -> str:
    shown = "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}{unit}"
    return f"target  {name:<44} {shown:>12}  {op} {target:g}{unit}  {_mark(met)}"


def _print_seed(result: Mapping[str, Any]) -> None:
    print(
        f"verify() side by side with the seed ({result['seed']['package']}, Node {result['seed']['node']}) over the "
        f"fixed {result['mix_size']}-call mix, interleaved, {result['calls']} calls a side after "
        f"{result['warmup']} warm-up"
    )
    blocked = result["mix_blocked"]
    print(
        f"mix blocked: ours {blocked['ours']}, seed same work {blocked['same_work']}, "
        f"seed defaults {blocked['defaults']} (of {result['mix_size']})"
    )
    labels = {"ours": "ours", "same_work": "seed (same work)", "defaults": "seed (defaults)"}
    for temperature, run in result["runs"].items():
        note = (
            f" (our {result['caches_cleared_cold']} caches cleared before each call)" if temperature == "cold" else ""
        )
        print(f"-- {temperature}{note}")
        for side, label in labels.items():
            print(bench.format_percentiles(label, run[side]))
        for mode in ("same_work", "defaults"):
            ratios = "  ".join(f"{q}={run[f'ratio_{mode}_{q}']:.2f}x" for q in ("p50", "p95", "p99"))
            print(f"ratio ours/{labels[mode]:<17} {ratios}")
    for t in result["targets"]:
        op = "<="
        print(_target_line(t["name"], t["value"], op, t["target"], t["met"]))
    print(f"note: {result['seed']['note']}")
    print(_machine_line(result["machine"]))


def _run_verify(args: argparse.Namespace, kw: dict[str, Any]) -> int:
    if args.against == "mikoshi":
        try:
            result = bench.verify_against_seed(spec=args.seed_package or seed_spec(), **kw)
        except SeedUnavailable as exc:
            print(f"sentinel-lab bench: the seed verifier cannot run: {exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            _print_seed(result)
        return 0
    hot = bench.verify_latency(**kw)
    uncached = bench.verify_latency(cache=False, **kw)
    cold = bench.verify_latency(cold=True, **kw)
    runs = (("hot", hot), ("hot, verdict cache off", uncached), ("cold", cold))
    if args.json:
        print(json.dumps({"hot": hot, "hot_no_verdict_cache": uncached, "cold": cold}, indent=2))
        return 0
    print(
        f"verify() over the fixed {hot['mix_size']}-call mix ({hot['mix_blocked']} blocked), "
        f"{hot['calls']} calls after warm-up"
    )
    for temperature, result in runs:
        note = (
            f" (the {len(bench.analysis_caches())} analysis caches and the verdict cache cleared before each call)"
            if temperature == "cold"
            else ""
        )
        print(f"-- {temperature}{note}")
        for key in ("all", "benign", "malicious"):
            print(bench.format_percentiles(key, result[key]))
    for temperature, result in runs:
        p99 = result["all"]["p99"]
        limit = bench.TARGETS["verify_p99_us"]
        print(_target_line(f"{temperature}: p99 ours (µs)", p99, "<=", limit, p99 <= limit))
    print(_machine_line(hot["machine"]))
    return 0


def _print_scaling(sizes: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]], sessions: Any) -> None:
    print("-- argument size: median verify() per size, ms per MiB (wall; CPU in brackets)")
    for row in sizes:
        print(
            f"{row['kind']:<16} {row['bytes']:>9} bytes  median {row['median_us'] / 1000:>9.2f} ms  "
            f"{row['us_per_mib'] / 1000:>9.1f} ms/MiB  (CPU {row['cpu_us_per_mib'] / 1000:.1f} ms/MiB)"
        )
    for g in bench.size_growth(sizes):
        print(
            f"growth  {g['kind']:<16} exponent {g['exponent']:.2f}  {g['us_per_mib'] / 1000:.1f} ms/MiB at "
            f"{g['largest_bytes']} bytes (CPU {g['cpu_us_per_mib'] / 1000:.1f} ms/MiB)"
        )
    for g in bench.size_growth(sizes):
        if g["kind"] != "benign":
            print(_target_line(f"{g['kind']}: 1 MiB (ms)", g["ms_at_1mib"], "<", g["target_ms"], g["met"]))
    print("-- rules: policy-engine check() p50, verifier off (listed tool, unlisted tool; taint: record too)")
    for row in rules:
        probes = "  ".join(f"{k.removesuffix('_p50_us')} {row[k]:>10.1f} µs" for k in row if k.endswith("_p50_us"))
        print(f"{row['kind']:<14} {row['rules']:>6} rules  {probes}")
    for g in bench.rule_growth(rules):
        name = f"{g['kind']} {g['probe']}: {g['most']}/{g['fewest']} rules"
        print(_target_line(name, g["ratio"], "<=", g["target"], g["met"], "x"))
    print("-- sessions: check() of one call on a random live session (verifier and rate limiter on)")
    for row in sessions:
        stats = row["rate_limiter"] or {}
        print(
            f"{row['sessions']:>7} sessions  p50={row['p50']:>8.1f}µs  p99={row['p99']:>8.1f}µs  rate limiter: "
            f"{stats.get('sessions')} tracked of max {stats.get('max_sessions')}, {stats.get('evicted')} live "
            f"evicted, {stats.get('expired')} idle expired"
        )
    if len(sessions) >= 2:
        ratio = sessions[-1]["p50"] / sessions[0]["p50"]
        name = f"sessions: {sessions[-1]['sessions']}/{sessions[0]['sessions']}"
        limit = bench.TARGETS["sessions_growth"]
        print(_target_line(name, ratio, "<=", limit, ratio <= limit, "x"))


def run(args: argparse.Namespace) -> int:
    kw: dict[str, Any] = {k: v for k, v in (("calls", args.calls), ("warmup", args.warmup)) if v is not None}
    if args.what == "verify":
        return _run_verify(args, kw)
    if args.what == "components":
        result = bench.component_latency(**kw)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        for name, p in result.items():
            print(bench.format_percentiles(name, p))
        print(_machine_line(bench.machine()))
    elif args.what == "scaling":
        size_kw: dict[str, Any] = {"repeats": args.repeats}
        if args.sizes:
            size_kw["sizes"] = args.sizes
        if args.kinds:
            size_kw["kinds"] = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        sizes = bench.size_scaling(**size_kw)
        rules = bench.rule_kind_scaling(**({"counts": args.rule_counts} if args.rule_counts else {}), **kw)
        sessions = bench.session_scaling(**({"counts": args.session_counts} if args.session_counts else {}), **kw)
        if args.json:
            print(json.dumps({"sizes": sizes, "rules": rules, "sessions": sessions}, indent=2))
            return 0
        _print_scaling(sizes, rules, sessions)
        print(_machine_line(bench.machine()))
    elif args.what == "rules":
        rows = bench.rule_scaling(**kw)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for row in rows:
            print(bench.format_percentiles(f"{row['rules']} rules", row))
        print(_machine_line(bench.machine()))
    else:
        result = bench.proxy_overhead(**kw, http=not args.no_http, inflight=args.inflight)
        if args.json:
            print(json.dumps(result, indent=2, default=str))
            return 0
        _print_proxy(result)
    return 0


def _print_proxy(result: Mapping[str, Any]) -> None:
    """One line per side (percentiles, ratios to its direct baseline, throughput), the targets, the machine."""
    from sentinel_lab._bench_proxy import BASELINE, SIDE_LABELS

    print(
        f"tools/call with the official MCP client: {result['calls']} calls a side, interleaved, after "
        f"{result['warmup']} warm-up; throughput with {result['inflight']} calls in flight (median of "
        f"{result['rounds']} rounds); ratios are proxied / direct over the same transport"
    )
    for side, s in result["sides"].items():
        line = (
            f"{SIDE_LABELS[side]:<33} p50={s['p50_ms']:>7.3f}ms  p95={s['p95_ms']:>7.3f}ms  "
            f"p99={s['p99_ms']:>7.3f}ms  {s['calls_per_s']:>7.0f} calls/s"
        )
        if side in BASELINE:
            ratios = "  ".join(f"{q}={s[f'ratio_{q}']:.2f}x" for q in ("p50", "p95", "p99"))
            line += f"  ratio {ratios}  throughput={s['ratio_throughput']:.2f}x"
        print(line)
    for side, h in result.get("handler", {}).items():
        print(
            f"handler alone, {SIDE_LABELS[side]:<33} {h['us_per_call']:>6.1f} µs a round trip, "
            f"{h['function_calls']:>4} function calls, {h['frames_per_message']:.2f} writes a message "
            "(in process, no I/O)"
        )
    for t in result["targets"]:
        print(_target_line(t["name"], t["value"], "<=", t["target"], t["met"], "x"))
    print(f"path: {result['path']}")
    print(_machine_line(result["machine"]))
