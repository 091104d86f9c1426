"""ASK in policies, the approval digest and the single-use, expiring approval store (pure, injected clock)."""

from __future__ import annotations

import pytest

from sentinel_lab import Policy, PolicyError
from sentinel_lab._policy.approvals import ApprovalStore, approval_digest, canonical_json, policy_digest

POLICY = {
    "static_rules": {"send_email": "ASK", "read_file": "ALLOW", "rm": "DENY", "pay.*": "ASK"},
    "argument_rules": [
        {"tool": "read_file", "arg": "path", "deny_if": {"glob": "/secret/**"}, "action": "ASK"},
        {"tool": "send_email", "arg": "to", "deny_unless": {"in": ["alice@example.com", "bob@example.com"]}},
    ],
    "verifier": {"enabled": False},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_static_ask_returns_an_ask_verdict_with_the_digest() -> None:
    policy = Policy.from_dict(POLICY)
    session = policy.new_session(session_id="s1")
    verdict = session.check("send_email", {"to": "alice@example.com", "body": "hi"})
    assert (verdict.allowed, verdict.decision, verdict.rule) == (False, "ask", "static_rules.send_email")
    assert verdict.approval == approval_digest(
        "s1", "send_email", {"to": "alice@example.com", "body": "hi"}, policy_digest(policy)
    )
    assert verdict.reason.startswith("approval required")
    assert verdict.to_dict()["approval"] == verdict.approval
    # an ASK glob asks too, and an allowed call carries no digest
    assert session.check("pay.invoice", {}).decision == "ask"
    allowed = session.check("read_file", {"path": "/tmp/x"})
    assert allowed.decision == "allow" and allowed.approval == "" and "approval" not in allowed.to_dict()


def test_a_denial_wins_over_an_ask() -> None:
    session = Policy.from_dict(POLICY).new_session(session_id="s1")
    verdict = session.check("send_email", {"to": "mallory@example.com"})
    assert (verdict.decision, verdict.rule, verdict.approval) == ("block", "argument_rules[1]", "")


def test_argument_rule_ask() -> None:
    session = Policy.from_dict(POLICY).new_session(session_id="s1")
    asked = session.check("read_file", {"path": "/secret/plans.txt"})
    assert (asked.decision, asked.rule) == ("ask", "argument_rules[0]") and len(asked.approval) == 64


def test_verifier_finding_ask_by_check_and_by_severity() -> None:
    base = {"static_rules": {"fetch": "ALLOW", "exec": "ALLOW"}}
    by_check = Policy.from_dict({**base, "verifier": {"on_finding": {"internal_access": "ASK"}}})
    call = {"url": "http://169.254.169.254/latest/meta-data/"}
    verdict = by_check.new_session(session_id="a").check("fetch", call)
    assert verdict.decision == "ask" and verdict.rule == "verifier.on_finding.internal_access"
    # a finding of another check still denies
    denied = by_check.new_session(session_id="a").check("exec", {"command": "rm -rf /"})
    assert denied.decision == "block"
    # a check's own DENY beats its severity's ASK
    mixed = Policy.from_dict(
        {**base, "verifier": {"on_finding": {"critical": "ASK", "high": "ASK", "internal_access": "DENY"}}}
    )
    assert mixed.new_session(session_id="b").check("fetch", call).decision == "block"


def test_audit_mode_flags_an_ask_without_asking() -> None:
    verdict = Policy.from_dict({**POLICY, "mode": "audit"}).new_session().check("send_email", {"to": "bob@example.com"})
    assert (verdict.allowed, verdict.decision, verdict.approval) == (True, "flag", "")


def test_ask_round_trips_and_is_visible() -> None:
    policy = Policy.from_dict({**POLICY, "verifier": {"on_finding": {"medium": "ASK"}}})
    again = Policy.from_dict(policy.to_dict())
    assert again == policy and policy_digest(again) == policy_digest(policy)
    assert policy.tool_allowed("send_email") and policy.tool_allowed("pay.x") and not policy.tool_allowed("rm")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"static_rules": {"x": "ASKK"}}, "expected one of ALLOW, DENY, ASK"),
        ({"static_rules": {"x": "ask"}}, "spelling and case must be exact"),
        (
            {"argument_rules": [{"tool": "x", "arg": "a", "deny_if": {"equals": 1}, "action": "ALLOW"}]},
            "expected one of DENY, ASK",
        ),
        ({"verifier": {"on_finding": {"internal_acess": "ASK"}}}, "did you mean 'internal_access'"),
        ({"verifier": {"on_finding": {"medium": "ALLOW"}}}, "expected one of DENY, ASK"),
        ({"verifier": {"on_findings": {}}}, "did you mean 'on_finding'"),
        ({"default_action": "ASK"}, "expected one of ALLOW, DENY"),
    ],
)
def test_misspelt_asks_are_clear_errors(data: dict[str, object], needle: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict(data)
    assert needle in str(info.value)


def test_digest_binds_every_field_and_ignores_key_order() -> None:
    base = approval_digest("s1", "send_email", {"to": "a", "cc": ["b", "c"]}, "p1")
    assert base == approval_digest("s1", "send_email", {"cc": ["b", "c"], "to": "a"}, "p1")
    assert (
        len(
            {
                base,
                approval_digest("s2", "send_email", {"to": "a", "cc": ["b", "c"]}, "p1"),
                approval_digest("s1", "mail__send_email", {"to": "a", "cc": ["b", "c"]}, "p1"),
                approval_digest("s1", "send_email", {"to": "a", "cc": ["c", "b"]}, "p1"),
                approval_digest("s1", "send_email", {"to": "a", "cc": ["b", "c"], "x": None}, "p1"),
                approval_digest("s1", "send_email", {"to": 1}, "p1"),
                approval_digest("s1", "send_email", {"to": "1"}, "p1"),
                approval_digest("s1", "send_email", {"to": "a", "cc": ["b", "c"]}, "p2"),
            }
        )
        == 8
    )
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_policy_digest_changes_with_the_policy() -> None:
    one = Policy.from_dict(POLICY)
    other = Policy.from_dict({**POLICY, "static_rules": {**POLICY["static_rules"], "extra": "ALLOW"}})  # type: ignore[dict-item]
    assert policy_digest(one) != policy_digest(other)
    call = {"to": "alice@example.com"}
    assert (
        one.new_session(session_id="s").check("send_email", call).approval
        != other.new_session(session_id="s").check("send_email", call).approval
    )


def test_store_grants_once_and_refuses_a_replay() -> None:
    store = ApprovalStore(clock=Clock())
    ask = store.open("d" * 64, tool="send_email", session_id="s1")
    first = store.answer(ask.ticket, "d" * 64, accepted=True)
    assert first.granted and first.request == ask and len(store) == 0
    again = store.answer(ask.ticket, "d" * 64, accepted=True)
    assert (again.granted, again.event) == (False, "replayed") and "new approval" in again.reason


def test_store_refusal_forgery_and_mismatch() -> None:
    store = ApprovalStore(clock=Clock())
    ask = store.open("d" * 64)
    assert store.answer(ask.ticket, "d" * 64, accepted=False).event == "refused"
    assert store.answer("forged-ticket", "d" * 64, accepted=True).event == "unknown"
    assert store.answer(None, "d" * 64, accepted=True).event == "unknown"
    other = store.open("d" * 64)
    changed = store.answer(other.ticket, "e" * 64, accepted=True)
    assert changed.event == "mismatch" and not changed.granted
    assert store.answer(other.ticket, "d" * 64, accepted=True).event == "replayed"  # the mismatch spent it


def test_store_expiry_with_an_injected_clock() -> None:
    clock = Clock()
    store = ApprovalStore(ttl_s=60, clock=clock)
    late = store.open("d" * 64)
    clock.now += 60  # exactly at the expiry it still counts
    on_time = store.open("d" * 64)
    assert store.answer(on_time.ticket, "d" * 64, accepted=True).granted
    clock.now += 0.5
    outcome = store.answer(late.ticket, "d" * 64, accepted=True)
    assert (outcome.granted, outcome.event) == (False, "expired")
    stale = store.open("d" * 64)
    clock.now += 61
    assert store.expire() == [stale] and len(store) == 0
    assert store.answer(stale.ticket, "d" * 64, accepted=True).event == "replayed"


def test_store_bounds_open_asks() -> None:
    store = ApprovalStore(clock=Clock(), max_open=2)
    first = store.open("a" * 64)
    store.open("b" * 64)
    store.open("c" * 64)
    assert len(store) == 2 and store.answer(first.ticket, "a" * 64, accepted=True).event == "replayed"
    with pytest.raises(ValueError):
        ApprovalStore(ttl_s=0)
