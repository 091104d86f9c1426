"""``sentinel-lab proxy --upstream-url``: the official stdio client through the proxy to an official-SDK server
served over Streamable HTTP (real processes); and the bounded, linear SSE reader on its own."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _http_servers import calls, free_port, sentinel, serving, write_files

from sentinel_lab._core.wire import BLOCK_CODE, PROXY_ERROR_CODE
from sentinel_lab._mcp.http import Oversize, sse_events
from sentinel_lab._mcp.spotlight import unwrap

pytestmark = pytest.mark.timeout(300)


class Upstream:
    def __init__(self, url: str, log: Path, policy: Path, tmp: Path, proc: Any) -> None:
        self.url, self.log, self.policy, self.tmp, self.proc = url, log, policy, tmp, proc


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Upstream]:
    server, policy = write_files(tmp_path)
    log = tmp_path / "calls.jsonl"
    port = free_port()
    with serving([sys.executable, str(server), "http", str(log), str(port)], port, tmp_path / "srv.err") as proc:
        yield Upstream(f"http://127.0.0.1:{port}/mcp", log, policy, tmp_path, proc)


async def _through_proxy(up: Upstream, body: Any, url: str | None = None, **callbacks: Any) -> Any:
    """Run ``body(session)`` in an official stdio client session with ``proxy --upstream-url`` as its server."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    args = sentinel("proxy", "--policy", str(up.policy), "--audit", "audit.jsonl", "--upstream-url", url or up.url)
    params = StdioServerParameters(command=args[0], args=args[1:])
    with open(up.tmp / "proxy.err", "a") as err, anyio.fail_after(120):
        async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w, **callbacks) as session:
            await session.initialize()
            return await body(session)


async def _direct(up: Upstream, body: Any) -> Any:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    with anyio.fail_after(120):
        async with streamable_http_client(up.url) as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await body(session)


def _text(result: Any) -> str:
    wrapped = unwrap(result.content[0].text)
    return result.content[0].text if wrapped is None else wrapped[1]


def test_tools_and_an_allowed_call_work_as_direct(upstream: Upstream) -> None:
    async def body(session: Any) -> tuple[list[str], str]:
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        return tools, _text(await session.call_tool("echo", {"text": "hi"}))

    direct_tools, direct_text = anyio.run(_direct, upstream, body)
    tools, text = anyio.run(_through_proxy, upstream, body)
    assert tools == [t for t in direct_tools if t != "forbidden"]  # the denied tool is hidden, nothing else
    assert text == direct_text == "echo: hi"


def test_blocked_calls_never_reach_the_server_and_taint_holds(upstream: Upstream) -> None:
    from mcp import MCPError

    async def body(session: Any) -> list[Any]:
        out: list[Any] = []
        for name, text in (("forbidden", "x"), ("sink", "ok"), ("source", "pw"), ("sink", "leak")):
            try:
                out.append(_text(await session.call_tool(name, {"text": text})))
            except MCPError as exc:
                out.append((exc.error.code, exc.error.message))
        return out

    forbidden, sink_ok, source, leak = anyio.run(_through_proxy, upstream, body)
    assert forbidden[0] == BLOCK_CODE and "forbidden" in forbidden[1]
    assert sink_ok == "sent" and source == "secret: pw"
    assert leak[0] == BLOCK_CODE and "no sink after source" in leak[1]
    assert [(c["tool"], c["text"]) for c in calls(upstream.log)] == [("sink", "ok"), ("source", "pw")]
    assert "tool_call" in (upstream.tmp / "audit.jsonl").read_text()


def test_server_requests_and_notifications_over_sse_are_relayed(upstream: Upstream) -> None:
    from mcp_types import ElicitResult

    asked: list[str] = []
    logged: list[str] = []

    async def elicit(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"word": "yes"})

    async def log(params: Any) -> None:
        logged.append(str(params.data))

    async def body(session: Any) -> str:
        return _text(await session.call_tool("confirm", {"text": "plan"}))

    text = anyio.run(lambda: _through_proxy(upstream, body, elicitation_callback=elicit, logging_callback=log))
    assert text == "accept: yes"
    assert len(asked) == 1 and "Say a word about plan" in asked[0]
    assert any("asking about plan" in entry for entry in logged)


