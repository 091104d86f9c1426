"""Argument rules read values the way the tool server will: the facts about pydantic's lax coercion and the
official SDK's JSON pre-parsing (measured here, so a change in either fails this file), and the readings
the conditions derive from them (numbers, booleans, JSON inside strings, e-mail and host case)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _pipes import LineProcess
from pydantic import TypeAdapter, ValidationError

from sentinel_lab._policy.conditions import BOOL_WORDS, MISSING, ArgPath, json_readings, number_readings
from sentinel_lab._policy.model import Policy

ERR = "error"

#: What pydantic v2 (lax mode, as ``MCPServer`` validates tool arguments) makes of a string, per target type.
INT_FACTS: list[tuple[str, Any]] = [
    ("5", 5),
    (" 7 ", 7),
    ("\t7\n", 7),
    ("\xa05", 5),  # Unicode white space is stripped
    ("5\u2003", 5),
    ("5_000", 5000),  # single underscores between digits
    ("1_0_0", 100),
    ("+5", 5),
    ("-5_000", -5000),
    ("0010", 10),
    ("5.0", 5),  # a zero fraction is an int
    ("5.00", 5),
    ("1_000.0", 1000),
    ("0" * 10000 + "5", 5),  # leading zeros of any length
    ("1000000000000000000000", 10**21),
    ("-0", 0),
    ("1e3", ERR),  # no exponent for int
    ("0x10", ERR),  # no base prefix
    ("0o7", ERR),
    ("0b1", ERR),
    ("5.5", ERR),
    ("5.", ERR),
    (".5", ERR),
    ("_5", ERR),
    ("5_", ERR),
    ("1__0", ERR),
    ("5 000", ERR),
    ("5,000", ERR),
    ("\u0663", ERR),  # other scripts' digits: no (Python's int() says 3)
    ("\uff11\uff12", ERR),  # fullwidth digits: no
    ("\u200b5", ERR),  # invisible characters are not white space
    ("true", ERR),
    ("", ERR),
    ("inf", ERR),
]
FLOAT_FACTS: list[tuple[str, Any]] = [
    ("5", 5.0),
    (" 7 ", 7.0),
    ("5_000", 5000.0),
    ("1e3", 1000.0),
    ("1E3", 1000.0),
    ("1e+3", 1000.0),
    ("1_e3", 1000.0),  # underscores are looser than in int
    ("1e_3", 1000.0),
    ("5_.0", 5.0),
    ("1_0.5", 10.5),
    (".5", 0.5),
    ("-.5", -0.5),
    ("5.", 5.0),
    ("inf", math.inf),
    ("-Infinity", -math.inf),
    ("1e400", math.inf),
    ("1" * 5000, math.inf),
    ("nan", "nan"),
    ("NaN", "nan"),
    ("0x10", ERR),
    ("1__0", ERR),
    ("_5", ERR),
    ("5__.0", ERR),
    ("\u0663", ERR),
]
BOOL_FACTS: list[tuple[str, Any]] = [
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("yes", True),
    ("YES", True),
    ("on", True),
    ("On", True),
    ("y", True),
    ("t", True),
    ("1", True),
    ("false", False),
    ("no", False),
    ("off", False),
    ("n", False),
    ("f", False),
    ("0", False),
    (" true", ERR),  # never stripped
    ("true ", ERR),
    ("2", ERR),
    ("1.0", ERR),
    ("enabled", ERR),
]
CONTAINER_FACTS: list[tuple[Any, str]] = [
    (list[str], '["a"]'),  # pydantic alone never decodes JSON: the SDK's pre-parsing does (see below)
    (dict, '{"a": 1}'),
]


def _pydantic(tp: Any, value: Any) -> Any:
    try:
        out = TypeAdapter(tp).validate_python(value)
    except ValidationError:
        return ERR
    return "nan" if isinstance(out, float) and math.isnan(out) else out


@pytest.mark.parametrize(("text", "expected"), INT_FACTS)
def test_pydantic_int_facts_and_our_numbers_cover_them(text: str, expected: Any) -> None:
    assert _pydantic(int, text) == expected
    if expected is not ERR:
        assert expected in number_readings(text)


@pytest.mark.parametrize(("text", "expected"), FLOAT_FACTS)
def test_pydantic_float_facts_and_our_numbers_cover_them(text: str, expected: Any) -> None:
    assert _pydantic(float, text) == expected
    if expected == "nan":  # NaN is read as both infinities, so it fails every bound
        assert set(number_readings(text)) == {-math.inf, math.inf}
    elif expected is not ERR:
        assert expected in number_readings(text)


@pytest.mark.parametrize(("text", "expected"), BOOL_FACTS)
def test_pydantic_bool_facts_match_our_words(text: str, expected: Any) -> None:
    assert _pydantic(bool, text) == expected
    assert BOOL_WORDS.get(text.lower(), ERR) == expected


@pytest.mark.parametrize(("tp", "text"), CONTAINER_FACTS)
def test_pydantic_alone_does_not_decode_json_strings(tp: Any, text: str) -> None:
    assert _pydantic(tp, text) is ERR


def test_other_parsers_are_covered_too() -> None:
    """Python's int()/float() read other scripts' digits; JavaScript's Number() reads base prefixes."""
    assert number_readings("\u0663") == (3,)
    assert number_readings("0x10") == (16,) and number_readings("0b101") == (5,) and number_readings("0o17") == (15,)
    assert number_readings("\ufeff12") == (12,)  # Number() trims a BOM
    for junk in ("", " ", "abc", "5e", "e5", ".", "+-5", "1.2.3", "5 000", "0x", "0xg", "12abc", "--5"):
        assert number_readings(junk) == (), junk


