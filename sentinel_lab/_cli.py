"""The ``sentinel-lab`` command line: a thin dispatcher; each subcommand lives in ``_commands/<name>.py``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: subcommand -> (module in sentinel_lab._commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("verify", "verify tool calls (JSON, JSONL file or stdin) and print verdicts"),
    "eval": ("eval", "evaluate a dataset and print the detection table"),
    "bench": ("bench", "benchmarks: verifier latency, proxy overhead, scaling"),
    "proxy": ("proxy", "run the MCP stdio security proxy in front of a tool server"),
    "gateway": ("gateway", "serve hosts over Streamable HTTP in front of a tool server, judging every call"),
    "demo": ("demo", "run the end-to-end demo and print one PASS/FAIL line per feature"),
    "audit": ("audit", "work with audit logs (verify the hash chain and signature)"),
    "reproduce": ("reproduce", "execute every notebook and regenerate paper tables and figures"),
}


DESCRIPTION = """\
Check what an AI agent's tool calls would do before they run, and guard a real MCP tool server.

Put `sentinel-lab proxy` in front of an MCP server in your host's configuration and every tool call is judged
by your policy, every result is scanned for prompt injection, and everything is written to a signed audit log."""

EPILOG = """\
examples:
  sentinel-lab verify '{"tool": "read_file", "args": {"path": "~/.ssh/id_rsa"}}'
  sentinel-lab proxy --policy /abs/path/policy.yaml --check -- python /abs/path/server.py
  sentinel-lab proxy --policy /abs/path/policy.yaml --audit audit.jsonl -- npx -y some-mcp-server
  sentinel-lab COMMAND --help      options of one command

If a host cannot find `sentinel-lab`, give it the absolute path of the virtual environment's
`bin/sentinel-lab`, or run `/abs/path/to/python -m sentinel_lab`."""


def _version() -> str:
    from sentinel_lab import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: the command list, ``--version`` and a help text written for users."""
    parser = argparse.ArgumentParser(
        prog="sentinel-lab",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sentinel-lab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: pick the subcommand, import only its module, and run it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-V", "--version"):
        print(f"sentinel-lab {_version()}")
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser = build_parser()
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(f"sentinel-lab: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    name = argv[0]
    module = importlib.import_module(f"sentinel_lab._commands.{COMMANDS[name][0]}")
    parser = argparse.ArgumentParser(prog=f"sentinel-lab {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
