"""The Python SDK: talk to a tool server through the real security proxy with the official MCP client.

::

    client = Sentinel.start(upstream="python tools.py", policy="policy.yaml")
    async with client:
        tools = await client.list_tools()
        result = await client.execute_tool("query_db", {"sql": "SELECT 1"})   # a denial raises PolicyViolation

``async with`` starts ``sentinel-lab proxy`` as a subprocess (with ``--require-session`` by default), performs the
MCP handshake with ``mcp.ClientSession``, reads the signed session id the proxy returns in the ``initialize``
result's ``_meta["sentinel/session"]`` and presents it on every call. Leaving the block shuts the proxy down,
which shuts the tool server down.

``approve=callable`` answers the proxy's approval questions (policy ``ASK``): it gets an ``ApprovalPrompt`` (tool,
arguments, reason, rule, digest) and returns ``True`` to run that exact call once; it may be async. Without it the
client declares no elicitation capability and an ASK call is denied ("this client cannot be asked for
approvals"). A callback that raises, or returns anything but ``True``, refuses. A tool server's own elicitation
is declined (this client has nobody to ask).
"""

from __future__ import annotations

import inspect
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sentinel_lab._core.errors import PolicyViolation, ProxyError
from sentinel_lab._core.verdict import Verdict, Violation
from sentinel_lab._core.wire import (
    APPROVAL_META_KEY,
    AUTH_CODE,
    BLOCK_CODE,
    BLOCK_PREFIX,
    SESSION_META_KEY,
    VERDICT_META_KEY,
)

__all__ = ["ApprovalPrompt", "Sentinel", "answer_approval", "verdict_from_error"]


@dataclass(frozen=True)
class ApprovalPrompt:
    """What the proxy asks a human to approve: one exact call (the proxy binds the answer to ``digest``)."""

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    rule: str = ""
    digest: str = ""
    message: str = ""


def _prompt_of(message: str, meta: Any) -> ApprovalPrompt | None:
    """The approval an elicitation asks for (from its ``_meta``), or None when it is not the proxy's question."""
    about = meta.get(APPROVAL_META_KEY) if isinstance(meta, Mapping) else None
    if not isinstance(about, Mapping) or not isinstance(about.get("tool"), str):
        return None
    args = about.get("arguments")
    return ApprovalPrompt(
        tool=about["tool"],
        arguments=dict(args) if isinstance(args, Mapping) else {},
        reason=str(about.get("reason", "")),
        rule=str(about.get("rule", "")),
        digest=str(about.get("digest", "")),
        message=message,
    )


async def answer_approval(approve: Callable[[ApprovalPrompt], Any], message: str, meta: Any) -> bool | None:
    """Ask ``approve`` about one elicitation: True or False for the proxy's approval questions (a callback that
    raises or returns anything but ``True`` refuses), None for any other elicitation (not ours to answer)."""
    prompt = _prompt_of(message, meta)
    if prompt is None:
        return None
    try:
        answer = approve(prompt)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception:  # fail closed: an approver that breaks approves nothing
        return False
    return answer is True


_PASS_ENV_PREFIXES = ("SENTINEL_", "OTEL_", "PYTHON", "VIRTUAL_ENV", "LANG", "LC_")


def verdict_from_error(code: int, message: str, data: Any, tool: str, args: dict[str, Any] | None = None) -> Verdict:
    """Rebuild the proxy's verdict from a JSON-RPC error (``data`` carries it for -32010 blocks)."""
    info = data if isinstance(data, dict) else {}
    violations = tuple(
        Violation(
            str(v.get("policy", "")),
            str(v.get("reason", "")),
            str(v.get("severity", "high")),
            str(v.get("evidence", "")),
        )
        for v in info.get("violations", ())
        if isinstance(v, dict)
    )
    if not violations:
        policy = "session" if code == AUTH_CODE else "policy"
        reason = message.split(": ", 1)[1] if ": " in message else message
        violations = (Violation(policy, reason, "high"),)
    return Verdict(
        allowed=False,
        violations=violations,
        tool=str(info.get("tool", tool)),
        decision="block",  # a refused approval blocked the call too (its violation's policy is "approval")
        rule=str(info.get("rule", "session" if code == AUTH_CODE else "")),
        taints=frozenset(str(t) for t in info.get("taints", ()) if isinstance(t, str)),
        args=dict(args or {}),
    )