def test_sdk_decodes_json_strings_for_non_str_parameters() -> None:
    """The facts about ``MCPServer`` (its ``func_metadata``): a list/dict parameter sent as a JSON string is decoded,
    a numeric string reaches pydantic as a string and is coerced, a str parameter is never decoded."""
    from mcp.server.mcpserver.utilities.func_metadata import func_metadata

    def tool(amount: int, recipients: list[str], options: dict, note: str, ok: bool) -> None:
        """A tool with the parameter types the proxy test uses."""

    meta = func_metadata(tool)
    got = meta.validate_arguments(
        {
            "amount": "5_000",
            "recipients": '["ADMIN@example.com"]',
            "options": '{"to": "x", "to": "y"}',
            "note": '["kept"]',
            "ok": "yes",
        }
    )
    assert got["amount"] == 5000 and got["recipients"] == ["ADMIN@example.com"] and got["ok"] is True
    assert got["options"] == {"to": "y"}  # duplicate keys: the last wins
    assert got["note"] == '["kept"]'
    for text in ('["ADMIN@example.com"]', '{"to": "x", "to": "y"}'):  # our readings include what the SDK made
        assert json.loads(text) in json_readings(text)


def test_json_readings() -> None:
    assert json_readings('["a"]') == (["a"],) and json_readings(' {"k": 1} ') == ({"k": 1},)
    assert json_readings('"x"') == ("x",)
    assert json_readings('{"k": 1, "k": 2}') == ({"k": 2}, {"k": 1})  # both readers of a repeated key
    for text in ("plain", "5", "[1", "{", "", "true", "[" * 100_000 + "]" * 100_000):
        assert json_readings(text) == (), text[:20]


def test_paths_step_into_json_strings() -> None:
    path = ArgPath.parse("recipients[*]")
    assert path.select({"recipients": '["a@x.org", "b@y.org"]'}) == ['["a@x.org", "b@y.org"]', "a@x.org", "b@y.org"]
    assert ArgPath.parse("pay.iban").select({"pay": '{"iban": "DE1"}'}) == [MISSING, "DE1"]  # string, object


