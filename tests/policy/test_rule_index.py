"""Indexed rules decide exactly as a scan of every rule does: the static decision, the argument, CHECK_TAINT
and taint-effect rules of a tool, over many random policies and tool names (globs, classes, case, casefold
expansions, unclosed brackets); and an unlisted tool's lookup does not visit the rules."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sentinel_lab._policy.model import ArgumentRule, Policy, TaintRule
from sentinel_lab._text.glob import ToolIndex, ToolPattern, tool_matches

_PIECES = ("read", "Read", "file", "_", ".", "fs", "ß", "ss", "K", "k", "\u212a", "x", "ﬁ", "fi", "1")
_WILD = ("*", "?", "[a-f]", "[!x]", "[", "[]]", "*_*", "[.]")


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 4)))


def _pattern(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return _name(rng)
    parts = [rng.choice(_PIECES + _WILD) for _ in range(rng.randint(1, 5))]
    return "".join(parts) or "*"


def _tools(rng: random.Random, patterns: list[str]) -> list[str]:
    """Names near the patterns (a pattern itself, its case flipped, its wildcards filled) and random ones."""
    out = [_name(rng) for _ in range(20)]
    for p in rng.sample(patterns, min(len(patterns), 15)):
        filled = p.replace("*", rng.choice(("", "read", "_x_"))).replace("?", "a").replace("[a-f]", "c")
        out += [p, p.swapcase(), filled, filled.upper(), filled.casefold()]
    return out


def _random_policy(rng: random.Random) -> tuple[Policy, list[str]]:
    patterns: list[str] = []

    def pick() -> str | list[str]:
        chosen = [_pattern(rng) for _ in range(rng.randint(1, 3))]
        patterns.extend(chosen)
        return chosen[0] if len(chosen) == 1 and rng.random() < 0.5 else chosen

    static = {}
    for _ in range(rng.randint(0, 12)):
        p = _pattern(rng)
        patterns.append(p)
        static[p] = rng.choice(("ALLOW", "DENY", "ASK"))
    arguments = [{"tool": pick(), "arg": "to", "deny_unless": {"in": ["a"]}} for _ in range(rng.randint(0, 10))]
    taints: list[dict[str, Any]] = []
    for _ in range(rng.randint(0, 10)):
        action = rng.choice(("ADD_TAINT", "CHECK_TAINT", "REMOVE_TAINT"))
        tags = [rng.choice(("PII", "SECRET", "*" if action == "CHECK_TAINT" else "WEB"))]
        key = "forbidden_taints" if action == "CHECK_TAINT" else "taint_tags"
        taints.append({"tool": pick(), "action": action, key: tags})
    spec = {
        "default_action": rng.choice(("ALLOW", "DENY")),
        "static_rules": static,
        "argument_rules": arguments,
        "taint_rules": taints,
        "verifier": {"enabled": False},
    }
    return Policy.from_dict(spec), patterns


def _scan_static(policy: Policy, tool: str) -> tuple[str, str]:
    """The static stage as the schema states it, one rule at a time."""
    for r in policy.static_rules:
        if not r.tool.is_glob and r.pattern == tool:
            return r.action, f"static_rules.{tool}"
    for r in policy.static_rules:
        if r.action == "DENY" and tool_matches(tool, (r.tool,), deny=True):
            return "DENY", f"static_rules.{r.pattern}"
    for action in ("ASK", "ALLOW"):
        for r in policy.static_rules:
            if r.action == action and r.tool.is_glob and tool_matches(tool, (r.tool,), deny=False):
                return action, f"static_rules.{r.pattern}"
    for r in (*policy.argument_rules, *policy.taint_rules):
        if tool in r.tools.names:
            return "ALLOW", r.name
    return policy.default_action, "default_action"


def _scan_arguments(policy: Policy, tool: str) -> tuple[ArgumentRule, ...]:
    return tuple(r for r in policy.argument_rules if r.tools.matches(tool, deny=True))


def _scan_checks(policy: Policy, tool: str) -> tuple[TaintRule, ...]:
    return tuple(r for r in policy.taint_rules if r.action == "CHECK_TAINT" and r.tools.matches(tool, deny=True))


def _scan_effects(policy: Policy, tool: str) -> tuple[TaintRule, ...]:
    return tuple(
        r
        for r in policy.taint_rules
        if r.action != "CHECK_TAINT" and r.tools.matches(tool, deny=r.action == "ADD_TAINT")
    )


@pytest.mark.parametrize("seed", range(8))
def test_indexed_lookups_equal_a_scan_of_every_rule(seed: int) -> None:
    rng = random.Random(seed)
    compared = 0
    for _ in range(60):
        policy, patterns = _random_policy(rng)
        for tool in _tools(rng, patterns or ["x"]):
            assert policy.static_decision(tool) == _scan_static(policy, tool), (tool, policy.to_dict())
            assert policy.argument_rules_for(tool) == _scan_arguments(policy, tool), tool
            assert policy.taint_checks_for(tool) == _scan_checks(policy, tool), tool
            assert policy.taint_effects_for(tool) == _scan_effects(policy, tool), tool
            compared += 1
    assert compared > 2000


@pytest.mark.parametrize("deny", [True, False])
def test_the_tool_index_answers_as_tool_matches_for_each_pattern(deny: bool) -> None:
    rng = random.Random(deny)
    for _ in range(200):
        patterns = [ToolPattern(_pattern(rng)) for _ in range(rng.randint(1, 30))]
        index = ToolIndex(enumerate(patterns), deny=deny)
        for tool in _tools(rng, [p.pattern for p in patterns]):
            expected = tuple(i for i, p in enumerate(patterns) if tool_matches(tool, (p,), deny=deny))
            assert index.lookup(tool) == expected, (tool, [p.pattern for p in patterns])
            assert index.first(tool) == (expected[0] if expected else None)


@pytest.mark.parametrize("deny", [True, False])
def test_an_index_of_plain_names_answers_as_tool_matches(deny: bool) -> None:
    """The one-probe path of an index without globs, repeated names (several keys for one name) included."""
    rng = random.Random(10 + deny)
    for _ in range(200):
        names = [_name(rng) for _ in range(rng.randint(1, 12))]
        names += rng.sample(names, min(3, len(names)))  # a name listed twice, under two keys
        patterns = [ToolPattern(n) for n in names]
        index = ToolIndex(enumerate(patterns), deny=deny)
        for tool in _tools(rng, names):
            expected = tuple(i for i, p in enumerate(patterns) if tool_matches(tool, (p,), deny=deny))
            assert index.lookup(tool) == expected, (tool, names)


def test_deny_cannot_be_evaded_by_case_through_the_index() -> None:
    policy = Policy.from_dict(
        {"default_action": "ALLOW", "static_rules": {"execute_shell": "DENY", "fs.*": "DENY", "fs.read": "ALLOW"}}
    )
    assert policy.static_decision("Execute_Shell") == ("DENY", "static_rules.execute_shell")
    assert policy.static_decision("FS.write") == ("DENY", "static_rules.fs.*")
    assert policy.static_decision("fs.read") == ("ALLOW", "static_rules.fs.read")  # an exact name decides first


def test_an_unlisted_tool_visits_no_rule_of_a_large_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [{"tool": f"tool_{i}", "arg": "to", "deny_unless": {"in": ["a"]}} for i in range(3000)]
    rules += [{"tool": f"tool_{i}_*", "arg": "to", "deny_unless": {"in": ["a"]}} for i in range(3000)]
    static = {f"svc_{i}.*": "DENY" for i in range(3000)}
    policy = Policy.from_dict({"default_action": "ALLOW", "static_rules": static, "argument_rules": rules})
    tried: list[str] = []
    original = type(policy.static_rules[0].tool.exact).match

    def counting(self: Any, text: str) -> bool:
        tried.append(self.pattern)
        return bool(original(self, text))

    monkeypatch.setattr(type(policy.static_rules[0].tool.exact), "match", counting)
    assert policy.argument_rules_for("unlisted") == () and policy.static_decision("unlisted")[1] == "default_action"
    assert tried == []  # no glob's literal part fits: not one glob was matched
    assert [r.name for r in policy.argument_rules_for("tool_7_send")] == ["argument_rules[3007]"]
    assert len(tried) <= 3  # only the globs whose literal prefix the name carries
    assert policy.static_decision("SVC_12.stop") == ("DENY", "static_rules.svc_12.*")
