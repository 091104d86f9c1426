"""The action verifier: one shared analysis, the built-in checks, custom checks, scope, intent and rate limit.

Order of work for one call: parse the action shape, analyse it once (normalise every string, lazily parse URLs,
paths and commands), run the enabled built-in content checks, scope, intent (when the context carries a goal),
custom checks, and finally the rate limiter (every attempt counts, blocked or not). Any violation blocks. A
check that raises blocks too (fail closed) with a violation naming the error.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import posixpath
import sys
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from types import MappingProxyType
from typing import Any

from sentinel_lab._analysis import MAX_DEPTH, MAX_TEXTS, Analysis, analyse
from sentinel_lab._analysis._actions import parse_action
from sentinel_lab._checks import PROFILES, Settings
from sentinel_lab._checks import data_exfiltration as _exfil
from sentinel_lab._checks import file_traversal as _traversal
from sentinel_lab._checks import intent_alignment as _injection
from sentinel_lab._checks import internal_access as _internal
from sentinel_lab._checks import privilege_escalation as _privilege
from sentinel_lab._checks import system_commands as _commands
from sentinel_lab._core.errors import InvalidAction, PolicyError
from sentinel_lab._core.sync import run_sync
from sentinel_lab._core.verdict import POLICIES, SEVERITY_RANK, IntentResult, Verdict, Violation
from sentinel_lab._verify.cache import VerdictCache, canonical_key
from sentinel_lab._verify.intent import (
    DEFAULT_THRESHOLD,
    LLM_WEIGHT,
    combine,
    goal_text,
    heuristic_intent,
    intent_prompt,
    llm_result,
    parse_score,
)
from sentinel_lab._verify.ratelimit import RateLimit, RateLimiter
from sentinel_lab._verify.scope import Scope, check_scope

__all__ = ["CONTENT_CHECKS", "CustomCheck", "Intent", "ToolCall", "Verifier", "compiled"]

#: The content checks, by policy name, in the order they run.
CONTENT_CHECKS: dict[str, Callable[[Analysis, Settings], list[Violation]]] = {
    "privilege_escalation": _privilege.check,
    "data_exfiltration": _exfil.check,
    "internal_access": _internal.check,
    "file_traversal": _traversal.check,
    "system_commands": _commands.check,
    "intent_alignment": _injection.check,
}
_CONFIDENCE = {"critical": 0.99, "high": 0.9, "medium": 0.75, "low": 0.6}
_perf_ns = time.perf_counter_ns
_wall = time.time


_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})
#: Context keys that leave the built-in verdict unchanged (the rate limiter, which reads ``session_id``, runs
#: per call even on a cached verdict). Any other key (``scope``, ``user_goal``, ``conversation``, or one a
#: future check might read) makes the call bypass the verdict cache.
_CACHE_NEUTRAL_KEYS = frozenset({"session_id"})
#: Default bound of the verdict cache (entries).
CACHE_SIZE = 4096


def compiled() -> bool:
    """True when the verifier's core (normalisation, analysis, checks, verifier) runs as mypyc-compiled extension
    modules, from a wheel built with ``SENTINEL_LAB_COMPILE=1``; False when it runs as pure Python (the default).
    This module is one of them, so its own file says which."""
    return (sys.modules[__name__].__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))


@dataclass(frozen=True, slots=True)
class ToolCall:
    """What a custom check receives: the tool name, its arguments and the shared analysis."""

    tool: str
    args: Mapping[str, Any]
    analysis: Analysis

    def __getitem__(self, key: str) -> Any:  # seed-style access: call["tool"], call["args"]
        return {"tool": self.tool, "args": self.args}[key]


CustomCheck = Callable[[ToolCall, Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Intent:
    """Intent verification settings: a score below ``threshold`` blocks; ``llm`` optionally scores too, and its
    score weighs ``llm_weight`` against the heuristic's (``intent.combine``; see the ``intent`` module)."""

    enabled: bool = True
    threshold: float = DEFAULT_THRESHOLD
    llm: Callable[[str], Any] | None = None
    llm_weight: float = LLM_WEIGHT

    @classmethod
    def from_any(cls, value: Intent | Mapping[str, Any] | bool | Callable[[str], Any] | None) -> Intent:
        """Read the ``intent`` argument: None/True for defaults, False to switch off, an llm callable, or a mapping."""
        if value is None or value is True:
            return cls()
        if value is False:
            return cls(enabled=False)
        if isinstance(value, Intent):
            return value
        if not isinstance(value, Mapping):
            if callable(value):
                return cls(llm=value)
            raise PolicyError(f"intent must be a mapping, bool or callable, not {type(value).__name__}", key="intent")
        unknown = set(value) - {"enabled", "threshold", "llm", "llm_weight"}
        if unknown:
            raise PolicyError(
                "unknown intent setting; expected enabled, threshold, llm, llm_weight", key=sorted(unknown)[0]
            )
        numbers = {}
        for key, default in (("threshold", DEFAULT_THRESHOLD), ("llm_weight", LLM_WEIGHT)):
            number = value.get(key, default)
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= 1:
                raise PolicyError(f"intent.{key} must be a number in 0..1, got {number!r}", key=key)
            numbers[key] = float(number)
        llm = value.get("llm")
        if llm is not None and not callable(llm):
            raise PolicyError(f"intent.llm must be callable, not {type(llm).__name__}", key="llm")
        return cls(bool(value.get("enabled", True)), numbers["threshold"], llm, numbers["llm_weight"])