def _policy(rule: str) -> Policy:
    return Policy.from_yaml(f"argument_rules:\n  - {rule}\nverifier: false\n", source="rules.yaml")


def _allowed(p: Policy, args: dict[str, Any], tool: str = "t") -> bool:
    return p.new_session().check(tool, args).allowed


def test_numeric_deny_if_reads_coerced_strings() -> None:
    p = _policy("{tool: t, arg: amount, deny_if: {min: 1000.01}}")
    for bad in (5000, "5000", "5_000", " 5000 ", "5000.0", "1e4", "0x2000", "inf", "nan", "\u0665\u0660\u0660\u0660",
                "\uff15\uff10\uff10\uff10", "\u200b5000", "00005000", '"5000"'):  # fmt: skip
        assert not _allowed(p, {"amount": bad}), bad
    for ok in (5, "5", "1_000", "1e3", "0x10", "-inf", "not a number"):
        assert _allowed(p, {"amount": ok}), ok


def test_numeric_deny_unless_fails_closed_on_every_reading() -> None:
    p = _policy("{tool: t, arg: amount, deny_unless: {min: 0, max: 1000}}")
    for ok in (5, "5", " 7 ", "1_000", "1e3", "999.5"):
        assert _allowed(p, {"amount": ok}), ok
    for bad in ("5_000", "1e4", "0x2000", "nan", "NaN", float("nan"), "inf", "abc", "[5]", None):
        assert not _allowed(p, {"amount": bad}), bad


def test_equality_reads_numbers_and_booleans() -> None:
    p = _policy("{tool: t, arg: n, deny_if: {in: [5000]}}")
    assert not _allowed(p, {"n": "5_000"}) and not _allowed(p, {"n": "5000.0"}) and _allowed(p, {"n": "5001"})
    p = _policy("{tool: t, arg: confirm, deny_if: {equals: true}}")
    for bad in (True, "true", "YES", "on", "t", "1", 1, 1.0):
        assert not _allowed(p, {"confirm": bad}), bad
    for ok in (False, "no", "off", "0", 0, " true", "2"):
        assert _allowed(p, {"confirm": ok}), ok


def test_range_rules_do_not_read_numbers_as_booleans() -> None:
    """A bound says nothing about booleans: "1" passes a range rule (it is not also judged as true)."""
    p = _policy("{tool: t, arg: n, deny_unless: {min: 0, max: 10}}")
    assert _allowed(p, {"n": "1"}) and _allowed(p, {"n": 1})


def test_email_and_host_comparisons_ignore_case() -> None:
    p = _policy("{tool: t, arg: 'to[*]', deny_if: {in: [admin@example.com, root.example.org]}}")
    for bad in (["Admin@Example.COM"], ["ADMIN@EXAMPLE.COM"], ["ROOT.Example.org"], ["root.example.org."],
                '["ADMIN@example.com"]', "admin@example.com", ["\uff21dmin@example.com"]):  # fmt: skip
        assert not _allowed(p, {"to": bad}), bad
    assert _allowed(p, {"to": ["bob@example.com", "admin@example.org"]})
    allow = _policy("{tool: t, arg: 'to', deny_unless: {in: [alice@example.com]}}")
    assert _allowed(allow, {"to": "ALICE@example.COM"})
    assert not _allowed(allow, {"to": "\u212alice@example.com"})  # only ASCII letters fold: no look-alikes in
    assert not _allowed(allow, {"to": '["alice@example.com"]'})  # the string reading fails: fail closed
    eq = _policy("{tool: t, arg: host, deny_if: {equals: internal.corp}}")
    assert not _allowed(eq, {"host": "INTERNAL.Corp"})
    plain = _policy("{tool: t, arg: user, deny_if: {equals: Alice}}")
    assert _allowed(plain, {"user": "alice"})  # not an address or host: case matters
    dom = _policy("{tool: t, arg: to, deny_unless: {host_in: [example.com]}}")
    assert _allowed(dom, {"to": "x@EXAMPLE.Com"}) and not _allowed(dom, {"to": "x@example.com.evil.io"})
    glob = _policy("{tool: t, arg: to, deny_if: {glob: '*@example.com'}}")
    assert not _allowed(glob, {"to": "Boss@EXAMPLE.COM"}) and _allowed(glob, {"to": "boss@example.org"})


