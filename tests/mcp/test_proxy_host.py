"""The proxy as a real host runs it: configured as the README says (absolute paths, ``python -m sentinel_lab``, no
``--``), started from another working directory, driven by the official client with the bursts interactive hosts
make, under the default rate limits."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from sentinel_lab._core.wire import BLOCK_CODE
from sentinel_lab._mcp.spotlight import unwrap

SERVER = '''
from mcp.server import MCPServer

app = MCPServer("files")

@app.tool()
def get_file_info(path: str) -> str:
    """Size of a file."""
    return f"{path}: 15 bytes"

if __name__ == "__main__":
    app.run()
'''


def _host_params(policy: Path, server: Path, audit: str, cwd: Path) -> Any:
    """The README's host configuration: the interpreter's absolute path, ``-m sentinel_lab``, absolute policy."""
    from mcp import StdioServerParameters

    args = ["-m", "sentinel_lab", "proxy", "--policy", str(policy), "--audit", audit, sys.executable, str(server)]
    return StdioServerParameters(command=sys.executable, args=args, cwd=str(cwd))


def _burst(params: Any, errlog: Path) -> tuple[list[str], dict[str, int]]:
    """300 concurrent distinct calls, then 30 identical ones; returns the tool names and the outcome counts."""
    from mcp import ClientSession, MCPError, stdio_client

    outcome = {"ok": 0, "blocked": 0, "identical_ok": 0, "identical_blocked": 0}
    names: list[str] = []

    async def one(session: ClientSession, path: str, key: str) -> None:
        try:
            result = await session.call_tool("get_file_info", {"path": path})
        except MCPError as exc:
            assert exc.error.code == BLOCK_CODE and "rate_limit" in json.dumps(exc.error.data)
            outcome[key.replace("ok", "blocked")] += 1
            return
        wrapped = unwrap(result.content[0].text)
        assert wrapped is not None and wrapped[1] == f"{path}: 15 bytes"
        outcome[key] += 1

    async def main() -> None:
        with open(errlog, "w") as err, anyio.fail_after(120):
            async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as session:
                await session.initialize()
                names.extend(t.name for t in (await session.list_tools()).tools)
                async with anyio.create_task_group() as tg:
                    for i in range(300):
                        tg.start_soon(one, session, f"/data/file{i}.txt", "ok")
                async with anyio.create_task_group() as tg:
                    for _ in range(30):
                        tg.start_soon(one, session, "/data/same.txt", "identical_ok")

    anyio.run(main)
    return names, outcome


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    conf = tmp_path / "conf"
    conf.mkdir()
    server = tmp_path / "files_server.py"
    server.write_text(SERVER)
    elsewhere = tmp_path / "host-cwd"
    elsewhere.mkdir()
    return conf, server, elsewhere


def test_default_limits_let_host_bursts_through_from_another_working_directory(
    setup: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    conf, server, elsewhere = setup
    policy = conf / "policy.yaml"
    policy.write_text("default_action: ALLOW\nverifier: {enabled: true}\n")  # the default rate limits
    names, outcome = _burst(_host_params(policy, server, "audit.jsonl", elsewhere), tmp_path / "err.log")
    assert names == ["get_file_info"]
    assert outcome == {"ok": 300, "blocked": 0, "identical_ok": 30, "identical_blocked": 0}
    # the relative audit path is beside the policy, not in the host's working directory
    assert (conf / "audit.jsonl").is_file() and not (elsewhere / "audit.jsonl").exists()
    records = [json.loads(line) for line in (conf / "audit.jsonl").read_text().splitlines()]
    assert sum(r["event_type"] == "tool_call" and r["decision"] == "allow" for r in records) == 330


def test_the_old_limits_would_have_refused_those_bursts(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The measurement that set the defaults: 120 calls and 20 identical calls a minute refuse a normal host."""
    conf, server, elsewhere = setup
    policy = conf / "old.yaml"
    policy.write_text(
        "default_action: ALLOW\nverifier:\n"
        "  rate_limit: {max_calls: 120, window: 60, max_identical: 20, identical_window: 60}\n"
    )
    _, outcome = _burst(_host_params(policy, server, str(tmp_path / "a.jsonl"), elsewhere), tmp_path / "err.log")
    assert outcome["ok"] == 120 and outcome["blocked"] == 180
    assert outcome["identical_ok"] == 0 and outcome["identical_blocked"] == 30  # the window is already full
    assert b"blocked a call of 'get_file_info'" in (tmp_path / "err.log").read_bytes()