def _custom_violations(name: str, result: Any) -> list[Violation]:
    """Interpret what a custom check returned: None/True pass; False, a reason, a Violation or a seed-style
    ``{"pass": bool, "reason", "severity"}`` mapping fail."""
    policy = f"custom:{name}"
    if result is None or result is True:
        return []
    if result is False:
        return [Violation(policy, f"custom check '{name}' failed", "high")]
    if isinstance(result, str):
        return [Violation(policy, result, "high")]
    if isinstance(result, Violation):
        return [result]
    if isinstance(result, Mapping):
        passed = result.get("pass", result.get("passed", result.get("allowed")))
        if passed is True:
            return []
        severity = str(result.get("severity", "high"))
        if severity not in SEVERITY_RANK:
            severity = "high"
        return [Violation(policy, str(result.get("reason", f"custom check '{name}' failed")), severity)]
    if isinstance(result, Iterable):
        out: list[Violation] = []
        for item in result:
            out.extend(_custom_violations(name, item))
        return out
    return [Violation(policy, f"custom check '{name}' returned {type(result).__name__}; failing closed", "high")]


def _error_violation(policy: str, exc: BaseException) -> Violation:
    return Violation(policy, f"check '{policy}' raised {type(exc).__name__}: {exc}; failing closed", "high")


