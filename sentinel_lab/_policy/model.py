"""Policy files: the YAML schema, loading with line numbers, validation, and the immutable ``Policy``.

Schema (every key optional; unknown keys are an error that suggests the close spelling)::

    version: 1                  # metadata, as are id, customer_id, name, created_at, description
    default_action: DENY        # ALLOW | DENY: what happens to a tool no rule lists (DENY by default)
    mode: enforce               # enforce | audit (audit: a would-be block is allowed and flagged)
    tool_classes:               # optional named groups of tool names or globs, for tool_class below
      pii_sources: [get_user_profile, "crm.*"]
    static_rules:               # tool name or glob -> ALLOW | DENY | ASK (exact, upper-case)
      send_email: ASK           # ASK: runs once a human approved this exact call (sentinel_lab._policy.approvals)
      query_db: ALLOW
      "fs.*": ALLOW
      execute_shell: DENY
    argument_rules:             # conditions on argument values (see sentinel_lab._policy.conditions for each condition)
      - tool: send_money        # name or glob (or tool_class)
        arg: recipient          # argument path: a.b, items[*], items[0].name
        deny_unless: {in: [alice, bob]}     # and/or deny_if: {...}; the conditions inside are ANDed
        message: "unknown recipient"
        severity: high          # optional: critical | high | medium | low
        action: DENY            # optional: DENY | ASK (ASK: a firing rule asks a human instead of denying)
    taint_rules:                # the seed's spellings and the Rust ones are both accepted
      - {tool: get_user_profile, action: ADD_TAINT, taint_tags: [PII]}       # or tag: PII
      - {tool: send_email, action: CHECK_TAINT, forbidden_taints: [PII], message: "..."}
                                                          # or forbidden_tags / error; "*" forbids any taint
      - {tool: clear_data, action: REMOVE_TAINT, taint_tags: [PII]}
    verifier:                   # the deterministic action verifier (sentinel_lab.Verifier), on by default
      enabled: true
      checks: [system_commands, file_traversal]   # or {intent_alignment: false}; default: all
      workspace: /workspace/project
      profile: workspace        # workspace | admin (sudo, service management and system reads allowed)
      scope: {allowed_tools: [], blocked_tools: [], allowed_roots: [], allowed_hosts: []}
      rate_limit: {max_calls: 1000, window: 300, max_identical: 50, identical_window: 300}  # false: off
      intent: {threshold: 0.3}
      on_finding: {internal_access: ASK, medium: ASK}   # check or severity -> ASK | DENY (default DENY)
    spotlight: {enabled: true, scan_output: flag}                 # scan_output: flag | block | off
    session: {require: false, key_env: SENTINEL_SESSION_KEY}
    proxy: {deny_style: error, hide_denied_tools: true, pin_tools: warn, max_message_bytes: 16777216,
            approval_ttl_s: 300}                          # deny_style: error | result; pin_tools: off | warn | block
                                                          # approval_ttl_s: how long an ASK waits for its answer
    upstreams:                  # a multi-server gateway: name -> server; tools are seen as <name>__<tool>
      fs: {command: [python, fs_server.py], env: {LOG: "1"}, cwd: /srv}     # env and cwd optional
      web: {url: "https://tools.example.com/mcp"}
    flows:                      # cross-server flow rules (see sentinel_lab._policy.flows)
      - name: no-send-after-web
        after: {upstreams: [web]}          # and/or tools: [globs], taints: [tags]
        deny: {sends: true}                # and/or tools: [globs], upstreams: [names]
        unless: {hosts: [api.github.com]}  # optional

Which static rule applies to a tool: an exact ``static_rules`` name; else a DENY name or glob that matches it
ignoring case (a deny cannot be evaded by case); else an ALLOW glob that matches it exactly (MCP tool names are
case-sensitive; see ``_text.glob``); else, when an argument or taint rule names the tool exactly, the tool
counts as listed and is allowed (a rule on how a tool may be used implies it is used: this is what makes the
seed's README example work as written); else ``default_action``. A bad file never degrades to allow-all or
deny-all: it raises ``PolicyError`` naming the file, the line and the key.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from sentinel_lab._checks import PROFILES
from sentinel_lab._core.errors import PolicyError
from sentinel_lab._core.verdict import POLICIES, SEVERITIES
from sentinel_lab._policy.approvals import DEFAULT_TTL_S as DEFAULT_APPROVAL_TTL_S
from sentinel_lab._policy.conditions import (
    CONDITION_KEYS,
    ArgPath,
    Condition,
    ConditionSet,
    RegexError,
    host_of,
    is_glob,
    make_condition,
)
from sentinel_lab._policy.flows import FlowRule
from sentinel_lab._policy.upstreams import SEPARATOR, Upstream, name_problem
from sentinel_lab._text.glob import GLOB_CHARS, ToolIndex, ToolPattern, tool_matches
from sentinel_lab._verify.verifier import Verifier

if TYPE_CHECKING:
    from sentinel_lab._policy.engine import Session

__all__ = [
    "ACTIONS",
    "TAINT_ACTIONS",
    "ArgumentRule",
    "Policy",
    "ProxySettings",
    "SessionSettings",
    "SpotlightSettings",
    "StaticRule",
    "TaintRule",
    "ToolMatcher",
    "VerifierSettings",
]

ACTIONS: tuple[str, ...] = ("ALLOW", "DENY")
#: What a static rule may say: ASK lets the tool run once a human approved the exact call (``_policy.approvals``).
STATIC_ACTIONS: tuple[str, ...] = ("ALLOW", "DENY", "ASK")
#: What a firing argument rule does (``action``), and what a verifier finding does (``verifier.on_finding``).
RULE_ACTIONS: tuple[str, ...] = ("DENY", "ASK")
TAINT_ACTIONS: tuple[str, ...] = ("ADD_TAINT", "CHECK_TAINT", "REMOVE_TAINT")
MODES: tuple[str, ...] = ("enforce", "audit")
SCAN_OUTPUT: tuple[str, ...] = ("flag", "block", "off")
DENY_STYLES: tuple[str, ...] = ("error", "result")
PIN_TOOLS: tuple[str, ...] = ("off", "warn", "block")
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_NODES = 200_000  # YAML nodes in one policy (aliases expanded): bounds "billion laughs" files
MAX_DEPTH = 64  # nesting of mappings and lists in a policy; real policies need fewer than 10

META_KEYS: tuple[str, ...] = ("version", "id", "customer_id", "name", "created_at", "description")
TOP_KEYS: tuple[str, ...] = (
    *META_KEYS,
    "default_action",
    "mode",
    "tool_classes",
    "static_rules",
    "argument_rules",
    "taint_rules",
    "verifier",
    "spotlight",
    "session",
    "proxy",
    "upstreams",
    "flows",
)
ARG_RULE_KEYS = (
    "tool",
    "tool_class",
    "arg",
    "deny_if",
    "deny_unless",
    "action",
    "message",
    "severity",
    "description",
)
TAINT_RULE_KEYS = (
    "tool",
    "tool_class",
    "action",
    "taint_tags",
    "tag",
    "forbidden_taints",
    "forbidden_tags",
    "message",
    "error",
    "description",
)
VERIFIER_KEYS = ("enabled", "checks", "workspace", "profile", "scope", "rate_limit", "intent", "on_finding")
SCOPE_KEYS = ("allowed_tools", "blocked_tools", "allowed_roots", "allowed_hosts")
RATE_KEYS = ("max_calls", "window", "max_identical", "identical_window", "max_sessions")
INTENT_KEYS = ("enabled", "threshold")
SPOTLIGHT_KEYS = ("enabled", "scan_output")
SESSION_KEYS = ("require", "key_env")
PROXY_KEYS = ("deny_style", "hide_denied_tools", "pin_tools", "max_message_bytes", "approval_ttl_s")
UPSTREAM_KEYS = ("command", "url", "env", "cwd", "description")
FLOW_KEYS = ("name", "after", "deny", "unless", "message", "severity", "description")
FLOW_AFTER_KEYS = ("tools", "upstreams", "taints")
FLOW_DENY_KEYS = ("tools", "upstreams", "sends")
FLOW_UNLESS_KEYS = ("hosts",)

Path = tuple[Any, ...]


# ----------------------------------------------------------------------------------------------- YAML + lines
def _fmt_path(path: Path) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


class _Ctx:
    """Where the policy came from and the line of every key, for error messages."""

    def __init__(self, source: str, lines: Mapping[Path, int] | None = None) -> None:
        self.source = source
        self.lines: Mapping[Path, int] = lines or {}

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for n in range(len(path), -1, -1):
            found = self.lines.get(path[:n])
            if found is not None:
                return found
        return None

    def error(self, path: Path, message: str) -> PolicyError:
        """A PolicyError naming the source, the line and the dotted key of ``path``."""
        return PolicyError(message, file=self.source, line=self.line(path), key=_fmt_path(path) or None)


_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def _compose(text: str, source: str) -> tuple[Any, dict[Path, int]]:
    """Parse YAML into plain Python values and a map from key path to 1-based line."""
    lines: dict[Path, int] = {}
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        except RecursionError:  # the composer recurses once per level: a deeply nested file ends here
            raise PolicyError(
                f"the policy nests deeper than {MAX_DEPTH} levels", file=source, line=_loader_line(loader)
            ) from None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "syntax error"
        raise PolicyError(f"invalid YAML: {problem}", file=source, line=line) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", file=source) from None
    if node is None:
        raise PolicyError("the policy is empty; write at least 'static_rules' (see the schema)", file=source, line=1)
    constructor = yaml.constructor.SafeConstructor()
    budget = [MAX_NODES]

    def convert(n: yaml.Node, path: Path) -> Any:
        """Plain Python for node ``n``, recording the line of every key and item."""
        budget[0] -= 1
        if budget[0] < 0:
            raise PolicyError(f"the policy has more than {MAX_NODES} YAML nodes", file=source)
        if len(path) > MAX_DEPTH:  # also ends an alias that contains itself
            raise PolicyError(
                f"the policy nests deeper than {MAX_DEPTH} levels", file=source, line=n.start_mark.line + 1
            )
        if isinstance(n, yaml.ScalarNode):
            try:
                value = constructor.construct_object(n, deep=True)
            except yaml.YAMLError as exc:
                raise PolicyError(
                    f"cannot read value: {getattr(exc, 'problem', exc)}",
                    file=source,
                    line=n.start_mark.line + 1,
                    key=_fmt_path(path) or None,
                ) from None
            except (ValueError, TypeError, OverflowError) as exc:  # a 5000-digit int, month 99, !!int xyz
                raise PolicyError(
                    f"cannot read value {_clip(n.value)}: {exc}",
                    file=source,
                    line=n.start_mark.line + 1,
                    key=_fmt_path(path) or None,
                ) from None
            if isinstance(value, (_dt.date, _dt.datetime)):
                value = value.isoformat()
            return value
        if not isinstance(n, yaml.ScalarNode) and n.tag not in _PLAIN_TAGS:
            raise PolicyError(
                f"unsupported YAML tag {n.tag!r}", file=source, line=n.start_mark.line + 1, key=_fmt_path(path) or None
            )
        if isinstance(n, yaml.SequenceNode):
            items = []
            for i, child in enumerate(n.value):
                item_path: Path = (*path, i)
                lines[item_path] = child.start_mark.line + 1
                items.append(convert(child, item_path))
            return items
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in n.value:
                if not isinstance(k, yaml.ScalarNode):
                    raise PolicyError(
                        "mapping keys must be plain names", file=source, line=k.start_mark.line + 1, key=_fmt_path(path)
                    )
                key = str(k.value)
                if key in out:
                    raise PolicyError(
                        f"duplicate key '{key}' (first on line {lines.get((*path, key))})",
                        file=source,
                        line=k.start_mark.line + 1,
                        key=_fmt_path((*path, key)),
                    )
                key_path: Path = (*path, key)
                lines[key_path] = k.start_mark.line + 1
                out[key] = convert(v, key_path)
            return out
        raise PolicyError("unsupported YAML node", file=source, line=n.start_mark.line + 1)  # pragma: no cover

    lines[()] = node.start_mark.line + 1
    return convert(node, ()), lines


def _loader_line(loader: yaml.SafeLoader) -> int | None:
    """The 1-based line the YAML reader had reached, when it can tell."""
    line = getattr(loader, "line", None)
    return line + 1 if isinstance(line, int) else None


def _clip(text: object, limit: int = 40) -> str:
    """A short quoted excerpt of a scalar for an error message."""
    s = str(text)
    return repr(s if len(s) <= limit else s[:limit] + "...")


def _check_shape(data: Any, source: str) -> None:
    """Reject data nested deeper than ``MAX_DEPTH`` (a cycle included) or larger than ``MAX_NODES`` values,
    iteratively, before any recursive validation sees it."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise PolicyError(f"the policy has more than {MAX_NODES} values", file=source)
        if isinstance(value, Mapping):
            children = list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        else:
            continue
        if depth >= MAX_DEPTH:
            raise PolicyError(f"the policy nests deeper than {MAX_DEPTH} levels", file=source)
        stack.extend((c, depth + 1) for c in children)


