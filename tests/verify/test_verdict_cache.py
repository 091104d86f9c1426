"""The verdict cache: a repeated call reuses what the built-in checks found, and nothing else.

Cached verdicts equal fresh ones on the whole mix; the rate limiter and the per-call fields (time, session,
elapsed, arguments) stay per call; a context that can change the verdict (scope, goal), custom checks, a
configuration change, a check that raised and arguments that are not plain values all bypass or empty it.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from sentinel_lab import Verifier
from sentinel_lab._core.errors import PolicyError
from sentinel_lab._verify.cache import MAX_KEY_CHARS, VerdictCache, canonical_key, clear_all
from sentinel_lab.bench import MIX


def _ticking() -> Any:
    tick = itertools.count()
    return lambda: float(next(tick))


def _same(a: Any, b: Any) -> None:
    assert (a.allowed, a.decision, a.rule, a.confidence, a.violations, a.intent) == (
        b.allowed,
        b.decision,
        b.rule,
        b.confidence,
        b.violations,
        b.intent,
    )


def test_cached_verdicts_equal_fresh_ones_on_the_mix() -> None:
    cached = Verifier(workspace="/workspace/project", rate_limit=False)
    fresh = Verifier(workspace="/workspace/project", rate_limit=False, cache=False)
    assert fresh.verdict_cache is None and cached.verdict_cache is not None
    for _ in range(3):
        for action in MIX:
            _same(cached.verify(action), fresh.verify(action))
    stats = cached.verdict_cache.stats()
    assert stats["hits"] == 2 * len(MIX) and stats["misses"] == len(MIX) and stats["entries"] == len(MIX)


def test_per_call_fields_stay_per_call() -> None:
    ver = Verifier(workspace="/workspace/project", rate_limit=False)
    action = {"tool": "read_file", "args": {"path": "src/main.py"}}
    first = ver.verify(action, {"session_id": "one"})
    second = ver.verify(action, {"session_id": "two"})
    assert ver.verdict_cache is not None and ver.verdict_cache.stats()["hits"] == 1
    assert (first.session_id, second.session_id) == ("one", "two")
    assert second.at >= first.at and second.elapsed_us > 0
    assert second.args == {"path": "src/main.py"} and second.args is not first.args
    seen: list[Any] = []
    ver.on_verdict.append(seen.append)
    third = ver.verify(action)
    assert seen == [third]


def test_rate_limit_trips_on_cached_verdicts() -> None:
    ver = Verifier(rate_limit={"max_identical": 2, "identical_window": 60}, clock=lambda: 5.0)
    action = {"tool": "read_file", "args": {"path": "README.md"}}
    verdicts = [ver.verify(action, {"session_id": "s"}) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].top is not None and verdicts[-1].top.policy == "rate_limit"
    assert ver.verdict_cache is not None and ver.verdict_cache.stats()["hits"] == 2
    # another session has its own window, and the cached verdict it gets is the plain one
    assert ver.verify(action, {"session_id": "other"}).allowed
    # the whole-window limit counts cached calls too
    busy = Verifier(rate_limit={"max_calls": 3, "window": 60}, clock=lambda: 5.0)
    calls = [{"tool": "read_file", "args": {"path": f"f{i % 2}.md"}} for i in range(4)]
    assert [busy.verify(c).allowed for c in calls] == [True, True, True, False]


@pytest.mark.parametrize(
    "context",
    [
        {"scope": {"allowed_tools": ["search"]}},
        {"user_goal": "book a flight to Paris"},
        {"conversation": [{"role": "user", "content": "book a flight to Paris"}]},
        {"session_id": "s", "weekday": "sun"},
    ],
)
def test_a_context_that_can_change_the_verdict_bypasses_the_cache(context: dict[str, Any]) -> None:
    ver = Verifier(workspace="/workspace/project", rate_limit=False)
    action = {"tool": "read_file", "args": {"path": "src/main.py"}}
    assert ver.verify(action).allowed  # cached, allowed
    assert ver.verdict_cache is not None
    before = ver.verdict_cache.stats()
    judged = ver.verify(action, context)
    assert ver.verdict_cache.stats() == before  # neither looked up nor stored
    fresh = Verifier(workspace="/workspace/project", rate_limit=False, cache=False).verify(action, context)
    _same(judged, fresh)
    if "scope" in context:
        assert not judged.allowed  # read_file is outside the per-call scope
    if "user_goal" in context or "conversation" in context:
        assert judged.intent is not None  # judged against the goal, which the cached verdict never was


def test_custom_checks_invalidate_and_bypass_the_cache() -> None:
    ver = Verifier(workspace="/workspace/project", rate_limit=False)
    action = {"tool": "deploy", "args": {"target": "prod"}}
    assert ver.verify(action).allowed and ver.verify(action).allowed
    assert ver.verdict_cache is not None and ver.verdict_cache.stats()["hits"] == 1

    @ver.check("no_deploys")
    def no_deploys(call: Any, context: Any) -> str | None:
        return "no deployments today" if call.tool == "deploy" else None

    blocked = ver.verify(action)
    assert not blocked.allowed and blocked.top is not None and blocked.top.policy == "custom:no_deploys"
    assert len(ver.verdict_cache) == 0
    ver.remove_check("no_deploys")
    assert ver.verify(action).allowed


def test_configuration_changes_empty_the_cache() -> None:
    ver = Verifier(workspace="/workspace/project", rate_limit=False)
    action = {"tool": "read_file", "args": {"path": "src/main.py"}}
    assert ver.verify(action).allowed
    ver.scope = ver.scope.merged({"blocked_tools": ["read_file"]})
    assert not ver.verify(action).allowed


def test_a_check_that_raises_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    ver = Verifier(workspace="/workspace/project", rate_limit=False)
    calls = {"n": 0}

    def flaky(a: Any, s: Any) -> list[Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise MemoryError("transient")
        return []

    ver._content = [*ver._content, ("system_commands", flaky)]
    action = {"tool": "read_file", "args": {"path": "src/main.py"}}
    assert not ver.verify(action).allowed  # failed closed
    assert ver.verify(action).allowed  # judged again, not served the failure
    assert ver.verify(action).allowed and calls["n"] == 2  # now cached


class _Sneaky(str):
    def __repr__(self) -> str:
        return "'src/main.py'"


def test_only_plain_small_arguments_are_keyed() -> None:
    assert canonical_key("t", {"a": [1, 1.0, True, None, ("x",)], "b": {"c": "d"}}) is not None
    assert canonical_key("t", {"a": 1}) != canonical_key("t", {"a": 1.0}) != canonical_key("t", {"a": True})
    assert canonical_key("t", {"a": _Sneaky("/etc/shadow")}) is None
    assert canonical_key("t", {"a": b"bytes"}) is None
    assert canonical_key("t", {"a": {1: "int key"}}) is None
    assert canonical_key("t", {"a": "x" * MAX_KEY_CHARS}) is None
    assert canonical_key("t", {"a": [[]] * 1000}) is None
    assert canonical_key("t", {"a": 10**5000}) is None
    ver = Verifier(workspace="/workspace/project", rate_limit=False)
    assert ver.verify({"tool": "read_file", "args": {"path": "src/main.py"}}).allowed
    sneaky = ver.verify({"tool": "read_file", "args": {"path": _Sneaky("~/.ssh/id_rsa")}})
    assert not sneaky.allowed  # a str subclass whose repr lies is judged, never looked up


def test_bounded_lru_and_switches() -> None:
    cache = VerdictCache(2)
    cache.put("a", (), 1)
    cache.put("b", (), 2)
    assert cache.get("a") == ((), 1)
    cache.put("c", (), 3)
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2
    clear_all()
    assert len(cache) == 0
    ver = Verifier(rate_limit=False, cache=3)
    for i in range(10):
        ver.verify({"tool": "read_file", "args": {"path": f"f{i}.md"}})
    assert ver.verdict_cache is not None and len(ver.verdict_cache) == 3
    assert Verifier(cache=0).verdict_cache is None
    with pytest.raises(PolicyError):
        Verifier(cache=-1)
    with pytest.raises(ValueError):
        VerdictCache(0)