class Verifier:
    """Decides whether a proposed tool call may run. Thread-compatible: one instance per process is fine.

    ``workspace``: the project directory (``..`` inside it is fine). ``scope``: ``allowed_tools``,
    ``blocked_tools``, ``allowed_roots``, ``allowed_hosts``. ``rate_limit``: a mapping of ``RateLimit`` fields,
    None for defaults, False to switch it off. ``intent``: ``{"threshold", "llm", "enabled"}``, a callable (the
    llm), or False. ``checks``: names of enabled built-in checks, or ``{name: bool}``. ``clock``: monotonic
    seconds for the rate limiter. ``normalize=False`` skips decoding (for ablation studies only). ``profile``:
    ``"workspace"`` (default: an agent confined to its project; ``sudo``/``su`` and reads of system files outside
    the workspace are blocked) or ``"admin"`` (an agent that administers the machine: ``sudo`` of ordinary
    commands, service management, package installs and system reads are allowed; credentials, exfiltration,
    destruction and disabling security stay blocked). ``cache``: the verdict cache's bound (entries; True for
    the default ``CACHE_SIZE``, False or 0 to switch it off): a call seen before, with a context that carries
    nothing but ``session_id`` and no custom check registered, reuses what the built-in checks found (see
    ``_verify.cache``); the rate limiter and the verdict's own fields are still per call.
    """

    def __init__(
        self,
        *,
        workspace: str | os.PathLike[str] | None = None,
        scope: Scope | Mapping[str, Any] | None = None,
        rate_limit: RateLimit | Mapping[str, Any] | bool | None = None,
        intent: Intent | Mapping[str, Any] | bool | Callable[[str], Any] | None = None,
        checks: Iterable[str] | Mapping[str, bool] | None = None,
        clock: Callable[[], float] | None = None,
        normalize: bool = True,
        profile: str = "workspace",
        cache: int | bool = True,
    ) -> None:
        if profile not in PROFILES:
            raise PolicyError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}", key="profile")
        self.profile = profile
        self.workspace = posixpath.normpath(os.fspath(workspace)) if workspace is not None else None
        if self.workspace is not None and not self.workspace.startswith("/"):
            self.workspace = posixpath.normpath(posixpath.join(os.getcwd(), self.workspace))
        self.scope = Scope.from_any(scope)
        self.intent = Intent.from_any(intent)
        self.enabled = self._resolve_checks(checks)
        self.normalize = normalize
        self.clock = clock or time.monotonic
        if rate_limit is False or (self.enabled is not None and "rate_limit" not in self.enabled):
            self.limiter: RateLimiter | None = None
        else:
            limit = RateLimit() if rate_limit is True else RateLimit.from_any(rate_limit)
            self.limiter = RateLimiter(limit, self.clock)
        self._custom: dict[str, CustomCheck] = {}
        #: callbacks run with every verdict (the notebook recorder attaches here)
        self.on_verdict: list[Callable[[Verdict], None]] = []
        self._settings = self._make_settings(self.scope)
        self._content = [(n, f) for n, f in CONTENT_CHECKS.items() if self.enabled is None or n in self.enabled]
        self._scope_on = self.enabled is None or "scope_enforcement" in self.enabled
        self._intent_on = self.intent.enabled and (self.enabled is None or "intent_alignment" in self.enabled)
        if isinstance(cache, bool):
            cache = CACHE_SIZE if cache else 0
        if isinstance(cache, bool) or not isinstance(cache, int) or cache < 0:
            raise PolicyError(f"cache must be a bool or a number of entries, got {cache!r}", key="cache")
        #: the verdict cache (None when off); ``_cache_config`` is what its entries were computed under
        self.verdict_cache: VerdictCache | None = VerdictCache(cache) if cache else None
        self._cache_config: tuple[Any, ...] = ()

    # -- configuration -------------------------------------------------------------------------------------
    @staticmethod
    def _resolve_checks(checks: Iterable[str] | Mapping[str, bool] | None) -> frozenset[str] | None:
        if checks is None:
            return None
        if isinstance(checks, Mapping):
            names = set(POLICIES)
            for name, on in checks.items():
                if name not in POLICIES:
                    raise PolicyError(f"unknown check {name!r}; expected one of {list(POLICIES)}", key=str(name))
                if not on:
                    names.discard(name)
            return frozenset(names)
        if isinstance(checks, str):
            checks = [checks]
        chosen = frozenset(checks)
        unknown = chosen - set(POLICIES)
        if unknown:
            raise PolicyError(f"unknown check {sorted(unknown)[0]!r}; expected one of {list(POLICIES)}", key="checks")
        return chosen

    def _make_settings(self, scope: Scope) -> Settings:
        return Settings(
            workspace=self.workspace,
            allowed_hosts=scope.allowed_hosts,
            allowed_roots=scope.allowed_roots,
            profile=self.profile,
        )

    def add_check(self, name: str, fn: CustomCheck) -> None:
        """Register a custom check ``fn(call, context)`` (sync or async); see ``_custom_violations``."""
        if not callable(fn):
            raise TypeError("a custom check must be callable")
        self._custom[name] = fn
        if self.verdict_cache is not None:  # bypassed while custom checks exist; emptied to be certain
            self.verdict_cache.clear()

    def remove_check(self, name: str) -> None:
        self._custom.pop(name, None)
        if self.verdict_cache is not None:
            self.verdict_cache.clear()

    def check(self, name: str) -> Callable[[CustomCheck], CustomCheck]:
        """Decorator form of ``add_check``: ``@verifier.check("no_weekends")``."""

        def register(fn: CustomCheck) -> CustomCheck:
            self.add_check(name, fn)
            return fn

        return register

    @property
    def custom_checks(self) -> tuple[str, ...]:
        return tuple(self._custom)

    # -- verification ----------------------------------------------------------------------------------------
    def _read(self, action: Any, context: Mapping[str, Any] | None) -> tuple[str, dict[str, Any], Mapping[str, Any]]:
        """Parse the shape (``InvalidAction`` for anything unreadable) and take a plain copy of the context."""
        try:
            tool, args = parse_action(action)
        except InvalidAction:
            raise
        except Exception as exc:  # a Mapping whose methods raise, a RecursionError in a hostile __eq__, ...
            raise InvalidAction(f"the action could not be read: {_describe(exc)}") from None
        if context is None:
            context = _NO_CONTEXT
        elif not isinstance(context, Mapping):
            raise InvalidAction(f"context must be a mapping, not {type(context).__name__}")
        elif type(context) is not dict and type(context) is not MappingProxyType:
            try:  # a plain copy: later reads cannot raise
                context = dict(context.items())
            except Exception as exc:
                raise InvalidAction(f"context could not be read: {_describe(exc)}") from None
        return tool, args, context

    def _analyse(self, tool: str, args: dict[str, Any]) -> tuple[Analysis, bool]:
        """The analysis, and whether it completed; one that fails on hostile input still yields an (empty,
        truncated) analysis, so the call is blocked, never crashed."""
        try:
            return analyse(tool, args, normalize=self.normalize, workspace=self.workspace), True
        except Exception as exc:  # fail closed: nothing was seen, so nothing may pass
            reason = f"could not be analysed ({_describe(exc)})"
            return Analysis(tool, tool.lower(), args, [], True, cut_reason=reason, workspace=self.workspace), False

    def _cache_key(self, tool: str, args: dict[str, Any], context: Mapping[str, Any]) -> tuple[str, str] | None:
        """The verdict cache's key for this call, or None when the call must be judged afresh: the cache is
        off, a custom check is registered (user code may read anything), the context carries more than
        ``session_id``, or the arguments are not plain and small (``canonical_key``)."""
        cache = self.verdict_cache
        if cache is None or self._custom:
            return None
        for k in context:
            if k not in _CACHE_NEUTRAL_KEYS:
                return None
        config = (self.scope, self._settings, self._content, self.normalize, self.workspace, self._scope_on)
        if config != self._cache_config:  # element by element, identity first: in C
            cache.clear()  # the configuration changed since the entries were computed
            self._cache_config = config
        return canonical_key(tool, args)

    def _static(self, a: Analysis, context: Mapping[str, Any]) -> tuple[list[Violation], bool]:
        """Built-in content checks and scope: everything that needs no user callable; and whether every check
        ran to its end (a check that raised fails closed, and that verdict is not cached)."""
        scope = self.scope
        settings = self._settings
        override = context.get("scope") if context else None
        if override:
            if not isinstance(override, Mapping):
                raise InvalidAction("context['scope'] must be a mapping")
            try:
                scope = scope.merged(override)
            except Exception as exc:
                raise InvalidAction(f"context['scope'] is not a valid scope: {_describe(exc)}") from None
            settings = self._make_settings(scope)
        out: list[Violation] = []
        clean = True
        if a.truncated:  # we could not look at everything: fail closed
            why = a.cut_reason or f"nest deeper than {MAX_DEPTH} levels or hold over {MAX_TEXTS} strings"
            out.append(
                Violation(
                    "scope_enforcement",
                    f"arguments {why}; not fully verifiable",
                    "medium",
                )
            )
        for name, fn in self._content:
            try:
                found = fn(a, settings)
            except Exception as exc:  # fail closed
                found = [_error_violation(name, exc)]
                clean = False
            if found:
                out.extend(found)
        if self._scope_on and (scope.allowed_tools or scope.blocked_tools or scope.restricts_content):
            try:
                out.extend(check_scope(a, scope))
            except Exception as exc:
                out.append(_error_violation("scope_enforcement", exc))
                clean = False
        return out, clean

    def _intent(self, a: Analysis, goal: str) -> Generator[Awaitable[Any], Any, IntentResult]:
        """The heuristic's score, combined with the llm's when there is one (``intent.combine``). An llm that
        raises or answers something that is not a score raises here, so the call is blocked (fail closed)."""
        threshold = self.intent.threshold
        heuristic = heuristic_intent(a, goal, threshold=threshold)
        llm = self.intent.llm
        if llm is None:
            return heuristic
        raw = llm(intent_prompt(a.tool, a.args, goal))
        if inspect.isawaitable(raw):
            raw = yield raw
        score = parse_score(raw)
        if score is None:
            raise ValueError(f"llm answer is not a score in 0..1: {str(raw)[:80]!r}")
        return combine(heuristic, llm_result(score, threshold), llm_weight=self.intent.llm_weight, threshold=threshold)

    def _finish(
        self,
        tool: str,
        args: dict[str, Any],
        fingerprint: int | Analysis,
        context: Mapping[str, Any],
        violations: list[Violation],
        intent: IntentResult | None,
        t0: int,
    ) -> Verdict:
        """The verdict: the goal's violation, the rate limiter (``fingerprint``: the call's, or the analysis to
        compute it from when the limiter runs), the most severe violation and the per-call fields."""
        if intent is not None and not intent.aligned:
            violations.append(
                Violation(
                    "intent_alignment",
                    f"action does not match the user's goal (score {intent.score:.2f} < "
                    f"{self.intent.threshold:.2f}): {intent.reason}",
                    "high",
                )
            )
        session = context.get("session_id") if context else None
        session_key = session if type(session) is str or isinstance(session, str) else ""
        limiter = self.limiter
        if limiter is not None:
            if not isinstance(fingerprint, int):  # computed only here: the repr of a large call is not free
                fingerprint = _fingerprint(fingerprint)
            hit = limiter.hit(session_key or "<default>", fingerprint)
            if hit is not None:
                violations.append(hit)
        if violations:
            # one pass: the most severe violation (first among equals) and the highest confidence
            top = violations[0]
            top_rank = SEVERITY_RANK.get(top.severity, 0)
            confidence = _CONFIDENCE.get(top.severity, 0.6)
            for v in violations:
                sev = v.severity
                rank = SEVERITY_RANK.get(sev, 0)
                if rank > top_rank:
                    top, top_rank = v, rank
                c = _CONFIDENCE.get(sev, 0.6)
                if c > confidence:
                    confidence = c
            verdict = Verdict(
                False,
                tuple(violations),
                confidence,
                intent,
                (_perf_ns() - t0) / 1000.0,
                tool,
                decision="block",
                rule=f"verifier.{top.policy}",
                args=MappingProxyType(args),
                session_id=session_key,
                at=_wall(),
            )
        else:
            verdict = Verdict(
                True,
                (),
                intent.score if intent is not None else 1.0,
                intent,
                (_perf_ns() - t0) / 1000.0,
                tool,
                decision="allow",
                args=MappingProxyType(args),
                session_id=session_key,
                at=_wall(),
            )
        if not self.on_verdict:
            return verdict
        for callback in self.on_verdict:
            with contextlib.suppress(Exception):  # a broken observer must not change or break the decision
                callback(verdict)
        return verdict

    def _flow(self, action: Any, context: Mapping[str, Any] | None) -> Generator[Awaitable[Any], Any, Verdict]:
        """The whole decision, written once. It yields each awaitable a user callable returned (an async
        custom check or llm) and is sent back its result; ``verify`` and ``averify`` differ only in how they
        wait for it."""
        t0 = time.perf_counter_ns()
        tool, args, context = self._read(action, context)
        key = self._cache_key(tool, args, context)
        cache = self.verdict_cache
        if key is not None and cache is not None:
            entry = cache.get(key)
            if entry is not None:  # the same call, judged before under this configuration
                return self._finish(tool, args, entry[1], context, list(entry[0]), None, t0)
        a, complete = self._analyse(tool, args)
        violations, clean = self._static(a, context)
        if key is not None and cache is not None and complete and clean:
            # no custom check and no goal (``_cache_key``): nothing below but the rate limiter can add to these
            cache.put(key, tuple(violations), hash(key))
        intent = None
        if self._intent_on and context:
            try:
                goal = goal_text(context)
            except Exception as exc:
                goal = ""
                violations.append(_error_violation("intent_alignment", exc))
            if goal:
                try:
                    intent = yield from self._intent(a, goal)
                except Exception as exc:
                    violations.append(_error_violation("intent_alignment", exc))
        call = ToolCall(a.tool, MappingProxyType(a.args), a) if self._custom else None
        for name, fn in self._custom.items():
            try:
                result = fn(call, context)  # type: ignore[arg-type]
                if inspect.isawaitable(result):
                    result = yield result
                violations.extend(_custom_violations(name, result))
            except Exception as exc:
                violations.append(_error_violation(f"custom:{name}", exc))
        return self._finish(a.tool, a.args, hash(key) if key is not None else a, context, violations, intent, t0)

    def verify(self, action: Any, context: Mapping[str, Any] | None = None) -> Verdict:
        """Verify one action synchronously. Async custom checks and llm callables are awaited on a helper
        thread when a loop is already running here (e.g. in Jupyter); prefer ``averify`` there."""
        flow = self._flow(action, context)
        try:
            pending = next(flow)
            while True:
                try:
                    value = run_sync(pending, thread_name="sentinel-verify-async")
                except Exception as exc:  # handed back, so the flow's own error handling applies
                    pending = flow.throw(exc)
                else:
                    pending = flow.send(value)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def averify(self, action: Any, context: Mapping[str, Any] | None = None) -> Verdict:
        """Verify one action, awaiting async custom checks and an async llm callable."""
        flow = self._flow(action, context)
        try:
            pending = next(flow)
            while True:
                try:
                    value = await pending
                except Exception as exc:
                    pending = flow.throw(exc)
                else:
                    pending = flow.send(value)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def reset(self, session_id: str | None = None) -> None:
        """Forget rate-limit history for one session, or for all."""
        if self.limiter is not None:
            self.limiter.reset(None if session_id is None else session_id)

    def rate_limit_stats(self) -> dict[str, int] | None:
        """The rate limiter's ``stats()`` (sessions tracked, bound, live sessions evicted, idle ones expired),
        or None when rate limiting is off."""
        return None if self.limiter is None else self.limiter.stats()


def _describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, even when its ``str()`` itself fails; at most 200 characters."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _fingerprint(a: Analysis) -> int:
    """What makes two calls identical for the rate limiter: the tool and the repr of its arguments; when the
    repr fails (deeper than the recursion limit, an integer past the int/str limit) the analysed strings."""
    try:
        return hash((a.tool, repr(a.args)))
    except Exception:
        return hash((a.tool, a.cut_reason, tuple(t.raw for t in a.texts)))
