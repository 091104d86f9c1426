"""``sentinel-lab bench verify|components|scaling|rules|proxy``: print latency percentiles with the machine."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sentinel_lab import bench


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what", choices=["verify", "components", "scaling", "rules", "proxy"], help="which benchmark to run"
    )
    parser.add_argument("--calls", type=int, default=None, help="timed calls (default depends on the benchmark)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed warm-up calls")
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON")


def _machine_line(m: dict[str, Any]) -> str:
    return f"machine: {m['cpu']}, {m['cores']} cores, {m['python']}, {m['platform']}"


def run(args: argparse.Namespace) -> int:
    kw = {k: v for k, v in (("calls", args.calls), ("warmup", args.warmup)) if v is not None}
    if args.what == "verify":
        result = bench.verify_latency(**kw)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        print(
            f"verify() over the fixed {result['mix_size']}-call mix ({result['mix_blocked']} blocked), "
            f"{result['calls']} calls after warm-up"
        )
        for key in ("all", "benign", "malicious"):
            print(bench.format_percentiles(key, result[key]))
        print(_machine_line(result["machine"]))
    elif args.what == "components":
        result = bench.component_latency(**kw)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        for name, p in result.items():
            print(bench.format_percentiles(name, p))
        print(_machine_line(bench.machine()))
    elif args.what == "scaling":
        rows = bench.size_scaling()
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for row in rows:
            print(f"{row['kind']:<12} {row['bytes']:>9} bytes  median {row['median_us'] / 1000:>9.2f} ms")
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
        result = bench.proxy_overhead(**kw)
        if args.json:
            print(json.dumps(result, indent=2, default=str))
            return 0
        for key, value in result.items():
            if key != "machine":
                print(f"{key:<24} {value}")
        print(_machine_line(result["machine"]))
    return 0
