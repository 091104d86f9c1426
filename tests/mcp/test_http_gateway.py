"""``sentinel-lab gateway`` with real processes: the official SDK's Streamable HTTP client against the gateway
fronting an SDK tool server on stdio and one served over Streamable HTTP; raw HTTP for what a client must not do."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from _http_servers import (
    SESSION_KEY,
    calls,
    free_port,
    gateway_env,
    rpc,
    sentinel,
    serving,
    wait_for,
    write_files,
)

from sentinel_lab._core.wire import AUTH_CODE, BLOCK_CODE, PARSE_ERROR, PROXY_ERROR_CODE
from sentinel_lab._mcp.session_id import mint
from sentinel_lab._mcp.spotlight import unwrap

pytestmark = pytest.mark.timeout(300)

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class Setup:
    def __init__(self, url: str, log: Path, audit: Path, errlog: Path) -> None:
        self.url, self.log, self.audit, self.errlog = url, log, audit, errlog


@pytest.fixture(params=["stdio", "http"])
def gateway(request: Any, tmp_path: Path) -> Iterator[Setup]:
    """The gateway in front of a stdio tool server (started per session) or of an SDK Streamable HTTP server."""
    server, policy = write_files(tmp_path)
    log = tmp_path / "calls.jsonl"
    port = free_port()
    args = sentinel("gateway", "--listen", f"127.0.0.1:{port}", "--policy", str(policy), "--audit", "audit.jsonl")
    with contextlib.ExitStack() as stack:
        if request.param == "stdio":
            args += ["--", sys.executable, str(server), "stdio", str(log)]
        else:
            upstream = free_port()
            stack.enter_context(
                serving([sys.executable, str(server), "http", str(log), str(upstream)], upstream, tmp_path / "srv.err")
            )
            args += ["--upstream-url", f"http://127.0.0.1:{upstream}/mcp"]
        stack.enter_context(serving(args, port, tmp_path / "gateway.err", env=gateway_env()))
        yield Setup(f"http://127.0.0.1:{port}/mcp", log, tmp_path / "audit.jsonl", tmp_path / "gateway.err")


async def _sdk(url: str, body: Any) -> Any:
    """Run ``body(session)`` in an initialized official-SDK client session over Streamable HTTP."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    with anyio.fail_after(120):
        async with streamable_http_client(url) as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await body(session)


def _text(result: Any) -> str:
    wrapped = unwrap(result.content[0].text)
    assert wrapped is not None, "the gateway spotlights tool output"
    return wrapped[1]


def _blocked(exc: Any) -> dict[str, Any]:
    return {"code": exc.error.code, "message": exc.error.message}


def test_tools_list_allowed_block_and_taint(gateway: Setup) -> None:
    from mcp import MCPError

    async def body(session: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"tools": sorted(t.name for t in (await session.list_tools()).tools)}
        out["echo"] = _text(await session.call_tool("echo", {"text": "hi"}))
        with pytest.raises(MCPError) as denied:
            await session.call_tool("forbidden", {"text": "x"})
        out["forbidden"] = _blocked(denied.value)
        out["sink_before"] = _text(await session.call_tool("sink", {"text": "harmless"}))
        out["source"] = _text(await session.call_tool("source", {"text": "pw"}))
        with pytest.raises(MCPError) as tainted:
            await session.call_tool("sink", {"text": "leak"})
        out["sink_after"] = _blocked(tainted.value)
        return out

    out = anyio.run(_sdk, gateway.url, body)
    assert out["tools"] == ["confirm", "echo", "sink", "slow", "source"]  # the denied tool is hidden
    assert out["echo"] == "echo: hi" and out["sink_before"] == "sent" and out["source"] == "secret: pw"
    assert out["forbidden"]["code"] == BLOCK_CODE and "forbidden" in out["forbidden"]["message"]
    assert out["sink_after"]["code"] == BLOCK_CODE and "no sink after source" in out["sink_after"]["message"]
    # what reached the server: never the blocked calls
    assert [(c["tool"], c["text"]) for c in calls(gateway.log)] == [
        ("echo", "hi"),
        ("sink", "harmless"),
        ("source", "pw"),
    ]
    assert '"decision":"block"' in gateway.audit.read_text().replace(" ", "")


