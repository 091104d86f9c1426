"""``sentinel-lab proxy``: run the MCP stdio security proxy in front of a tool server."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "check_configuration", "check_url", "run"]

_EPILOG = """\
The host starts the proxy as its MCP server; the proxy starts the real server as its child. The '--' before the
server command is optional (some hosts split their own arguments at the first '--').

Paths: --policy is read relative to the working directory the host started the proxy in, which is often not
yours, so give it as an absolute path; a relative --audit path is resolved against the policy file's folder.
Check a configuration before a host runs it with --check (exit 0 when it would start, 2 with the reason).

A remote server that speaks Streamable HTTP is fronted with --upstream-url instead of a server command (the
host still starts the proxy and speaks stdio to it). A policy with an 'upstreams' section is a gateway of several
servers: give no server command then; their tools are named <upstream>__<tool>.

examples:
  sentinel-lab proxy --policy /home/me/policy.yaml --check -- python /home/me/server.py
  sentinel-lab proxy --policy /home/me/policy.yaml --upstream-url https://tools.example.com/mcp
  sentinel-lab proxy --policy /home/me/policy.yaml --audit audit.jsonl -- python /home/me/server.py"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``sentinel-lab proxy --policy P [--audit FILE] [--check] [...] [--] <server command...>``."""
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--policy", required=True, metavar="FILE", help="the policy YAML file (an absolute path)")
    parser.add_argument(
        "--audit",
        metavar="FILE",
        help="append signed, hash-chained audit records to FILE (relative: beside the policy file)",
    )
    parser.add_argument(
        "--audit-key",
        metavar="KEY",
        help="Ed25519 signing key: a PEM file or 64 hex digits (default: $SENTINEL_AUDIT_KEY, else generated)",
    )
    parser.add_argument("--audit-fsync", action="store_true", help="fsync the audit log after every record")
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the configuration (policy, server command, audit path), print one line and exit 0 or 2",
    )
    parser.add_argument(
        "--require-session",
        action="store_true",
        help='refuse tool calls without the proxy\'s signed session id in params._meta["sentinel/session"]',
    )
    parser.add_argument("--max-message-bytes", type=int, metavar="N", help="longest accepted JSON-RPC line")
    parser.add_argument(
        "--analysis-budget",
        type=float,
        metavar="SECONDS",
        help="longest time a large tool call may take to judge before it is denied (default 2)",
    )
    parser.add_argument(
        "--upstream-url",
        metavar="URL",
        help="front a remote Streamable HTTP MCP server at URL (http or https) instead of a server command",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="[--] the tool server command and its arguments")


def _say(message: str) -> None:
    print(f"sentinel-lab proxy: {message}", file=sys.stderr, flush=True)


def _server_command(args: argparse.Namespace) -> list[str]:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    return command


def _policy_path(args: argparse.Namespace) -> Path:
    return Path(args.policy).expanduser().absolute()


def _audit_path(args: argparse.Namespace) -> Path | None:
    """The audit log's path: absolute as given, or relative to the policy file's folder (not the host's cwd)."""
    if not args.audit:
        return None
    path = Path(args.audit).expanduser()
    return path if path.is_absolute() else _policy_path(args).parent / path


def _load_policy(path: Path, given: str) -> Any:
    """The policy, or a one-line reason it cannot be used (raised as ``ValueError``)."""
    from sentinel_lab._core.errors import PolicyError
    from sentinel_lab._policy.model import Policy

    if not path.is_file():
        where = "" if Path(given).expanduser().is_absolute() else f" ({given!r} is relative to {os.getcwd()})"
        raise ValueError(f"the policy file {path} does not exist{where}; give its absolute path")
    try:
        return Policy.load(path)
    except PolicyError as exc:
        raise ValueError(f"the policy cannot be used: {exc}") from None
    except OSError as exc:
        where = "" if Path(given).expanduser().is_absolute() else " (given relative to the working directory)"
        raise ValueError(f"cannot read the policy {path}{where}: {exc.strerror or exc}") from None


def _find_server(command: list[str]) -> str:
    """The server executable as the proxy will run it, or a one-line reason it cannot be found."""
    if not command:
        raise ValueError("no tool server command given (put it after the options, optionally after '--')")
    exe = command[0]
    if os.sep in exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise ValueError(f"the tool server command {exe!r} is not an executable file")
        return os.path.abspath(exe)
    found = shutil.which(exe)
    if found is None:
        raise ValueError(f"the tool server command {exe!r} is not on PATH ({os.environ.get('PATH', '')})")
    return found


