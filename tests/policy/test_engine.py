"""The policy engine: evaluation order, every argument-rule condition, taint timing, audit mode, session
isolation, deterministic replay with a clock, and the verifier stage."""

from __future__ import annotations

import threading
from fnmatch import fnmatchcase
from typing import Any

import pytest
from _growth import assert_linear
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel_lab import PolicyError
from sentinel_lab._policy.conditions import Glob, host_of
from sentinel_lab._policy.engine import Session, SessionState, decide, record
from sentinel_lab._policy.model import Policy


def _policy(body: str, *, verifier: bool = False) -> Policy:
    return Policy.from_yaml(body + ("" if verifier else "\nverifier: false\n"), source="test.yaml")


def _rule(tool: str, arg: str, kind: str, cond: str) -> Policy:
    return _policy(f"argument_rules:\n  - tool: {tool}\n    arg: '{arg}'\n    {kind}: {cond}\n")


def _allowed(p: Policy, tool: str, args: dict[str, Any]) -> bool:
    return p.new_session().check(tool, args).allowed


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------------------ conditions
def test_equals_in_not_in() -> None:
    p = _rule("t", "mode", "deny_if", "{equals: dangerous}")
    assert not _allowed(p, "t", {"mode": "dangerous"}) and _allowed(p, "t", {"mode": "safe"})
    p = _rule("t", "flag", "deny_if", "{equals: 1}")
    assert not _allowed(p, "t", {"flag": 1}) and not _allowed(p, "t", {"flag": 1.0})
    assert not _allowed(p, "t", {"flag": True})  # an int-typed server field reads true as 1 (pydantic lax mode)
    assert not _allowed(p, "t", {"flag": "1"}) and _allowed(p, "t", {"flag": "2"})
    p = _rule("pay", "to", "deny_unless", "{in: [alice, bob]}")
    assert _allowed(p, "pay", {"to": "alice"}) and not _allowed(p, "pay", {"to": "mallory"})
    assert not _allowed(p, "pay", {"to": ["alice"]})  # a list is not one of the strings
    p = _rule("pay", "to", "deny_if", "{not_in: [alice, bob]}")
    assert _allowed(p, "pay", {"to": "bob"}) and not _allowed(p, "pay", {"to": "eve"})


def test_glob_condition() -> None:
    p = _rule("slack", "channel", "deny_if", "{glob: ['ext-*', 'shared-?']}")
    assert not _allowed(p, "slack", {"channel": "ext-partners"})
    assert not _allowed(p, "slack", {"channel": "shared-1"})
    assert _allowed(p, "slack", {"channel": "shared-12"}) and _allowed(p, "slack", {"channel": "team-ext-x"})
    p = _rule("f", "name", "deny_unless", "{glob: '[a-z]*.txt'}")
    assert _allowed(p, "f", {"name": "notes.txt"}) and not _allowed(p, "f", {"name": "Notes.txt"})
    assert not _allowed(p, "f", {"name": 5})


def test_regex_condition_is_a_search() -> None:
    p = _rule("db", "sql", "deny_if", "{regex: '(?i)\\bdrop\\s+table\\b'}")
    assert not _allowed(p, "db", {"sql": "select 1; DROP  TABLE users"})
    assert _allowed(p, "db", {"sql": "select dropped_tables from t"})
    p = _rule("pay", "iban", "deny_unless", "{regex: '^DE[0-9]{20}$'}")
    assert _allowed(p, "pay", {"iban": "DE89370400440532013000"})
    assert not _allowed(p, "pay", {"iban": "GB89370400440532013000"})


def test_min_max_conditions() -> None:
    p = _rule("pay", "amount", "deny_unless", "{min: 0.01, max: 1000}")
    assert _allowed(p, "pay", {"amount": 10}) and _allowed(p, "pay", {"amount": "999.5"})
    for bad in (1000.01, 0, -5, "5000", "lots", float("nan"), "inf", True, None, "5_000", "0x10000"):
        assert not _allowed(p, "pay", {"amount": bad}), bad
    assert _allowed(p, "pay", {"amount": "1_0"})  # pydantic reads it as 10
    assert not _allowed(p, "pay", {})  # missing fails deny_unless


