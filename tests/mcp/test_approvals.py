"""Approvals bound to the exact call, asked through the client: the real proxy process in front of a real
``MCPServer`` tool server, driven by the official Python client (both protocol eras) and by raw JSON-RPC over
the pipes where the exchange has to be taken apart (replays, forged and late answers).

The tool server appends every call of ``send`` it runs to a file, and a small relay in front of it logs every
line the proxy sends it: a refused call provably never ran, and the client's answers provably never reached it.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from _http_servers import free_port, gateway_env, rpc, serving
from _pipes import LineProcess
from test_stateless import _headers, _post, redis_server

from sentinel_lab._core.wire import APPROVAL_META_KEY, BLOCK_CODE, SESSION_META_KEY
from sentinel_lab._mcp.approval import APPROVAL_INPUT_KEY, REQUEST_STATE_PREFIX, strip_forged
from sentinel_lab._mcp.audit import verify_log
from sentinel_lab._mcp.spotlight import unwrap

TOOL_SERVER = '''
import json, sys
from pathlib import Path
from mcp.server import MCPServer

app = MCPServer("mail")
RUNS = Path(sys.argv[1])

@app.tool()
def send(to: str, body: str) -> str:
    """Send a message."""
    with RUNS.open("a") as f:
        f.write(json.dumps({"to": to, "body": body}, sort_keys=True) + "\\n")
    return f"sent to {to}"

@app.tool()
def echo(text: str) -> str:
    """Echo text back."""
    return text

@app.tool()
def fetch(url: str) -> str:
    """Read a web page."""
    return f"page at {url}"

if __name__ == "__main__":
    app.run()
'''

# Logs every line the proxy sends to the tool server, then passes it on (both ways, unchanged).
WIRE_LOG = """
import subprocess, sys, threading
log = open(sys.argv[1], "ab", buffering=0)
child = subprocess.Popen([sys.executable, *sys.argv[2:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def back():
    for line in child.stdout:
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
threading.Thread(target=back, daemon=True).start()
for line in sys.stdin.buffer:
    log.write(line)
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
child.wait()
"""

POLICY = """
static_rules:
  echo: ALLOW
  fetch: ALLOW
  send: ASK
argument_rules:
  - tool: echo
    arg: text
    deny_if: {regex: "wire money"}
    message: "moving money needs a human"
    action: ASK
taint_rules:
  - {tool: fetch, action: ADD_TAINT, taint_tags: [web]}
  - {tool: send, action: CHECK_TAINT, forbidden_taints: [web], message: "no sending after reading the web"}
verifier: {enabled: false}
proxy: {approval_ttl_s: %s}
"""

MODERN = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
ARGS = {"to": "bob@example.com", "body": "the quarterly numbers"}


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "server.py").write_text(TOOL_SERVER)
    (tmp_path / "wire_log.py").write_text(WIRE_LOG)
    (tmp_path / "policy.yaml").write_text(POLICY % 60)
    (tmp_path / "short.yaml").write_text(POLICY % 0.3)
    return {"dir": tmp_path}


def _argv(setup: dict[str, Path], policy: str = "policy") -> list[str]:
    d = setup["dir"]
    return [
        *("-m", "sentinel_lab._cli", "proxy", "--policy", str(d / f"{policy}.yaml"), "--audit", str(d / "audit.jsonl")),
        *(sys.executable, str(d / "wire_log.py"), str(d / "wire.log"), str(d / "server.py"), str(d / "runs.jsonl")),
    ]


def _runs(setup: dict[str, Path]) -> list[dict[str, Any]]:
    """The calls of ``send`` the tool server really ran."""
    path = setup["dir"] / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wire(setup: dict[str, Path]) -> str:
    """Everything the proxy sent to the tool server."""
    path = setup["dir"] / "wire.log"
    return path.read_text() if path.exists() else ""


def _approvals(setup: dict[str, Path]) -> list[dict[str, Any]]:
    """The audit log's approval records (the log verifies first)."""
    path = setup["dir"] / "audit.jsonl"
    assert verify_log(path).ok
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["event_type"] == "approval"]


def _run_sdk(setup: dict[str, Path], body: Any, *, policy: str = "policy", callback: Any = None) -> None:
    """Run ``body(session)`` with the official handshake-era client through the proxy."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=_argv(setup, policy))

    async def main() -> None:
        with open(setup["dir"] / "stderr.log", "w") as err, anyio.fail_after(60):
            async with (
                stdio_client(params, errlog=err) as (r, w),
                ClientSession(r, w, elicitation_callback=callback) as session,
            ):
                await session.initialize()
                await body(session)

    anyio.run(main)


def _run_modern(setup: dict[str, Path], body: Any, *, callback: Any = None) -> None:
    """Run ``body(client)`` with the official 2026-07-28 client (``mcp.Client``) through the proxy."""
    from mcp import Client, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=_argv(setup))

    async def main() -> None:
        with open(setup["dir"] / "stderr.log", "w") as err, anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=err), elicitation_callback=callback) as client:
                assert client.protocol_version == "2026-07-28"
                await body(client)

    anyio.run(main)


def _answer(action: str, approve: Any = None) -> Any:
    from mcp.types import ElicitResult

    return ElicitResult(action=action, content=None if approve is None else {"approve": approve})


# ----------------------------------------------------------------------------------------------- handshake era


def test_an_approved_call_runs_with_exactly_the_judged_arguments(setup: dict[str, Path]) -> None:
    asked: list[Any] = []

    async def approve(context: Any, params: Any) -> Any:
        asked.append(params)
        return _answer("accept", True)

    async def body(session: Any) -> None:
        result = await session.call_tool("send", ARGS)
        assert unwrap(result.content[0].text)[1] == "sent to bob@example.com"
        plain = await session.call_tool("echo", {"text": "no question for an allowed call"})
        assert "no question" in plain.content[0].text

    _run_sdk(setup, body, callback=approve)
    assert _runs(setup) == [ARGS]
    assert len(asked) == 1  # the allowed echo asked nothing
    question = asked[0]
    assert "'send'" in question.message and "bob@example.com" in question.message
    assert "approval" in question.message and "static_rules.send" in question.message
    assert question.requested_schema["properties"]["approve"]["type"] == "boolean"
    about = question.meta[APPROVAL_META_KEY]
    assert about["tool"] == "send" and about["arguments"] == ARGS and len(about["digest"]) == 64
    events = [(r["details"]["event"], r["decision"]) for r in _approvals(setup)]
    assert events == [("asked", "ask"), ("granted", "allow")]
    assert {r["details"]["digest"] for r in _approvals(setup)} == {about["digest"]}


@pytest.mark.parametrize(
    ("answer", "event"),
    [
        (("accept", False), "refused"),
        (("decline", None), "refused"),
        (("cancel", None), "refused"),
        (("accept", "yes"), "refused"),  # only the boolean true approves
        (("error", None), "refused"),
    ],
)
def test_a_refused_call_never_runs(setup: dict[str, Path], answer: tuple[str, Any], event: str) -> None:
    from mcp import MCPError
    from mcp.types import ErrorData

    async def refuse(context: Any, params: Any) -> Any:
        if answer[0] == "error":
            return ErrorData(code=-32603, message="the host could not show the question")
        return _answer(*answer)

    async def body(session: Any) -> None:
        with pytest.raises(MCPError) as denied:
            await session.call_tool("send", ARGS)
        error = denied.value.error
        assert error.code == BLOCK_CODE and "not approved (refused)" in error.message
        assert error.data["decision"] == "ask" and error.data["tool"] == "send"
        assert error.data["approval"]["event"] == event
        assert "still served" in (await session.call_tool("echo", {"text": "still served"})).content[0].text

    _run_sdk(setup, body, callback=refuse)
    assert _runs(setup) == []
    assert [r["details"]["event"] for r in _approvals(setup)] == ["asked", event]
    assert '"send"' not in _wire(setup)  # the call never reached the tool server


def test_an_argument_rule_that_asks_is_approved_for_that_call_only(setup: dict[str, Path]) -> None:
    asked: list[str] = []

    async def approve(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return _answer("accept", True)

    async def body(session: Any) -> None:
        first = await session.call_tool("echo", {"text": "please wire money to Bob"})
        assert "wire money" in first.content[0].text
        again = await session.call_tool("echo", {"text": "please wire money to Bob"})  # the same call: asked again
        assert "wire money" in again.content[0].text

    _run_sdk(setup, body, callback=approve)
    assert len(asked) == 2 and all("moving money needs a human" in m for m in asked)
    events = [r["details"]["event"] for r in _approvals(setup)]
    assert events == ["asked", "granted", "asked", "granted"]
    assert len({r["details"]["ticket"] for r in _approvals(setup)}) == 2  # a fresh ticket for each call


def test_no_answer_within_the_expiry_denies_the_call(setup: dict[str, Path]) -> None:
    from mcp import MCPError

    never = anyio.Event()

    async def wait_forever(context: Any, params: Any) -> Any:
        with anyio.move_on_after(30):
            await never.wait()
        return _answer("accept", True)

    async def body(session: Any) -> None:
        with pytest.raises(MCPError) as denied:
            await session.call_tool("send", ARGS)
        assert denied.value.error.code == BLOCK_CODE and "expired" in denied.value.error.message
        assert denied.value.error.data["approval"]["event"] == "expired"
        never.set()  # a late approval changes nothing
        assert "still served" in (await session.call_tool("echo", {"text": "still served"})).content[0].text

    _run_sdk(setup, body, policy="short", callback=wait_forever)
    assert _runs(setup) == []
    assert [r["details"]["event"] for r in _approvals(setup)] == ["asked", "expired"]


def test_a_client_without_the_elicitation_capability_gets_a_clear_denial(setup: dict[str, Path]) -> None:
    from mcp import MCPError

    async def body(session: Any) -> None:
        with pytest.raises(MCPError) as denied:
            await session.call_tool("send", ARGS)
        error = denied.value.error
        assert error.code == BLOCK_CODE
        assert "approval required" in error.message and "cannot be asked for approvals" in error.message
        assert error.data["decision"] == "ask" and error.data["rule"] == "static_rules.send"
        assert error.data["approval"]["event"] == "cannot_ask"

    _run_sdk(setup, body, callback=None)
    assert _runs(setup) == []
    assert _approvals(setup) == []  # nothing was asked


# ----------------------------------------------------------------------------------------------- 2026-07-28 era


@pytest.mark.parametrize("approve", [True, False])
def test_the_modern_client_answers_an_input_required_result(setup: dict[str, Path], approve: bool) -> None:
    from mcp import MCPError

    asked: list[Any] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params)
        return _answer("accept", approve)

    async def body(client: Any) -> None:
        if approve:
            result = await client.call_tool("send", ARGS)
            assert unwrap(result.content[0].text)[1] == "sent to bob@example.com"
            return
        with pytest.raises(MCPError) as denied:
            await client.call_tool("send", ARGS)
        assert denied.value.error.code == BLOCK_CODE and denied.value.error.data["approval"]["event"] == "refused"

    _run_modern(setup, body, callback=answer)
    assert len(asked) == 1 and asked[0].meta[APPROVAL_META_KEY]["arguments"] == ARGS
    assert _runs(setup) == ([ARGS] if approve else [])
    events = [(r["details"]["event"], r["details"]["via"]) for r in _approvals(setup)]
    assert events == [("asked", "input_required"), ("granted" if approve else "refused", "input_required")]
    assert REQUEST_STATE_PREFIX not in _wire(setup) and "inputResponses" not in _wire(setup)


def test_a_modern_client_without_the_capability_gets_a_clear_denial(setup: dict[str, Path]) -> None:
    from mcp import MCPError

    async def body(client: Any) -> None:
        with pytest.raises(MCPError) as denied:
            await client.call_tool("send", ARGS)
        assert "cannot be asked for approvals" in denied.value.error.message
        assert denied.value.error.data["decision"] == "ask"

    _run_modern(setup, body, callback=None)
    assert _runs(setup) == []


# ----------------------------------------------------------------------------------------------- raw JSON-RPC


class Raw(LineProcess):
    """The proxy process spoken to line by line over its pipes."""

    def __init__(self, setup: dict[str, Path], policy: str = "policy") -> None:
        with open(setup["dir"] / "stderr.log", "wb") as stderr:
            super().__init__([sys.executable, *_argv(setup, policy)], stderr=stderr)

    def handshake(self, capabilities: dict[str, Any]) -> None:
        info = {"name": "raw", "version": "1"}
        params = {"protocolVersion": "2025-06-18", "capabilities": capabilities, "clientInfo": info}
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
        assert "result" in self.recv()
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call(self, rid: Any, name: str, args: dict[str, Any], **extra: Any) -> None:
        self.send(
            {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": args, **extra}}
        )


def _modern_meta(elicitation: bool = True) -> dict[str, Any]:
    caps: dict[str, Any] = {"elicitation": {"form": {}}} if elicitation else {}
    return {MODERN: "2026-07-28", CAPS: caps, "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}}


def _approve(state: str, approve: Any = True, **content: Any) -> dict[str, Any]:
    """A retry's fields answering the proxy's question."""
    answer = {"action": "accept", "content": {"approve": approve, **content}}
    return {"inputResponses": {APPROVAL_INPUT_KEY: answer}, "requestState": state}


def test_the_input_required_round_trip_is_single_use_and_bound_to_the_arguments(setup: dict[str, Path]) -> None:
    raw = Raw(setup)
    try:
        raw.send({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": _modern_meta()}})
        assert "result" in raw.recv()
        raw.call(2, "send", ARGS, _meta=_modern_meta())
        asked = raw.recv()
        assert asked["id"] == 2
        result = asked["result"]
        assert result["resultType"] == "input_required"
        question = result["inputRequests"][APPROVAL_INPUT_KEY]
        assert question["method"] == "elicitation/create"
        assert question["params"]["requestedSchema"]["required"] == ["approve"]
        assert "'send'" in question["params"]["message"]
        state = result["requestState"]
        assert state.startswith(REQUEST_STATE_PREFIX)

        # other arguments under the same request state: not the call that was asked about
        raw.call(3, "send", {**ARGS, "to": "eve@evil.example"}, _meta=_modern_meta(), **_approve(state))
        mismatch = raw.recv()
        assert mismatch["error"]["code"] == BLOCK_CODE and mismatch["error"]["data"]["approval"]["event"] == "mismatch"

        # a fresh question, approved: runs once with exactly the judged arguments
        raw.call(4, "send", ARGS, _meta=_modern_meta())
        state = raw.recv()["result"]["requestState"]
        raw.call(5, "send", ARGS, _meta=_modern_meta(), **_approve(state, note="INJECTED-ANSWER-TEXT"))
        ran = raw.recv()
        assert ran["id"] == 5 and ran["result"]["resultType"] == "complete"
        assert "sent to bob@example.com" in ran["result"]["content"][0]["text"]

        # the same request state again: a replay, refused
        raw.call(6, "send", ARGS, _meta=_modern_meta(), **_approve(state))
        replay = raw.recv()
        assert replay["error"]["code"] == BLOCK_CODE and "already used" in replay["error"]["message"]
        assert replay["error"]["data"]["approval"]["event"] == "replayed"

        # a request state this proxy never issued
        raw.call(7, "send", ARGS, _meta=_modern_meta(), **_approve(REQUEST_STATE_PREFIX + "forged"))
        assert raw.recv()["error"]["data"]["approval"]["event"] == "unknown"
    finally:
        raw.close()
    assert _runs(setup) == [ARGS]
    wire = _wire(setup)
    assert "INJECTED-ANSWER-TEXT" not in wire and REQUEST_STATE_PREFIX not in wire and "inputResponses" not in wire
    assert "eve@evil.example" not in wire
    events = [r["details"]["event"] for r in _approvals(setup)]
    assert events == ["asked", "mismatch", "asked", "granted", "replayed", "unknown"]


def test_an_input_required_answer_after_the_expiry_is_refused(setup: dict[str, Path]) -> None:
    raw = Raw(setup, "short")
    try:
        raw.call(1, "send", ARGS, _meta=_modern_meta())
        state = raw.recv()["result"]["requestState"]
        time.sleep(0.6)  # past the policy's approval_ttl_s of 0.3 s
        raw.call(2, "send", ARGS, _meta=_modern_meta(), **_approve(state))
        late = raw.recv()
        assert late["error"]["code"] == BLOCK_CODE and "expiry" in late["error"]["message"]
        assert late["error"]["data"]["approval"]["event"] == "expired"
    finally:
        raw.close()
    assert _runs(setup) == []


def test_a_modern_request_without_the_capability_is_denied(setup: dict[str, Path]) -> None:
    raw = Raw(setup)
    try:
        raw.call(1, "send", ARGS, _meta=_modern_meta(elicitation=False))
        denied = raw.recv()
        assert denied["error"]["code"] == BLOCK_CODE and "cannot be asked" in denied["error"]["message"]
    finally:
        raw.close()
    assert _runs(setup) == []


def test_an_elicitation_is_answered_once_and_the_answer_never_reaches_the_server(setup: dict[str, Path]) -> None:
    raw = Raw(setup)
    try:
        raw.handshake({"elicitation": {}})
        raw.call("a", "send", ARGS)
        question = raw.recv()
        assert question["method"] == "elicitation/create" and type(question["id"]) is int
        answer = {"action": "accept", "content": {"approve": True, "note": "INJECTED-ANSWER-TEXT"}}
        raw.send({"jsonrpc": "2.0", "id": question["id"], "result": answer})
        ran = raw.recv()
        assert ran["id"] == "a" and "sent to bob@example.com" in ran["result"]["content"][0]["text"]
        raw.send({"jsonrpc": "2.0", "id": question["id"], "result": answer})  # the same answer again
        raw.call("b", "echo", {"text": "after the replay"})
        assert "after the replay" in raw.recv()["result"]["content"][0]["text"]

        # an old question's answer cannot approve a new call of the same tool with the same arguments
        raw.call("c", "send", ARGS)
        second = raw.recv()
        assert second["method"] == "elicitation/create" and second["id"] != question["id"]
        raw.send({"jsonrpc": "2.0", "id": question["id"], "result": answer})
        raw.send({"jsonrpc": "2.0", "id": second["id"], "result": {"action": "decline"}})
        refused = raw.recv()
        assert refused["id"] == "c" and refused["error"]["data"]["approval"]["event"] == "refused"
    finally:
        raw.close()
    assert _runs(setup) == [ARGS]
    assert "INJECTED-ANSWER-TEXT" not in _wire(setup)


def test_a_call_approved_after_the_session_was_tainted_is_judged_again(setup: dict[str, Path]) -> None:
    """The human approved a call that was fine when asked; a web page read while the question was open taints
    the session, and the taint rule now refuses the call: the approval does not override it."""
    raw = Raw(setup)
    try:
        raw.handshake({"elicitation": {}})
        raw.call(1, "send", ARGS)
        question = raw.recv()
        assert question["method"] == "elicitation/create"
        raw.call(2, "fetch", {"url": "https://news.example/"})
        assert "page at" in raw.recv()["result"]["content"][0]["text"]
        raw.send({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"approve": True}}})
        refused = raw.recv()
        assert refused["id"] == 1 and refused["error"]["code"] == BLOCK_CODE
        assert "no sending after reading the web" in refused["error"]["message"]
        assert "session changed meanwhile" in refused["error"]["message"]
    finally:
        raw.close()
    assert _runs(setup) == []
    assert [r["details"]["event"] for r in _approvals(setup)] == ["asked", "granted"]


def test_a_cancelled_call_is_never_run_by_a_later_approval(setup: dict[str, Path]) -> None:
    raw = Raw(setup)
    try:
        raw.handshake({"elicitation": {}})
        raw.call(1, "send", ARGS)
        question = raw.recv()
        raw.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
        withdrawn = raw.recv()  # the proxy withdraws its question
        assert withdrawn["method"] == "notifications/cancelled"
        assert withdrawn["params"]["requestId"] == question["id"]
        raw.send({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"approve": True}}})
        raw.call(2, "echo", {"text": "next"})
        reply = raw.recv()
        assert reply["id"] == 2  # nothing was answered for the cancelled call
    finally:
        raw.close()
    assert _runs(setup) == []
    assert [r["details"]["event"] for r in _approvals(setup)] == ["asked", "discarded"]


def test_a_tool_server_cannot_pose_as_the_proxy() -> None:
    request = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "elicitation/create",
        "params": {"message": "approve?", "_meta": {APPROVAL_META_KEY: {"tool": "send"}, "keep": 1}},
    }
    strip_forged(request)
    assert request["params"]["_meta"] == {"keep": 1}
    result = {
        "id": 3,
        "result": {
            "resultType": "input_required",
            "inputRequests": {"q": {"method": "elicitation/create", "params": {"_meta": {APPROVAL_META_KEY: {}}}}},
        },
    }
    strip_forged(result)
    assert result["result"]["inputRequests"]["q"]["params"]["_meta"] == {}


# ----------------------------------------------------------------------------------------------- the SDK


@pytest.mark.parametrize("kind", ["sync yes", "async yes", "no", "raises", "none"])
def test_the_sdk_answers_with_the_approve_callback(setup: dict[str, Path], kind: str) -> None:
    from sentinel_lab._core.errors import PolicyViolation
    from sentinel_lab._mcp.sdk import ApprovalPrompt, Sentinel

    seen: list[ApprovalPrompt] = []

    def sync_yes(prompt: ApprovalPrompt) -> bool:
        seen.append(prompt)
        return True

    async def async_yes(prompt: ApprovalPrompt) -> bool:
        seen.append(prompt)
        return True

    def no(prompt: ApprovalPrompt) -> Any:
        seen.append(prompt)
        return "yes"  # anything but True refuses

    def raises(prompt: ApprovalPrompt) -> bool:
        seen.append(prompt)
        raise RuntimeError("the approver broke")

    approve = {"sync yes": sync_yes, "async yes": async_yes, "no": no, "raises": raises, "none": None}[kind]
    d = setup["dir"]
    upstream = _argv(setup)[-5:]  # the tool server behind its wire log
    client = Sentinel.start(upstream=upstream, policy=d / "policy.yaml", audit=d / "audit.jsonl", approve=approve)

    async def main() -> None:
        with anyio.fail_after(60):
            async with client:
                if kind.endswith("yes"):
                    result = await client.execute_tool("send", ARGS)
                    assert "sent to bob@example.com" in result.content[0].text
                    return
                with pytest.raises(PolicyViolation) as denied:
                    await client.execute_tool("send", ARGS)
                verdict = denied.value.verdict
                assert verdict.blocked and verdict.policy == "approval" and verdict.rule == "static_rules.send"
                why = "cannot be asked" if kind == "none" else "not approved (refused)"
                assert why in str(denied.value)

    anyio.run(main)
    assert _runs(setup) == ([ARGS] if kind.endswith("yes") else [])
    if kind == "none":
        assert seen == []
    else:
        assert len(seen) == 1 and seen[0].tool == "send" and dict(seen[0].arguments) == ARGS
        assert "static_rules.send" in seen[0].reason and len(seen[0].digest) == 64


# ----------------------------------------------------------------------------------------------- over HTTP


@pytest.mark.parametrize("approve", [True, False])
def test_the_gateway_asks_over_streamable_http(setup: dict[str, Path], approve: bool) -> None:
    """``sentinel-lab gateway``: the proxy's question reaches the official Streamable HTTP client on the
    request's event stream and its answer comes back as a POST; the call runs only when approved."""
    from _http_servers import free_port, serving
    from mcp import ClientSession, MCPError
    from mcp.client.streamable_http import streamable_http_client

    d = setup["dir"]
    port = free_port()
    argv = [sys.executable, "-m", "sentinel_lab", "gateway", "--listen", f"127.0.0.1:{port}"]
    argv += _argv(setup)[3:]  # the proxy's --policy, --audit and tool server command
    asked: list[Any] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.meta[APPROVAL_META_KEY])
        return _answer("accept", approve)

    async def main() -> None:
        url = f"http://127.0.0.1:{port}/mcp"
        with anyio.fail_after(60):
            async with (
                streamable_http_client(url) as streams,
                ClientSession(streams[0], streams[1], elicitation_callback=answer) as session,
            ):
                await session.initialize()
                if approve:
                    result = await session.call_tool("send", ARGS)
                    assert unwrap(result.content[0].text)[1] == "sent to bob@example.com"
                    return
                with pytest.raises(MCPError) as denied:
                    await session.call_tool("send", ARGS)
                assert denied.value.error.data["approval"]["event"] == "refused"

    with serving(argv, port, d / "gateway.err"):
        anyio.run(main)
    assert len(asked) == 1 and asked[0]["arguments"] == ARGS
    assert _runs(setup) == ([ARGS] if approve else [])


@pytest.mark.parametrize("approve", [True, False])
def test_the_stateless_gateway_asks_a_2026_07_28_client(setup: dict[str, Path], approve: bool) -> None:
    """``sentinel-lab gateway`` with a client of the stateless revision (the official ``mcp.Client`` over
    Streamable HTTP, its session token in ``_meta``): the ASK comes back as an ``InputRequiredResult``, the
    client's retry (a new HTTP request) settles it, and the call runs only when approved."""
    from _http_servers import free_port, serving
    from mcp import Client, MCPError

    d = setup["dir"]
    port = free_port()
    argv = [sys.executable, "-m", "sentinel_lab", "gateway", "--listen", f"127.0.0.1:{port}"]
    argv += _argv(setup)[3:]
    asked: list[Any] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.meta[APPROVAL_META_KEY])
        return _answer("accept", approve)

    async def main() -> None:
        with anyio.fail_after(60):
            async with Client(f"http://127.0.0.1:{port}/mcp", elicitation_callback=answer) as client:
                assert client.protocol_version == "2026-07-28"
                result = client.session.discover_result
                meta = {SESSION_META_KEY: (result.meta or {})[SESSION_META_KEY]}
                if approve:
                    done = await client.call_tool("send", ARGS, meta=meta)
                    assert unwrap(done.content[0].text)[1] == "sent to bob@example.com"
                    return
                with pytest.raises(MCPError) as denied:
                    await client.call_tool("send", ARGS, meta=meta)
                assert denied.value.error.data["approval"]["event"] == "refused"

    with serving(argv, port, d / "gateway.err"):
        anyio.run(main)
    assert len(asked) == 1 and asked[0]["arguments"] == ARGS
    assert _runs(setup) == ([ARGS] if approve else [])
    events = [(r["details"]["event"], r["details"]["via"]) for r in _approvals(setup)]
    assert events == [("asked", "input_required"), ("granted" if approve else "refused", "input_required")]