def test_upstream_killed_mid_call_answers_the_pending_request(upstream: Upstream) -> None:
    from mcp import MCPError

    async def body(session: Any) -> list[Any]:
        async def kill_when_running() -> None:
            while not any(c["tool"] == "slow" for c in calls(upstream.log)):
                await anyio.sleep(0.05)
            os.killpg(upstream.proc.pid, signal.SIGKILL)

        errors = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_running)
            with pytest.raises(MCPError) as during:
                await session.call_tool("slow", {"text": "z"})
            errors.append(during.value.error)
        with pytest.raises(MCPError) as after:  # a dead upstream: every request still gets one answer
            await session.call_tool("echo", {"text": "after"})
        errors.append(after.value.error)
        return errors

    during, after = anyio.run(_through_proxy, upstream, body)
    assert during.code == PROXY_ERROR_CODE and "Sentinel Proxy Error" in during.message
    # The next POST either finds nothing listening or goes out on a pooled connection the kill has just broken
    # (which one depends on when the client's pool notices): either way one proxy error, and the call never ran.
    assert after.code == PROXY_ERROR_CODE
    assert "cannot be reached" in after.message or "connection to the upstream server failed" in after.message
    assert "after" not in [c["text"] for c in calls(upstream.log)]


def test_an_unreachable_upstream_answers_initialize_with_an_error(upstream: Upstream) -> None:
    from mcp import MCPError

    async def body(session: Any) -> None:
        raise AssertionError("initialize must not succeed")

    with pytest.raises(BaseException) as failed:
        anyio.run(lambda: _through_proxy(upstream, body, url=f"http://127.0.0.1:{free_port()}/mcp"))
    error = _find(failed.value, MCPError)
    assert error.error.code == PROXY_ERROR_CODE and "cannot be reached" in error.error.message


def _find(exc: BaseException, kind: type[Any]) -> Any:
    """The first ``kind`` exception in ``exc`` or the exception groups it is wrapped in."""
    if isinstance(exc, kind):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _find(inner, kind)
        if found is not None:
            return found
    return None


# ----------------------------------------------------------------------------------------------- the SSE reader


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _events(data: bytes, size: int, limit: int = 1 << 20) -> list[bytes | Oversize]:
    async def collect() -> list[bytes | Oversize]:
        return [event async for event in sse_events(_chunks(data, size), limit)]

    return anyio.run(collect)


@pytest.mark.parametrize("size", [1, 3, 7, 4096])
def test_sse_events_whatever_the_chunking(size: int) -> None:
    stream = (
        b": a comment\n\n"
        b'event: message\ndata: {"a":1}\n\n'
        b'id: 7\r\ndata: {"b":2}\r\n\r\n'
        b"event: ping\ndata: not a message\n\n"
        b'data: {"c":\ndata: 3}\n\n'
        b"retry: 10\n\n"
        b'data:{"d":4}\n\n'
        b'data: {"e":5}\n'  # the stream ends in the middle of this event: it is not dispatched
    )
    assert _events(stream, size) == [b'{"a":1}', b'{"b":2}', b'{"c":\n3}', b'{"d":4}']


def test_sse_oversize_event_is_refused_with_its_edges_and_not_buffered() -> None:
    big = b'{"jsonrpc":"2.0","id":5,"result":"' + b"x" * 300_000 + b'"}'
    for size in (8192, 100_001, 1_000_000):  # cut while it arrives, or whole in one chunk
        over, ok = _events(b"data: " + big + b'\n\ndata: {"ok":1}\n\n', size, limit=100_000)
        assert isinstance(over, Oversize) and over.size == len(big) + 1
        assert over.head.startswith(b'{"jsonrpc":"2.0","id":5') and over.tail.endswith(b'"}')
        assert ok == b'{"ok":1}'  # the stream goes on after the refused event
    # two data lines that together pass the limit
    over, ok = _events(
        b"data: " + b"a" * 60_000 + b"\ndata: " + b"b" * 60_000 + b'\n\ndata: {"ok":1}\n\n', 4096, 100_000
    )
    assert isinstance(over, Oversize) and over.head.startswith(b"aaa") and over.tail.endswith(b"bbb")


def test_sse_reader_time_is_linear_in_a_long_line() -> None:
    """A long event arriving in small chunks costs CPU in proportion to its size (no re-scanning or re-joining
    of the partial line): quadrupling the size costs about 4 times, well under the quadratic 16."""
    from _growth import BOUND, FACTOR, cpu_seconds

    def feed(n: int) -> None:
        line = b"data: " + b"y" * n + b"\n\n"
        pieces = [line[i : i + 256] for i in range(0, len(line), 256)]

        async def chunks() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        async def run() -> list[Any]:
            return [e async for e in sse_events(chunks(), 1 << 30)]

        assert len(anyio.run(run)[0]) == n

    small, large = 400_000, 400_000 * FACTOR
    ratio = cpu_seconds(lambda: feed(large)) / cpu_seconds(lambda: feed(small))
    assert ratio < BOUND, ratio