def test_json_inside_strings_is_judged_decoded() -> None:
    p = _policy("{tool: t, arg: 'recipients[*]', deny_if: {in: [admin@example.com]}}")
    assert not _allowed(p, {"recipients": '["bob@x.org", "ADMIN@example.com"]'})
    assert not _allowed(p, {"recipients": ' [ "admin@example.com" ] '})
    assert _allowed(p, {"recipients": '["bob@x.org"]'})
    dup = _policy("{tool: t, arg: opts.to, deny_if: {equals: admin@example.com}}")
    assert not _allowed(dup, {"opts": '{"to": "admin@example.com", "to": "bob@x.org"}'})  # first-wins reader
    assert not _allowed(dup, {"opts": '{"to": "bob@x.org", "to": "admin@example.com"}'})  # last-wins reader
    whole = _policy("{tool: t, arg: tags, deny_if: {equals: [a, b]}}")
    assert not _allowed(whole, {"tags": '["a", "b"]'}) and _allowed(whole, {"tags": '["a"]'})


def test_evidence_names_the_reading_that_fired() -> None:
    p = _policy("{tool: t, arg: amount, deny_if: {in: [5000]}}")
    v = p.new_session().check("t", {"amount": "5_000"})
    assert not v.allowed and "read as 5000" in v.reason


def test_hostile_values_never_crash_and_stay_linear() -> None:
    p = _policy("{tool: t, arg: 'a[*]', deny_if: {in: [x@example.com, 5]}}")
    deep = "[" * 50_000 + "]" * 50_000
    for value in (deep, json.loads("[" * 500 + "]" * 500), "9" * 100_000, "0x" + "f" * 100_000, "1e" + "9" * 50_000):
        assert isinstance(p.new_session().check("t", {"a": value}).allowed, bool)

    def cost(n: int) -> float:
        values = ["1" + "_0" * n, "\u0661" * n, '["' + "a" * n + '"]', "0" * n + "5", " " * n + "5"]
        t0 = time.thread_time()
        for _ in range(3):
            for v in values:
                number_readings.cache_clear()
                json_readings.cache_clear()
                p.new_session().check("t", {"a": v})
        return time.thread_time() - t0

    cost(1000)
    small, large = cost(20_000), cost(200_000)
    assert large < 40 * max(small, 1e-3)  # ten times the input: far from quadratic (100x)


# ------------------------------------------------------------------------ the real thing: SDK server behind the proxy
SDK_SERVER = r'''
import json, os, sys
from mcp.server import MCPServer

MARKS = os.environ["MARKS"]
server = MCPServer("rules")


def mark(tool, **values):
    with open(MARKS, "a") as f:
        f.write(json.dumps({"tool": tool, **values}) + "\n")


@server.tool()
def pay(amount: int, to: str) -> str:
    """Pay an amount."""
    mark("pay", amount=amount, to=to)
    return f"paid {amount}"


@server.tool()
def mail(recipients: list[str], body: str) -> str:
    """Send a mail."""
    mark("mail", recipients=recipients)
    return "sent"


@server.tool()
def configure(options: dict, enable: bool = False) -> str:
    """Configure something."""
    mark("configure", options=options, enable=enable)
    return "configured"


server.run("stdio")
'''

