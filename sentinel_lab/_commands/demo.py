"""``sentinel-lab demo``: run the bundled demo server behind the proxy and check every feature for real."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Optional ``--policy`` to run the demo with another policy file."""
    parser.add_argument("--policy", help="policy file (default: the bundled demo policy)")


def run(args: argparse.Namespace) -> int:
    """Print one PASS/FAIL line per feature and a total; exit 1 on any failure."""
    from sentinel_lab._mcp.demo import run_demo

    failures = run_demo(print, policy=args.policy)
    return 1 if failures else 0