def test_host_in_condition() -> None:
    p = _rule("mail", "to", "deny_unless", "{host_in: [corp.example, 10.0.0.0/8]}")
    ok = [
        "a@corp.example",
        "a@mx.corp.example",
        "https://corp.example/x",
        "https://u:p@corp.example:8443/",
        "CORP.EXAMPLE.",
        "http://10.1.2.3/",
        "mailto:x@corp.example?subject=hi",
        "http://[::ffff:10.0.0.1]/",
    ]
    bad = ["a@corp.example.evil.net", "a@badcorp.example", "https://evil.net/?corp.example",
           "https://corp.example\\@evil.net/", "https://evil.net#@corp.example", "http://11.0.0.1/",
           "", "not a host at all", "a@corp.example@evil.net"]  # fmt: skip
    for v in ok:
        assert _allowed(p, "mail", {"to": v}), v
    for v in bad:
        assert not _allowed(p, "mail", {"to": v}), v
    deny = _rule("http", "url", "deny_if", "{host_in: [evil.net]}")
    assert not _allowed(deny, "http", {"url": "https://evil%2enet/"})  # percent-encoded dot
    assert not _allowed(deny, "http", {"url": "https://EVIL.net./x"})
    assert _allowed(deny, "http", {"url": "https://notevil.net/"})


def test_path_under_condition() -> None:
    p = _rule("write", "path", "deny_unless", "{path_under: [/workspace/project]}")
    assert _allowed(p, "write", {"path": "/workspace/project/src/a.py"})
    assert _allowed(p, "write", {"path": "/workspace/project/src/../README.md"})
    for bad in ["/workspace/project/../other/x", "/workspace/project-secrets/x", "/etc/passwd", "~/x",
                "src/a.py", "/workspace/project/\x00x", "/workspace/project\\..\\..\\etc"]:  # fmt: skip
        assert not _allowed(p, "write", {"path": bad}), bad
    # relative paths are taken from the verifier workspace when the policy sets one
    rel = Policy.from_yaml(
        "argument_rules:\n  - {tool: w, arg: path, deny_unless: {path_under: [/workspace/project]}}\n"
        "verifier: {workspace: /workspace/project, checks: []}\n"
    )
    assert _allowed(rel, "w", {"path": "src/a.py"}) and not _allowed(rel, "w", {"path": "../x"})


def test_present_condition() -> None:
    p = _rule("t", "confirm", "deny_unless", "{present: true}")
    assert _allowed(p, "t", {"confirm": False}) and not _allowed(p, "t", {})
    p = _rule("t", "sudo", "deny_if", "{present: true}")
    assert not _allowed(p, "t", {"sudo": None}) and _allowed(p, "t", {"x": 1})
    p = _rule("t", "reason", "deny_if", "{present: false}")
    assert not _allowed(p, "t", {}) and _allowed(p, "t", {"reason": "ok"})


def test_conditions_are_anded_and_both_kinds_in_one_rule() -> None:
    p = _policy(
        "argument_rules:\n  - tool: pay\n    arg: amount\n    deny_if: {min: 100, max: 200}\n"
        "    deny_unless: {max: 1000}\n"
    )
    assert not _allowed(p, "pay", {"amount": 150})  # deny_if: both bounds hold
    assert _allowed(p, "pay", {"amount": 50}) and _allowed(p, "pay", {"amount": 500})
    assert not _allowed(p, "pay", {"amount": 5000})  # deny_unless fails


