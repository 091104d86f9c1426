"""Policy files: the schema, both taint-rule spellings, shipped policies, and every PolicyError case."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from _growth import assert_linear

from sentinel_lab import PolicyError
from sentinel_lab._policy import conditions as rules
from sentinel_lab._policy.model import Policy

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"

SEED_README_EXAMPLE = """\
static_rules:
  query_db: ALLOW
  execute_shell: DENY

taint_rules:
  - tool: get_user_profile
    action: ADD_TAINT
    taint_tags: [PII]
    
  - tool: send_email
    action: CHECK_TAINT
    forbidden_taints: [PII]
    message: "Cannot email after accessing PII"
"""  # noqa: W293 - the README's text, trailing spaces included

RUST_SPELLING = """\
id: pol-1
customer_id: cust-9
name: rust-style
version: "1.0"
created_at: 2024-05-01
static_rules:
  query_db: ALLOW
  execute_shell: DENY
taint_rules:
  - tool_class: get_user_profile
    action: ADD_TAINT
    tag: PII
  - tool: send_email
    action: CHECK_TAINT
    forbidden_tags: [PII]
    error: "Cannot email after accessing PII"
"""


def _err(text: str, source: str = "bad.yaml") -> PolicyError:
    with pytest.raises(PolicyError) as info:
        Policy.from_yaml(text, source=source)
    return info.value


def _assert_where(e: PolicyError, line: int, key: str, *words: str) -> None:
    msg = str(e)
    assert e.file == "bad.yaml" and "bad.yaml" in msg, msg
    assert e.line == line and f"bad.yaml:{line}:" in msg, msg
    assert e.key == key and f"'{key}'" in msg, msg
    for w in words:
        assert w in msg, msg


# ------------------------------------------------------------------------------------------ shipped files
SHIPPED = sorted(POLICIES_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_policies_load(path: Path) -> None:
    p = Policy.load(path)
    assert p.source == str(path)
    assert p.default_action in ("ALLOW", "DENY")
    assert Policy.from_dict(p.to_dict()) == p


def test_required_policies_are_shipped() -> None:
    names = {p.name for p in SHIPPED}
    assert {"seed_example.yaml", "strict.yaml", "enterprise.yaml"} <= names


def test_strict_file_is_the_default() -> None:
    strict = Policy.load(POLICIES_DIR / "strict.yaml")
    assert strict == Policy.default()
    d = Policy.default()
    assert d.default_action == "DENY" and d.mode == "enforce" and not d.static_rules
    assert d.verifier.enabled and d.spotlight.scan_output == "block" and d.proxy.pin_tools == "block"
    assert not d.tool_allowed("anything")


def test_seed_example_file_is_the_readme_example() -> None:
    shipped = Policy.load(POLICIES_DIR / "seed_example.yaml")
    assert shipped == Policy.from_yaml(SEED_README_EXAMPLE)


def test_seed_readme_example_behaves_as_written() -> None:
    p = Policy.from_yaml(SEED_README_EXAMPLE)
    s = p.new_session()
    assert s.check("query_db", {"sql": "SELECT * FROM users"}).allowed
    v = s.check("execute_shell", {"cmd": "ls"})
    assert not v.allowed and v.rule == "static_rules.execute_shell"
    assert s.check("send_email", {"to": "ops@example.com", "body": "weekly report"}).allowed
    assert s.check("get_user_profile", {"user_id": 7}).allowed
    assert s.taints == frozenset()  # asking is not reading
    s.record("get_user_profile", {"user_id": 7})
    v = s.check("send_email", {"to": "ops@example.com", "body": "weekly report"})
    assert not v.allowed
    assert v.reason == "Cannot email after accessing PII"
    assert v.rule == "taint_rules[1]" and v.taints == frozenset({"PII"})
    assert not s.check("delete_everything", {}).allowed  # unlisted: the seed's default DENY


def test_rust_spellings_equal_readme_spellings() -> None:
    rust = Policy.from_yaml(RUST_SPELLING)
    readme = Policy.from_yaml(SEED_README_EXAMPLE)
    assert rust.taint_rules[0].tags == ("PII",) and rust.taint_rules[1].tags == ("PII",)
    assert rust.taint_rules[1].message == "Cannot email after accessing PII"
    assert rust.metadata["customer_id"] == "cust-9" and rust.metadata["created_at"] == "2024-05-01"
    assert rust.metadata["version"] == "1.0" and rust.name == "rust-style"
    s = rust.new_session()
    s.record("get_user_profile", {})
    assert s.check("send_email", {}).reason == "Cannot email after accessing PII"
    # same rules; only metadata and the tool_class spelling differ
    a, b = rust.to_dict(), readme.to_dict()
    assert a["taint_rules"][1] == b["taint_rules"][1]
    assert a["static_rules"] == b["static_rules"]


def test_enterprise_policy_settings() -> None:
    p = Policy.load(POLICIES_DIR / "enterprise.yaml")
    assert p.metadata["customer_id"] == "acme-corp"
    assert {"pii_sources", "secret_sources", "external_sinks"} <= set(p.tool_classes)
    assert p.session.key_env == "ACME_SENTINEL_KEY" and p.proxy.max_message_bytes == 8388608
    assert p.verifier.workspace == "/workspace/project"
    assert p.tool_allowed("fs.read_file") and not p.tool_allowed("crm.export_all")
    assert not p.tool_allowed("read_env") and not p.tool_allowed("unknown_tool")


# ------------------------------------------------------------------------------------------ model
def test_typed_settings_defaults_and_values() -> None:
    d = Policy.from_yaml("static_rules: {a: ALLOW}")
    assert (d.spotlight.enabled, d.spotlight.scan_output) == (True, "flag")
    assert (d.session.require, d.session.key_env) == (False, "SENTINEL_SESSION_KEY")
    assert (d.proxy.deny_style, d.proxy.hide_denied_tools, d.proxy.pin_tools) == ("error", True, "warn")
    assert d.proxy.max_message_bytes == 16 * 1024 * 1024
    p = Policy.from_yaml(
        "spotlight: {enabled: false, scan_output: block}\n"
        "session: {require: true, key_env: MY_KEY}\n"
        "proxy: {deny_style: result, hide_denied_tools: false, pin_tools: off, max_message_bytes: 1024}\n"
    )
    assert (p.spotlight.enabled, p.spotlight.scan_output) == (False, "block")
    assert (p.session.require, p.session.key_env) == (True, "MY_KEY")
    assert (p.proxy.deny_style, p.proxy.hide_denied_tools, p.proxy.pin_tools) == ("result", False, "off")
    assert p.proxy.max_message_bytes == 1024


def test_policy_is_immutable() -> None:
    p = Policy.load(POLICIES_DIR / "enterprise.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.mode = "audit"  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.metadata["name"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.proxy.pin_tools = "off"  # type: ignore[misc]
    d = p.to_dict()
    d["static_rules"]["execute_shell"] = "ALLOW"
    d["argument_rules"][0]["deny_unless"]["path_under"] = ["/"]
    assert not p.tool_allowed("execute_shell")
    assert p.to_dict()["argument_rules"][0]["deny_unless"]["path_under"] == ["/workspace/project"]


def test_to_yaml_round_trip() -> None:
    p = Policy.load(POLICIES_DIR / "enterprise.yaml")
    assert Policy.from_yaml(p.to_yaml()) == p
    assert Policy.from_yaml(p.to_yaml()).to_dict() == p.to_dict()


def test_static_rule_resolution() -> None:
    p = Policy.from_yaml(
        "static_rules:\n  'fs.*': ALLOW\n  'fs.del*': DENY\n  fs.delete_tmp: ALLOW\n  'net.*': ALLOW\n"
        "argument_rules:\n  - {tool: pay, arg: amount, deny_unless: {max: 10}}\n"
        "taint_rules:\n  - {tool: mail, action: CHECK_TAINT, forbidden_taints: [PII]}\n"
        "  - {tool: 'crm.*', action: ADD_TAINT, tag: PII}\n"
    )
    assert p.static_decision("fs.read") == ("ALLOW", "static_rules.fs.*")
    assert p.static_decision("fs.delete") == ("DENY", "static_rules.fs.del*")  # DENY wins among globs
    assert p.static_decision("fs.delete_tmp") == ("ALLOW", "static_rules.fs.delete_tmp")  # exact wins
    assert p.static_decision("pay") == ("ALLOW", "argument_rules[0]")  # named by a rule: listed
    assert p.static_decision("mail") == ("ALLOW", "taint_rules[0]")
    assert p.static_decision("crm.get") == ("DENY", "default_action")  # a glob does not list a tool
    assert p.static_decision("Fs.read") == ("DENY", "default_action")  # names are case-sensitive
    allow_all = Policy.from_yaml("default_action: ALLOW\nstatic_rules: {x: DENY}")
    assert allow_all.tool_allowed("y") and not allow_all.tool_allowed("x")
    audit = Policy.from_yaml("mode: audit\nstatic_rules: {x: DENY}")
    assert audit.tool_allowed("x")  # audit mode hides nothing


def test_tool_classes_feed_rules() -> None:
    p = Policy.from_yaml(
        "tool_classes:\n  sinks: [send_email, 'http.*']\n"
        "taint_rules:\n  - {tool_class: sinks, action: CHECK_TAINT, forbidden_taints: [PII]}\n"
    )
    tools = p.taint_rules[0].tools
    assert tools.matches("http.post", deny=True) and tools.matches("send_email", deny=True)
    assert not tools.matches("read_file", deny=True)


def test_verifier_settings_reach_the_verifier() -> None:
    p = Policy.from_yaml(
        "verifier:\n  checks: {intent_alignment: false}\n  workspace: /w\n"
        "  scope: {allowed_hosts: [example.com]}\n  rate_limit: {max_calls: 5, window: 2}\n"
        "  intent: {threshold: 0.5}\n"
    )
    v = p.make_verifier()
    assert v is not None
    assert v.workspace == "/w" and v.scope.allowed_hosts == ("example.com",)
    assert v.limiter is not None and v.limiter.limit.max_calls == 5 and v.limiter.limit.window == 2
    assert v.intent.threshold == 0.5 and "intent_alignment" not in (v.enabled or ())
    assert Policy.from_yaml("verifier: {rate_limit: false}").make_verifier().limiter is None  # type: ignore[union-attr]
    assert Policy.from_yaml("verifier: false").make_verifier() is None
    assert Policy.from_yaml("verifier: {enabled: false}").make_verifier() is None
    listed = Policy.from_yaml("verifier: {checks: [system_commands, rate_limit]}").make_verifier()
    assert listed is not None and listed.enabled == frozenset({"system_commands", "rate_limit"})


# ------------------------------------------------------------------------------------------ errors
def test_error_unknown_top_key_suggests() -> None:
    e = _err("default_action: DENY\nstatic_rule:\n  a: ALLOW\n")
    _assert_where(e, 2, "static_rule", "did you mean 'static_rules'")


def test_error_unknown_rule_key_suggests() -> None:
    e = _err("taint_rules:\n  - tool: a\n    action: ADD_TAINT\n    taint_tag: [PII]\n")
    _assert_where(e, 4, "taint_rules[0].taint_tag", "did you mean 'taint_tags'")
    e = _err("argument_rules:\n  - tool: a\n    arg: x\n    deny_unles: {in: [1]}\n")
    _assert_where(e, 4, "argument_rules[0].deny_unles", "did you mean 'deny_unless'")
    e = _err("argument_rules:\n  - tool: a\n    arg: x\n    deny_if: {host: [a.com]}\n")
    _assert_where(e, 4, "argument_rules[0].deny_if.host", "did you mean 'host_in'")
    e = _err("proxy:\n  pin_tool: warn\n")
    _assert_where(e, 2, "proxy.pin_tool", "did you mean 'pin_tools'")


@pytest.mark.parametrize("word", ["deny", "BLOCK", "Allow", "allow", "DENIED", "true"])
def test_error_misspelt_static_action(word: str) -> None:
    e = _err(f"static_rules:\n  query_db: ALLOW\n  execute_shell: {word}\n")
    _assert_where(e, 3, "static_rules.execute_shell", "ALLOW, DENY")


def test_error_misspelt_other_actions_and_choices() -> None:
    _assert_where(_err("default_action: deny\n"), 1, "default_action", "case must be exact")
    _assert_where(_err("\nmode: Audit\n"), 2, "mode", "enforce, audit")
    e = _err("taint_rules:\n  - tool: a\n    action: add_taint\n    tag: PII\n")
    _assert_where(e, 3, "taint_rules[0].action", "ADD_TAINT, CHECK_TAINT, REMOVE_TAINT")
    _assert_where(_err("spotlight:\n  scan_output: warn\n"), 2, "spotlight.scan_output", "flag, block, off")
    _assert_where(_err("proxy:\n  deny_style: silent\n"), 2, "proxy.deny_style")
    e = _err("argument_rules:\n  - {tool: a, arg: x, deny_if: {present: true}, severity: urgent}\n")
    _assert_where(e, 2, "argument_rules[0].severity", "critical")


def test_error_wrong_types() -> None:
    _assert_where(_err("static_rules:\n  - query_db\n"), 1, "static_rules", "expected a mapping, got list")
    _assert_where(_err("argument_rules: {tool: a}\n"), 1, "argument_rules", "expected a list")
    _assert_where(_err("proxy:\n  max_message_bytes: big\n"), 2, "proxy.max_message_bytes", "integer")
    _assert_where(_err("proxy:\n  max_message_bytes: -5\n"), 2, "proxy.max_message_bytes", "positive")
    _assert_where(_err("proxy:\n  hide_denied_tools: 'yes'\n"), 2, "proxy.hide_denied_tools", "true or false")
    _assert_where(_err("session:\n  require: 1\n"), 2, "session.require", "true or false")
    _assert_where(_err("verifier:\n  intent: {threshold: 2}\n"), 2, "verifier.intent.threshold", "0..1")
    _assert_where(_err("verifier:\n  rate_limit: {max_calls: 1.5}\n"), 2, "verifier.rate_limit.max_calls")
    _assert_where(_err("verifier:\n  rate_limit: {max_call: 1}\n"), 2, "verifier.rate_limit.max_call", "max_calls")
    _assert_where(_err("verifier:\n  workspace: project\n"), 2, "verifier.workspace", "absolute")
    e = _err("verifier:\n  checks: [system_commands, file_travesal]\n")
    _assert_where(e, 2, "verifier.checks[1]", "did you mean 'file_traversal'")
    _assert_where(_err("verifier:\n  checks: {sql_injection: false}\n"), 2, "verifier.checks.sql_injection")
    _assert_where(_err("verifier:\n  scope: {allowed_roots: [src]}\n"), 2, "verifier.scope.allowed_roots[0]")
    e = _err("taint_rules:\n  - tool: a\n    action: ADD_TAINT\n    tag: {x: 1}\n")
    _assert_where(e, 4, "taint_rules[0].tag", "expected a list")
    e = _err("argument_rules:\n  - tool: a\n    arg: x\n    deny_if: {min: ten}\n")
    _assert_where(e, 4, "argument_rules[0].deny_if.min", "number")
    e = _err("argument_rules:\n  - tool: a\n    arg: x\n    deny_if: {in: 5}\n")
    _assert_where(e, 4, "argument_rules[0].deny_if.in", "list")
    _assert_where(_err("name: [a, b]\n"), 1, "name", "string or number")


def test_error_rule_structure() -> None:
    e = _err("argument_rules:\n  - tool: a\n    deny_if: {present: true}\n")
    _assert_where(e, 2, "argument_rules[0]", "'arg'")
    e = _err("argument_rules:\n  - tool: a\n    arg: x\n")
    _assert_where(e, 2, "argument_rules[0]", "deny_if")
    e = _err("argument_rules:\n  - arg: x\n    deny_if: {present: true}\n")
    _assert_where(e, 2, "argument_rules[0]", "'tool'")
    e = _err("argument_rules:\n  - tool: a\n    arg: 'x[y]'\n    deny_if: {present: true}\n")
    _assert_where(e, 3, "argument_rules[0].arg", "[*]")
    e = _err("argument_rules:\n  - tool: a\n    arg: x\n    deny_if: {}\n")
    _assert_where(e, 4, "argument_rules[0].deny_if", "at least one condition")
    e = _err("argument_rules:\n  - tool: a\n    arg: x\n    deny_unless: {min: 5, max: 1}\n")
    _assert_where(e, 4, "argument_rules[0].deny_unless.min", "nothing could match")
    e = _err("argument_rules:\n  - tool: a\n    arg: p\n    deny_unless: {path_under: [workspace]}\n")
    _assert_where(e, 4, "argument_rules[0].deny_unless.path_under", "absolute")
    e = _err("argument_rules:\n  - tool: a\n    arg: p\n    deny_if: {host_in: ['10.0.0.0/33']}\n")
    _assert_where(e, 4, "argument_rules[0].deny_if.host_in")
    e = _err("taint_rules:\n  - tool: a\n    action: CHECK_TAINT\n    taint_tags: [PII]\n")
    _assert_where(e, 4, "taint_rules[0].taint_tags", "forbidden_taints")
    e = _err("taint_rules:\n  - tool: a\n    action: ADD_TAINT\n    forbidden_taints: [PII]\n")
    _assert_where(e, 4, "taint_rules[0].forbidden_taints", "taint_tags")
    _assert_where(_err("taint_rules:\n  - {tool: a, action: ADD_TAINT}\n"), 2, "taint_rules[0]", "needs 'taint_tags'")
    _assert_where(_err("taint_rules:\n  - {tool: a, tag: PII}\n"), 2, "taint_rules[0]", "needs 'action'")
    e = _err("tool_classes:\n  sinks: [mail]\ntaint_rules:\n  - {tool_class: sink, action: ADD_TAINT, tag: X}\n")
    _assert_where(e, 4, "taint_rules[0].tool_class", "did you mean 'sinks'")


def test_error_yaml_level() -> None:
    e = _err("static_rules:\n  query_db: ALLOW\n  execute_shell: DENY\n  query_db: DENY\n")
    _assert_where(e, 4, "static_rules.query_db", "duplicate key", "line 2")
    e = _err("static_rules:\n  a: ALLOW\n b: [\n")
    assert e.file == "bad.yaml" and e.line is not None and "invalid YAML" in str(e)
    for empty in ("", "# only a comment\n"):
        e = _err(empty)
        assert e.file == "bad.yaml" and e.line == 1 and "empty" in str(e)
    e = _err("- static_rules\n")
    assert e.line == 1 and "mapping" in str(e)
    e = _err("static_rules: !!python/object:os.system {}\n")
    assert e.line == 1 and e.file == "bad.yaml"


def test_error_yaml_alias_bomb_is_bounded() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    e = _err("\n".join(lines) + "\n")  # 9**9 nodes once expanded: the node budget stops the expansion
    assert "nodes" in str(e)


def test_error_file_errors() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.load("/nonexistent/policy.yaml")
    assert info.value.file == "/nonexistent/policy.yaml" and "cannot read" in str(info.value)


def test_error_from_load_names_the_path(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("static_rules:\n  a: Deny\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        Policy.load(f)
    assert info.value.file == str(f) and info.value.line == 2 and str(f) in str(info.value)


def test_error_from_dict_names_key() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({"static_rules": {"a": "deny"}}, source="inline")
    assert info.value.key == "static_rules.a" and info.value.file == "inline"
    with pytest.raises(PolicyError):
        Policy.from_dict(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ safe regex
@pytest.mark.parametrize("bad", [r"(a)\1", r"(?=a)b", r"(?<!a)b", r"a{5000}", "(unclosed"])
def test_regex_that_re2_cannot_compile_is_refused_with_file_and_line(bad: str) -> None:
    e = _err(f"argument_rules:\n  - tool: a\n    arg: x\n    deny_if: {{regex: '{bad}'}}\n")
    _assert_where(e, 4, "argument_rules[0].deny_if.regex", "RE2")


def test_regex_conditions_are_compiled_by_re2() -> None:
    import re2

    compiled = rules.compile_regex("(a+)+$")
    assert type(compiled) is type(re2.compile("x"))
    ok = Policy.from_yaml("argument_rules:\n  - {tool: a, arg: x, deny_if: {regex: '^[a-z]+(ab)?$'}}\nverifier: false")
    assert not ok.new_session().check("a", {"x": "abc"}).allowed


def test_catastrophic_regex_matches_in_linear_time() -> None:
    """``(a+)+$`` against ``aaa...b`` is exponential for a backtracking engine; with RE2 it is linear (CPU-time
    ratio between a 256 KiB and a 1 MiB input, no wall-clock bound)."""
    p = Policy.from_yaml("argument_rules:\n  - {tool: a, arg: x, deny_if: {regex: '(a+)+$'}}\nverifier: false")
    s = p.new_session()
    assert not s.check("a", {"x": "aaa"}).allowed
    assert s.check("a", {"x": "aaab"}).allowed
    assert_linear(lambda text: s.check("a", {"x": text}), "a" * (1 << 20) + "b")


def test_error_non_string_keys_from_dict() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({"static_rules": {1: "ALLOW"}})
    assert info.value.key == "static_rules" and "keys must be strings" in str(info.value)


# -- hostile policy text: PolicyError only, with a line where there is one ---------------------------------------
_BIG = "9" * 5000
_LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)
)
HOSTILE = {
    "5000-digit integer": (f"default_action: ALLOW\nverifier:\n  rate_limit:\n    max_calls: {_BIG}\n", 4),
    "5000-digit integer in a rule": (
        f"default_action: ALLOW\nargument_rules:\n  - tool: t\n    arg: a\n    deny_if: {{in: [{_BIG}]}}\n",
        5,
    ),
    "deep flow list": ("default_action: ALLOW\ndescription: " + "[" * 10_000 + "]" * 10_000 + "\n", 2),
    "deep flow mapping": ("default_action: ALLOW\ndescription: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", 2),
    "deep block list": ("description:\n" + "".join(" " * (i + 1) + "-\n" for i in range(3000)), None),
    "nesting past the bound": ("default_action: ALLOW\ndescription: " + "[" * 100 + "]" * 100 + "\n", 2),
    "alias containing itself": ("a: &a [*a]\n", 1),
    "billion laughs": (_LAUGHS, None),
    "bad timestamp": ("description: !!timestamp 2001-99-99\n", 1),
    "bad int tag": ("description: !!int xyz\n", 1),
    "list document": ("- 1\n- 2\n", 1),
    "scalar document": ("hello\n", 1),
    "binary garbage": (bytes(range(256)).decode("latin-1") * 4, None),
    "python tag": ("default_action: !!python/object:os.system ls\n", 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_policy_text_raises_only_policy_error(name: str, tmp_path: Path) -> None:
    text, line = HOSTILE[name]
    with pytest.raises(PolicyError) as info:
        Policy.from_yaml(text, source="hostile.yaml")
    assert info.value.file == "hostile.yaml"
    if line is not None:
        assert info.value.line == line, str(info.value)
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(PolicyError):
        Policy.load(path)


@pytest.mark.parametrize("data", [b"\xff\xfe\x00garbage", "default_action: ALLOW\n".encode("utf-16"), b"\x00" * 64])
def test_undecodable_policy_files_raise_policy_error(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    with pytest.raises(PolicyError):
        Policy.load(path)


def _deep(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "data",
    [
        {"default_action": 10**5000},
        {"description": _deep(10_000)},
        {"argument_rules": [{"tool": "t", "x": _deep(5000)}]},
    ],
)
def test_hostile_dicts_raise_policy_error(data: dict) -> None:
    with pytest.raises(PolicyError):
        Policy.from_dict(data)


def test_a_non_path_raises_policy_error() -> None:
    with pytest.raises(PolicyError):
        Policy.load(5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ value semantics
def test_equal_policies_hash_equal() -> None:
    text = "static_rules: {read_file: ALLOW}\nverifier: false\n"
    a, b = Policy.from_yaml(text, source="a.yaml"), Policy.from_yaml(text, source="b.yaml")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    other = Policy.from_yaml("static_rules: {read_file: DENY}\nverifier: false\n")
    assert a != other and len({a, other}) == 2
    assert {a: 1}[b] == 1


def test_a_policy_holds_no_mutable_state() -> None:
    import dataclasses
    import threading

    p = Policy.from_yaml("static_rules: {read_file: ALLOW}\n")
    mutable = (dict, list, set, bytearray, type(threading.Lock()))
    for f in dataclasses.fields(p):
        assert not isinstance(getattr(p, f.name), mutable), f.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.mode = "audit"  # type: ignore[misc]


def test_the_shared_verifier_lives_with_the_engine_per_policy_object() -> None:
    from sentinel_lab._policy.engine import shared_verifier

    text = "verifier: {rate_limit: {max_calls: 5, window: 2}}\n"
    p, q = Policy.from_yaml(text), Policy.from_yaml(text)
    assert shared_verifier(p) is shared_verifier(p) is p.new_session().verifier
    assert shared_verifier(q) is not shared_verifier(p)  # equal content, separate rate-limit history
    assert p.make_verifier() is not p.make_verifier()  # the model only builds; it caches nothing


def test_model_does_not_import_the_engine() -> None:
    """The engine depends on the model, not the reverse: model.py names the engine only for type checking and
    in the one thin ``new_session`` delegation."""
    import ast
    import inspect

    from sentinel_lab._policy import model

    tree = ast.parse(inspect.getsource(model))
    for node in tree.body:  # module level
        if isinstance(node, ast.ImportFrom):
            assert node.module != "sentinel_lab._policy.engine"
    deferred = [
        n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "sentinel_lab._policy.engine"
    ]
    assert len(deferred) <= 2  # TYPE_CHECKING block and new_session


def test_verifier_profile_is_validated_round_trips_and_reaches_the_verifier() -> None:
    p = Policy.from_dict({"static_rules": {"sh": "ALLOW"}, "verifier": {"profile": "admin"}})
    assert p.verifier.profile == "admin"
    assert Policy.from_dict(p.to_dict()) == p
    session = p.new_session()
    assert session.check("sh", {"command": "sudo systemctl restart nginx"}).allowed
    default = Policy.from_dict({"static_rules": {"sh": "ALLOW"}})
    assert default.verifier.profile == "workspace"
    assert not default.new_session().check("sh", {"command": "sudo systemctl restart nginx"}).allowed
    with pytest.raises(PolicyError, match="workspace, admin") as err:
        Policy.from_yaml("static_rules: {sh: ALLOW}\nverifier:\n  profile: root\n")
    assert err.value.line == 3