async def _ask(url: str) -> tuple[str, list[str], list[str]]:
    """Call ``confirm``: the server logs, then asks the client (elicitation) in the middle of the call."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp_types import ElicitResult

    asked: list[str] = []
    logged: list[str] = []

    async def elicit(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"word": "yes"})

    async def log(params: Any) -> None:
        logged.append(str(params.data))

    with anyio.fail_after(120):
        async with (
            streamable_http_client(url) as streams,
            ClientSession(streams[0], streams[1], elicitation_callback=elicit, logging_callback=log) as session,
        ):
            await session.initialize()
            result = await session.call_tool("confirm", {"text": "plan"})
    return _text(result), asked, logged


def test_server_requests_and_notifications_reach_the_client(gateway: Setup) -> None:
    text, asked, logged = anyio.run(_ask, gateway.url)
    assert text == "accept: yes"
    assert len(asked) == 1 and "Say a word about plan" in asked[0]  # relayed once, spotlighted
    assert any("asking about plan" in entry for entry in logged)


def test_taint_belongs_to_one_http_session(gateway: Setup) -> None:
    """A second session is not tainted by the first one's source read."""

    async def taint(session: Any) -> str:
        return _text(await session.call_tool("source", {"text": "pw"}))

    async def clean(session: Any) -> str:
        return _text(await session.call_tool("sink", {"text": "fine"}))

    assert anyio.run(_sdk, gateway.url, taint) == "secret: pw"
    assert anyio.run(_sdk, gateway.url, clean) == "sent"


def _post(url: str, body: bytes, **headers: str) -> httpx2.Response:
    return httpx2.post(url, content=body, headers={**HEADERS, **headers}, timeout=60)


def _initialize(url: str) -> str:
    resp = _post(url, json.dumps(INIT).encode())
    assert resp.status_code == 200, resp.text
    sid = resp.headers["mcp-session-id"]
    assert '"protocolVersion"' in resp.text
    notified = _post(url, b'{"jsonrpc":"2.0","method":"notifications/initialized"}', **{"Mcp-Session-Id": sid})
    assert notified.status_code == 202
    return sid


def test_session_ids_are_signed_and_checked(gateway: Setup) -> None:
    sid = _initialize(gateway.url)
    assert len(sid) == 68 and sid.startswith("1.")
    call = b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a"}}}'
    ok = _post(gateway.url, call, **{"Mcp-Session-Id": sid})
    assert ok.status_code == 200 and "echo: a" in rpc(ok)["result"]["content"][0]["text"]
    # a client that accepts only JSON gets the answer as JSON
    again = call.replace(b'"id":2', b'"id":3')
    plain = _post(gateway.url, again, **{"Mcp-Session-Id": sid, "Accept": "application/json"})
    assert plain.headers["content-type"].startswith("application/json") and plain.json()["id"] == 3
    # a forged id (right shape, wrong signature) is refused and never reaches a server
    forged = sid[:-4] + ("AAAA" if not sid.endswith("AAAA") else "BBBB")
    refused = _post(gateway.url, call.replace(b'"a"', b'"forged"'), **{"Mcp-Session-Id": forged})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == AUTH_CODE
    # a well-signed id of no live session: 404; no id at all on a non-initialize request: 400
    stale = mint(bytes.fromhex(SESSION_KEY))
    assert _post(gateway.url, call, **{"Mcp-Session-Id": stale}).status_code == 404
    assert _post(gateway.url, call).status_code == 400
    assert [c["text"] for c in calls(gateway.log) if c["tool"] == "echo"] == ["a", "a"]
    # DELETE ends the session: the id is then unknown
    assert httpx2.delete(gateway.url, headers={"Mcp-Session-Id": sid}, timeout=60).status_code == 200
    assert _post(gateway.url, call, **{"Mcp-Session-Id": sid}).status_code == 404