# ----------------------------------------------------------------------------------------------- validators
def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}.get(
        type(v), type(v).__name__
    )


def _mapping(ctx: _Ctx, value: Any, path: Path, allowed: tuple[str, ...] | None = None) -> Mapping[str, Any]:
    """A mapping (null counts as empty) whose keys are all in ``allowed``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ctx.error(path, f"expected a mapping, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ctx.error(path, f"keys must be strings, got {_type_name(key)} {key!r:.60}")
    if allowed is not None:
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join(allowed)}"
                raise ctx.error((*path, key), f"unknown key '{key}'{hint}")
    return value


def _list(ctx: _Ctx, value: Any, path: Path) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.error(path, f"expected a list, got {_type_name(value)}")
    return value


def _str(ctx: _Ctx, value: Any, path: Path, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ctx.error(path, f"expected a non-empty string, got {_type_name(value)} {value!r:.60}")
    return value


def _strs(ctx: _Ctx, value: Any, path: Path) -> tuple[str, ...]:
    """A string or a list of strings."""
    if isinstance(value, str):
        return (_str(ctx, value, path),)
    return tuple(_str(ctx, v, (*path, i)) for i, v in enumerate(_list(ctx, value, path)))


def _bool(ctx: _Ctx, value: Any, path: Path) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(path, f"expected true or false, got {_type_name(value)} {value!r:.60}")
    return value


def _choice(ctx: _Ctx, value: Any, path: Path, choices: tuple[str, ...]) -> str:
    if value is False and "off" in choices:  # YAML 1.1 reads a bare `off` as false
        return "off"
    if isinstance(value, str) and value in choices:
        return value
    shown = f"{value!r:.60}" if isinstance(value, str) else f"{_type_name(value)} {value!r:.60}"
    note = ""
    if isinstance(value, str) and value.strip().lower() in {c.lower() for c in choices}:
        note = " (spelling and case must be exact)"
    raise ctx.error(path, f"invalid value {shown}: expected one of {', '.join(choices)}{note}")


def _number(ctx: _Ctx, value: Any, path: Path, *, positive: bool = False, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        want = "an integer" if integer else "a number"
        raise ctx.error(path, f"expected {want}, got {_type_name(value)} {value!r:.60}")
    if value != value or (positive and value <= 0):
        raise ctx.error(path, f"expected a positive number, got {value!r}")
    return value


def _approval_ttl(ctx: _Ctx, value: Any) -> float:
    """``proxy.approval_ttl_s``: seconds, positive, at most a day (an approval is for a call about to run)."""
    ttl = float(_number(ctx, value, ("proxy", "approval_ttl_s"), positive=True))
    if ttl > 86400:
        raise ctx.error(("proxy", "approval_ttl_s"), f"expected at most 86400 seconds, got {value!r}")
    return ttl


# ----------------------------------------------------------------------------------------------- model
@dataclass(frozen=True, slots=True)
class ToolMatcher:
    """Tool names and globs a rule applies to (exact names are also kept apart for implicit listing)."""

    names: frozenset[str]
    patterns: tuple[ToolPattern, ...]

    def matches(self, tool: str, *, deny: bool) -> bool:
        """True when ``tool`` is named or matched: ignoring case when the rule denies or restricts the call,
        exactly when it allows or relaxes (``_text.glob.tool_matches``)."""
        if not deny and tool in self.names:
            return True
        return tool_matches(tool, self.patterns, deny=deny)


@dataclass(frozen=True, slots=True)
class StaticRule:
    """``pattern: ALLOW|DENY|ASK`` from ``static_rules``."""

    pattern: str
    action: str
    tool: ToolPattern = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool", ToolPattern(self.pattern))


@dataclass(frozen=True, slots=True)
class ArgumentRule:
    """One entry of ``argument_rules``: an argument path with ``deny_if`` and/or ``deny_unless`` conditions."""

    index: int
    tools: ToolMatcher
    arg: ArgPath
    deny_if: ConditionSet | None
    deny_unless: ConditionSet | None
    message: str
    severity: str
    spec: Mapping[str, Any] = field(compare=False, repr=False)
    action: str = "DENY"  # DENY | ASK: what the rule does when it fires

    @property
    def name(self) -> str:
        """How verdicts name this rule: ``argument_rules[i]``."""
        return f"argument_rules[{self.index}]"


@dataclass(frozen=True, slots=True)
class TaintRule:
    """One entry of ``taint_rules`` (seed and Rust spellings folded into one form)."""

    index: int
    tools: ToolMatcher
    action: str
    tags: tuple[str, ...]
    message: str
    spec: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        """How verdicts name this rule: ``taint_rules[i]``."""
        return f"taint_rules[{self.index}]"


class _RuleIndex:
    """A policy's rules indexed by tool name (``_text.glob.ToolIndex``), so a call costs a few dict probes
    however many rules there are: static DENY rules (ignoring case), ASK and ALLOW globs (exactly), argument
    and CHECK_TAINT / ADD_TAINT rules (ignoring case) and REMOVE_TAINT rules (exactly). Keys are positions in
    the policy's tuples, so every lookup returns rules in file order."""

    __slots__ = ("adds", "arguments", "checks", "removes", "static_allow", "static_ask", "static_deny")

    def __init__(
        self,
        static: tuple[StaticRule, ...],
        arguments: tuple[ArgumentRule, ...],
        taints: tuple[TaintRule, ...],
    ) -> None:
        def statics(action: str, globs_only: bool) -> list[tuple[int, ToolPattern]]:
            return [
                (i, r.tool) for i, r in enumerate(static) if r.action == action and (r.tool.is_glob or not globs_only)
            ]

        def taint(action: str) -> list[tuple[int, ToolPattern]]:
            return [(i, p) for i, r in enumerate(taints) if r.action == action for p in r.tools.patterns]

        self.static_deny = ToolIndex(statics("DENY", False), deny=True)
        self.static_ask = ToolIndex(statics("ASK", True), deny=False)
        self.static_allow = ToolIndex(statics("ALLOW", True), deny=False)
        self.arguments = ToolIndex(((i, p) for i, r in enumerate(arguments) for p in r.tools.patterns), deny=True)
        self.checks = ToolIndex(taint("CHECK_TAINT"), deny=True)
        self.adds = ToolIndex(taint("ADD_TAINT"), deny=True)
        self.removes = ToolIndex(taint("REMOVE_TAINT"), deny=False)


