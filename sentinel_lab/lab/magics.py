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
from traitlets import Float, Int, Unicode, observe

from sentinel_lab._core.wire import VERDICT_META_KEY

__all__ = ["SentinelMagics", "load_ipython_extension", "parse_calls", "unload_ipython_extension"]

_DEFAULT_SESSION = "default"
_LINE_COMMANDS = ("policy", "status", "log", "reset", "stop")


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


def _complete(verdict: Any, proxy: _Proxy, tool: str, args: dict[str, Any], t0: float, *, allowed: bool) -> Any:
    """The verdict of a proxied call with what the wire leaves out filled in (tool, args, session, time,
    round-trip latency); an allowed call without a verdict from the proxy gets a plain ``allow``."""
    from types import MappingProxyType

    from sentinel_lab._core.verdict import Verdict

    elapsed = (time.perf_counter() - t0) * 1e6
    if verdict is None:
        verdict = Verdict(allowed=allowed)
    return dataclasses.replace(
        verdict,
        tool=verdict.tool or tool,
        args=verdict.args or MappingProxyType(dict(args)),
        session_id=verdict.session_id or str(getattr(proxy.client, "session_id", "") or ""),
        at=verdict.at or time.time(),
        elapsed_us=verdict.elapsed_us or elapsed,
    )


