"""``sentinel-lab audit verify FILE [--public-key K]``: prove an audit log is whole, or show the first bad record."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommand ``verify`` with the log file and an optional trusted public key."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="check the hash chain and that an Ed25519 signature proves every record")
    verify.add_argument("file", help="the audit log (JSON lines)")
    verify.add_argument(
        "--public-key",
        metavar="K",
        help="trusted public key: a file (hex lines or PEM) or 64 hex digits (default: FILE.pub)",
    )


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the log verifies (recoveries and a torn last line are reported), 1 at the first bad record or
    when records are not signed yet (a writer within its checkpoint interval: run it again once it has signed).

    2 when the log or the key cannot be read. Only records in canonical form verify.
    """
    from sentinel_lab._core.errors import AuditError
    from sentinel_lab._mcp.audit import verify_log

    try:
        report = verify_log(args.file, public_key=args.public_key)
    except AuditError as exc:
        print(f"sentinel-lab audit: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1