def test_argument_paths() -> None:
    p = _rule("mail", "to[*]", "deny_unless", "{host_in: [corp.example]}")
    assert _allowed(p, "mail", {"to": ["a@corp.example", "b@corp.example"]})
    assert not _allowed(p, "mail", {"to": ["a@corp.example", "b@evil.net"]})
    assert not _allowed(p, "mail", {"to": "b@evil.net"})  # a scalar where a list was expected is checked
    assert _allowed(p, "mail", {"to": []}) and _allowed(p, "mail", {})  # [*] over nothing selects nothing
    p = _rule("pay", "payment.recipients[*].iban", "deny_unless", "{regex: '^DE'}")
    assert _allowed(p, "pay", {"payment": {"recipients": [{"iban": "DE1"}, {"iban": "DE2"}]}})
    assert not _allowed(p, "pay", {"payment": {"recipients": [{"iban": "DE1"}, {"name": "x"}]}})
    p = _rule("f", "files[0].name", "deny_if", "{equals: secret}")
    assert not _allowed(p, "f", {"files": [{"name": "secret"}, {"name": "b"}]})
    assert _allowed(p, "f", {"files": [{"name": "b"}, {"name": "secret"}]})


def test_normalised_reading_is_checked() -> None:
    p = _rule("t", "user", "deny_if", "{equals: root}")
    assert not _allowed(p, "t", {"user": "ro\u200bot"})  # zero-width space
    assert not _allowed(p, "t", {"user": "\uff52\uff4f\uff4f\uff54"})  # full-width letters
    allow = _rule("t", "user", "deny_unless", "{in: [alice]}")
    assert not _allowed(allow, "t", {"user": "alice\u200b"})  # raw must pass too
    assert _allowed(allow, "t", {"user": "alice"})


def test_argument_rule_glob_tools_and_messages() -> None:
    p = _policy(
        "static_rules: {'http.*': ALLOW}\n"
        "argument_rules:\n  - tool: 'http.*'\n    arg: url\n    deny_unless: {host_in: [api.example]}\n"
        "    message: only the API\n    severity: critical\n"
    )
    s = p.new_session()
    v = s.check("http.post", {"url": "https://evil.example/"})
    assert not v.allowed and v.reason == "only the API" and v.severity == "critical"
    assert v.rule == "argument_rules[0]" and v.policy == "argument_rules"
    assert s.check("http.get", {"url": "https://api.example/v1"}).allowed
    default_msg = _rule("t", "x", "deny_if", "{equals: 1}").new_session().check("t", {"x": 1})
    assert "argument 'x' of 't'" in default_msg.reason and "argument_rules[0]" in default_msg.reason


def test_linear_on_large_arguments() -> None:
    p = _policy(
        "argument_rules:\n"
        "  - {tool: t, arg: x, deny_if: {glob: '*a*a*a*a*b'}}\n"
        "  - {tool: t, arg: x, deny_if: {regex: 'a*a*a*a*c'}}\n"
        "  - {tool: t, arg: x, deny_if: {host_in: [evil.net]}}\n"
        "  - {tool: t, arg: x, deny_if: {path_under: [/etc]}}\n"
    )
    s = p.new_session()
    assert s.check("t", {"x": "a" * 20_000}).allowed
    assert s.check("t", {"x": "/" * 200_000}).allowed
    for payload in ("a" * 80_000, "/" * 400_000, "/etc/" + "../" * 100_000):  # CPU-time ratio, 4x the input
        assert_linear(lambda text: s.check("t", {"x": text}), payload)


# ------------------------------------------------------------------------------------------ order
def test_static_stage_blocks_before_other_rules() -> None:
    p = _policy(
        "static_rules: {exec: DENY, ok: ALLOW}\nargument_rules:\n  - {tool: exec, arg: cmd, deny_if: {present: true}}\n"
    )
    s = p.new_session()
    v = s.check("exec", {"cmd": "ls"})
    assert not v.allowed and v.rule == "static_rules.exec" and len(v.violations) == 1
    assert v.decision == "block" and v.policy == "static_rules"
    v = s.check("other", {})
    assert not v.allowed and v.rule == "default_action" and "not listed" in v.reason
    v = s.check("ok", {})
    assert v.allowed and v.decision == "allow" and v.rule == "static_rules.ok" and v.reason == "allowed"


