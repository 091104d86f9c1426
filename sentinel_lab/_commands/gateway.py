"""``sentinel-lab gateway``: serve hosts over Streamable HTTP, judging every call like the stdio proxy."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sentinel_lab._commands import proxy as _proxy

__all__ = ["add_arguments", "parse_listen", "run"]

_EPILOG = """\
Hosts connect to http://HOST:PORT/mcp (Streamable HTTP). Each HTTP session gets its own policy session (taint)
and its own upstream: a tool server started for it from the command after the options, or a session with the
remote server given by --upstream-url, or, when the policy has an 'upstreams' section, every server it names
(tools named <upstream>__<tool>). Listen on 127.0.0.1 unless a TLS-terminating front is in place.

Clients of the stateless 2026-07-28 revision (no initialize, no Mcp-Session-Id) share one upstream per gateway
process; their taint is kept by session token (issued in the server/discover answer's _meta["sentinel/session"],
required on every tools/call), in memory or, with --state redis://HOST:PORT/DB, in Redis shared by every
gateway process that names it (give them the same $SENTINEL_SESSION_KEY).

examples:
  sentinel-lab gateway --listen 127.0.0.1:8765 --policy /home/me/policy.yaml -- python /home/me/server.py
  sentinel-lab gateway --listen 127.0.0.1:8765 --policy /home/me/policy.yaml --upstream-url http://10.0.0.5/mcp
  sentinel-lab gateway --listen 127.0.0.1:8766 --policy /srv/p.yaml --state redis://127.0.0.1:6379/0 -- python s.py"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The proxy's flags plus ``--listen HOST:PORT``."""
    _proxy.add_arguments(parser)
    parser.epilog = _EPILOG
    parser.add_argument("--listen", required=True, metavar="HOST:PORT", help="address to serve on, e.g. 127.0.0.1:8765")
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=64,
        metavar="N",
        help="sessions open at once, each with its own upstream (default 64; more are refused with HTTP 503)",
    )
    parser.add_argument(
        "--state",
        default="memory",
        metavar="STORE",
        help="where stateless (2026-07-28) clients' taint is kept by session token: 'memory' (default, this process)"
        " or redis://HOST:PORT/DB (shared by several gateway processes)",
    )


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) to a pair, or ``ValueError`` with one line."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT with a port in 1..65535, got {text!r}")
    return host, int(port)


def _say(message: str) -> None:
    print(f"sentinel-lab gateway: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Check the configuration, open the audit log, and serve until interrupted."""
    from sentinel_lab._core.errors import AuditError
    from sentinel_lab._mcp.state_store import StateStoreError, open_store

    try:
        host, port = parse_listen(args.listen)
        if args.max_sessions < 1:
            raise ValueError("--max-sessions must be at least 1")
        policy, upstream, audit_path = _proxy.check_configuration(args)
        store = open_store(args.state)
    except (ValueError, StateStoreError) as exc:
        _say(f"{'configuration error' if args.check else 'cannot start'}: {exc}")
        return 2
    if args.check:
        store.close()
        _say(f"configuration OK: http://{host}:{port}/mcp in front of {upstream}, state in {store.description}")
        return 0
    audit = None
    if audit_path is not None:
        from sentinel_lab._mcp.audit import AuditLog

        try:
            audit = AuditLog(audit_path, key=args.audit_key, fsync=args.audit_fsync)
        except (AuditError, OSError) as exc:
            _say(f"cannot start: cannot open the audit log {audit_path}: {exc}")
            store.close()
            return 2
    from sentinel_lab._mcp.http_gateway import Gateway, GatewaySession, GatewayUrlSession, run_gateway
    from sentinel_lab._mcp.relay import ProxyOptions

    options = ProxyOptions.from_policy(
        policy,
        require_session=args.require_session,
        max_message_bytes=args.max_message_bytes,
        analysis_budget_s=args.analysis_budget,
    )
    command = _proxy._server_command(args)
    url = args.upstream_url

    def make_session(key: bytes) -> Any:
        if getattr(policy, "upstreams", None):
            from sentinel_lab._mcp.multi import GatewayMultiSession

            return GatewayMultiSession(policy, options=options, audit=audit, session_key=key)
        if url is not None:
            return GatewayUrlSession(url, policy, options=options, audit=audit, session_key=key)
        return GatewaySession(command, policy, options=options, audit=audit, session_key=key)

    gateway = Gateway(
        make_session,
        max_message_bytes=options.max_message_bytes,
        max_sessions=args.max_sessions,
        key_env=options.key_env,
        audit=audit,
        store=store,
    )
    try:
        return run_gateway(host, port, gateway)
    finally:
        store.close()
        if audit is not None:
            audit.close()
