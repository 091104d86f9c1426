"""Flow rules and gateway upstreams in the policy: validation with the key path, and the engine's decisions."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel_lab._core.errors import PolicyError
from sentinel_lab._policy.flows import destinations
from sentinel_lab._policy.model import Policy
from sentinel_lab._policy.upstreams import name_problem, namespaced, split_name

BASE = """
upstreams:
  web: {command: [python, web.py]}
  mail: {url: "http://127.0.0.1:9/mcp"}
  fs: {command: [python, fs.py], env: {LOG: "1"}, cwd: /tmp}
static_rules: {"web__*": ALLOW, "mail__*": ALLOW, "fs__*": ALLOW}
verifier: false
"""

FLOWS = (
    BASE
    + """
taint_rules:
  - {tool: "fs__read_secret", action: ADD_TAINT, taint_tags: [secret]}
  - {tool: "fs__forget", action: REMOVE_TAINT, taint_tags: [secret]}
flows:
  - name: no-send-after-untrusted-read
    after: {upstreams: [web]}
    deny: {sends: true}
    unless: {hosts: [api.github.com, "*.example.com"]}
  - name: no-mail-after-secret
    after: {taints: [secret]}
    deny: {tools: ["mail__send_*"]}
"""
)


def _error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as exc:
        Policy.from_yaml(text, source="p.yaml")
    return exc.value


def test_a_send_outside_the_allowed_hosts_after_an_untrusted_read_is_denied_naming_the_flow() -> None:
    s = Policy.from_yaml(FLOWS).new_session()
    url = {"url": "https://evil.test/collect?d=x"}
    assert s.check("mail__post", url).allowed  # nothing untrusted was read yet
    s.record("web__fetch", {"url": "https://news.test"})
    verdict = s.check("mail__post", url)
    assert not verdict.allowed and verdict.rule == "flows.no-send-after-untrusted-read"
    assert verdict.violations[0].policy == "flows"
    assert "no-send-after-untrusted-read" in verdict.reason and "evil.test" in verdict.reason
    # allowed destinations pass, subdomains on a label boundary only; e-mail domains count as destinations
    assert s.check("mail__post", {"url": "https://api.github.com/repos"}).allowed
    assert s.check("mail__post", {"to": "bob@team.example.com"}).allowed
    assert not s.check("mail__post", {"to": "bob@notexample.com"}).allowed
    assert not s.check("mail__post", {"url": "https://api.github.com.evil.test/"}).allowed
    # a call naming no destination is not a send; the rule denies only sends
    assert s.check("fs__read_file", {"path": "/tmp/notes.txt"}).allowed


def test_a_denied_tool_without_a_readable_destination_fails_closed() -> None:
    p = Policy.from_yaml(
        BASE
        + """
flows:
  - name: f
    after: {tools: ["web__*"]}
    deny: {tools: ["mail__*"]}
    unless: {hosts: [example.com]}
