"""``sentinel-lab verify``: verify one action (JSON), a JSONL file, or stdin; exit 0 all allowed, 1 any blocked,
2 on bad input."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from sentinel_lab._core.errors import InvalidAction, SentinelError
from sentinel_lab._core.verdict import Verdict
from sentinel_lab._text.normalize import loads_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="-",
        help="an action as JSON, a path to a JSONL file of actions, or - for stdin (the default)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON verdict per line")
    parser.add_argument("--policy", help="decide with this policy file (static, argument, taint rules + verifier)")
    parser.add_argument(
        "--workspace", help="project directory for path checks (without --policy: a policy sets its own)"
    )
    parser.add_argument(
        "--profile",
        choices=("workspace", "admin"),
        help="what the agent may do (without --policy; a policy sets verifier.profile): workspace (default) confines "
        "it to its project; admin allows sudo of ordinary commands, service management and system reads",
    )
    parser.add_argument("--goal", help="the user's goal, for intent verification")
    parser.add_argument("--allowed-host", action="append", default=[], help="host data may go to (repeatable; scope)")
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="apply the rate limiter across the input (off by default: a file is not a live agent)",
    )


class _BadLine(ValueError):
    """One input line that is not a JSON value we can read (invalid, or nested too deeply)."""


def _parse(number: int, text: str) -> Any:
    try:
        return loads_json(text)
    except ValueError as exc:
        raise _BadLine(f"line {number}: not valid JSON: {exc}") from None


def _read_actions(source: str) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed JSON) from an inline JSON action, a JSONL file, or stdin."""
    stripped = source.strip()
    if stripped.startswith("{"):
        yield 1, _parse(1, stripped)
        return
    stream: TextIO = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    try:
        for number, text in enumerate(stream, 1):
            if text.strip():
                yield number, _parse(number, text)
    finally:
        if stream is not sys.stdin:
            stream.close()


def _printable(text: str) -> str:
    """``text`` as it can be written to a UTF-8 stream: lone surrogates become ``\\udxxx`` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _describe(exc: BaseException) -> str:
    try:
        detail = str(exc)
    except Exception:
        detail = ""
    return _printable(detail[:300] or type(exc).__name__)


def _json_line(record: dict[str, Any]) -> str:
    """One JSON line for a verdict; arguments too deep or too odd to serialise are replaced by a note, so a
    verdict is always printed."""
    try:
        line = json.dumps(record, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError) as exc:
        record = {**record, "args": f"<arguments not shown: {type(exc).__name__}>"}
        line = json.dumps(record, ensure_ascii=False, default=str)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: \u escapes are valid JSON and writable
        line = json.dumps(json.loads(line), ensure_ascii=True)
    return line


def _table_row(index: int, verdict: Verdict, width: int) -> str:
    mark = "ALLOW" if verdict.allowed else ("FLAG " if verdict.decision == "flag" else "BLOCK")
    head = f"{index:>4}  {mark}  {verdict.tool[:24]:<24}  {verdict.policy[:22]:<22}  {verdict.severity[:8]:<8}  "
    reason = verdict.reason if not verdict.allowed or verdict.decision == "flag" else ""
    room = max(10, width - len(head))
    return head + (reason if len(reason) <= room else reason[: room - 1] + "…")


def run(args: argparse.Namespace) -> int:
    """Verify every action; any failure is one line on stderr and exit 2, never a traceback."""
    try:
        return _run(args)
    except SystemExit:
        raise
    except (OSError, ValueError) as exc:  # _BadLine included
        print(f"sentinel-lab verify: cannot read input: {_describe(exc)}", file=sys.stderr)
    except Exception as exc:
        print(f"sentinel-lab verify: {type(exc).__name__}: {_describe(exc)}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    decide = _decider(args)
    out = sys.stdout
    tty = out.isatty() and not args.json
    width = shutil.get_terminal_size((120, 20)).columns
    if tty:
        out.write(f"{'#':>4}  {'':5}  {'tool':<24}  {'policy':<22}  {'severity':<8}  reason\n")
    any_blocked = False
    bad = False
    for number, item in _read_actions(args.action):
        try:
            verdict = decide(item)
        except InvalidAction as exc:
            print(f"sentinel-lab verify: line {number}: {_describe(exc)}", file=sys.stderr)
            bad = True
            continue
        except Exception as exc:  # cannot happen by contract; still one clear line, never a traceback
            print(f"sentinel-lab verify: line {number}: cannot verify: {_describe(exc)}", file=sys.stderr)
            bad = True
            continue
        any_blocked = any_blocked or not verdict.allowed
        if tty:
            out.write(_printable(_table_row(number, verdict, width)) + "\n")
        else:
            record = verdict.to_dict()
            record["args"] = dict(verdict.args)
            if isinstance(item, dict) and "id" in item:
                record["id"] = item["id"]
            out.write(_json_line(record) + "\n")
    if bad:
        return 2
    return 1 if any_blocked else 0


def _decider(args: argparse.Namespace) -> Any:
    """Return a function action -> Verdict: the policy engine when --policy is given, else a Verifier."""
    from sentinel_lab._analysis._actions import parse_action

    context: dict[str, Any] = {"user_goal": args.goal} if args.goal else {}
    if args.policy:
        from sentinel_lab._policy.model import Policy

        for flag, value, key in (("--workspace", args.workspace, "workspace"), ("--profile", args.profile, "profile")):
            if value:  # the policy's verifier has its own; silently ignoring the flag would mislead
                print(
                    f"sentinel-lab verify: {flag} applies without --policy; set verifier.{key} in the policy",
                    file=sys.stderr,
                )
                raise SystemExit(2)
        try:
            session = Policy.load(args.policy).new_session()
        except (OSError, SentinelError) as exc:
            print(f"sentinel-lab verify: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        if args.allowed_host:  # a per-call scope: these hosts replace the policy verifier's allowed hosts
            context["scope"] = {"allowed_hosts": list(args.allowed_host)}
        policy_context = context or None

        def by_policy(item: Any) -> Verdict:
            tool, call_args = parse_action(item)
            return session.check(tool, call_args, context=policy_context)

        return by_policy

    from sentinel_lab._verify.verifier import Verifier

    scope = {"allowed_hosts": args.allowed_host} if args.allowed_host else None
    verifier = Verifier(
        workspace=args.workspace,
        scope=scope,
        rate_limit=None if args.rate_limit else False,
        profile=args.profile or "workspace",
    )
    return lambda item: verifier.verify(item, context)