def test_bad_bodies_get_one_clear_answer(gateway: Setup) -> None:
    sid = _initialize(gateway.url)
    session = {"Mcp-Session-Id": sid}
    malformed = _post(gateway.url, b'{"jsonrpc":"2.0","id":7,"method":', **session)
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == PARSE_ERROR
    # a duplicate key is refused by the strict reader (another reader could take the other value)
    dup = b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","name":"forbidden"}}'
    assert _post(gateway.url, dup, **session).json()["error"]["code"] == PARSE_ERROR
    assert _post(gateway.url, b"[]", **session).json()["error"]["code"] == -32600  # no batches
    without_session = _post(gateway.url, b"{nope")
    assert without_session.status_code == 400 and without_session.json()["error"]["code"] == PARSE_ERROR
    big = b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'
    big += b"x" * (17 * 1024 * 1024) + b'"}}}'
    too_big = _post(gateway.url, big, **session)
    assert too_big.status_code == 413 and "exceeds the limit" in too_big.json()["error"]["message"]
    # the Mcp-Method / Mcp-Name headers must match the body
    call = b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","arguments":{"text":"h"}}}'
    mismatch = _post(gateway.url, call, **session, **{"Mcp-Method": "tools/call", "Mcp-Name": "sink"})
    assert mismatch.status_code == 400 and "Mcp-Name" in mismatch.json()["error"]["message"]
    # a tools/call without an id is never forwarded
    no_id = b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo","arguments":{"text":"noid"}}}'
    assert _post(gateway.url, no_id, **session).status_code == 400
    # the session still works, and none of the refused calls reached the server
    ok = _post(gateway.url, call, **session, **{"Mcp-Method": "tools/call", "Mcp-Name": "echo"})
    assert "echo: h" in rpc(ok)["result"]["content"][0]["text"]
    assert [c["text"] for c in calls(gateway.log)] == ["h"]


def test_upstream_killed_mid_call_answers_the_pending_request(gateway: Setup) -> None:
    from mcp import MCPError

    async def body(session: Any) -> Any:
        async def kill_when_running() -> None:
            while not any(c["tool"] == "slow" for c in calls(gateway.log)):
                await anyio.sleep(0.05)
            os.kill(next(c["pid"] for c in calls(gateway.log) if c["tool"] == "slow"), signal.SIGKILL)

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_running)
            with pytest.raises(MCPError) as failed:
                await session.call_tool("slow", {"text": "z"})
        return failed.value.error

    error = anyio.run(_sdk, gateway.url, body)
    assert error.code == PROXY_ERROR_CODE and "Sentinel Proxy Error" in error.message
    wait_for(lambda: "answered" in gateway.errlog.read_text() or "unexpectedly" in gateway.errlog.read_text(), "log")


def test_require_session_is_met_by_the_signed_header(tmp_path: Path) -> None:
    """With --require-session, the gateway's checked Mcp-Session-Id is the id a tool call needs."""
    server, policy = write_files(tmp_path)
    log = tmp_path / "calls.jsonl"
    port = free_port()
    args = sentinel("gateway", "--listen", f"127.0.0.1:{port}", "--policy", str(policy), "--require-session")
    args += ["--", sys.executable, str(server), "stdio", str(log)]

    async def body(session: Any) -> str:
        return _text(await session.call_tool("echo", {"text": "with header"}))

    with serving(args, port, tmp_path / "gateway.err", env=gateway_env()):
        assert anyio.run(_sdk, f"http://127.0.0.1:{port}/mcp", body) == "echo: with header"
    assert [c["text"] for c in calls(log)] == ["with header"]