def _unquote(value: str) -> str:
    """``value`` without one pair of surrounding quotes (the magic's argument splitter keeps them)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


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
    max_result_chars = Int(2000, help="Longest tool result shown in a table cell.").tag(config=True)

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
        if self.log_file:
            self._set_log_file(self.log_file)

    # -- configuration -----------------------------------------------------------------------------------------
    @observe("log_file")
    def _log_file_changed(self, change: Mapping[str, Any]) -> None:
        self._set_log_file(change["new"])

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
    @argument(
        "command",
        nargs="?",
        help="line magic: policy PATH | status | log | reset | stop; cell magic: `policy` makes the cell the "
        "active policy (YAML)",
    )
    @argument("target", nargs="?", help="the policy file for `%%sentinel policy PATH`")
    @argument("--policy", "-p", help="policy file for this cell (default: the active policy, else the verifier)")
    @argument("--upstream", "-u", help='run the calls through the proxy to this MCP tool server, e.g. "python t.py"')
    @argument("--session", "-s", default=_DEFAULT_SESSION, help="session name; taint carries over within it")
    @argument("-o", "--output", dest="output", help="store the result DataFrame in this variable")
    @argument("--quiet", "-q", action="store_true", help="show nothing (use with -o)")
    @argument("--timeout", "-t", type=float, help="seconds per call (default: SentinelMagics.timeout)")
    @no_var_expand
    @line_cell_magic
    def sentinel(self, line: str = "", cell: str | None = None) -> Any:
        """Verify tool calls against a policy, or run them through the sentinel-lab proxy.

        Cell magic (calls as YAML or JSON lines)::

            %%sentinel [--policy PATH] [--upstream "CMD"] [--session NAME] [-o VAR] [--quiet]
            - read_file: {path: notes.txt}
            - {tool: send_email, args: {to: a@b.example, body: hi}}

        ``%%sentinel policy`` makes the cell's YAML the active policy. Line magics: ``%sentinel policy PATH``
        (set and show the active policy), ``%sentinel status``, ``%sentinel log`` (every verdict of this kernel as
        a DataFrame), ``%sentinel reset [--session NAME]`` (clear sessions and their taint), ``%sentinel stop``
        (stop every proxy and tool server).
        """
        args = parse_argstring(self.sentinel, line)
        for name in ("target", "policy", "upstream", "session", "output"):
            value = getattr(args, name, None)
            if isinstance(value, str):
                setattr(args, name, _unquote(value))
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
        return self._cell(args, cell)

    def _line(self, args: Any) -> Any:
        command = args.command or "status"
        if command not in _LINE_COMMANDS:
            raise UsageError(f"unknown %sentinel command {command!r}; expected one of: {', '.join(_LINE_COMMANDS)}")
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
            from sentinel_lab.lab.recorder import default_recorder

            frame = default_recorder.frame()
            if args.output:
                self._user_ns()[args.output] = frame
            return None if args.quiet else frame
        if command == "reset":
            session = args.target or (args.session if args.session != _DEFAULT_SESSION else None)
            return self.reset(session)
        self.stop()
        return None

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

    # -- upstream ----------------------------------------------------------------------------------------------
    def _proxy(self, upstream: str, spec: _PolicySpec, session: str, timeout: float) -> _Proxy:
        key = (upstream, spec.key, session)
        proxy = self._proxies.get(key)
        if proxy is not None:
            if not proxy.pids or all(_alive(p, s) for p, s in proxy.pids):
                return proxy
            self._close_proxy(key)  # it died since the last cell: start a fresh one (taint starts empty)
        spec.load()  # a bad policy is reported here, before any process starts
        from sentinel_lab._core.errors import ProxyError, SentinelError
        from sentinel_lab._mcp.sdk import Sentinel
        from sentinel_lab.lab._portal import Cancelled, TimedOut

        try:
            shlex.split(upstream)
        except ValueError as exc:
            raise UsageError(f"--upstream: cannot split the command: {exc}") from None
        before = set(_children_of(os.getpid()))
        client = Sentinel.start(upstream=upstream, policy=spec.path)
        try:
            _, leave = self._portal.enter(client, timeout=timeout)
        except Cancelled:
            self._reap_new(before)
            raise UsageError("interrupted while starting the proxy; nothing is left running") from None
        except TimedOut:
            self._reap_new(before)
            raise UsageError(f"the proxy for {upstream!r} did not start within {timeout:g} s") from None
        except (ProxyError, SentinelError, OSError) as exc:
            self._reap_new(before)
            tail = getattr(exc, "stderr_tail", "") or ""
            msg = f"could not start the tool server {upstream!r}: {exc}"
            if tail and tail.strip() not in str(exc):
                msg += "\n--- stderr (last lines) ---\n" + tail.rstrip()
            raise UsageError(msg) from None
        except Exception as exc:
            self._reap_new(before)
            raise UsageError(f"could not start the tool server {upstream!r}: {type(exc).__name__}: {exc}") from None
        now = _children_of(os.getpid())
        pids = [(p, s) for p, s in now.items() if p not in before]
        proxy = _Proxy(upstream, spec.label, session, client, leave, time.time(), pids)
        self._proxies[key] = proxy
        return proxy

    def _reap_new(self, before: set[int]) -> None:
        now = _children_of(os.getpid())
        _reap([(p, s) for p, s in now.items() if p not in before], grace=1.0)

    async def _call_upstream(self, proxy: _Proxy, tool: str, args: dict[str, Any]) -> tuple[Any, Any]:
        from sentinel_lab._core.errors import PolicyViolation

        t0 = time.perf_counter()
        try:
            result = await proxy.client.execute_tool(tool, args)
        except PolicyViolation as exc:
            return _complete(exc.verdict, proxy, tool, args, t0, allowed=False), None
        return _complete(_verdict_in(result), proxy, tool, args, t0, allowed=True), result

    def _run_upstream(
        self, proxy: _Proxy, calls: list[tuple[str, dict[str, Any]]], timeout: float
    ) -> tuple[list[Any], list[str | None]]:
        from sentinel_lab.lab._portal import Cancelled, TimedOut
        from sentinel_lab.lab.recorder import default_recorder

        verdicts: list[Any] = []
        results: list[str | None] = []
        for i, (tool, args) in enumerate(calls):
            try:
                verdict, result = self._portal.call(self._call_upstream, proxy, tool, args, timeout=timeout)
            except Cancelled:
                raise UsageError(
                    f"interrupted: call {i + 1} of {len(calls)} ({tool}) was cancelled; "
                    f"{len(calls) - i - 1} not started"
                ) from None
            except TimedOut:
                raise UsageError(
                    f"call {i + 1} of {len(calls)} ({tool}) timed out after {timeout:g} s and was cancelled "
                    "(raise it with --timeout or %config SentinelMagics.timeout)"
                ) from None
            except Exception as exc:
                if self._proxy_dead(proxy):
                    raise UsageError(
                        f"the proxy or tool server for {proxy.upstream!r} stopped during call {i + 1} ({tool}): "
                        f"{exc}; the next cell starts a fresh one"
                    ) from None
                raise UsageError(f"call {i + 1} of {len(calls)} ({tool}) failed: {type(exc).__name__}: {exc}") from None
            proxy.calls += 1
            proxy.taints = frozenset(getattr(verdict, "taints", ()) or ()) | proxy.taints
            default_recorder.append(verdict, "magic")
            verdicts.append(verdict)
            results.append(None if result is None else _result_text(result))
        return verdicts, results

    def _proxy_dead(self, proxy: _Proxy) -> bool:
        if proxy.pids and not all(_alive(p, s) for p, s in proxy.pids):
            for key, value in list(self._proxies.items()):
                if value is proxy:
                    self._close_proxy(key)
            return True
        return False

    # -- the cell ----------------------------------------------------------------------------------------------
    def _cell(self, args: Any, cell: str) -> Any:
        calls = parse_calls(cell)
        spec = self._spec_for(args.policy)
        timeout = args.timeout if args.timeout is not None else self.timeout
        if timeout is not None and timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds")
        from sentinel_lab.lab.recorder import default_recorder, verdicts_frame

        results: list[str | None] | None = None
        if args.upstream:
            if spec is None:
                raise UsageError("--upstream needs a policy: pass --policy PATH or set one with %sentinel policy PATH")
            proxy = self._proxy(args.upstream, spec, args.session, timeout)
            verdicts, results = self._run_upstream(proxy, calls, timeout)
            title = f"{args.upstream} via proxy · {spec.label} · session {args.session}"
        else:
            sess = self._dry_session(spec, args.session)
            verdicts = []
            try:
                for tool, call_args in calls:
                    verdict = self._verify_dry(sess, tool, call_args)
                    default_recorder.append(verdict, "magic")
                    verdicts.append(verdict)
            except KeyboardInterrupt:
                raise UsageError(f"interrupted after {len(verdicts)} of {len(calls)} calls") from None
            except UsageError:
                raise
            except Exception as exc:
                raise UsageError(
                    f"call {len(verdicts) + 1} of {len(calls)} ({calls[len(verdicts)][0]}) could not be verified: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            title = f"dry run · {sess.policy_label} · session {args.session}"
        frame = verdicts_frame(verdicts, source="magic")
        if results is not None:
            import pandas as pd

            frame["result"] = pd.Series(results, dtype="string")
        if args.output:
            if not args.output.isidentifier():
                raise UsageError(f"-o: {args.output!r} is not a valid variable name")
            self._user_ns()[args.output] = frame
        if args.quiet:
            return None
        from sentinel_lab.lab._display import VerdictTable

        return VerdictTable(frame, verdicts, title=title, max_chars=self.max_result_chars)

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


def unload_ipython_extension(ip: Any) -> None:
    """Stop every proxy, tool server and event-loop thread the extension started, and remove the magics."""
    magics = _INSTANCES.pop(id(ip), None)
    if magics is None:
        return
    atexit.unregister(magics.close)
    magics.close()
    with contextlib.suppress(ValueError):
        ip.configurables.remove(magics)
    manager = ip.magics_manager
    for kind in ("line", "cell"):
        table = manager.magics.get(kind, {})
        if "sentinel" in table:
            del table["sentinel"]
    manager.registry.pop("SentinelMagics", None)