def test_an_open_question_stays_with_the_stateless_worker_that_asked(setup: dict[str, Path], tmp_path: Path) -> None:
    """Two gateway workers sharing taint through a real Redis: the question one worker asked is answered at that
    worker only; the same retry sent to the other worker is an unknown ticket, refused, and never runs the call."""
    d = setup["dir"]
    ports = [free_port(), free_port()]

    def gateway(port: int) -> list[str]:
        return [sys.executable, "-m", "sentinel_lab", "gateway", "--listen", f"127.0.0.1:{port}", "--state", url]

    def message(rid: int, method: str, params: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        meta = {**_modern_meta(), **({SESSION_META_KEY: token} if token else {})}
        return {"jsonrpc": "2.0", "id": rid, "method": method, "params": {**params, "_meta": meta}}

    with redis_server(tmp_path) as url, contextlib.ExitStack() as stack:
        urls = []
        for i, port in enumerate(ports):
            stack.enter_context(serving(gateway(port) + _argv(setup)[3:], port, d / f"gw{i}.err", env=gateway_env()))
            urls.append(f"http://127.0.0.1:{port}/mcp")
        found = rpc(_post(urls[0], message(1, "server/discover", {}), _headers("server/discover")))
        token = found["result"]["_meta"][SESSION_META_KEY]
        call = {"name": "send", "arguments": ARGS}
        asked = rpc(_post(urls[0], message(2, "tools/call", call, token), _headers("tools/call", "send")))
        state = asked["result"]["requestState"]
        retry = message(3, "tools/call", {**call, **_approve(state)}, token)
        elsewhere = rpc(_post(urls[1], retry, _headers("tools/call", "send")))
        assert elsewhere["error"]["code"] == BLOCK_CODE
        assert elsewhere["error"]["data"]["approval"]["event"] == "unknown"
        assert _runs(setup) == []
        here = rpc(_post(urls[0], retry, _headers("tools/call", "send")))
        assert "sent to bob@example.com" in json.dumps(here["result"])
    assert _runs(setup) == [ARGS]
