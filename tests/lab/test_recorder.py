"""The recorder schema: verdicts_frame and the kernel-wide Recorder."""

from __future__ import annotations

import json
import threading
from typing import Any

import pandas as pd
import pytest

from sentinel_lab._core.verdict import Verdict, Violation
from sentinel_lab.lab.recorder import COLUMNS, Recorder, args_json, verdicts_frame

EXPECTED_DTYPES = {
    "time": "datetime64[ns, UTC]",
    "session": "string",
    "tool": "string",
    "args": "string",
    "allowed": "bool",
    "decision": "category",
    "policy": "category",
    "severity": "category",
    "reason": "string",
    "confidence": "float64",
    "latency_us": "float64",
    "taints": "string",
    "rule": "string",
    "source": "category",
}


def _blocked(**kw: Any) -> Verdict:
    base: dict[str, Any] = dict(
        allowed=False,
        violations=(
            Violation("system_commands", "shell command", "medium", "ls"),
            Violation("data_exfiltration", "sends secrets out", "critical", "curl"),
        ),
        tool="send_email",
        args={"to": "ö@example.com", "body": {"b": 2, "a": [1, 2]}},
        session_id="s1",
        at=1_700_000_000.25,
        taints=frozenset({"web", "secret"}),
        rule="",
        elapsed_us=42.5,
        confidence=0.9,
    )
    base.update(kw)
    return Verdict(**base)


def test_schema_and_values() -> None:
    allowed = Verdict(allowed=True, tool="read_file", args={"path": "a.txt"}, at=1_700_000_001.0)
    frame = verdicts_frame([_blocked(), allowed])
    assert tuple(frame.columns) == COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == EXPECTED_DTYPES
    row = frame.iloc[0]
    assert row["time"] == pd.Timestamp("2023-11-14 22:13:20.25", tz="UTC")
    assert row["decision"] == "block" and not row["allowed"]
    assert row["policy"] == "data_exfiltration"  # the most severe violation decides
    assert row["severity"] == "critical"
    assert row["reason"] == "sends secrets out"
    assert row["taints"] == "secret,web"
    assert row["latency_us"] == 42.5 and row["confidence"] == 0.9
    assert json.loads(row["args"]) == {"to": "ö@example.com", "body": {"b": 2, "a": [1, 2]}}
    assert row["args"].startswith('{"body": {"a": [1, 2], "b": 2}, "to": "ö@')  # sorted, non-ASCII kept
    assert row["source"] == "api"
    ok = frame.iloc[1]
    assert ok["policy"] == "" and ok["severity"] == "" and ok["decision"] == "allow"
    assert list(frame["decision"].cat.categories) == ["allow", "block", "flag"]
    assert list(frame["severity"].cat.categories) == ["critical", "high", "medium", "low", ""]
    assert list(frame["source"].cat.categories) == ["magic", "sdk", "api", "eval", "proxy"]


def test_empty_frame_has_same_dtypes() -> None:
    empty = verdicts_frame([])
    assert empty.shape == (0, len(COLUMNS))
    assert {c: str(t) for c, t in empty.dtypes.items()} == EXPECTED_DTYPES
    both = pd.concat([empty, verdicts_frame([_blocked()], source="magic")], ignore_index=True)
    assert str(both["time"].dtype) == "datetime64[ns, UTC]"


def test_flag_custom_policy_and_rule_fallback() -> None:
    flagged = Verdict(allowed=True, decision="flag", violations=(Violation("custom:no_fridays", "x", "low"),))
    ruled = Verdict(allowed=False, rule="static_rules.send_email")
    frame = verdicts_frame([flagged, ruled], source="proxy")
    assert list(frame["policy"]) == ["custom:no_fridays", "static_rules"]
    assert "custom:no_fridays" in frame["policy"].cat.categories
    assert list(frame["decision"]) == ["flag", "block"]
    assert frame["allowed"].tolist() == [True, False]
    assert frame["rule"].tolist() == ["", "static_rules.send_email"]
    assert pd.isna(frame["time"]).all()  # unstamped verdicts have no time


def test_args_json_handles_odd_values() -> None:
    from types import MappingProxyType

    text = args_json(MappingProxyType({"s": {3, 1}, "b": b"\xff", "m": MappingProxyType({"k": (1,)})}))
    assert json.loads(text) == {"b": "\ufffd", "m": {"k": [1]}, "s": [1, 3]}
    assert json.loads(args_json({1: "a", "x": "b"})) == {"1": "a", "x": "b"}
    assert args_json(None) == "{}"


