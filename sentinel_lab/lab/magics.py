"""The ``%sentinel`` line magic and ``%%sentinel`` cell magic (``%load_ext sentinel_lab``).

A ``%%sentinel`` cell holds tool calls (YAML list of ``{tool: args}`` or ``{tool, args}`` items, or JSON lines).
Without ``--upstream`` the calls are only verified (a dry run through the policy engine, or through the built-in
``Verifier`` when no policy is active); with ``--upstream "CMD"`` they go through the real ``sentinel-lab proxy``
to that MCP tool server via the SDK, on one background event loop owned by the extension. Proxies are reused per
(upstream, policy, session), so taint carries over from cell to cell. Every verdict lands in the kernel-wide
recorder (``%sentinel log``). Heavy modules (pandas, yaml, the MCP SDK, anyio) are imported on first use only.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import dataclasses
import hashlib
import json
import os
import shlex
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Float, Int, List, Unicode, observe

from sentinel_lab._core.wire import VERDICT_META_KEY
from sentinel_lab.lab._display import ALL_COLUMNS, DEFAULT_COLUMNS

__all__ = ["HELP", "SentinelMagics", "load_ipython_extension", "parse_calls", "unload_ipython_extension"]

_DEFAULT_SESSION = "default"
_LINE_COMMANDS = ("policy", "status", "log", "reset", "stop", "help")


# ---------------------------------------------------------------------------------------------------------------
# Parsing the cell
# ---------------------------------------------------------------------------------------------------------------
def _one_call(item: Any, where: str) -> tuple[str, dict[str, Any]]:
    from sentinel_lab._analysis._actions import parse_action
    from sentinel_lab._core.errors import InvalidAction

    if isinstance(item, str) and item.strip():
        return item.strip(), {}  # a bare tool name: no arguments
    if not isinstance(item, Mapping):
        raise UsageError(f"{where}: expected {{tool: args}} or {{tool: NAME, args: {{...}}}}, got {item!r:.80}")
    if len(item) == 1:
        ((name, value),) = item.items()
        if name not in ("tool", "name") and (value is None or isinstance(value, Mapping)):
            if not isinstance(name, str) or not name.strip():
                raise UsageError(f"{where}: the tool name must be a non-empty string")
            return name, dict(value or {})
    try:
        return parse_action(item)
    except InvalidAction as exc:
        raise UsageError(f"{where}: {exc}") from None


def parse_calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls of a ``%%sentinel`` cell, as ``(tool, args)`` pairs, in order.

    Accepts a YAML list (or a single mapping) of ``{tool: args}`` / ``{tool, args}`` items, or JSON lines.
    """
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise UsageError("the cell holds no tool calls (write a YAML list like `- read_file: {path: a.txt}`)")
    data: Any
    if all(ln.lstrip().startswith("{") for ln in lines):
        try:
            data = [json.loads(ln) for ln in lines]
        except ValueError:
            data = None
        if data is not None:
            return [_one_call(item, f"line {i + 1}") for i, item in enumerate(data)]
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"cannot read the cell as YAML or JSON lines{where}: {problem}") from None
    if isinstance(data, Mapping) and not ({"tool", "name", "type"} & set(data)):
        data = [{k: v} for k, v in data.items()]  # a mapping of several {tool: args}
    if not isinstance(data, list):
        data = [data]
    return [_one_call(item, f"item {i + 1}") for i, item in enumerate(data)]