def test_order_argument_then_taint_then_verifier() -> None:
    p = _policy(
        "static_rules: {send: ALLOW, read: ALLOW}\n"
        "argument_rules:\n  - {tool: send, arg: to, deny_unless: {host_in: [corp.example]}}\n"
        "taint_rules:\n  - {tool: read, action: ADD_TAINT, taint_tags: [PII]}\n"
        "  - {tool: send, action: CHECK_TAINT, forbidden_taints: [PII]}\n"
        "verifier: {checks: [internal_access]}\n",
        verifier=True,
    )
    s = p.new_session()
    s.record("read", {})
    v = s.check("send", {"to": "http://169.254.169.254/"})  # fails all three: the argument rule decides
    assert v.rule == "argument_rules[0]" and len(v.violations) == 1
    v = s.check("send", {"to": "a@corp.example"})
    assert v.rule == "taint_rules[1]"
    s.reset()
    v = s.check("send", {"to": "http://corp.example/", "url": "http://169.254.169.254/latest/meta-data"})
    assert not v.allowed and v.rule == "verifier.internal_access" and v.policy == "internal_access"
    assert s.check("send", {"to": "a@corp.example"}).allowed


def test_verifier_stage_and_its_switches() -> None:
    body = "static_rules: {fetch: ALLOW}\n"
    args = {"url": "http://169.254.169.254/latest/meta-data/"}
    on = Policy.from_yaml(body)
    v = on.new_session().check("fetch", args)
    assert not v.allowed and v.rule == "verifier.internal_access" and v.confidence > 0.5
    off = Policy.from_yaml(body + "verifier: {checks: {internal_access: false}}")
    assert off.new_session().check("fetch", args).allowed
    assert Policy.from_yaml(body + "verifier: {enabled: false}").new_session().check("fetch", args).allowed


# ------------------------------------------------------------------------------------------ taints
TAINTS = """
static_rules: {get_profile: ALLOW, send_email: ALLOW, redact: ALLOW, read_vault: ALLOW, post: ALLOW}
taint_rules:
  - {tool: get_profile, action: ADD_TAINT, taint_tags: [PII]}
  - {tool: read_vault, action: ADD_TAINT, tag: [SECRET, AUDITED]}
  - {tool: send_email, action: CHECK_TAINT, forbidden_taints: [PII], message: "no email after PII"}
  - {tool: 'po*', action: CHECK_TAINT, forbidden_tags: ['*'], error: "nothing may be posted once tainted"}
  - {tool: redact, action: REMOVE_TAINT, taint_tags: [PII]}
"""


def test_taint_added_on_record_ok_not_on_check() -> None:
    s = _policy(TAINTS).new_session()
    assert s.check("get_profile", {}).allowed
    assert s.taints == frozenset() and s.check("send_email", {}).allowed
    s.record("get_profile", {}, ok=False)  # the call failed: nothing was read
    assert s.taints == frozenset() and s.check("send_email", {}).allowed
    assert s.record("get_profile", {}) == frozenset({"PII"})
    v = s.check("send_email", {})
    assert not v.allowed and v.reason == "no email after PII" and v.taints == frozenset({"PII"})
    s.record("redact", {}, ok=False)
    assert s.taints == frozenset({"PII"})
    s.record("redact", {})
    assert s.taints == frozenset() and s.check("send_email", {}).allowed


def test_taint_wildcard_and_glob_tool() -> None:
    s = _policy(TAINTS).new_session()
    assert s.check("post", {}).allowed
    s.record("read_vault", {})
    assert s.taints == frozenset({"SECRET", "AUDITED"})
    v = s.check("post", {})
    assert not v.allowed and v.reason == "nothing may be posted once tainted" and v.rule == "taint_rules[3]"
    assert s.check("send_email", {}).allowed  # send_email forbids only PII
    s.reset()
    assert s.taints == frozenset() and s.check("post", {}).allowed


def test_verdict_taints_are_those_at_check_time() -> None:
    s = _policy(TAINTS).new_session()
    before = s.check("get_profile", {})
    s.record("get_profile", {})
    assert before.taints == frozenset() and s.check("get_profile", {}).taints == frozenset({"PII"})