@dataclass(frozen=True, slots=True)
class VerifierSettings:
    """How the policy configures the action verifier (``sentinel_lab.Verifier``)."""

    enabled: bool = True
    checks: Any = None  # None (all) | tuple of names | mapping name -> bool
    workspace: str | None = None
    scope: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    rate_limit: Any = None  # None (defaults) | False (off) | mapping
    intent: Any = None  # None (defaults) | False (off) | mapping
    profile: str = "workspace"  # one of sentinel_lab._checks.PROFILES
    #: check name or severity -> ASK | DENY: what a verifier finding does (a check's own entry wins; DENY default)
    on_finding: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def finding_action(self, check: str, severity: str) -> str:
        """ASK or DENY for one verifier finding: the check's entry, else its severity's, else DENY."""
        return self.on_finding.get(check) or self.on_finding.get(severity) or "DENY"

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Verifier``."""
        checks = dict(self.checks) if isinstance(self.checks, Mapping) else self.checks
        rate = dict(self.rate_limit) if isinstance(self.rate_limit, Mapping) else self.rate_limit
        intent = dict(self.intent) if isinstance(self.intent, Mapping) else self.intent
        return {
            "workspace": self.workspace,
            "scope": dict(self.scope) or None,
            "rate_limit": rate,
            "intent": intent,
            "checks": checks,
            "profile": self.profile,
        }


@dataclass(frozen=True, slots=True)
class SpotlightSettings:
    """Spotlighting of tool output by the proxy, and what a prompt injection found in it does."""

    enabled: bool = True
    scan_output: str = "flag"


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Session ids: whether calls must present a valid one, and the environment variable holding the key."""

    require: bool = False
    key_env: str = "SENTINEL_SESSION_KEY"


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """How the proxy answers denials, filters and pins tools, the largest message it accepts, and how long an
    approval question (``ASK``) stays answerable."""

    deny_style: str = "error"
    hide_denied_tools: bool = True
    pin_tools: str = "warn"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    approval_ttl_s: float = DEFAULT_APPROVAL_TTL_S


