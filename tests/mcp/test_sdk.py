"""The SDK: the official MCP client over the real proxy subprocess, session ids presented automatically."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from sentinel_lab._core.errors import PolicyViolation, ProxyError
from sentinel_lab._mcp.sdk import Sentinel, verdict_from_error
from sentinel_lab._mcp.spotlight import unwrap

DEMO_POLICY = Path(__file__).resolve().parents[2] / "policies" / "demo.yaml"


def test_execute_list_and_denials_through_the_proxy(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"

    async def main() -> None:
        client = Sentinel.start(upstream="python -m sentinel_lab.demo_server", policy=DEMO_POLICY, audit=audit)
        assert "--require-session" in client.proxy_argv() and client.upstream[0] == sys.executable
        with pytest.raises(ProxyError):
            await client.execute_tool("get_weather", {"city": "Paris"})
        async with client:
            assert client.session_id.startswith("1.") and len(client.session_id) == 68
            names = [t.name for t in await client.list_tools()]
            assert "get_weather" in names and "delete_database" not in names
            result = await client.execute_tool("get_weather", {"city": "Paris"})
            assert "Paris" in unwrap(result.content[0].text)[1]
            with pytest.raises(PolicyViolation) as denied:
                await client.execute_tool("delete_database", {"name": "prod"})
            verdict = denied.value.verdict
            assert not verdict.allowed and verdict.rule == "static_rules.delete_database"
            assert verdict.tool == "delete_database" and verdict.args == {"name": "prod"}
            await client.execute_tool("fetch_webpage", {"url": "https://status.acme.example"})
            with pytest.raises(PolicyViolation) as tainted:
                await client.execute_tool("send_email", {"to": "a@acme.example", "subject": "s", "body": "b"})
            assert tainted.value.verdict.taints == frozenset({"untrusted_web"})
            assert tainted.value.verdict.rule.startswith("taint_rules")

    anyio.run(main)
    records = audit.read_text()
    assert '"tool":"get_weather"' in records and '"decision":"block"' in records
    # every tools/call carried the signed id (the proxy ran with --require-session)
    assert "auth_error" not in records


def test_result_style_denial_also_raises_with_the_verdict(tmp_path: Path) -> None:
    policy = tmp_path / "result.yaml"
    policy.write_text(DEMO_POLICY.read_text().replace("deny_style: error", "deny_style: result"))
    assert "deny_style: result" in policy.read_text()

    async def main() -> None:
        async with Sentinel.start(upstream="python -m sentinel_lab.demo_server", policy=policy) as client:
            with pytest.raises(PolicyViolation) as denied:
                await client.execute_tool("delete_database", {"name": "prod"})
            assert denied.value.verdict.rule == "static_rules.delete_database"
            ok = await client.execute_tool("read_file", {"path": "notes.txt"})
            assert not ok.is_error

    anyio.run(main)


def test_bad_upstream_is_a_proxy_error(tmp_path: Path) -> None:
    async def main() -> None:
        client = Sentinel.start(upstream=[str(tmp_path / "no-such-server")], policy=DEMO_POLICY)
        with pytest.raises(ProxyError):
            async with client:
                pass

    anyio.run(main)


def test_verdict_from_error_for_auth_and_block() -> None:
    auth = verdict_from_error(-32011, "Sentinel Auth Error: missing session id", None, "t", {"a": 1})
    assert auth.policy == "session" and auth.reason == "missing session id" and auth.rule == "session"
    data = {"tool": "x", "rule": "static_rules.x", "violations": [{"policy": "static_rules", "reason": "no"}]}
    block = verdict_from_error(-32010, "Sentinel Security Block: no", data, "x")
    assert block.rule == "static_rules.x" and block.reason == "no" and not block.allowed