def test_sessions_never_share_state() -> None:
    p = _policy(TAINTS)
    a, b = p.new_session(), p.new_session()
    assert a.id != b.id
    a.record("get_profile", {})
    assert a.taints == frozenset({"PII"}) and b.taints == frozenset()
    assert not a.check("send_email", {}).allowed and b.check("send_email", {}).allowed
    named = p.new_session(session_id="client-7")
    assert named.id == "client-7" and named.check("get_profile", {}).session_id == "client-7"


def test_rate_limits_are_per_session() -> None:
    p = Policy.from_yaml("static_rules: {t: ALLOW}\nverifier: {rate_limit: {max_calls: 2, window: 60}}")
    a, b = p.new_session(), p.new_session()
    assert [a.check("t", {"i": i}).allowed for i in range(3)] == [True, True, False]
    assert b.check("t", {"i": 0}).allowed  # b has its own history
    assert a.check("t", {}).rule == "verifier.rate_limit"
    a.reset()
    assert a.check("t", {"i": 9}).allowed


# ------------------------------------------------------------------------------------------ pure form
def test_decide_and_record_are_pure() -> None:
    p = _policy(TAINTS)
    s0 = SessionState("sess-1")
    v, s1 = decide(p, s0, "get_profile", {"id": 1})
    assert v.allowed and s1 == s0 and v.session_id == "sess-1"
    s2 = record(p, s1, "get_profile", {"id": 1}, ok=True)
    assert s2.taints == frozenset({"PII"}) and s1.taints == frozenset() and s2.id == "sess-1"
    assert record(p, s1, "get_profile", {}, ok=False) is s1
    v1, _ = decide(p, s2, "send_email", {})
    v2, _ = decide(p, s2, "send_email", {})
    assert not v1.allowed and (v1.allowed, v1.rule, v1.violations) == (v2.allowed, v2.rule, v2.violations)


def test_bad_calls_fail_closed() -> None:
    s = _policy("default_action: ALLOW").new_session()
    for tool, args in [("", {}), (None, {}), ("t", ["not", "a", "mapping"]), ("t", "x=1")]:
        v = s.check(tool, args)  # type: ignore[arg-type]
        assert not v.allowed and v.policy == "invalid_call"
    assert s.check("t", None).allowed  # MCP arguments are optional


def test_args_in_verdict_are_a_read_only_copy() -> None:
    s = _policy("default_action: ALLOW").new_session()
    args = {"x": 1}
    v = s.check("t", args)
    args["x"] = 2
    assert v.args["x"] == 1
    with pytest.raises(TypeError):
        v.args["x"] = 3  # type: ignore[index]


# ------------------------------------------------------------------------------------------ audit mode
def test_audit_mode_flags_instead_of_blocking() -> None:
    p = Policy.from_yaml(
        "mode: audit\nstatic_rules: {exec: DENY, send: ALLOW, fetch: ALLOW}\n"
        "argument_rules:\n  - {tool: send, arg: to, deny_unless: {host_in: [corp.example]}}\n"
        "taint_rules:\n  - {tool: read, action: ADD_TAINT, tag: PII}\n"
        "  - {tool: send, action: CHECK_TAINT, forbidden_taints: [PII]}\n"
        "verifier: {checks: [internal_access]}\n"
    )
    s = p.new_session()
    v = s.check("exec", {})
    assert v.allowed and v.decision == "flag" and v.rule == "static_rules.exec" and v.violations
    s.record("read", {})
    v = s.check("send", {"to": "http://169.254.169.254/"})
    assert v.allowed and v.decision == "flag" and v.rule == "argument_rules[0]"
    assert [x.policy for x in v.violations] == ["argument_rules", "taint_rules", "internal_access"]
    v = s.check("send", {"to": "a@corp.example"})
    assert v.decision == "flag" and v.rule == "taint_rules[1]"
    v = s.check("fetch", {"u": "https://corp.example"})
    assert v.allowed and v.decision == "allow" and not v.violations
    assert s.check("never_listed", {}).decision == "flag"