def _upstream_argv(upstream: str | list[str]) -> list[str]:
    argv = shlex.split(upstream) if isinstance(upstream, str) else list(upstream)
    if not argv:
        raise ProxyError("upstream command is empty")
    if argv[0] in ("python", "python3"):  # the interpreter this SDK runs in, not whatever PATH finds
        argv[0] = sys.executable
    return argv


class Sentinel:
    """An MCP client session through the sentinel-lab proxy; create it with ``Sentinel.start(...)``.

    ``upstream``: the tool server command (a string split like a shell would, or a list; a leading ``python``
    means this interpreter). ``audit``: an audit log path for the proxy. ``require_session`` (default on): the
    proxy refuses calls without this client's signed session id. ``env``: the environment of the proxy and the
    tool server; by default the MCP SDK's safe allow-list plus ``SENTINEL_*``, ``OTEL_*`` and ``PYTHON*``
    variables (pass ``env=`` when the tool server needs more, e.g. its API keys). ``errlog``: where the proxy's
    and the server's stderr go (default: a temporary file, see ``stderr_path``). ``approve``: answers approval
    questions (see the module docstring).
    """

    def __init__(
        self,
        upstream: str | list[str],
        policy: str | os.PathLike[str],
        *,
        audit: str | os.PathLike[str] | None = None,
        require_session: bool = True,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        errlog: TextIO | None = None,
        read_timeout: float | None = 30.0,
        extra_args: list[str] | None = None,
        approve: Callable[[ApprovalPrompt], Any] | None = None,
    ) -> None:
        if approve is not None and not callable(approve):
            raise TypeError(f"approve must be a callable taking an ApprovalPrompt, not {type(approve).__name__}")
        self.approve = approve
        self.upstream = _upstream_argv(upstream)
        self.policy = str(policy)
        self.audit = str(audit) if audit is not None else None
        self.require_session = require_session
        self.env = env
        self.cwd = str(cwd) if cwd is not None else None
        self.read_timeout = read_timeout
        self.extra_args = list(extra_args or [])
        self._errlog = errlog
        self._own_errlog: TextIO | None = None
        self._stack: AsyncExitStack | None = None
        self.session: Any = None
        self.session_id: str = ""
        self.server_info: Any = None

    @classmethod
    def start(cls, upstream: str | list[str], policy: str | os.PathLike[str], **kwargs: Any) -> Sentinel:
        """Describe a proxied connection (nothing starts until ``async with``); kwargs as in the constructor."""
        return cls(upstream, policy, **kwargs)

    def proxy_argv(self) -> list[str]:
        """The proxy command line this client runs."""
        argv = [sys.executable, "-m", "sentinel_lab._cli", "proxy", "--policy", self.policy]
        if self.audit:
            argv += ["--audit", self.audit]
        if self.require_session:
            argv.append("--require-session")
        return [*argv, *self.extra_args, "--", *self.upstream]

    def _environment(self) -> dict[str, str]:
        if self.env is not None:
            return dict(self.env)
        from mcp.client.stdio import get_default_environment

        env = get_default_environment()
        for key, value in os.environ.items():
            if key.startswith(_PASS_ENV_PREFIXES):
                env[key] = value
        return env

    @property
    def stderr_path(self) -> str | None:
        """Where the proxy's (and tool server's) stderr goes when no ``errlog`` was given."""
        return getattr(self._own_errlog, "name", None)

    def stderr_tail(self, limit: int = 4000) -> str:
        """The end of the proxy's stderr (only when this client opened the log file itself)."""
        path = self.stderr_path
        if not path:
            return ""
        try:
            return Path(path).read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    async def __aenter__(self) -> Sentinel:
        from mcp import ClientSession, StdioServerParameters, stdio_client

        errlog = self._errlog
        if errlog is None:
            fd, name = tempfile.mkstemp(prefix="sentinel-proxy-", suffix=".log")
            os.close(fd)  # reopened by name, so the file object's ``name`` is the path (stderr_tail reads it)
            self._own_errlog = open(name, "w+", encoding="utf-8")  # noqa: SIM115 - closed in __aexit__
            errlog = self._own_errlog
        argv = self.proxy_argv()
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=self._environment(), cwd=self.cwd)
        stack = AsyncExitStack()
        try:
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            callback = self._elicitation_callback() if self.approve is not None else None
            session = await stack.enter_async_context(
                ClientSession(read, write, read_timeout_seconds=self.read_timeout, elicitation_callback=callback)
            )
            init = await session.initialize()
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, Exception):
                raise ProxyError(f"cannot start the proxy: {exc}", stderr_tail=self.stderr_tail()) from exc
            raise
        self._stack = stack
        self.session = session
        self.server_info = getattr(init, "server_info", None)
        meta = getattr(init, "meta", None) or {}
        self.session_id = str(meta.get(SESSION_META_KEY, ""))
        return self

    def _elicitation_callback(self) -> Any:
        """The official client's elicitation callback, answering the proxy's approval questions with ``approve``."""
        from mcp.types import ElicitResult

        approve = self.approve
        assert approve is not None

        async def elicit(context: Any, params: Any) -> Any:
            answer = await answer_approval(approve, str(getattr(params, "message", "")), getattr(params, "meta", None))
            if answer is None:  # a tool server's own question: this client has nobody to ask
                return ElicitResult(action="decline")
            return ElicitResult(action="accept", content={"approve": answer})

        return elicit

    async def __aexit__(self, *exc: object) -> None:
        stack, self._stack = self._stack, None
        self.session = None
        try:
            if stack is not None:
                await stack.aclose()
        finally:
            if self._own_errlog is not None:
                self._own_errlog.close()

    def _meta(self) -> dict[str, Any] | None:
        return {SESSION_META_KEY: self.session_id} if self.session_id else None

    def _require_session(self) -> Any:
        if self.session is None:
            raise ProxyError("use 'async with client:' before calling tools")
        return self.session

    async def list_tools(self) -> list[Any]:
        """The tools the policy lets this client see (``mcp.types.Tool`` objects)."""
        session = self._require_session()
        result = await session.list_tools()
        return list(result.tools)

    async def execute_tool(self, name: str, args: dict[str, Any] | None = None) -> Any:
        """Call a tool through the proxy and return its ``CallToolResult``; a denial raises ``PolicyViolation``.

        That holds for either denial style, and for a result the proxy withheld because its output looked like a
        prompt injection (``spotlight.scan_output: block``).
        """
        from mcp import MCPError

        session = self._require_session()
        try:
            result = await session.call_tool(name, args or {}, meta=self._meta())
        except MCPError as exc:
            code = int(getattr(exc, "code", 0) or getattr(getattr(exc, "error", None), "code", 0))
            message = str(getattr(getattr(exc, "error", None), "message", "") or exc)
            data = getattr(getattr(exc, "error", None), "data", None)
            if code in (BLOCK_CODE, AUTH_CODE):
                raise PolicyViolation(verdict_from_error(code, message, data, name, args), message) from exc
            raise
        verdict = (getattr(result, "meta", None) or {}).get(VERDICT_META_KEY)
        if result.is_error and isinstance(verdict, dict):  # deny_style "result", or output withheld by the scan
            message = "".join(getattr(c, "text", "") for c in result.content) or BLOCK_PREFIX.rstrip(": ")
            raise PolicyViolation(verdict_from_error(BLOCK_CODE, message, verdict, name, args), message)
        return result

    call_tool = execute_tool