class _FakeVerifier:
    def __init__(self) -> None:
        self.on_verdict: list[Any] = []

    def verify(self, tool: str) -> Verdict:
        v = Verdict(allowed=tool != "bad", tool=tool)
        for fn in self.on_verdict:
            fn(v)
        return v


def test_recorder_attach_detach_and_frame() -> None:
    rec = Recorder()
    ver = _FakeVerifier()
    rec.attach(ver)
    rec.attach(ver)  # idempotent
    assert len(ver.on_verdict) == 1
    ver.verify("good")
    ver.verify("bad")
    rec.append(_blocked(), "magic")
    rec.detach(ver)
    ver.verify("after")
    frame = rec.frame()
    assert frame["tool"].tolist() == ["good", "bad", "send_email"]
    assert frame["source"].tolist() == ["api", "api", "magic"]
    assert frame["time"].notna().all()  # unstamped verdicts get the time they were recorded
    rec.clear()
    assert rec.frame().empty and len(rec) == 0
    with pytest.raises(TypeError):
        rec.attach(object())


def test_recorder_listener_errors_do_not_escape_and_threads_are_safe() -> None:
    rec = Recorder(max_rows=500)
    seen: list[str] = []

    def boom(v: Any, src: str) -> None:
        seen.append(src)
        raise RuntimeError("listener broke")

    rec.add_listener(boom)
    workers = [
        threading.Thread(target=lambda: [rec.append(Verdict(allowed=True), "sdk") for _ in range(200)])
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(rec) == 500 and len(seen) == 800
    rec.remove_listener(boom)
    rec.remove_listener(boom)
    rec.append(Verdict(allowed=True))
    assert len(seen) == 800


def test_recorder_attaches_to_an_sdk_client() -> None:
    import anyio

    from sentinel_lab._core.errors import PolicyViolation

    class FakeClient:
        session_id = "1.abc.def"

        async def execute_tool(self, name: str, args: dict[str, Any] | None = None) -> str:
            if name == "bad":
                raise PolicyViolation(Verdict(allowed=False, violations=(Violation("static_rules", "denied"),)))
            return f"ran {name}"

        call_tool = execute_tool

    rec = Recorder()
    client = FakeClient()
    rec.attach(client)

    async def use() -> None:
        assert await client.execute_tool("good", {"x": 1}) == "ran good"
        with pytest.raises(PolicyViolation):
            await client.call_tool("bad", {})

    anyio.run(use)
    frame = rec.frame()
    assert frame["tool"].tolist() == ["good", "bad"]
    assert frame["decision"].tolist() == ["allow", "block"]
    assert frame["source"].tolist() == ["sdk", "sdk"]
    assert frame["session"].tolist() == ["1.abc.def", "1.abc.def"]
    assert frame["policy"].tolist() == ["", "static_rules"]
    assert json.loads(frame["args"].iloc[0]) == {"x": 1}
    rec.detach(client)
    anyio.run(client.execute_tool, "good")
    assert len(rec) == 2


@pytest.mark.timeout(120)
def test_recorder_records_a_real_sdk_session_through_the_proxy() -> None:
    import sys
    from pathlib import Path

    import anyio

    sdk = pytest.importorskip("sentinel_lab._mcp.sdk")
    from sentinel_lab._core.errors import PolicyViolation

    policy = Path(__file__).resolve().parents[2] / "policies" / "demo.yaml"
    rec = Recorder()
    client = sdk.Sentinel.start(upstream=f"{sys.executable} -m sentinel_lab.demo_server", policy=str(policy))
    rec.attach(client)

    async def use() -> None:
        async with client:
            await client.execute_tool("fetch_webpage", {"url": "https://status.acme.example"})
            with pytest.raises(PolicyViolation):
                await client.execute_tool("send_email", {"to": "a@b.example", "subject": "s", "body": "b"})

    anyio.run(use)
    frame = rec.frame()
    assert frame["tool"].tolist() == ["fetch_webpage", "send_email"]
    assert frame["decision"].tolist() == ["allow", "block"]
    assert frame["policy"].tolist() == ["", "taint_rules"]
    assert set(frame["source"]) == {"sdk"}
    assert frame["session"].str.startswith("1.").all()  # the proxy's signed session id