"""
    )
    s = p.new_session()
    s.record("WEB__fetch", {})  # arming matches ignoring case, as restricting rules do
    verdict = s.check("mail__send", {"body": "hello"})
    assert not verdict.allowed and "no destination host could be read" in verdict.reason
    assert s.check("mail__send", {"to": "a@example.com", "body": "hi"}).allowed
    assert not s.check("Mail__Send", {"to": "a@evil.test"}).allowed


def test_a_taint_armed_flow_follows_the_taint() -> None:
    s = Policy.from_yaml(FLOWS).new_session()
    assert s.check("mail__send_email", {"to": "a@example.com"}).allowed
    s.record("fs__read_secret", {})
    verdict = s.check("mail__send_email", {"to": "a@example.com"})
    assert not verdict.allowed and verdict.rule == "flows.no-mail-after-secret"
    assert "['secret']" in verdict.reason
    s.record("fs__forget", {})
    assert s.check("mail__send_email", {"to": "a@example.com"}).allowed


def test_a_call_that_did_not_run_arms_nothing_and_audit_mode_flags() -> None:
    p = Policy.from_yaml(FLOWS)
    s = p.new_session()
    s.record("web__fetch", {}, ok=False)
    assert s.check("mail__post", {"url": "https://evil.test"}).allowed
    a = p.with_mode("audit").new_session()
    a.record("web__fetch", {})
    verdict = a.check("mail__post", {"url": "https://evil.test"})
    assert verdict.allowed and verdict.decision == "flag" and verdict.rule == "flows.no-send-after-untrusted-read"


def test_flows_round_trip_and_reset() -> None:
    p = Policy.from_yaml(FLOWS)
    assert Policy.from_dict(p.to_dict()) == p
    assert p.to_dict()["upstreams"]["fs"] == {"command": ["python", "fs.py"], "env": {"LOG": "1"}, "cwd": "/tmp"}
    s = p.new_session()
    s.record("web__fetch", {})
    assert s.state.flows == {"no-send-after-untrusted-read"}
    s.reset()
    assert s.state.flows == frozenset()


def test_destinations_read_urls_hosts_and_addresses_not_prose() -> None:
    assert destinations("t", {"url": "https://A.Example.com/x", "to": "x@mail.test"}) == ("a.example.com", "mail.test")
    assert destinations("t", {"body": "see the docs at docs.python.org for details"}) == ()


def test_namespace_names() -> None:
    assert namespaced("fs", "read_file") == "fs__read_file"
    assert split_name("fs__read__file") == ("fs", "read__file")
    assert split_name("read_file") is None and split_name("fs__") is None
    for bad in ("", "1fs", "f s", "fs.x", "my__fs", "fs_", "x" * 33):
        assert name_problem(bad) is not None, bad
    for good in ("fs", "my_fs", "web-2", "A1"):
        assert name_problem(good) is None, good


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("upstreams: {fs: {comand: [x]}}", "upstreams.fs.comand", "did you mean 'command'"),
        ("upstreams: {fs: {command: [x]}, FS: {command: [y]}}", "upstreams.FS", "duplicate namespace"),
        ("upstreams: {my__fs: {command: [x]}}", "upstreams.my__fs", "separator '__'"),
        ("upstreams: {fs.x: {command: [x]}}", "upstreams.fs.x", "only ASCII letters"),
        ("upstreams: {fs: {command: python x.py}}", "upstreams.fs.command", "list of words"),
        ("upstreams: {fs: {command: [x], url: 'http://h/mcp'}}", "upstreams.fs", "exactly one"),
        ("upstreams: {fs: {url: 'ftp://h/mcp'}}", "upstreams.fs.url", "http:// or https://"),
        ("upstreams: {fs: {url: 'http://h/mcp', env: {A: b}}}", "upstreams.fs.env", "applies to a 'command'"),
        ("upstreams: {fs: {command: [x], cwd: rel}}", "upstreams.fs.cwd", "absolute"),
        ("upstreams: {fs: {command: [x], env: {A: 1}}}", "upstreams.fs.env.A", "non-empty string"),
        ("upstreams: {}", "upstreams", "at least one upstream"),
        ("upstreams: {fs: {command: [x]}}\nstatic_rules: {fss__read: ALLOW}", "static_rules.fss__read", "'fs__...'"),
        ("upstreams: {fs: {command: [x]}}\nstatic_rules: {read_file: ALLOW}", "static_rules.read_file", "never match"),
        (
            "upstreams: {fs: {command: [x]}}\ntaint_rules: [{tool: fx__a, action: ADD_TAINT, tag: t}]",
            "taint_rules[0].tool",
            "names no upstream",
        ),
    ],
)
def test_upstream_errors_name_the_key(text: str, key: str, words: str) -> None:
    exc = _error(text)
    assert exc.key == key and words in str(exc), str(exc)
    assert exc.line is not None


FLOW_ERRORS: list[tuple[Any, str, str]] = [
    ({"after": {"upstreams": ["web"]}, "deny": {"sends": True}}, "flows[0]", "needs 'name'"),
    ({"name": "f", "after": {"upstream": ["web"]}, "deny": {"sends": True}}, "flows[0].after.upstream", "upstreams"),
    ({"name": "f", "after": {"upstreams": ["wbe"]}, "deny": {"sends": True}}, "flows[0].after.upstreams[0]", "'web'"),
    ({"name": "f", "after": {}, "deny": {"sends": True}}, "flows[0].after", "what arms the rule"),
    ({"name": "f", "after": {"taints": ["t"]}, "deny": {"sends": "yes"}}, "flows[0].deny.sends", "true or false"),
    ({"name": "f", "after": {"taints": ["t"]}, "deny": {"sends": False}}, "flows[0].deny", "what the rule refuses"),
    (
        {"name": "f", "after": {"taints": ["t"]}, "deny": {"sends": True}, "unless": {"host": ["a.com"]}},
        "flows[0].unless.host",
        "hosts",
    ),
    (
        {"name": "f", "after": {"taints": ["t"]}, "deny": {"sends": True}, "unless": {"hosts": ["https://a.com/"]}},
        "flows[0].unless.hosts[0]",
        "host name",
    ),
    ({"name": "f", "after": {"tools": ["mial__*"]}, "deny": {"sends": True}}, "flows[0].after.tools[0]", "'mail__"),
    ({"name": "f", "after": {"taints": ["t"]}, "deny": {"sends": True}, "severity": "High"}, "flows[0].severity", ""),
]


@pytest.mark.parametrize(("flow", "key", "words"), FLOW_ERRORS)
def test_flow_errors_name_the_key(flow: Any, key: str, words: str) -> None:
    data = Policy.from_yaml(BASE).to_dict()
    data["flows"] = [flow]
    with pytest.raises(PolicyError) as exc:
        Policy.from_dict(data)
    assert exc.value.key == key and words in str(exc.value), str(exc.value)


def test_duplicate_flow_names() -> None:
    flow = {"name": "f", "after": {"taints": ["t"]}, "deny": {"sends": True}}
    data = Policy.from_yaml(BASE).to_dict()
    data["flows"] = [flow, dict(flow)]
    with pytest.raises(PolicyError, match="duplicate flow name") as exc:
        Policy.from_dict(data)
    assert exc.value.key == "flows[1].name"


def test_flows_without_upstreams_work_on_plain_tool_names() -> None:
    p = Policy.from_yaml(
        """
static_rules: {fetch: ALLOW, post: ALLOW}
flows: [{name: f, after: {tools: [fetch]}, deny: {tools: [post]}}]
verifier: false
"""
    )
    s = p.new_session()
    s.record("fetch", {})
    assert not s.check("post", {}).allowed and s.check("fetch", {}).allowed