# ------------------------------------------------------------------------------------------ replay
def _trace(session: Session, clock: FakeClock) -> list[tuple[float, str, bool, str]]:
    out = []
    steps = [(0.0, "t", 1), (0.5, "t", 2), (1.0, "t", 3), (1.5, "t", 4), (9.0, "t", 5), (11.6, "t", 6), (11.7, "t", 7)]
    for at, tool, n in steps:
        clock.now = 1000.0 + at
        v = session.check(tool, {"n": n})
        out.append((at, tool, v.allowed, v.rule))
    return out


def test_clock_replays_rate_limit_deterministically() -> None:
    p = Policy.from_yaml("static_rules: {t: ALLOW}\nverifier: {rate_limit: {max_calls: 3, window: 10}}")
    runs = []
    for _ in range(2):
        clock = FakeClock()
        runs.append(_trace(p.new_session(clock=clock), clock))
    assert runs[0] == runs[1]
    assert [ok for _, _, ok, _ in runs[0]] == [True, True, True, False, False, True, True]
    assert runs[0][3][3] == "verifier.rate_limit"


def test_clock_sessions_do_not_disturb_shared_ones() -> None:
    p = Policy.from_yaml("static_rules: {t: ALLOW}\nverifier: {rate_limit: {max_calls: 1, window: 100}}")
    clock = FakeClock()
    replay = p.new_session(clock=clock, session_id="same")
    live = p.new_session(session_id="same")
    assert replay.check("t", {}).allowed and live.check("t", {}).allowed  # separate limiters
    clock.now += 200
    assert replay.check("t", {"x": 1}).allowed and not live.check("t", {"x": 1}).allowed


def test_concurrent_records_lose_nothing() -> None:
    tags = [f"T{i}" for i in range(40)]
    body = "static_rules: {}\ntaint_rules:\n" + "".join(
        f"  - {{tool: src{i}, action: ADD_TAINT, tag: {t}}}\n" for i, t in enumerate(tags)
    )
    s = _policy(body).new_session()
    threads = [threading.Thread(target=s.record, args=(f"src{i}", {})) for i in range(len(tags))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.taints == frozenset(tags)


def test_acheck_awaits_async_custom_checks() -> None:
    import asyncio

    p = Policy.from_yaml("static_rules: {t: ALLOW}\nverifier: {checks: []}")
    s = p.new_session(clock=FakeClock())  # its own verifier: custom checks stay off the shared one
    assert s.verifier is not None

    async def no_big(call: Any, context: Any) -> Any:
        await asyncio.sleep(0)
        return None if call.args.get("n", 0) < 10 else "n too big"

    s.verifier.add_check("no_big", no_big)
    assert asyncio.run(s.acheck("t", {"n": 1})).allowed
    v = asyncio.run(s.acheck("t", {"n": 11}))
    assert not v.allowed and v.reason == "n too big" and v.rule == "verifier.custom:no_big"
    assert p.new_session().check("t", {"n": 11}).allowed


def test_with_mode_turns_blocks_into_flags() -> None:
    enforce = _policy("static_rules: {exec: DENY}")
    audit = enforce.with_mode("audit")
    assert enforce.mode == "enforce" and audit.mode == "audit" and audit.source == enforce.source
    assert not enforce.new_session().check("exec", {}).allowed
    v = audit.new_session().check("exec", {})
    assert v.allowed and v.decision == "flag" and v.rule == "static_rules.exec"
    with pytest.raises(PolicyError):
        enforce.with_mode("Audit")


# ------------------------------------------------------------------------------------------ properties
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_ALL_KINDS = Policy.from_yaml(
    "default_action: ALLOW\nargument_rules:\n"
    "  - {tool: t, arg: 'a[*].b', deny_if: {equals: x, in: [1, y], glob: '*z?', min: 1, max: 9}}\n"
    "  - {tool: t, arg: a, deny_unless: {not_in: [q], regex: '^[a-z]*$', host_in: [h.example, 10.0.0.0/8]}}\n"
    "  - {tool: t, arg: 'c.d[0]', deny_if: {path_under: [/etc], present: true}}\n"
    "taint_rules:\n  - {tool: t, action: CHECK_TAINT, forbidden_taints: ['*']}\n"
    "verifier: false\n"
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*?", max_size=8), st.text(alphabet="ab", max_size=10))
def test_glob_agrees_with_fnmatch(pattern: str, text: str) -> None:
    assert Glob(pattern).match(text) == fnmatchcase(text, pattern)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), _JSON, max_size=3))