@dataclass(frozen=True, eq=False)
class Policy:
    """An immutable, validated policy. Build it with ``from_yaml``, ``load``, ``from_dict`` or ``default``;
    run it with ``new_session()`` (see ``sentinel_lab._policy.engine`` for the evaluation order)."""

    default_action: str = "DENY"
    mode: str = "enforce"
    static_rules: tuple[StaticRule, ...] = ()
    argument_rules: tuple[ArgumentRule, ...] = ()
    taint_rules: tuple[TaintRule, ...] = ()
    tool_classes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    verifier: VerifierSettings = field(default_factory=VerifierSettings)
    spotlight: SpotlightSettings = field(default_factory=SpotlightSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    upstreams: Mapping[str, Upstream] = field(default_factory=lambda: MappingProxyType({}))
    flows: tuple[FlowRule, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<dict>"
    _exact: Mapping[str, StaticRule] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    _implicit: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    #: the canonical content (``to_dict`` as sorted JSON): what ``==`` and ``hash`` compare
    _key: str = field(init=False, repr=False)
    #: the rules indexed by tool name, built once here
    _index: _RuleIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", json.dumps(self.to_dict(), sort_keys=True, default=repr))
        object.__setattr__(self, "_index", _RuleIndex(self.static_rules, self.argument_rules, self.taint_rules))

    # -- construction ------------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<string>") -> Policy:
        """Parse and validate a policy written in YAML; errors name ``source``, the line and the key."""
        if not isinstance(text, str):
            raise PolicyError(f"policy text must be a string, not {type(text).__name__}", file=source)
        data, lines = _compose(text, source)
        return _build_checked(data, _Ctx(source, lines))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Policy:
        """Read and validate a policy file (UTF-8 YAML)."""
        try:
            source = os.fspath(path)
        except TypeError:
            raise PolicyError(f"a policy path must be a string or path, not {type(path).__name__}") from None
        try:
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy file: {exc}", file=source) from None
        return cls.from_yaml(text, source=source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Policy:
        """Validate a policy given as plain Python data (the same schema as the YAML)."""
        _check_shape(data, source)
        return _build_checked(data, _Ctx(source))

    @classmethod
    def default(cls) -> Policy:
        """The strict default: nothing runs unless listed, every verifier check on, injected output blocked,
        changed tool definitions blocked. Same as ``policies/strict.yaml``."""
        return _build(STRICT_DEFAULT, _Ctx("<default>"))

    # -- views -----------------------------------------------------------------------------------------
    @property
    def audit(self) -> bool:
        """True in audit mode: would-be blocks are allowed and flagged."""
        return self.mode == "audit"

    @property
    def name(self) -> str:
        """The policy's ``name`` (or ``id``) metadata, or an empty string."""
        return str(self.metadata.get("name", self.metadata.get("id", "")))

    def static_decision(self, tool: str) -> tuple[str, str]:
        """``(ALLOW|DENY, rule)`` from the static stage alone (static rules, implicit listing, default)."""
        rule = self._exact.get(tool)
        if rule is not None:
            return rule.action, f"static_rules.{tool}"
        # the first DENY name or glob, whatever the case of the tool's name; else the first ASK glob, exactly
        # (asking is stricter than allowing, so it comes first); else the first ALLOW glob, exactly
        index = self._index
        for action, found in (("DENY", index.static_deny), ("ASK", index.static_ask), ("ALLOW", index.static_allow)):
            hit = found.first(tool)
            if hit is not None:
                return action, f"static_rules.{self.static_rules[hit].pattern}"
        implicit = self._implicit.get(tool)
        if implicit is not None:
            return "ALLOW", implicit
        return self.default_action, "default_action"

    def argument_rules_for(self, tool: str) -> tuple[ArgumentRule, ...]:
        """The argument rules naming ``tool`` (ignoring case), in file order: an index lookup, not a scan."""
        rules = self.argument_rules
        return tuple(rules[i] for i in self._index.arguments.lookup(tool))

    def taint_checks_for(self, tool: str) -> tuple[TaintRule, ...]:
        """The CHECK_TAINT rules naming ``tool`` (ignoring case), in file order."""
        rules = self.taint_rules
        return tuple(rules[i] for i in self._index.checks.lookup(tool))

    def taint_effects_for(self, tool: str) -> tuple[TaintRule, ...]:
        """The ADD_TAINT rules naming ``tool`` ignoring case and the REMOVE_TAINT rules naming it exactly, in
        file order: what ``record`` applies when ``tool`` ran."""
        index, rules = self._index, self.taint_rules
        return tuple(rules[i] for i in sorted({*index.adds.lookup(tool), *index.removes.lookup(tool)}))

    def tool_allowed(self, name: str) -> bool:
        """Whether the static stage lets ``name`` run at all (for hiding tools in ``tools/list``); in audit mode
        every tool is shown, since nothing is blocked."""
        return self.audit or self.static_decision(name)[0] in ("ALLOW", "ASK")

    def make_verifier(self, clock: Callable[[], float] | None = None) -> Verifier | None:
        """A new verifier as this policy configures it (None when disabled). Sessions share one per policy
        object through ``_policy.engine.shared_verifier``; the policy itself holds no state."""
        if not self.verifier.enabled:
            return None
        if clock is not None:
            return Verifier(clock=clock, **self.verifier.kwargs())
        return Verifier(**self.verifier.kwargs())

    def new_session(self, clock: Callable[[], float] | None = None, session_id: str | None = None) -> Session:
        """A fresh engine session (own taints, own rate-limit history); ``clock`` gives monotonic seconds.
        A thin delegation: the engine depends on the model, so the engine is imported only when called."""
        from sentinel_lab._policy.engine import Session

        return Session(self, clock=clock, session_id=session_id)

    def with_mode(self, mode: str) -> Policy:
        """The same policy in ``enforce`` or ``audit`` mode (a dry run of a policy before enforcing it)."""
        if mode not in MODES:
            raise PolicyError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}", key="mode")
        data = self.to_dict()
        data["mode"] = mode
        return Policy.from_dict(data, source=self.source)

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data in canonical spelling; ``Policy.from_dict(p.to_dict())`` is equivalent."""
        out: dict[str, Any] = dict(self.metadata)
        out["default_action"] = self.default_action
        out["mode"] = self.mode
        if self.tool_classes:
            out["tool_classes"] = {k: list(v) for k, v in self.tool_classes.items()}
        out["static_rules"] = {r.pattern: r.action for r in self.static_rules}
        out["argument_rules"] = [_plain(r.spec) for r in self.argument_rules]
        out["taint_rules"] = [_plain(r.spec) for r in self.taint_rules]
        v = self.verifier
        ver: dict[str, Any] = {"enabled": v.enabled}
        if v.checks is not None:
            ver["checks"] = dict(v.checks) if isinstance(v.checks, Mapping) else list(v.checks)
        if v.workspace is not None:
            ver["workspace"] = v.workspace
        if v.profile != "workspace":
            ver["profile"] = v.profile
        if v.scope:
            ver["scope"] = {k: list(val) for k, val in v.scope.items()}
        if v.rate_limit is not None:
            ver["rate_limit"] = dict(v.rate_limit) if isinstance(v.rate_limit, Mapping) else v.rate_limit
        if v.intent is not None:
            ver["intent"] = dict(v.intent) if isinstance(v.intent, Mapping) else v.intent
        if v.on_finding:
            ver["on_finding"] = dict(v.on_finding)
        out["verifier"] = ver
        out["spotlight"] = {"enabled": self.spotlight.enabled, "scan_output": self.spotlight.scan_output}
        out["session"] = {"require": self.session.require, "key_env": self.session.key_env}
        p = self.proxy
        out["proxy"] = {
            "deny_style": p.deny_style,
            "hide_denied_tools": p.hide_denied_tools,
            "pin_tools": p.pin_tools,
            "max_message_bytes": p.max_message_bytes,
            "approval_ttl_s": p.approval_ttl_s,
        }
        if self.upstreams:
            out["upstreams"] = {name: u.to_dict() for name, u in self.upstreams.items()}
        if self.flows:
            out["flows"] = [_plain(f.spec) for f in self.flows]
        return out

    def to_yaml(self) -> str:
        """The canonical form as YAML text."""
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))

    def __eq__(self, other: object) -> bool:
        """Policies with the same content are equal, wherever they were loaded from."""
        if not isinstance(other, Policy):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        """Consistent with ``==``: the hash of the canonical content."""
        return hash(self._key)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return (
            f"<Policy{label} from {self.source}: default {self.default_action}, mode {self.mode}, "
            f"{len(self.static_rules)} static, {len(self.argument_rules)} argument, "
            f"{len(self.taint_rules)} taint rules, verifier {'on' if self.verifier.enabled else 'off'}>"
        )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _ro(value: Any) -> Any:
    """A read-only deep copy of plain data."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _ro(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_ro(v) for v in value)
    return value


# ----------------------------------------------------------------------------------------------- building
def _tools(
    ctx: _Ctx, rule: Mapping[str, Any], path: Path, classes: Mapping[str, tuple[str, ...]], has_classes: bool
) -> ToolMatcher:
    """The tools a rule names through ``tool`` and/or ``tool_class``."""
    patterns: list[str] = []
    if "tool" in rule:
        patterns.extend(_strs(ctx, rule["tool"], (*path, "tool")))
    if "tool_class" in rule:
        for i, cls_name in enumerate(_strs(ctx, rule["tool_class"], (*path, "tool_class"))):
            if cls_name in classes:
                patterns.extend(classes[cls_name])
            elif has_classes:
                close = difflib.get_close_matches(cls_name, list(classes), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else f"; defined: {', '.join(classes)}"
                where = (*path, "tool_class") if isinstance(rule["tool_class"], str) else (*path, "tool_class", i)
                raise ctx.error(where, f"unknown tool class '{cls_name}'{hint}")
            else:  # the seed's files use tool_class as the tool's name
                patterns.append(cls_name)
    if not patterns:
        raise ctx.error(path, "a rule needs 'tool' (a name or glob) or 'tool_class'")
    names = frozenset(p for p in patterns if not is_glob(p))
    return ToolMatcher(names, tuple(ToolPattern(p) for p in dict.fromkeys(patterns)))


def _conditions(ctx: _Ctx, value: Any, path: Path) -> tuple[ConditionSet, dict[str, Any]]:
    spec = _mapping(ctx, value, path, CONDITION_KEYS)
    if not spec:
        raise ctx.error(path, f"give at least one condition: {', '.join(CONDITION_KEYS)}")
    out: list[Condition] = []
    clean: dict[str, Any] = {}
    for kind, raw in spec.items():
        where = (*path, kind)
        if kind in ("in", "not_in"):
            val: Any = _list(ctx, raw, where)
            if raw is None:
                raise ctx.error(where, "expected a list of values")
        elif kind in ("glob", "host_in", "path_under"):
            val = _strs(ctx, raw, where)
            if not val:
                raise ctx.error(where, "expected a non-empty string or list of strings")
            val = val[0] if isinstance(raw, str) else list(val)
        elif kind == "regex":
            val = _str(ctx, raw, where)
        elif kind in ("min", "max"):
            val = _number(ctx, raw, where)
        elif kind == "present":
            val = _bool(ctx, raw, where)
        else:  # equals: any scalar or list
            if isinstance(raw, dict):
                raise ctx.error(where, "expected a value or a list, got a mapping")
            val = raw
        try:
            out.append(make_condition(kind, val))
        except (RegexError, ValueError) as exc:
            raise ctx.error(where, str(exc)) from None
        clean[kind] = val
    if "min" in clean and "max" in clean and clean["min"] > clean["max"]:
        raise ctx.error((*path, "min"), f"min {clean['min']} is above max {clean['max']}: nothing could match")
    return ConditionSet(tuple(out)), clean


def _argument_rule(
    ctx: _Ctx, index: int, value: Any, classes: Mapping[str, tuple[str, ...]], has_classes: bool
) -> ArgumentRule:
    path: Path = ("argument_rules", index)
    rule = _mapping(ctx, value, path, ARG_RULE_KEYS)
    tools = _tools(ctx, rule, path, classes, has_classes)
    if "arg" not in rule:
        raise ctx.error(path, "an argument rule needs 'arg' (an argument path such as 'to' or 'items[*].url')")
    arg_text = _str(ctx, rule["arg"], (*path, "arg"))
    try:
        arg = ArgPath.parse(arg_text)
    except ValueError as exc:
        raise ctx.error((*path, "arg"), str(exc)) from None
    if "deny_if" not in rule and "deny_unless" not in rule:
        raise ctx.error(path, "an argument rule needs 'deny_if' or 'deny_unless'")
    spec: dict[str, Any] = {}
    if "tool" in rule:
        spec["tool"] = rule["tool"]
    if "tool_class" in rule:
        spec["tool_class"] = rule["tool_class"]
    spec["arg"] = arg_text
    deny_if = deny_unless = None
    if "deny_if" in rule:
        deny_if, spec["deny_if"] = _conditions(ctx, rule["deny_if"], (*path, "deny_if"))
    if "deny_unless" in rule:
        deny_unless, spec["deny_unless"] = _conditions(ctx, rule["deny_unless"], (*path, "deny_unless"))
    action = _choice(ctx, rule["action"], (*path, "action"), RULE_ACTIONS) if "action" in rule else "DENY"
    if "action" in rule:
        spec["action"] = action
    message, severity = _notes(ctx, rule, path, spec)
    return ArgumentRule(index, tools, arg, deny_if, deny_unless, message, severity, _ro(spec), action)


def _notes(ctx: _Ctx, rule: Mapping[str, Any], path: Path, spec: dict[str, Any]) -> tuple[str, str]:
    """A rule's ``message``, ``severity`` (default high) and ``description``, read and written back to ``spec``."""
    message = _str(ctx, rule["message"], (*path, "message")) if "message" in rule else ""
    severity = _choice(ctx, rule["severity"], (*path, "severity"), SEVERITIES) if "severity" in rule else "high"
    if message:
        spec["message"] = message
    if "severity" in rule:
        spec["severity"] = severity
    if "description" in rule:
        spec["description"] = _str(ctx, rule["description"], (*path, "description"), allow_empty=True)
    return message, severity


def _taint_rule(
    ctx: _Ctx, index: int, value: Any, classes: Mapping[str, tuple[str, ...]], has_classes: bool
) -> TaintRule:
    path: Path = ("taint_rules", index)
    rule = _mapping(ctx, value, path, TAINT_RULE_KEYS)
    if "action" not in rule:
        raise ctx.error(path, f"a taint rule needs 'action': {', '.join(TAINT_ACTIONS)}")
    action = _choice(ctx, rule["action"], (*path, "action"), TAINT_ACTIONS)
    tools = _tools(ctx, rule, path, classes, has_classes)

    def tags_of(keys: tuple[str, str]) -> tuple[str, ...]:
        """The tags under either spelling, in order, without repeats."""
        found: list[str] = []
        for key in keys:
            if key in rule:
                for t in _strs(ctx, rule[key], (*path, key)):
                    if t not in found:
                        found.append(t)
        return tuple(found)

    add_keys, check_keys = ("taint_tags", "tag"), ("forbidden_taints", "forbidden_tags")
    if action == "CHECK_TAINT":
        wrong = [k for k in add_keys if k in rule]
        if wrong:
            raise ctx.error(
                (*path, wrong[0]), f"CHECK_TAINT reads 'forbidden_taints' (or 'forbidden_tags'), not '{wrong[0]}'"
            )
        tags = tags_of(check_keys)
        if not tags:
            raise ctx.error(path, "CHECK_TAINT needs 'forbidden_taints' (or 'forbidden_tags'): the taints to refuse")
    else:
        wrong = [k for k in check_keys if k in rule]
        if wrong:
            raise ctx.error((*path, wrong[0]), f"{action} reads 'taint_tags' (or 'tag'), not '{wrong[0]}'")
        tags = tags_of(add_keys)
        if not tags:
            raise ctx.error(path, f"{action} needs 'taint_tags' (or 'tag'): the taints to {action.split('_')[0]}")
    message = ""
    for key in ("message", "error"):
        if key in rule:
            message = _str(ctx, rule[key], (*path, key))
    spec: dict[str, Any] = {}
    if "tool" in rule:
        spec["tool"] = rule["tool"]
    if "tool_class" in rule:
        spec["tool_class"] = rule["tool_class"]
    spec["action"] = action
    spec["forbidden_taints" if action == "CHECK_TAINT" else "taint_tags"] = list(tags)
    if message:
        spec["message"] = message
    if "description" in rule:
        spec["description"] = _str(ctx, rule["description"], (*path, "description"), allow_empty=True)
    return TaintRule(index, tools, action, tags, message, _ro(spec))


def _verifier(ctx: _Ctx, value: Any) -> VerifierSettings:
    path: Path = ("verifier",)
    if isinstance(value, bool):  # "verifier: false" switches it off
        return VerifierSettings(enabled=value)
    spec = _mapping(ctx, value, path, VERIFIER_KEYS)
    enabled = _bool(ctx, spec["enabled"], (*path, "enabled")) if "enabled" in spec else True
    checks: Any = None
    if "checks" in spec and spec["checks"] is not None:
        raw = spec["checks"]
        where = (*path, "checks")
        if isinstance(raw, Mapping):
            checks = MappingProxyType(
                {str(k): _bool(ctx, v, (*where, k)) for k, v in _mapping(ctx, raw, where, POLICIES).items()}
            )
        else:
            names = _strs(ctx, raw, where)
            for i, n in enumerate(names):
                if n not in POLICIES:
                    close = difflib.get_close_matches(n, POLICIES, n=1, cutoff=0.6)
                    hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join(POLICIES)}"
                    raise ctx.error((*where, i), f"unknown check '{n}'{hint}")
            checks = names
    workspace = None
    if spec.get("workspace") is not None:
        workspace = _str(ctx, spec["workspace"], (*path, "workspace"))
        if not workspace.startswith("/"):
            raise ctx.error((*path, "workspace"), f"workspace must be an absolute path, got {workspace!r}")
    profile = "workspace"
    if spec.get("profile") is not None:
        profile = _str(ctx, spec["profile"], (*path, "profile"))
        if profile not in PROFILES:
            raise ctx.error((*path, "profile"), f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}")
    scope_spec = _mapping(ctx, spec.get("scope"), (*path, "scope"), SCOPE_KEYS)
    scope = {k: _strs(ctx, v, (*path, "scope", k)) for k, v in scope_spec.items() if v is not None}
    for i, root in enumerate(scope.get("allowed_roots", ())):
        if not root.startswith("/"):
            raise ctx.error((*path, "scope", "allowed_roots", i), f"roots must be absolute paths, got {root!r}")
    rate: Any = None
    if "rate_limit" in spec and spec["rate_limit"] is not None:
        raw = spec["rate_limit"]
        where = (*path, "rate_limit")
        if isinstance(raw, bool):
            rate = None if raw else False
        else:
            items = _mapping(ctx, raw, where, RATE_KEYS)
            rate = MappingProxyType(
                {k: _number(ctx, v, (*where, k), positive=True, integer=k.startswith("max_")) for k, v in items.items()}
            )
    intent: Any = None
    if "intent" in spec and spec["intent"] is not None:
        raw = spec["intent"]
        where = (*path, "intent")
        if isinstance(raw, bool):
            intent = None if raw else False
        else:
            items = _mapping(ctx, raw, where, INTENT_KEYS)
            clean: dict[str, Any] = {}
            if "enabled" in items:
                clean["enabled"] = _bool(ctx, items["enabled"], (*where, "enabled"))
            if "threshold" in items:
                t = _number(ctx, items["threshold"], (*where, "threshold"))
                if not 0 <= t <= 1:
                    raise ctx.error((*where, "threshold"), f"threshold must be in 0..1, got {t}")
                clean["threshold"] = t
            intent = MappingProxyType(clean)
    on_finding: dict[str, str] = {}
    where = (*path, "on_finding")
    for key, act in _mapping(ctx, spec.get("on_finding"), where).items():
        if key not in POLICIES and key not in SEVERITIES:
            names = (*POLICIES, *SEVERITIES)
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; expected a check or a severity: {', '.join(names)}"
            raise ctx.error((*where, key), f"unknown check or severity '{key}'{hint}")
        on_finding[key] = _choice(ctx, act, (*where, key), RULE_ACTIONS)
    return VerifierSettings(
        enabled, checks, workspace, MappingProxyType(scope), rate, intent, profile, MappingProxyType(on_finding)
    )


def _upstreams(ctx: _Ctx, top: Mapping[str, Any]) -> Mapping[str, Upstream]:
    """The ``upstreams`` section: each name a valid namespace, unique ignoring case, one command or one URL."""
    if "upstreams" not in top:
        return MappingProxyType({})
    spec = _mapping(ctx, top["upstreams"], ("upstreams",))
    if not spec:
        raise ctx.error(("upstreams",), "name at least one upstream (name: {command: [...]} or {url: ...})")
    out: dict[str, Upstream] = {}
    folded: dict[str, str] = {}
    for name, raw in spec.items():
        path: Path = ("upstreams", name)
        problem = name_problem(name)
        if problem is not None:
            raise ctx.error(path, f"invalid upstream name {name!r}: {problem}")
        if name.casefold() in folded:
            raise ctx.error(
                path,
                f"duplicate namespace {name!r}: the same as {folded[name.casefold()]!r} ignoring case "
                "(tool names are matched ignoring case when a rule denies them)",
            )
        folded[name.casefold()] = name
        item = _mapping(ctx, raw, path, UPSTREAM_KEYS)
        if ("command" in item) == ("url" in item):
            raise ctx.error(path, "an upstream needs exactly one of 'command' (a list of words) or 'url'")
        description = (
            _str(ctx, item["description"], (*path, "description"), allow_empty=True) if "description" in item else ""
        )
        if "url" in item:
            for key in ("env", "cwd"):
                if key in item:
                    raise ctx.error((*path, key), f"'{key}' applies to a 'command' upstream, not to a 'url' one")
            out[name] = Upstream(name, url=_url(ctx, item["url"], (*path, "url")), description=description)
            continue
        raw_command = item["command"]
        if isinstance(raw_command, str):
            raise ctx.error((*path, "command"), "write the command as a list of words, e.g. [python, server.py]")
        command = _strs(ctx, raw_command, (*path, "command"))
        if not command:
            raise ctx.error((*path, "command"), "the command needs at least the program to run")
        env: dict[str, str] = {}
        for key, value in _mapping(ctx, item.get("env"), (*path, "env")).items():
            if not key or "=" in key or "\x00" in key:
                raise ctx.error((*path, "env", key), f"invalid environment variable name {key!r}")
            env[key] = _str(ctx, value, (*path, "env", key), allow_empty=True)
        cwd = None
        if item.get("cwd") is not None:
            cwd = _str(ctx, item["cwd"], (*path, "cwd"))
            if not cwd.startswith("/"):
                raise ctx.error((*path, "cwd"), f"cwd must be an absolute path, got {cwd!r}")
        out[name] = Upstream(name, command, None, MappingProxyType(env), cwd, description)
    return MappingProxyType(out)


def _url(ctx: _Ctx, value: Any, path: Path) -> str:
    url = _str(ctx, value, path)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ctx.error(path, f"expected an http:// or https:// URL with a host, got {url!r:.80}")
    return url


def _flow_tools(
    ctx: _Ctx, spec: Mapping[str, Any], path: Path, upstreams: Mapping[str, Upstream]
) -> tuple[ToolPattern, ...]:
    """The tool globs of an ``after`` or ``deny`` part: its ``tools`` and every tool of its ``upstreams``."""
    patterns: list[str] = []
    if "tools" in spec:
        patterns.extend(_strs(ctx, spec["tools"], (*path, "tools")))
    for i, name in enumerate(_strs(ctx, spec["upstreams"], (*path, "upstreams")) if "upstreams" in spec else ()):
        if name not in upstreams:
            close = difflib.get_close_matches(name, list(upstreams), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; defined: {', '.join(upstreams) or 'none'}"
            raise ctx.error((*path, "upstreams", i), f"unknown upstream '{name}'{hint}")
        patterns.append(f"{name}{SEPARATOR}*")
    return tuple(ToolPattern(p) for p in dict.fromkeys(patterns))


def _flow_rule(ctx: _Ctx, index: int, value: Any, upstreams: Mapping[str, Upstream]) -> FlowRule:
    """One entry of ``flows`` (see ``_policy.flows`` for what each part means)."""
    path: Path = ("flows", index)
    rule = _mapping(ctx, value, path, FLOW_KEYS)
    for key in ("name", "after", "deny"):
        if key not in rule:
            raise ctx.error(path, f"a flow rule needs 'name', 'after' and 'deny' (missing '{key}')")
    name = _str(ctx, rule["name"], (*path, "name"))
    after = _mapping(ctx, rule["after"], (*path, "after"), FLOW_AFTER_KEYS)
    after_tools = _flow_tools(ctx, after, (*path, "after"), upstreams)
    after_taints = _strs(ctx, after["taints"], (*path, "after", "taints")) if "taints" in after else ()
    if not after_tools and not after_taints:
        raise ctx.error((*path, "after"), "'after' needs 'tools', 'upstreams' or 'taints': what arms the rule")
    deny = _mapping(ctx, rule["deny"], (*path, "deny"), FLOW_DENY_KEYS)
    deny_tools = _flow_tools(ctx, deny, (*path, "deny"), upstreams)
    sends = _bool(ctx, deny["sends"], (*path, "deny", "sends")) if "sends" in deny else False
    if not deny_tools and not sends:
        raise ctx.error((*path, "deny"), "'deny' needs 'tools', 'upstreams' or 'sends: true': what the rule refuses")
    hosts: tuple[str, ...] = ()
    if "unless" in rule:
        unless = _mapping(ctx, rule["unless"], (*path, "unless"), FLOW_UNLESS_KEYS)
        if "hosts" not in unless:
            raise ctx.error((*path, "unless"), "'unless' needs 'hosts': the destinations that stay allowed")
        hosts = _strs(ctx, unless["hosts"], (*path, "unless", "hosts"))
        for i, host in enumerate(hosts):
            bare = host.removeprefix("*.")
            if "*" in bare or host_of(bare) != bare.lower().rstrip("."):
                raise ctx.error(
                    (*path, "unless", "hosts", i), f"expected a host name such as example.com, got {host!r}"
                )
    spec: dict[str, Any] = {"name": name, "after": _plain(after), "deny": _plain(deny)}
    if "unless" in rule:
        spec["unless"] = {"hosts": list(hosts)}
    message, severity = _notes(ctx, rule, path, spec)
    return FlowRule(index, name, after_tools, after_taints, deny_tools, sends, hosts, message, severity, _ro(spec))


def _unique_flow_names(ctx: _Ctx, flows: tuple[FlowRule, ...]) -> None:
    seen: dict[str, int] = {}
    for flow in flows:
        if flow.name in seen:
            raise ctx.error(
                ("flows", flow.index, "name"), f"duplicate flow name {flow.name!r} (flows[{seen[flow.name]}])"
            )
        seen[flow.name] = flow.index


def _check_namespaces(ctx: _Ctx, top: Mapping[str, Any], upstreams: Mapping[str, Upstream]) -> None:
    """With upstreams every tool is ``<upstream>__<tool>``: a rule naming a tool outside every namespace could never
    match, so it is an error (a glob such as ``*send*`` that names no namespace is fine)."""
    if not upstreams:
        return
    known = {n.casefold(): n for n in upstreams}
    named: list[tuple[str, Path]] = [(str(p), ("static_rules", p)) for p in (top.get("static_rules") or {})]
    for cls, members in (top.get("tool_classes") or {}).items():
        for i, m in enumerate(members if isinstance(members, list) else [members]):
            named.append((str(m), ("tool_classes", cls, i)))
    for section in ("argument_rules", "taint_rules"):
        for i, rule in enumerate(top.get(section) or []):
            tools = rule.get("tool") if isinstance(rule, Mapping) else None
            for j, t in enumerate(tools if isinstance(tools, list) else [tools] if tools is not None else []):
                named.append((str(t), (section, i, "tool", j) if isinstance(tools, list) else (section, i, "tool")))
    for i, flow in enumerate(top.get("flows") or []):
        for part in ("after", "deny"):
            tools = flow.get(part, {}).get("tools") if isinstance(flow.get(part), Mapping) else None
            for j, t in enumerate(tools if isinstance(tools, list) else [tools] if tools is not None else []):
                named.append(
                    (str(t), ("flows", i, part, "tools", j) if isinstance(tools, list) else ("flows", i, part, "tools"))
                )
    for pattern, path in named:
        cut = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=len(pattern))
        literal = pattern[:cut]
        if SEPARATOR in literal:
            prefix = literal.split(SEPARATOR, 1)[0]
            if prefix.casefold() in known:
                continue
            close = difflib.get_close_matches(prefix, list(upstreams), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}{SEPARATOR}...'?" if close else f"; upstreams: {', '.join(upstreams)}"
            raise ctx.error(path, f"'{pattern}' names no upstream: '{prefix}' is not in 'upstreams'{hint}")
        if cut == len(pattern):
            raise ctx.error(
                path,
                f"'{pattern}' can never match: with 'upstreams' every tool is named <upstream>{SEPARATOR}<tool> "
                f"(for example '{next(iter(upstreams))}{SEPARATOR}{pattern}')",
            )


def _build_checked(data: Any, ctx: _Ctx) -> Policy:
    """``_build``, with any error it did not phrase itself (a hostile value's ``str()``, an integer past the
    int/str conversion limit) reported as a ``PolicyError`` too: loading a policy raises nothing else."""
    try:
        return _build(data, ctx)
    except PolicyError:
        raise
    except (ValueError, TypeError, RecursionError, OverflowError, AttributeError, KeyError, IndexError) as exc:
        try:
            detail = str(exc)[:200]
        except Exception:
            detail = ""
        raise PolicyError(f"invalid policy ({type(exc).__name__}: {detail})", file=ctx.source) from None


def _build(data: Any, ctx: _Ctx) -> Policy:
    if data is None:
        raise ctx.error((), "the policy is empty; write at least 'static_rules' (see the schema)")
    if not isinstance(data, Mapping):
        raise ctx.error((), f"a policy must be a mapping of settings, got {_type_name(data)}")
    top = _mapping(ctx, data, (), TOP_KEYS)
    metadata: dict[str, Any] = {}
    for key in META_KEYS:
        if key in top:
            v = top[key]
            if isinstance(v, (_dt.date, _dt.datetime)):
                v = v.isoformat()
            if v is not None and not isinstance(v, (str, int, float)):
                raise ctx.error((key,), f"expected a string or number, got {_type_name(v)}")
            metadata[key] = v
    default_action = _choice(ctx, top.get("default_action", "DENY"), ("default_action",), ACTIONS)
    mode = _choice(ctx, top.get("mode", "enforce"), ("mode",), MODES)

    classes: dict[str, tuple[str, ...]] = {}
    class_spec = _mapping(ctx, top.get("tool_classes"), ("tool_classes",))
    for name, members in class_spec.items():
        classes[str(name)] = _strs(ctx, members, ("tool_classes", name))
        if not classes[str(name)]:
            raise ctx.error(("tool_classes", name), "a tool class needs at least one tool name or glob")
    has_classes = "tool_classes" in top

    static: list[StaticRule] = []
    exact: dict[str, StaticRule] = {}
    for pattern, action in _mapping(ctx, top.get("static_rules"), ("static_rules",)).items():
        where: Path = ("static_rules", pattern)
        act = _choice(ctx, action, where, STATIC_ACTIONS)
        rule = StaticRule(str(pattern), act)
        static.append(rule)
        if not rule.tool.is_glob:
            exact[rule.pattern] = rule

    arg_rules = tuple(
        _argument_rule(ctx, i, r, classes, has_classes)
        for i, r in enumerate(_list(ctx, top.get("argument_rules"), ("argument_rules",)))
    )
    taint_rules = tuple(
        _taint_rule(ctx, i, r, classes, has_classes)
        for i, r in enumerate(_list(ctx, top.get("taint_rules"), ("taint_rules",)))
    )
    implicit: dict[str, str] = {}
    named: tuple[ArgumentRule | TaintRule, ...] = (*arg_rules, *taint_rules)
    for r in named:
        for n in sorted(r.tools.names):
            implicit.setdefault(n, r.name)

    verifier = _verifier(ctx, top.get("verifier"))
    sp = _mapping(ctx, top.get("spotlight"), ("spotlight",), SPOTLIGHT_KEYS)
    spotlight = SpotlightSettings(
        _bool(ctx, sp["enabled"], ("spotlight", "enabled")) if "enabled" in sp else True,
        _choice(ctx, sp["scan_output"], ("spotlight", "scan_output"), SCAN_OUTPUT) if "scan_output" in sp else "flag",
    )
    se = _mapping(ctx, top.get("session"), ("session",), SESSION_KEYS)
    session = SessionSettings(
        _bool(ctx, se["require"], ("session", "require")) if "require" in se else False,
        _str(ctx, se["key_env"], ("session", "key_env")) if "key_env" in se else "SENTINEL_SESSION_KEY",
    )
    px = _mapping(ctx, top.get("proxy"), ("proxy",), PROXY_KEYS)
    proxy = ProxySettings(
        _choice(ctx, px["deny_style"], ("proxy", "deny_style"), DENY_STYLES) if "deny_style" in px else "error",
        _bool(ctx, px["hide_denied_tools"], ("proxy", "hide_denied_tools")) if "hide_denied_tools" in px else True,
        _choice(ctx, px["pin_tools"], ("proxy", "pin_tools"), PIN_TOOLS) if "pin_tools" in px else "warn",
        int(_number(ctx, px["max_message_bytes"], ("proxy", "max_message_bytes"), positive=True, integer=True))
        if "max_message_bytes" in px
        else DEFAULT_MAX_MESSAGE_BYTES,
        _approval_ttl(ctx, px["approval_ttl_s"]) if "approval_ttl_s" in px else DEFAULT_APPROVAL_TTL_S,
    )
    upstreams = _upstreams(ctx, top)
    flows = tuple(_flow_rule(ctx, i, r, upstreams) for i, r in enumerate(_list(ctx, top.get("flows"), ("flows",))))
    _unique_flow_names(ctx, flows)
    _check_namespaces(ctx, top, upstreams)
    policy = Policy(
        default_action=default_action,
        mode=mode,
        static_rules=tuple(static),
        argument_rules=arg_rules,
        taint_rules=taint_rules,
        tool_classes=MappingProxyType(classes),
        verifier=verifier,
        spotlight=spotlight,
        session=session,
        proxy=proxy,
        upstreams=upstreams,
        flows=flows,
        metadata=MappingProxyType(metadata),
        source=ctx.source,
        _exact=MappingProxyType(exact),
        _implicit=MappingProxyType(implicit),
    )
    if verifier.enabled:  # build it now so a setting the verifier rejects fails at load time
        try:
            policy.make_verifier()
        except PolicyError as exc:
            raise ctx.error(("verifier", *(exc.key.split(".") if exc.key else ())), str(exc)) from None
    return policy


#: The strict default policy (``Policy.default()``; also shipped as ``policies/strict.yaml``).
STRICT_DEFAULT: Mapping[str, Any] = MappingProxyType(
    {
        "name": "strict-default",
        "description": "Nothing runs unless listed; all verifier checks on; injected output and changed tools blocked.",
        "default_action": "DENY",
        "mode": "enforce",
        "static_rules": {},
        "verifier": {"enabled": True},
        "spotlight": {"enabled": True, "scan_output": "block"},
        "session": {"require": False, "key_env": "SENTINEL_SESSION_KEY"},
        "proxy": {
            "deny_style": "error",
            "hide_denied_tools": True,
            "pin_tools": "block",
            "max_message_bytes": DEFAULT_MAX_MESSAGE_BYTES,
        },
    }
)