PROXY_POLICY = """
static_rules: {pay: ALLOW, mail: ALLOW, configure: ALLOW}
argument_rules:
  - {tool: pay, arg: amount, deny_if: {min: 1000.01}}
  - {tool: mail, arg: 'recipients[*]', deny_if: {in: [admin@example.com]}}
  - {tool: configure, arg: options.mode, deny_if: {equals: debug}}
  - {tool: configure, arg: enable, deny_if: {equals: true}}
verifier: {enabled: false}
"""


class _Proxied(LineProcess):
    """``sentinel-lab proxy --policy P -- python server.py`` over real pipes, one JSON-RPC line at a time."""

    def __init__(self, tmp: Path) -> None:
        (tmp / "server.py").write_text(SDK_SERVER)
        (tmp / "policy.yaml").write_text(PROXY_POLICY)
        self.marks = tmp / "marks.jsonl"
        self.marks.write_text("")
        argv = [sys.executable, "-m", "sentinel_lab._cli", "proxy", "--policy", str(tmp / "policy.yaml"), "--"]
        argv += [sys.executable, str(tmp / "server.py")]
        super().__init__(argv, env={**os.environ, "MARKS": str(self.marks)})

    def answer(self, rid: int) -> dict[str, Any]:
        while True:
            msg = self.recv()
            if msg.get("id") == rid and "method" not in msg:
                return msg

    def initialize(self) -> None:
        params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
        assert "result" in self.answer(0)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call(self, rid: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": args}})
        return self.answer(rid)

    def ran(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.marks.read_text().splitlines()]


def _denied(reply: dict[str, Any]) -> bool:
    if "error" in reply:
        return True
    result = reply.get("result") or {}
    return result.get("isError") is True and "argument_rules" in json.dumps(result)


def test_sdk_server_behind_the_proxy_never_runs_what_the_rules_deny(tmp_path: Path) -> None:
    """The SDK coerces "5_000" to 5000 and decodes '["ADMIN@example.com"]': the proxy's rules read them the same
    way, so none of these calls runs (the tool leaves no mark), while allowed values still work."""
    p = _Proxied(tmp_path)
    try:
        p.initialize()
        denied = [
            ("pay", {"amount": 5000, "to": "bob"}),
            ("pay", {"amount": "5_000", "to": "bob"}),
            ("pay", {"amount": " 5000 ", "to": "bob"}),
            ("pay", {"amount": "5000.0", "to": "bob"}),
            ("pay", {"amount": "00005000", "to": "bob"}),
            ("mail", {"recipients": ["Admin@Example.COM"], "body": "hi"}),
            ("mail", {"recipients": '["ADMIN@example.com"]', "body": "hi"}),
            ("mail", {"recipients": '["bob@x.org", "admin@EXAMPLE.com"]', "body": "hi"}),
            ("configure", {"options": '{"mode": "debug"}'}),
            ("configure", {"options": '{"mode": "debug", "mode": "safe"}'}),  # first-wins readers see debug
            ("configure", {"options": {}, "enable": "yes"}),
            ("configure", {"options": {}, "enable": "On"}),
        ]
        for rid, (tool, args) in enumerate(denied, start=1):
            assert _denied(p.call(rid, tool, args)), (tool, args)
        assert p.ran() == []  # nothing denied reached a tool
        allowed = [
            ("pay", {"amount": "1_000", "to": "bob"}),
            ("mail", {"recipients": '["bob@x.org"]', "body": "hi"}),
            ("configure", {"options": '{"mode": "safe"}', "enable": "off"}),
        ]
        for rid, (tool, args) in enumerate(allowed, start=100):
            reply = p.call(rid, tool, args)
            assert "result" in reply and reply["result"].get("isError") is False, reply
        assert p.ran() == [
            {"tool": "pay", "amount": 1000, "to": "bob"},  # the server did coerce and decode, as the rules assumed
            {"tool": "mail", "recipients": ["bob@x.org"]},
            {"tool": "configure", "options": {"mode": "safe"}, "enable": False},
        ]
    finally:
        p.close()