def test_engine_never_raises_on_odd_arguments(args: dict[str, Any]) -> None:
    v = _ALL_KINDS.new_session().check("t", args)
    assert v.decision in ("allow", "block")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_host_of_never_raises(text: str) -> None:
    host = host_of(text)
    assert host is None or (host and host == host.lower() and "@" not in host)


@pytest.mark.parametrize(
    "path",
    [
        "/workspace/%2e%2e/etc/passwd",
        "/workspace/%252e%252e/etc/passwd",
        "/workspace/..%2fetc/passwd",
        "/workspace/....//etc/passwd",
        "file:///workspace/%2e%2e/etc/passwd",
    ],
)
def test_path_under_reads_paths_as_the_verifier_does(path: str) -> None:
    """One path canonicaliser: an encoded or disguised ``..`` climbs out of the root for the policy too."""
    from sentinel_lab import Verifier

    p = _rule("write", "path", "deny_unless", "{path_under: [/workspace]}")
    assert not _allowed(p, "write", {"path": path})
    deny = _rule("write", "path", "deny_if", "{path_under: [/etc]}")
    assert not _allowed(deny, "write", {"path": path})
    verdict = Verifier(workspace="/workspace", rate_limit=False, scope={"allowed_roots": ["/workspace"]}).verify(
        {"tool": "write", "args": {"path": path}}
    )
    assert not verdict.allowed


def test_path_under_nul_byte_fails_closed_both_ways() -> None:
    deny = _rule("write", "path", "deny_if", "{path_under: [/etc]}")
    assert not _allowed(deny, "write", {"path": "/etc/passwd\x00.txt"})  # the OS reads up to the NUL
    unless = _rule("write", "path", "deny_unless", "{path_under: [/workspace]}")
    assert not _allowed(unless, "write", {"path": "/workspace/a\x00b"})


def test_tool_names_deny_ignoring_case_and_allow_exactly() -> None:
    p = _policy(
        "default_action: DENY\nstatic_rules:\n  execute_shell: DENY\n  'fs.delete*': DENY\n  read_file: ALLOW\n"
        "  'fs.*': ALLOW\n"
    )
    assert p.static_decision("Execute_Shell")[0] == "DENY"
    assert p.static_decision("FS.Delete_All")[0] == "DENY"
    assert p.static_decision("read_file")[0] == "ALLOW" and p.static_decision("Read_File")[0] == "DENY"
    assert p.static_decision("fs.read")[0] == "ALLOW" and p.static_decision("FS.read")[0] == "DENY"
    rule = _policy(
        "default_action: ALLOW\nargument_rules:\n  - {tool: send_money, arg: to, deny_unless: {in: [alice]}}\n"
    )
    assert not _allowed(rule, "Send_Money", {"to": "mallory"})
    assert _allowed(rule, "send_money", {"to": "alice"})


def test_scope_tool_names_use_the_same_rule() -> None:
    from sentinel_lab import Verifier

    v = Verifier(rate_limit=False, scope={"blocked_tools": ["exec*"], "allowed_tools": ["read_file", "exec_x"]})
    assert not v.verify({"tool": "EXEC_x", "args": {}}).allowed
    assert v.verify({"tool": "read_file", "args": {}}).allowed
    assert not v.verify({"tool": "READ_FILE", "args": {}}).allowed