def check_url(url: str) -> str:
    """The upstream URL if it is an absolute http(s) URL with a host, else a one-line reason (``ValueError``)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--upstream-url must be an http:// or https:// URL with a host, got {url!r}")
    return url


def _upstream(args: argparse.Namespace) -> str:
    """The upstream as the proxy will reach it: the URL, or the server executable."""
    url = getattr(args, "upstream_url", None)
    if url is None:
        return _find_server(_server_command(args))
    if _server_command(args):
        raise ValueError("give either --upstream-url or a tool server command, not both")
    return check_url(url)


def _gateway_upstreams(policy: Any, args: argparse.Namespace) -> str | None:
    """With a policy that names its upstreams: each one checked (command on PATH, URL well formed) and listed as
    ``name=where``; None when the policy names none."""
    upstreams = getattr(policy, "upstreams", None)
    if not upstreams:
        return None
    if _server_command(args) or getattr(args, "upstream_url", None) is not None:
        raise ValueError("the policy names its upstreams: give no server command or --upstream-url as well")
    found = []
    for name, spec in upstreams.items():
        try:
            where = check_url(spec.url) if spec.url is not None else _find_server(list(spec.command))
        except ValueError as exc:
            raise ValueError(f"upstream '{name}': {exc}") from None
        found.append(f"{name}={where}")
    return ", ".join(found)


def _check_audit_path(path: Path) -> None:
    """Raise ``ValueError`` with one line when records could not be appended at ``path``."""
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"the audit log's folder {folder} does not exist")
    if path.exists() and (not path.is_file() or not os.access(path, os.W_OK)):
        raise ValueError(f"the audit log {path} is not a writable file")
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"the audit log cannot be created: {folder} is not writable")


def _check_options(args: argparse.Namespace) -> None:
    if args.max_message_bytes is not None and args.max_message_bytes < 1024:
        raise ValueError("--max-message-bytes must be at least 1024")
    budget = args.analysis_budget
    if budget is not None and not (0 < budget <= 3600):
        raise ValueError("--analysis-budget must be a number of seconds in (0, 3600]")


def check_configuration(args: argparse.Namespace) -> tuple[Any, str, Path | None]:
    """Everything the proxy needs before it can start: (policy, server executable, audit path).

    Raises ``ValueError`` with one line naming the first problem: bad options, a policy that does not load, a
    server command that cannot be found, an audit log that cannot be written.
    """
    _check_options(args)
    policy = _load_policy(_policy_path(args), args.policy)
    exe = _gateway_upstreams(policy, args) or _upstream(args)
    audit = _audit_path(args)
    if audit is not None:
        _check_audit_path(audit)
    return policy, exe, audit


def _hidden_summary(policy: Any) -> str:
    """What the policy's static stage does to tools nobody named (so a host's empty tool list is explained)."""
    default = str(getattr(policy, "default_action", "") or "").upper()
    return "default_action DENY: tools no rule allows are hidden" if default == "DENY" else "default_action ALLOW"


def run(args: argparse.Namespace) -> int:
    """Check the configuration, open the audit log, and relay until the client disconnects."""
    from sentinel_lab._core.errors import AuditError

    audit_path = _audit_path(args)
    audit = None
    if audit_path is not None and not args.check:
        from sentinel_lab._mcp.audit import AuditLog

        try:
            audit = AuditLog(audit_path, key=args.audit_key, fsync=args.audit_fsync)
        except (AuditError, OSError) as exc:
            _say(f"cannot start: cannot open the audit log {audit_path}: {exc}")
            return 2
    try:
        try:
            policy, exe, _ = check_configuration(args)
        except ValueError as exc:
            _say(f"{'configuration error' if args.check else 'cannot start'}: {exc}")
            _audit_startup(audit, str(exc))
            return 2
        if args.check:
            where = f", audit log {audit_path}" if audit_path is not None else ", no audit log"
            what = "upstream" if args.upstream_url is not None else "server"
            what = "upstreams" if getattr(policy, "upstreams", None) else what
            _say(f"configuration OK: policy {_policy_path(args)} ({_hidden_summary(policy)}), {what} {exe}{where}")
            return 0
        from sentinel_lab._mcp.relay import ProxyOptions, run_proxy

        options = ProxyOptions.from_policy(
            policy,
            require_session=args.require_session,
            max_message_bytes=args.max_message_bytes,
            analysis_budget_s=args.analysis_budget,
        )
        if getattr(policy, "upstreams", None):
            from sentinel_lab._mcp.multi import run_multi_proxy

            return run_multi_proxy(policy, options=options, audit=audit)
        if args.upstream_url is not None:
            from sentinel_lab._mcp.http import run_url_proxy

            return run_url_proxy(args.upstream_url, policy, options=options, audit=audit)
        return run_proxy(_server_command(args), policy, options=options, audit=audit)
    finally:
        if audit is not None:
            audit.close()


def _audit_startup(audit: Any, reason: str) -> None:
    """Record a start-up failure in the audit log when there is one (it is on stderr already)."""
    if audit is None:
        return
    try:
        audit.write("startup_error", decision="error", details={"reason": reason[:500]})
    except Exception as exc:  # the failure is on stderr already; the record is the extra
        _say(f"the audit log could not record the start-up failure: {exc}")
