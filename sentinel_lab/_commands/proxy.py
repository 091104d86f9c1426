"""``sentinel-lab proxy``: run the MCP stdio security proxy in front of a tool server."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``sentinel-lab proxy --policy P [--audit FILE] [...] -- <server command...>``."""
    parser.add_argument("--policy", required=True, help="policy YAML file")
    parser.add_argument("--audit", metavar="FILE", help="append signed, hash-chained audit records to FILE")
    parser.add_argument(
        "--audit-key",
        metavar="KEY",
        help="Ed25519 signing key: a PEM file or 64 hex digits (default: $SENTINEL_AUDIT_KEY, else generated)",
    )
    parser.add_argument("--audit-fsync", action="store_true", help="fsync the audit log after every record")
    parser.add_argument(
        "--require-session",
        action="store_true",
        help='reject tools/call without a valid params._meta["sentinel/session"] id',
    )
    parser.add_argument("--max-message-bytes", type=int, metavar="N", help="longest accepted JSON-RPC line")
    parser.add_argument(
        "--analysis-budget",
        type=float,
        metavar="SECONDS",
        help="longest time a large tools/call may take to judge before it is denied (default 2)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the tool server command")


def run(args: argparse.Namespace) -> int:
    """Load the policy, open the audit log, and relay until the client disconnects."""
    from sentinel_lab._core.errors import AuditError, PolicyError
    from sentinel_lab._mcp.relay import ProxyOptions, run_proxy

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("sentinel-lab proxy: give the tool server command after '--'", file=sys.stderr)
        return 2
    try:
        from sentinel_lab._policy.model import Policy

        policy = Policy.load(args.policy)
    except (PolicyError, OSError) as exc:
        print(f"sentinel-lab proxy: {exc}", file=sys.stderr)
        return 2
    if args.max_message_bytes is not None and args.max_message_bytes < 1024:
        print("sentinel-lab proxy: --max-message-bytes must be at least 1024", file=sys.stderr)
        return 2
    budget = args.analysis_budget
    if budget is not None and not (0 < budget <= 3600):
        print("sentinel-lab proxy: --analysis-budget must be a number of seconds in (0, 3600]", file=sys.stderr)
        return 2
    options = ProxyOptions.from_policy(
        policy,
        require_session=args.require_session,
        max_message_bytes=args.max_message_bytes,
        analysis_budget_s=budget,
    )
    audit = None
    if args.audit:
        from sentinel_lab._mcp.audit import AuditLog

        try:
            audit = AuditLog(args.audit, key=args.audit_key, fsync=args.audit_fsync)
        except AuditError as exc:
            print(f"sentinel-lab proxy: {exc}", file=sys.stderr)
            return 2
    try:
        return run_proxy(command, policy, options=options, audit=audit)
    finally:
        if audit is not None:
            audit.close()