# ---------------------------------------------------------------------------------------------------------------
# Policies, sessions and proxies
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _PolicySpec:
    """Where a policy comes from (a file, or inline text saved to a private temporary file)."""

    path: str
    label: str
    inline: bool = False
    _loaded: Any = None
    _stamp: tuple[float, int] | None = None

    @property
    def key(self) -> str:
        return self.path

    def load(self) -> Any:
        from sentinel_lab._core.errors import PolicyError

        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise UsageError(f"policy file {self.label}: {exc.strerror or exc}") from None
        stamp = (st.st_mtime, st.st_size)
        if self._loaded is None or stamp != self._stamp:
            from sentinel_lab._policy.model import Policy

            try:
                self._loaded = Policy.load(self.path)
            except PolicyError as exc:
                raise UsageError(f"bad policy {self.label}: {_policy_error_text(exc, self)}") from None
            self._stamp = stamp
        return self._loaded

    def text(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return fh.read()
        except OSError:
            return ""


def _policy_error_text(exc: Exception, spec: _PolicySpec | None = None) -> str:
    text = str(exc)
    if spec is not None and spec.inline:
        text = text.replace(spec.path, "<inline policy>")
    return text


@dataclass
class _DrySession:
    """A dry-run session: the engine session of a policy, or the plain verifier with a session id."""

    name: str
    policy_label: str
    engine: Any  # policy Session, or None for the verifier
    policy: Any = None  # the Policy the engine session was made from
    calls: int = 0


@dataclass
class _Proxy:
    """A running ``sentinel-lab proxy`` (and its tool server) reached through the SDK client."""

    upstream: str
    policy_label: str
    session: str
    client: Any
    leave: Callable[[float], None]
    started: float
    pids: list[tuple[int, str]] = field(default_factory=list)
    calls: int = 0
    taints: frozenset[str] = frozenset()
    tail: Any = None  # AuditTail of the proxy's private audit log
    startup_s: float = 0.0
    fresh: bool = True  # started by the current cell (its start-up time is reported once)


def _children_of(pid: int) -> dict[int, str]:
    """Direct and indirect children of ``pid`` (Linux ``/proc``), with their start times for identity."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2 :].split()
        if len(rest) < 20:
            continue
        parents.setdefault(int(rest[1]), []).append(int(entry))
        starts[int(entry)] = rest[19]
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out[child] = starts.get(child, "")
                todo.append(child)
    return out


def _alive(pid: int, start: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return False
    rest = stat[stat.rfind(")") + 2 :].split()
    return len(rest) > 19 and rest[19] == start and rest[0] != "Z"


def _reap(pids: list[tuple[int, str]], grace: float = 2.0) -> None:
    """Make sure the processes a proxy started are gone: wait, then SIGTERM, then SIGKILL (ours only)."""
    deadline = time.monotonic() + grace
    left = [(p, s) for p, s in pids if _alive(p, s)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [(p, s) for p, s in left if _alive(p, s)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in left:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        stop = time.monotonic() + 1.0
        while left and time.monotonic() < stop:
            time.sleep(0.05)
            left = [(p, s) for p, s in left if _alive(p, s)]
        if not left:
            break
    for pid, _ in pids:  # reap our direct children so none stays a zombie
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _result_text(result: Any) -> str:
    """The text a tool returned (content items, then structured content), as the proxy delivered it."""
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    content = getattr(result, "content", None)
    if content is None and isinstance(result, Mapping):
        content = result.get("content")
    parts: list[str] = []
    for item in content or []:
        text = getattr(item, "text", None)
        if text is None and isinstance(item, Mapping):
            text = item.get("text")
        resource = getattr(item, "resource", None)
        if text is None and resource is not None:
            text = getattr(resource, "text", None)
        if text is None:
            kind = getattr(item, "type", None) or (item.get("type") if isinstance(item, Mapping) else "?")
            text = f"<{kind}>"
        parts.append(str(text))
    structured = getattr(result, "structuredContent", None) or getattr(result, "structured_content", None)
    if structured is None and isinstance(result, Mapping):
        structured = result.get("structuredContent")
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, default=str))
    if not parts and content is None:
        parts.append(str(result))
    error = getattr(result, "isError", None) or getattr(result, "is_error", None)
    text = "\n".join(parts)
    return f"[tool error] {text}" if error else text


def _verdict_in(result: Any) -> Any:
    """The proxy's verdict carried in a result's ``_meta["sentinel/verdict"]``, if the proxy sends one."""
    meta = getattr(result, "meta", None)
    if meta is None and isinstance(result, Mapping):
        meta = result.get("_meta")
    info = meta.get(VERDICT_META_KEY) if isinstance(meta, Mapping) else None
    if not isinstance(info, Mapping):
        return None
    from sentinel_lab._core.verdict import Verdict, Violation

    try:
        return Verdict(
            allowed=bool(info.get("allowed", True)),
            violations=tuple(
                Violation(str(v.get("policy", "")), str(v.get("reason", "")), str(v.get("severity", "high")))
                for v in info.get("violations", ())
                if isinstance(v, Mapping)
            ),
            decision=str(info.get("decision", "")),
            rule=str(info.get("rule", "")),
            taints=frozenset(str(t) for t in info.get("taints", ()) if isinstance(t, str)),
            elapsed_us=float(info.get("elapsed_us", 0.0) or 0.0),
        )
    except (TypeError, ValueError):
        return None


def _complete(verdict: Any, proxy: _Proxy, tool: str, args: dict[str, Any], *, allowed: bool) -> Any:
    """The verdict of a proxied call with what the wire leaves out filled in (tool, args, session, time); an
    allowed call without a verdict from the proxy gets a plain ``allow``. ``elapsed_us`` is the proxy's own
    verification time, filled in from its audit log once read (NaN until then), never the round trip."""
    from types import MappingProxyType

    from sentinel_lab._core.verdict import Verdict

    if verdict is None:
        verdict = Verdict(allowed=allowed)
    return dataclasses.replace(
        verdict,
        tool=verdict.tool or tool,
        args=verdict.args or MappingProxyType(dict(args)),
        session_id=verdict.session_id or str(getattr(proxy.client, "session_id", "") or ""),
        at=verdict.at or time.time(),
        elapsed_us=verdict.elapsed_us or float("nan"),
    )


def _enrich(row: Any, record: Mapping[str, Any] | None, findings: list[dict[str, Any]]) -> None:
    """Add to one proxied call what only the proxy's audit log says: its verification time, a ``flag`` decision
    (a policy in audit mode, or the output scan's finding in a delivered answer) and the finding's evidence."""
    from sentinel_lab._core.verdict import Verdict, Violation

    verdict = row.verdict
    if record is not None:
        latency = record.get("latency_us")
        if isinstance(latency, (int, float)):
            row.verify_us = float(latency)
        decision = str(record.get("decision", "") or "")
        raw_details = record.get("details")
        details: Mapping[str, Any] = raw_details if isinstance(raw_details, Mapping) else {}
        if verdict is None:  # cancelled or timed out after the proxy decided: show what it decided
            violations: tuple[Violation, ...] = ()
            if decision != "allow" and details:
                violations = (Violation(str(details.get("policy", "")), str(details.get("reason", "")), "high"),)
            verdict = Verdict(
                allowed=decision != "block",
                violations=violations,
                decision=decision,
                rule=str(record.get("rule", "") or ""),
                tool=row.tool,
            )
        elif decision == "flag" and verdict.decision == "allow":
            reason = str(details.get("reason", "") or "flagged by the policy (audit mode)")
            violations = (Violation(str(details.get("policy", "") or "policy"), reason, "medium"),)
            verdict = dataclasses.replace(verdict, decision="flag", violations=verdict.violations + violations)
    flags = [f for f in findings if f.get("decision") == "flag"]
    if flags and verdict is not None and verdict.allowed:
        kinds = sorted({str(k) for f in flags for k in (f.get("details") or {}).get("kinds", ())})
        evidence = "; ".join(str(e) for f in flags for e in (f.get("details") or {}).get("evidence", ()))
        reason = f"the output of {row.tool!r} looks like a prompt injection ({', '.join(kinds) or 'injection'})"
        found = Violation("output_injection", reason, "medium", evidence[:240])
        verdict = dataclasses.replace(verdict, decision="flag", violations=(*verdict.violations, found))
        row.findings = flags
    if verdict is not None and row.verify_us is not None:
        verdict = dataclasses.replace(verdict, elapsed_us=row.verify_us)
    row.verdict = verdict


def _not_started(calls: list[tuple[str, dict[str, Any]]], start: int, status: str) -> list[Any]:
    """Rows for the calls from ``start`` on that never ran (the first with ``status``, the rest not started)."""
    from sentinel_lab.lab._display import CallRow

    out = []
    for j in range(start, len(calls)):
        tool, args = calls[j]
        out.append(CallRow(j + 1, tool, args, None, status=status if j == start else "not started"))
    return out


def _frame_verdict(row: Any) -> Any:
    """The verdict a row contributes to frames and the log: its own, or for a call that never got one a
    ``block`` (it did not complete) whose reason says what happened."""
    if row.verdict is not None:
        return row.verdict
    from types import MappingProxyType

    from sentinel_lab._core.verdict import Verdict, Violation

    reason = {
        "cancelled": "cancelled before the answer arrived",
        "timed out": "timed out and cancelled before the answer arrived",
    }.get(row.status, "not started: an earlier call of the cell was interrupted")
    return Verdict(
        allowed=False,
        violations=(Violation("incomplete", reason, "low"),),
        tool=row.tool,
        args=MappingProxyType(dict(row.args)),
        rule=f"lab.{row.status.replace(' ', '_')}",
        at=time.time(),
        elapsed_us=float("nan"),
    )


def _rows_frame(rows: list[Any]) -> Any:
    """A cell's rows as a DataFrame: the recorder schema, the lab's columns (``LOG_EXTRAS``) and ``result``."""
    import pandas as pd

    from sentinel_lab.lab.recorder import add_extras, verdicts_frame

    verdicts = [_frame_verdict(r) for r in rows]
    extras: list[Mapping[str, Any]] = [
        {
            "status": r.status,
            "verify_us": r.verify_us,
            "roundtrip_us": r.roundtrip_us,
            "finding": "; ".join(
                ", ".join(str(k) for k in (f.get("details") or {}).get("kinds", ())) for f in r.findings
            ),
        }
        for r in rows
    ]
    frame = add_extras(verdicts_frame(verdicts, source="magic"), verdicts, extras)
    frame = frame.drop(columns=["name"])
    if any(r.result is not None for r in rows) or any(r.roundtrip_us is not None for r in rows):
        frame["result"] = pd.Series([r.result for r in rows], dtype="string")
    return frame


_DECISION_WORDS = ("allow", "block", "flag", "*")


def _expected(text: str, n: int) -> list[str]:
    """The decisions ``--expect`` names, checked against the cell's number of calls."""
    items = [w.strip().lower() for w in text.split(",") if w.strip()]
    bad = [w for w in items if w not in _DECISION_WORDS]
    if bad:
        raise UsageError(f"--expect: {', '.join(bad)} is not a decision; use allow, block, flag or * (any)")
    if len(items) != n:
        raise UsageError(f"--expect names {len(items)} decision(s) but the cell holds {n} call(s)")
    return items


def _check_expected(expect: list[str], rows: list[Any]) -> str:
    """A one-line failure message when a decision differs from ``--expect`` (empty when all agree)."""
    wrong = []
    for want, row in zip(expect, rows, strict=True):
        got = row.decision or row.status
        if want != "*" and got != want:
            why = ""
            if row.violations:
                top = max(row.violations, key=lambda v: _SEVERITY_RANK.get(v.severity, 0))
                why = f" ({top.policy}: {top.reason})"
            wrong.append(f"call {row.index} {row.tool}: expected {want}, got {got}{why}")
    if not wrong:
        return ""
    return f"--expect failed for {len(wrong)} of {len(rows)} call(s): " + "; ".join(wrong)


_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}


def _unquote(value: str) -> str:
    """``value`` without one pair of surrounding quotes (the magic's argument splitter keeps them)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


HELP = """\
Verify tool calls against a policy, or run them through the sentinel-lab proxy to a real MCP tool server.

Cell magic: the calls of an agent, as a YAML list or JSON lines

    %%sentinel [--policy PATH] [--compare PATH] [--upstream "CMD"] [--session NAME]
               [--expect allow,block,...] [--timeout S] [-o VAR] [--quiet]
    - read_file: {path: notes.txt}
    - {tool: send_email, args: {to: a@b.example, body: hi}}

  shows one row per call, what was decided first:

    dry run · policies/demo.yaml · session default: 2 calls, 1 blocked
       1 allow read_file {"path": "notes.txt"}
       2 BLOCK send_email {"body": "hi", "to": "a@b.example"}  [taint_rules] no email after reading the web

  --policy, -p PATH     the policy for this cell (once; default: the active policy, else the built-in verifier)
  --compare PATH        run the same calls under a second policy too; decisions side by side, differences marked
  --upstream, -u CMD    send the calls through the proxy to this tool server, e.g.
                        "python -m sentinel_lab.demo_server"; the proxy is started once and reused, so taint
                        carries from cell to cell
  --session, -s NAME    a session name (default: default); taint carries over within a session only
  --expect LIST         decisions the calls must get (allow, block, flag, * for any); otherwise the cell fails
                        with a message naming each call that differs: notebooks become tests
  --timeout, -t S       seconds per call and for starting a proxy (default: SentinelMagics.timeout)
  -o, --output VAR      store the rows as a DataFrame in VAR (also after an interrupt: the calls that completed)
  --quiet, -q           show nothing (use with -o)

  %%sentinel policy     makes the cell's YAML the active policy.

  Decisions: allow; block (with every violation and its evidence, the first shown, the rest under "+N more");
  flag (allowed, but the proxy flagged it: a policy in audit mode, or prompt-injection signs in the tool's
  output, with the finding). Calls cancelled (Ctrl-C) or timed out are rows too. verify_us is the engine's own
  time, roundtrip_us the notebook's round trip through the proxy; a proxy's start-up time is shown apart.

Line magic

    %sentinel policy [PATH]   set (and show) the active policy
    %sentinel status          active policy, sessions with their taints, running proxies
    %sentinel log [--blocked] [--session NAME] [--to FILE.csv|FILE.jsonl] [--plot] [-o VAR]
                              every verdict of this kernel (newest last), styled; --plot draws decisions by
                              policy and severity and the latency distribution
    %sentinel reset [NAME]    forget a session's taint (all sessions without NAME) and stop its proxies
    %sentinel stop            stop every proxy and tool server
    %sentinel help            this text

Settings (%config SentinelMagics.NAME = VALUE; %config SentinelMagics lists them with their values)

    policy            default policy file when none is active
    timeout           seconds per call and per proxy start (30)
    log_file          append every verdict here as a JSON line
    displaylimit      most rows a table draws, 0 for all (50); -o VAR always holds every row
    columns           the verdict table's columns, in order (empty ones are hidden):
                      #, decision, tool, policy, reason, args, severity, taints, rule, status, verify_us, roundtrip_us
    args_chars        characters of the arguments shown in a row (48; the rest on hover, click to expand)
    reason_chars      characters of a reason shown (400)
    max_result_chars  longest tool result shown under its call (2000)
    progress_min      cells with at least this many calls show a progress bar (20)
    approve           how --upstream cells answer approvals (policy ASK): deny (default), allow, or widget
                      (Approve / Deny buttons under the cell; no click within timeout refuses)

Python: sentinel_lab.lab.style(frame) styles any verdict frame (a pandas Styler: HTML, LaTeX, Excel);
Verdict and Violation objects display as cards; sentinel_lab.explore(dataset, verifier_or_policy) opens the
explorer. Tab completion knows the subcommands, options, policy files and session names.
"""


# ---------------------------------------------------------------------------------------------------------------
# The magics
# ---------------------------------------------------------------------------------------------------------------
@magics_class
class SentinelMagics(Magics):
    """``%sentinel`` / ``%%sentinel``: verify tool calls against a policy, or run them through the proxy.

    Configure defaults with ``%config SentinelMagics.policy = "policies/demo.yaml"``, ``.timeout`` (seconds per
    call and per proxy start) and ``.log_file`` (append every verdict as a JSON line).
    """

    policy = Unicode("", help="Default policy file for %%sentinel when none is set with %sentinel policy.").tag(
        config=True
    )
    timeout = Float(30.0, help="Seconds allowed for starting a proxy and for each call through it.").tag(config=True)
    log_file = Unicode("", help="If set, every verdict of this kernel is appended here as a JSON line.").tag(
        config=True
    )
    max_result_chars = Int(2000, help="Longest tool result shown under its call.").tag(config=True)
    displaylimit = Int(50, help="Most rows a verdict table draws (0: all); -o VAR always holds every row.").tag(
        config=True
    )
    columns = List(
        Unicode(),
        default_value=list(DEFAULT_COLUMNS),
        help=f"Columns of the verdict table, in order (empty ones are hidden); any of: {', '.join(ALL_COLUMNS)}.",
    ).tag(config=True)
    args_chars = Int(48, help="Characters of a call's arguments shown in its cell (the rest on hover or expand).").tag(
        config=True
    )
    reason_chars = Int(400, help="Characters of a reason shown before it is cut.").tag(config=True)
    progress_min = Int(20, help="Cells with at least this many calls show a progress bar.").tag(config=True)
    approve = Unicode(
        "deny",
        help="How --upstream cells answer the proxy's approval questions (policy ASK): deny (default, for nbval and "
        "unattended runs), allow, or widget (Approve / Deny buttons; no click within timeout refuses).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        from sentinel_lab.lab._portal import Portal

        self._portal = Portal()
        self._active: _PolicySpec | None = None
        self._config_spec: _PolicySpec | None = None
        self._inline_files: list[str] = []
        self._specs: dict[str, _PolicySpec] = {}
        self._sessions: dict[tuple[str, str], _DrySession] = {}
        self._proxies: dict[tuple[str, str, str], _Proxy] = {}
        self._verifier: Any = None
        self._log_listener: Callable[[Any, str], None] | None = None
        self._matcher: Any = None
        self._cell_context: contextvars.Context | None = None  # the running cell's, for an approval prompt
        if self.log_file:
            self._set_log_file(self.log_file)

    # -- configuration -----------------------------------------------------------------------------------------
    @observe("log_file")
    def _log_file_changed(self, change: Mapping[str, Any]) -> None:
        self._set_log_file(change["new"])

    @observe("approve")
    def _approve_changed(self, change: Mapping[str, Any]) -> None:
        from sentinel_lab.lab._approve import APPROVE_SETTINGS

        if change["new"] not in APPROVE_SETTINGS:
            self.approve = change["old"]
            raise UsageError(
                f"SentinelMagics.approve must be one of {', '.join(APPROVE_SETTINGS)}, not {change['new']!r}"
            )

    @observe("policy")
    def _policy_changed(self, change: Mapping[str, Any]) -> None:
        self._config_spec = None

    def _set_log_file(self, path: str) -> None:
        from sentinel_lab.lab.recorder import args_json, default_recorder

        if self._log_listener is not None:
            default_recorder.remove_listener(self._log_listener)
            self._log_listener = None
        if not path:
            return
        target = os.path.expanduser(path)
        try:
            with open(target, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            print(f"SentinelMagics.log_file: cannot write {path!r} ({exc.strerror or exc}); not logging")
            return

        def write(verdict: Any, source: str) -> None:
            record = verdict.to_dict() if hasattr(verdict, "to_dict") else {"verdict": str(verdict)}
            record["args"] = json.loads(args_json(getattr(verdict, "args", None)))
            record["source"] = source
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

        self._log_listener = write
        default_recorder.add_listener(write)

    def _spec_for(self, path: str | None) -> _PolicySpec | None:
        if path:
            full = os.path.abspath(os.path.expanduser(path))
            spec = self._specs.get(full)
            if spec is None:
                spec = self._specs[full] = _PolicySpec(full, path)
            return spec
        if self._active is not None:
            return self._active
        if self.policy:
            if self._config_spec is None:
                self._config_spec = _PolicySpec(os.path.abspath(os.path.expanduser(self.policy)), self.policy)
            return self._config_spec
        return None

    def _inline_spec(self, text: str) -> _PolicySpec:
        fd, path = tempfile.mkstemp(prefix="sentinel-policy-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        self._inline_files.append(path)
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return _PolicySpec(path, f"<inline policy {digest}>", inline=True)

    # -- the magic ---------------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("command", nargs="?", help="policy | status | log | reset | stop | help")
    @argument("target", nargs="?", help="the policy file of `policy PATH`, the session of `reset NAME`")
    @argument("--policy", "-p", action="append", help="policy file for this cell (give it once)")
    @argument("--compare", help="a second policy: run the same calls under both and show them side by side")
    @argument("--upstream", "-u", help='run the calls through the proxy to this MCP tool server, e.g. "python t.py"')
    @argument("--session", "-s", help="session name (default: default); taint carries over within it")
    @argument("-o", "--output", dest="output", help="store the result DataFrame in this variable")
    @argument("--quiet", "-q", action="store_true", help="show nothing (use with -o)")
    @argument("--timeout", "-t", type=float, help="seconds per call (default: SentinelMagics.timeout)")
    @argument("--expect", help="comma-separated decisions (allow, block, flag, *); the cell fails if one differs")
    @argument("--blocked", action="store_true", help="log: only blocked and flagged calls")
    @argument("--to", help="log: also write the rows shown to FILE.csv or FILE.jsonl")
    @argument("--plot", action="store_true", help="log: plot decisions by policy and severity, and latencies")
    @no_var_expand
    @line_cell_magic
    def sentinel(self, line: str = "", cell: str | None = None) -> Any:
        args = parse_argstring(self.sentinel, line)
        for name in ("target", "compare", "upstream", "session", "output", "expect", "to"):
            value = getattr(args, name, None)
            if isinstance(value, str):
                setattr(args, name, _unquote(value))
        policies = [_unquote(p) for p in (args.policy or [])]
        if len(policies) > 1:
            raise UsageError(
                f"--policy given {len(policies)} times ({', '.join(policies)}); give one, and use "
                "--compare OTHER.yaml to run the same calls under a second policy"
            )
        args.policy = policies[0] if policies else None
        if cell is None:
            return self._line(args)
        if args.command == "policy":
            if not cell.strip():
                raise UsageError("%%sentinel policy: the cell is empty; write the policy YAML in it")
            spec = self._inline_spec(cell)
            spec.load()
            self._active = spec
            return self._policy_view(spec) if not args.quiet else None
        if args.command is not None:
            raise UsageError(f"unknown %%sentinel mode {args.command!r}; use `%%sentinel policy` or options only")
        for name in ("blocked", "plot"):
            if getattr(args, name):
                raise UsageError(f"--{name} is an option of `%sentinel log`, not of a %%sentinel cell")
        if args.to:
            raise UsageError("--to is an option of `%sentinel log`, not of a %%sentinel cell")
        return self._cell(args, cell)

    def _line(self, args: Any) -> Any:
        command = args.command or "status"
        if command not in _LINE_COMMANDS:
            raise UsageError(f"unknown %sentinel command {command!r}; expected one of: {', '.join(_LINE_COMMANDS)}")
        if command != "log":
            for name in ("blocked", "plot", "to", "expect", "compare", "upstream"):
                if getattr(args, name):
                    raise UsageError(f"--{name} does not apply to `%sentinel {command}`")
        if command == "help":
            from IPython.display import Markdown

            return Markdown(HELP)
        if command == "policy":
            if args.target:
                spec = self._spec_for(args.target)
                assert spec is not None
                spec.load()
                self._active = spec
            spec = self._spec_for(None)
            if spec is None:
                raise UsageError("no active policy; set one with %sentinel policy PATH (dry runs use the verifier)")
            return self._policy_view(spec)
        if command == "status":
            return self.status()
        if command == "log":
            return self._log(args)
        if command == "reset":
            return self.reset(args.target or args.session)
        self.stop()
        return None

    def _log(self, args: Any) -> Any:
        from sentinel_lab.lab._style import LogView, log_plot, write_rows
        from sentinel_lab.lab.recorder import default_recorder

        frame = default_recorder.log_frame()
        if args.blocked:
            frame = frame[frame["decision"].astype(str) != "allow"].reset_index(drop=True)
        if args.session:
            chosen = (frame["name"] == args.session) | (frame["session"] == args.session)
            frame = frame[chosen.fillna(False).astype(bool)].reset_index(drop=True)
        if args.to:
            try:
                write_rows(frame, args.to)
            except (OSError, ValueError) as exc:
                raise UsageError(f"--to {args.to}: {exc}") from None
        if args.output:
            if not args.output.isidentifier():
                raise UsageError(f"-o: {args.output!r} is not a valid variable name")
            self._user_ns()[args.output] = frame
        if args.quiet:
            return None
        if args.plot:
            from IPython.display import display

            display(LogView(frame, title="sentinel log"))
            return log_plot(frame)
        return LogView(frame, title="sentinel log")

    def _policy_view(self, spec: _PolicySpec) -> Any:
        from sentinel_lab.lab._display import PolicyView

        policy = spec.load()
        items: list[tuple[str, Any]] = [("source", spec.label)]
        if not spec.inline:
            items.append(("path", spec.path))
        name = getattr(policy, "name", None)
        if name:
            items.append(("name", name))
        items.append(("summary", repr(policy)))
        return PolicyView("active policy", items, pre=spec.text())

    # -- dry runs ----------------------------------------------------------------------------------------------
    def _dry_session(self, spec: _PolicySpec | None, name: str) -> _DrySession:
        key = (spec.key if spec else "<verifier>", name)
        policy = spec.load() if spec is not None else None  # a changed file is read (and checked) again
        sess = self._sessions.get(key)
        if sess is None or sess.policy is not policy:
            # New session, or the policy file changed: the session follows the new rules (its taint restarts).
            engine = None if policy is None else policy.new_session(session_id=name)
            sess = _DrySession(name, spec.label if spec else "built-in verifier", engine, policy)
            self._sessions[key] = sess
        return sess

    def _verify_dry(self, sess: _DrySession, tool: str, args: dict[str, Any]) -> Any:
        if sess.engine is None:
            if self._verifier is None:
                from sentinel_lab._verify.verifier import Verifier

                self._verifier = Verifier(rate_limit=False)
            verdict = self._verifier.verify({"tool": tool, "args": args}, {"session_id": sess.name})
        else:
            verdict = sess.engine.check(tool, args)
            if verdict.allowed:
                # A dry run assumes an allowed call succeeded, so its taint effects apply to later calls.
                sess.engine.record(tool, args, ok=True)
        sess.calls += 1
        if not getattr(verdict, "session_id", "") or not getattr(verdict, "at", 0.0):
            verdict = dataclasses.replace(
                verdict, session_id=verdict.session_id or sess.name, at=verdict.at or time.time()
            )
        return verdict

    def _run_dry(
        self, sess: _DrySession, calls: list[tuple[str, dict[str, Any]]], status: Any
    ) -> tuple[list[Any], str]:
        """Verify every call in one dry-run session; returns the rows and, after Ctrl-C, what was interrupted."""
        from sentinel_lab.lab._display import CallRow

        rows: list[CallRow] = []
        for i, (tool, call_args) in enumerate(calls):
            try:
                verdict = self._verify_dry(sess, tool, call_args)
            except KeyboardInterrupt:
                rows.extend(_not_started(calls, i, "cancelled"))
                return rows, f"interrupted after {i} of {len(calls)} calls"
            except UsageError:
                raise
            except Exception as exc:
                raise UsageError(
                    f"call {i + 1} of {len(calls)} ({tool}) could not be verified: {type(exc).__name__}: {exc}"
                ) from None
            rows.append(CallRow(i + 1, tool, call_args, verdict, verify_us=float(verdict.elapsed_us)))
            status.tick()
        return rows, ""

    # -- upstream ----------------------------------------------------------------------------------------------
    def _proxy(self, upstream: str, spec: _PolicySpec, session: str, timeout: float, status: Any) -> _Proxy:
        key = (upstream, spec.key, session)
        proxy = self._proxies.get(key)
        if proxy is not None:
            if not proxy.pids or all(_alive(p, s) for p, s in proxy.pids):
                proxy.fresh = False
                return proxy
            self._close_proxy(key)  # it died since the last cell: start a fresh one (taint starts empty)
        spec.load()  # a bad policy is reported here, before any process starts
        from sentinel_lab._core.errors import ProxyError, SentinelError
        from sentinel_lab._mcp.sdk import Sentinel
        from sentinel_lab.lab._audit_tail import AuditTail
        from sentinel_lab.lab._portal import Cancelled, TimedOut

        try:
            shlex.split(upstream)
        except ValueError as exc:
            raise UsageError(f"--upstream: cannot split the command: {exc}") from None
        before = set(_children_of(os.getpid()))
        fd, audit = tempfile.mkstemp(prefix="sentinel-lab-audit-", suffix=".jsonl")
        os.close(fd)
        tail = AuditTail(audit)
        client = Sentinel.start(upstream=upstream, policy=spec.path, audit=audit, approve=self._answer_approval)
        t0 = time.monotonic()
        what = f"starting the proxy and the tool server {upstream!r} (session {session})"
        status.show(f"{what} …")
        try:
            _, leave = self._portal.enter(client, timeout=timeout, on_wait=lambda s: status.show(f"{what} … {s:.0f} s"))
        except BaseException as exc:
            tail.remove()
            self._reap_new(before)
            status.show(f"{what}: failed", final=True)
            if isinstance(exc, Cancelled):
                raise UsageError("interrupted while starting the proxy; nothing is left running") from None
            if isinstance(exc, TimedOut):
                raise UsageError(f"the proxy for {upstream!r} did not start within {timeout:g} s") from None
            if isinstance(exc, (ProxyError, SentinelError, OSError)):
                stderr = getattr(exc, "stderr_tail", "") or ""
                msg = f"could not start the tool server {upstream!r}: {exc}"
                if stderr and stderr.strip() not in str(exc):
                    msg += "\n--- stderr (last lines) ---\n" + stderr.rstrip()
                raise UsageError(msg) from None
            if isinstance(exc, Exception):
                raise UsageError(f"could not start the tool server {upstream!r}: {type(exc).__name__}: {exc}") from None
            raise
        startup = time.monotonic() - t0
        status.show(f"proxy and tool server {upstream!r} started in {startup:.1f} s", final=True)
        now = _children_of(os.getpid())
        pids = [(p, s) for p, s in now.items() if p not in before]
        proxy = _Proxy(upstream, spec.label, session, client, leave, time.time(), pids, tail=tail, startup_s=startup)
        self._proxies[key] = proxy
        return proxy

    async def _answer_approval(self, prompt: Any) -> bool:
        """The SDK's approval callback: answered by ``%config SentinelMagics.approve`` at the time of the call
        (a widget prompt is shown in the running cell)."""
        from sentinel_lab.lab._approve import ApprovalWidget, answer

        widget = None
        if self.approve == "widget":
            context = self._cell_context or contextvars.copy_context()

            def show() -> ApprovalWidget:
                made = ApprovalWidget(prompt)
                made.show()
                return made

            widget = context.run(show)
        return await answer(self.approve, prompt, timeout=self.timeout, widget=widget)

    def _reap_new(self, before: set[int]) -> None:
        now = _children_of(os.getpid())
        _reap([(p, s) for p, s in now.items() if p not in before], grace=1.0)

    async def _call_upstream(self, proxy: _Proxy, tool: str, args: dict[str, Any]) -> tuple[Any, Any, float]:
        from sentinel_lab._core.errors import PolicyViolation

        t0 = time.perf_counter()
        try:
            result = await proxy.client.execute_tool(tool, args)
        except PolicyViolation as exc:
            roundtrip = (time.perf_counter() - t0) * 1e6
            return _complete(exc.verdict, proxy, tool, args, allowed=False), None, roundtrip
        roundtrip = (time.perf_counter() - t0) * 1e6
        return _complete(_verdict_in(result), proxy, tool, args, allowed=True), result, roundtrip

    async def _barrier(self, proxy: _Proxy) -> None:
        """A ping through the proxy: once answered, what it logged about earlier answers is on disk."""
        session = getattr(proxy.client, "session", None)
        if session is not None:
            await session.send_ping()

    def _run_upstream(
        self, proxy: _Proxy, calls: list[tuple[str, dict[str, Any]]], timeout: float, status: Any
    ) -> tuple[list[Any], str]:
        from sentinel_lab.lab._display import CallRow
        from sentinel_lab.lab._portal import Cancelled, TimedOut

        rows: list[CallRow] = []
        stopped = ""
        for i, (tool, args) in enumerate(calls):
            try:
                verdict, result, roundtrip = self._portal.call(self._call_upstream, proxy, tool, args, timeout=timeout)
            except (Cancelled, TimedOut) as exc:
                state = "cancelled" if isinstance(exc, Cancelled) else "timed out"
                rows.append(CallRow(i + 1, tool, args, None, status=state))
                rows.extend(_not_started(calls, i + 1, "not started"))
                proxy.calls += 1
                if state == "cancelled":
                    stopped = (
                        f"interrupted: call {i + 1} of {len(calls)} ({tool}) was cancelled; "
                        f"{len(calls) - i - 1} not started"
                    )
                else:
                    stopped = (
                        f"call {i + 1} of {len(calls)} ({tool}) timed out after {timeout:g} s and was cancelled "
                        "(raise it with --timeout or %config SentinelMagics.timeout)"
                    )
                break
            except Exception as exc:
                if self._proxy_dead(proxy):
                    raise UsageError(
                        f"the proxy or tool server for {proxy.upstream!r} stopped during call {i + 1} ({tool}): "
                        f"{exc}; the next cell starts a fresh one"
                    ) from None
                raise UsageError(f"call {i + 1} of {len(calls)} ({tool}) failed: {type(exc).__name__}: {exc}") from None
            proxy.calls += 1
            proxy.taints = frozenset(getattr(verdict, "taints", ()) or ()) | proxy.taints
            text = None if result is None else _result_text(result)
            rows.append(CallRow(i + 1, tool, args, verdict, roundtrip_us=roundtrip, result=text))
            status.tick()
        self._read_audit(proxy, rows, timeout)
        return rows, stopped

    def _read_audit(self, proxy: _Proxy, rows: list[Any], timeout: float) -> None:
        """Match the proxy's audit records to this cell's calls and add what they say (see ``_enrich``)."""
        tail = proxy.tail
        if tail is None:
            return
        from sentinel_lab.lab._portal import Cancelled, TimedOut

        with contextlib.suppress(Cancelled, TimedOut, Exception):
            self._portal.call(self._barrier, proxy, timeout=min(timeout, 5.0))
        expected = sum(1 for r in rows if r.status != "not started")
        deadline = time.monotonic() + 2.0
        tail.read()
        # Blocked calls are logged just after their answer is sent: wait (briefly) for the records to land.
        while tail.pending() < expected and time.monotonic() < deadline:
            time.sleep(0.02)
            tail.read()
        for row in rows:
            if row.status == "not started":
                continue
            record = tail.claim(row.tool)
            _enrich(row, record, tail.findings(record))

    def _proxy_dead(self, proxy: _Proxy) -> bool:
        if proxy.pids and not all(_alive(p, s) for p, s in proxy.pids):
            for key, value in list(self._proxies.items()):
                if value is proxy:
                    self._close_proxy(key)
            return True
        return False

    # -- the cell ----------------------------------------------------------------------------------------------
    def _settings(self) -> Any:
        from sentinel_lab.lab._display import TableSettings

        return TableSettings(
            columns=tuple(self.columns),
            args_chars=self.args_chars,
            reason_chars=self.reason_chars,
            max_result_chars=self.max_result_chars,
            displaylimit=self.displaylimit,
        )

    def _run(
        self, args: Any, spec: _PolicySpec | None, calls: list[tuple[str, dict[str, Any]]], timeout: float, status: Any
    ) -> tuple[list[Any], str, str, str]:
        """Run the cell's calls under one policy: ``(rows, title, note, interrupted)``."""
        session = args.session or _DEFAULT_SESSION
        if args.upstream:
            self._cell_context = contextvars.copy_context()  # where an approval prompt of this cell is shown
            if spec is None:
                raise UsageError("--upstream needs a policy: pass --policy PATH or set one with %sentinel policy PATH")
            proxy = self._proxy(args.upstream, spec, session, timeout, status)
            status.start(len(calls))
            rows, stopped = self._run_upstream(proxy, calls, timeout, status)
            note = f"proxy started in {proxy.startup_s:.1f} s" if proxy.fresh else ""
            proxy.fresh = False
            return rows, f"{args.upstream} via proxy · {spec.label} · session {session}", note, stopped
        sess = self._dry_session(spec, session)
        status.start(len(calls))
        rows, stopped = self._run_dry(sess, calls, status)
        return rows, f"dry run · {sess.policy_label} · session {session}", "", stopped

    def _cell(self, args: Any, cell: str) -> Any:
        calls = parse_calls(cell)
        expect = _expected(args.expect, len(calls)) if args.expect else None
        spec = self._spec_for(args.policy)
        timeout = args.timeout if args.timeout is not None else self.timeout
        if timeout is not None and timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds")
        if args.output and not args.output.isidentifier():
            raise UsageError(f"-o: {args.output!r} is not a valid variable name")
        from IPython.display import display

        from sentinel_lab.lab._display import ComparisonTable, VerdictTable
        from sentinel_lab.lab._progress import Status

        status = Status(len(calls) >= self.progress_min and not args.quiet)
        other = self._spec_for(args.compare) if args.compare else None
        try:
            rows, title, note, stopped = self._run(args, spec, calls, timeout, status)
            self._record(rows, args.session or _DEFAULT_SESSION)
            frame = _rows_frame(rows)
            shown: Any = VerdictTable(frame, rows, title=title, note=note, settings=self._settings())
            if other is not None and not stopped:
                rows_b, title_b, _, stopped = self._run(args, other, calls, timeout, status)
                self._record(rows_b, args.session or _DEFAULT_SESSION)
                shown = ComparisonTable(
                    rows,
                    rows_b,
                    labels=(spec.label if spec else "built-in verifier", other.label),
                    titles=(title, title_b),
                    settings=self._settings(),
                )
                frame = shown.to_frame()
        finally:
            status.close()
        if args.output:
            self._user_ns()[args.output] = frame
        failure = stopped
        if expect is not None and not stopped:
            failure = _check_expected(expect, rows)
        if failure:
            if not args.quiet:
                display(shown)
            raise UsageError(failure)
        return None if args.quiet else shown

    def _record(self, rows: list[Any], name: str) -> None:
        from sentinel_lab.lab.recorder import default_recorder

        for row in rows:
            if row.status == "not started":
                continue
            extra = {
                "name": name,
                "status": row.status,
                "verify_us": row.verify_us,
                "roundtrip_us": row.roundtrip_us,
                "finding": "; ".join(
                    ", ".join(str(k) for k in (f.get("details") or {}).get("kinds", ())) for f in row.findings
                ),
            }
            default_recorder.append(_frame_verdict(row), "magic", extra)

    def session_names(self) -> list[str]:
        """Names of the sessions this kernel has used (dry runs and proxies), for completion."""
        names = {name for _, name in self._sessions} | {key[2] for key in self._proxies}
        return sorted(names | {_DEFAULT_SESSION})

    # -- status, reset, stop -----------------------------------------------------------------------------------
    def _user_ns(self) -> dict[str, Any]:
        """The namespace of the shell the extension was loaded into (where ``-o NAME`` stores results)."""
        if self.shell is None:
            raise UsageError("the sentinel magics need an IPython shell")
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    def status(self) -> Any:
        """What the extension holds: active policy, sessions with their taints, running proxies, log size."""
        from sentinel_lab.lab._display import KeyValueView
        from sentinel_lab.lab.recorder import default_recorder

        spec = self._spec_for(None)
        items: list[tuple[str, Any]] = [("policy", spec.label if spec else "none (dry runs use the verifier)")]
        for (_, name), sess in sorted(self._sessions.items(), key=lambda kv: kv[0][1]):
            taints = sorted(getattr(sess.engine, "taints", ()) or ()) if sess.engine is not None else []
            items.append(
                (
                    f"session {name}",
                    f"dry run · {sess.policy_label} · {sess.calls} calls · taints: {', '.join(taints) or '-'}",
                )
            )
        for proxy in self._proxies.values():
            alive = all(_alive(p, s) for p, s in proxy.pids) if proxy.pids else True
            pids = ",".join(str(p) for p, _ in proxy.pids) or "?"
            items.append(
                (
                    f"proxy {proxy.session}",
                    f"{proxy.upstream} · {proxy.policy_label} · {proxy.calls} calls · "
                    f"taints: {', '.join(sorted(proxy.taints)) or '-'} · pids {pids} · "
                    f"{'running' if alive else 'exited'} {time.time() - proxy.started:.0f} s",
                )
            )
        if not self._proxies:
            items.append(("proxies", "none running"))
        items.append(("verdicts logged", len(default_recorder)))
        if self.log_file:
            items.append(("log file", self.log_file))
        return KeyValueView("sentinel status", items)

    def reset(self, session: str | None = None) -> Any:
        """Forget dry-run sessions (taint included) and stop the proxies of those sessions (all when None)."""
        from sentinel_lab.lab._display import KeyValueView

        dropped = [k for k in self._sessions if session is None or k[1] == session]
        for k in dropped:
            del self._sessions[k]
        stopped = [key for key in self._proxies if session is None or key[2] == session]
        for key in stopped:
            self._close_proxy(key)
        if self._verifier is not None:
            self._verifier.reset(session)
        which = f"session {session}" if session else "all sessions"
        return KeyValueView(
            "sentinel reset", [(which, f"{len(dropped)} dry-run session(s) cleared, {len(stopped)} proxy(ies) stopped")]
        )

    def _close_proxy(self, key: tuple[str, str, str]) -> None:
        proxy = self._proxies.pop(key, None)
        if proxy is None:
            return
        with contextlib.suppress(BaseException):
            proxy.leave(5.0)
        _reap(proxy.pids)
        if proxy.tail is not None:
            proxy.tail.remove()

    def stop(self) -> None:
        """Stop every proxy and tool server and the background event loop."""
        for key in list(self._proxies):
            self._close_proxy(key)
        self._portal.stop()

    def close(self) -> None:
        """Everything ``stop`` does, plus forget sessions, the log-file hook and inline policy files."""
        self.stop()
        self._sessions.clear()
        if self._log_listener is not None:
            from sentinel_lab.lab.recorder import default_recorder

            default_recorder.remove_listener(self._log_listener)
            self._log_listener = None
        for path in self._inline_files:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._inline_files.clear()


SentinelMagics.sentinel.__doc__ = HELP  # what %sentinel? shows (magic_arguments' generated usage is terse)


# ---------------------------------------------------------------------------------------------------------------
# Extension entry points
# ---------------------------------------------------------------------------------------------------------------
_INSTANCES: dict[int, SentinelMagics] = {}


def load_ipython_extension(ip: Any) -> None:
    """Register ``%sentinel`` / ``%%sentinel`` and make ``%config SentinelMagics`` work; quiet and fast."""
    if id(ip) in _INSTANCES:
        return
    magics = SentinelMagics(shell=ip, parent=ip)
    ip.register_magics(magics)
    if magics not in ip.configurables:
        ip.configurables.append(magics)
    _INSTANCES[id(ip)] = magics
    atexit.register(magics.close)  # a kernel shut down without %unload_ext still stops its proxies
    _register_displays(ip, magics)


def _register_displays(ip: Any, magics: SentinelMagics) -> None:
    """Rich HTML for ``Verdict`` and ``Violation`` (kept in the lab, so the core never imports it), and the
    completer for the magics' own arguments."""
    from sentinel_lab._core.verdict import Verdict, Violation
    from sentinel_lab.lab._complete import make_matcher
    from sentinel_lab.lab._display import verdict_html, violation_card

    formatters = getattr(getattr(ip, "display_formatter", None), "formatters", {})
    html = formatters.get("text/html")
    if html is not None:
        html.for_type(Verdict, verdict_html)
        html.for_type(Violation, violation_card)
    completer = getattr(ip, "Completer", None)
    if completer is not None and hasattr(completer, "custom_matchers"):
        magics._matcher = make_matcher(magics.session_names)
        completer.custom_matchers.append(magics._matcher)


def _unregister_displays(ip: Any, magics: SentinelMagics) -> None:
    from sentinel_lab._core.verdict import Verdict, Violation

    formatters = getattr(getattr(ip, "display_formatter", None), "formatters", {})
    html = formatters.get("text/html")
    if html is not None:
        for kind in (Verdict, Violation):
            with contextlib.suppress(KeyError):
                html.pop(kind)
    completer = getattr(ip, "Completer", None)
    matcher = getattr(magics, "_matcher", None)
    if completer is not None and matcher is not None:
        with contextlib.suppress(ValueError):
            completer.custom_matchers.remove(matcher)


def unload_ipython_extension(ip: Any) -> None:
    """Stop every proxy, tool server and event-loop thread the extension started, and remove the magics."""
    magics = _INSTANCES.pop(id(ip), None)
    if magics is None:
        return
    atexit.unregister(magics.close)
    _unregister_displays(ip, magics)
    magics.close()
    with contextlib.suppress(ValueError):
        ip.configurables.remove(magics)
    manager = ip.magics_manager
    for kind in ("line", "cell"):
        table = manager.magics.get(kind, {})
        if "sentinel" in table:
            del table["sentinel"]
    manager.registry.pop("SentinelMagics", None)
