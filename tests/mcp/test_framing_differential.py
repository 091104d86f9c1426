"""The proxy's reader and the official SDK's stdio server reader agree on what is one message.

A real subprocess runs ``mcp.server.stdio.stdio_server()`` on its own stdin (a real OS pipe), exactly as a tool
server does, and reports every item its reader yields. For each line the proxy's reader would cut, either
``decode`` refuses it, or the SDK reads exactly one message from it, equal (as JSON data, types included) to what
``decode`` returned; and the SDK reads the proxy's own serialisation ``encode(decode(line))`` the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from _framing_strategies import attacked_line, message_st
from hypothesis import HealthCheck, given, settings

from sentinel_lab._mcp.framing import FrameError, decode, encode

_SDK_READER = r"""
import json, os, sys
import anyio
from mcp.server.stdio import stdio_server

report = os.fdopen(int(sys.argv[1]), "w", buffering=1)

def plain(value):
    return json.dumps(value, sort_keys=True)

async def main():
    async with stdio_server() as (read_stream, _write_stream):
        async for item in read_stream:
            if isinstance(item, Exception):
                report.write(json.dumps({"refused": type(item).__name__}) + "\n")
                continue
            msg = item.message
            dump = msg.model_dump(by_alias=True, exclude_unset=True)
            if dump.get("method") == "harness/mark":
                report.write(json.dumps({"mark": dump["params"]["n"]}) + "\n")
            else:
                report.write(json.dumps({"kind": type(msg).__name__, "json": plain(dump)}) + "\n")
        report.flush()
        os._exit(0)  # stdin is closed: nothing more to read (the transport's writer would wait for ever)

anyio.run(main)
"""


class SdkReader:
    """One long-lived official SDK stdio server; ``read(line)`` returns what its reader made of that line."""

    def __init__(self) -> None:
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SDK_READER, str(w)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(w,),
        )
        os.close(w)
        self.report = os.fdopen(r, "r")
        self.n = 0

    def read(self, line: bytes) -> list[dict[str, Any]]:
        """Feed ``line`` (one line, no ``\\n`` inside) then a marker; what came before the marker is the line's."""
        assert b"\n" not in line
        self.n += 1
        mark = encode({"jsonrpc": "2.0", "method": "harness/mark", "params": {"n": self.n}})
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n" + mark)
        self.proc.stdin.flush()
        items: list[dict[str, Any]] = []
        while True:
            text = self.report.readline()
            assert text, "the SDK server died"
            item = json.loads(text)
            if item.get("mark") == self.n:
                return items
            items.append(item)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.report.close()


@pytest.fixture(scope="module")
def sdk() -> Iterator[SdkReader]:
    reader = SdkReader()
    yield reader
    reader.close()


_FIELDS = {
    "JSONRPCRequest": ("jsonrpc", "id", "method", "params"),
    "JSONRPCNotification": ("jsonrpc", "method", "params"),
    "JSONRPCResponse": ("jsonrpc", "id", "result"),
    "JSONRPCError": ("jsonrpc", "id", "error"),
}


def _kind(msg: dict[str, Any]) -> str:
    """What the message is by its fields, as the relay classifies it."""
    if "method" in msg:
        return "JSONRPCRequest" if "id" in msg else "JSONRPCNotification"
    return "JSONRPCError" if "error" in msg else "JSONRPCResponse"


def _as_sdk_sees(msg: dict[str, Any], kind: str) -> str:
    """``msg`` as the SDK's model keeps it: envelope fields only (pydantic ignores extra top-level keys)."""
    kept = {k: msg[k] for k in _FIELDS[kind] if k in msg}
    if kind == "JSONRPCError" and isinstance(kept.get("error"), dict):
        kept["error"] = {k: v for k, v in kept["error"].items() if k in ("code", "message", "data")}
    return json.dumps(kept, sort_keys=True)


def check_line(sdk: SdkReader, line: bytes) -> dict[str, Any] | None:
    """The harness's assertion for one line as the proxy's reader cuts it; returns what decode accepted."""
    items = sdk.read(line)
    try:
        msg = decode(line + b"\n")
    except FrameError:
        return None  # refused: the proxy forwards nothing of this line, whatever the SDK would make of it
    assert len(items) == 1, (line, items)  # accepted: to the SDK it is exactly one item too
    (item,) = items
    if "refused" not in item:  # the SDK may refuse an envelope it cannot validate; it never reads another one
        assert item["kind"] == _kind(msg), (line, item)
        assert item["json"] == _as_sdk_sees(msg, item["kind"]), (line, item)
    again = sdk.read(encode(msg)[:-1])
    assert again == items, (line, again, items)  # the proxy's serialisation reads as the same one message
    return msg


def check_stream(sdk: SdkReader, data: bytes) -> None:
    for line in data.split(b"\n"):
        if line.strip():
            check_line(sdk, line)


# ------------------------------------------------------------------------------------------ known attacks


CALL = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_all","arguments":{}}}'


def test_a_call_between_two_carriage_returns_in_a_ping_is_refused(sdk: SdkReader) -> None:
    line = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\r' + CALL + b'\r"}}'
    items = sdk.read(line)
    assert {"kind": "JSONRPCRequest"}.items() <= items[1].items()  # the SDK does run the hidden call
    assert '"delete_all"' in items[1]["json"]
    with pytest.raises(FrameError) as err:
        decode(line + b"\n")
    assert err.value.code == -32700 and err.value.id == 1
    check_line(sdk, line)


def test_a_utf16_line_is_refused(sdk: SdkReader) -> None:
    for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"):
        line = CALL.decode().encode(codec)
        with pytest.raises(FrameError) as err:
            decode(line + b"\n")
        assert err.value.code == -32700
        check_line(sdk, line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"jsonrpc":"2.0","id":2,"method":"ping","method":"tools/call","params":{"name":"delete_all"}}',
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_file","name":"delete_all"}}',
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{"p":"/tmp","p":"/etc"}}}',
    ],
)
def test_duplicate_keys_are_refused_where_the_sdk_keeps_the_last(sdk: SdkReader, line: bytes) -> None:
    (item,) = sdk.read(line)
    assert item["kind"] == "JSONRPCRequest"
    assert '"tools/call"' in item["json"] and ('"delete_all"' in item["json"] or '"/etc"' in item["json"])
    with pytest.raises(FrameError) as err:
        decode(line)
    assert err.value.code == -32700 and "duplicate key" in err.value.message
    check_line(sdk, line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"delete_all"}}',
        b'{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"delete_all"}}',
        b'{"jsonrpc":"2.0","id":true,"method":"tools/call","params":{"name":"delete_all"}}',
    ],
)
def test_an_id_the_sdk_would_drop_is_refused(sdk: SdkReader, line: bytes) -> None:
    """pydantic ignores an id that is not an int or a string and reads the call as a notification."""
    (item,) = sdk.read(line)
    assert item["kind"] == "JSONRPCNotification"
    with pytest.raises(FrameError) as err:
        decode(line)
    assert err.value.code == -32600
    check_line(sdk, line)


@pytest.mark.parametrize(
    "line",
    [
        b"\xef\xbb\xbf" + CALL,
        CALL.replace(b'"delete_all"', b'"del\xffete"'),
        CALL.replace(b'"delete_all"', b'"\\ud800"'),
        CALL.replace(b"{}", b'{"n":NaN}'),
        CALL.replace(b"{}", b'{"n":1e999}'),
        CALL.replace(b"{}", b'{"n":' + b"9" * 5000 + b"}"),
        CALL.replace(b"{}", b'{"n":' + b"[" * 200 + b"]" * 200 + b"}"),
        CALL.replace(b",", b",\t"),
        CALL.replace(b"{}", b'{"a":"\x0b"}'),
        b"[" + CALL + b"]",
    ],
)
def test_each_rejection_class_against_the_sdk(sdk: SdkReader, line: bytes) -> None:
    with pytest.raises(FrameError):
        decode(line)
    check_line(sdk, line)


def test_ordinary_messages_agree(sdk: SdkReader) -> None:
    lines = [
        CALL,
        b'{"jsonrpc": "2.0", "id": "a\\"b", "method": "tools/list"}',
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"caf\xc3\xa9 \\ud83d\\ude00 \\u2028"}]}}',
        b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}',
        b'{"jsonrpc":"2.0","id":4,"result":{},"extra":1}',
        b'{"result":{"n":-0.0,"f":1.5e300,"big":' + b"9" * 64 + b'},"jsonrpc":"2.0","id":5}',
    ]
    for line in lines:
        msg = check_line(sdk, line)
        assert msg is not None, line
        assert "refused" not in sdk.read(line)[0]


# ------------------------------------------------------------------------------------------ fuzzing


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message_st)
def test_valid_messages_agree(sdk: SdkReader, msg: dict[str, Any]) -> None:
    """Every message the relay may produce is accepted by both readers as the same one message."""
    line = encode(msg)[:-1]
    assert check_line(sdk, line) == msg
    assert "refused" not in sdk.read(line)[0]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attacked_line())
def test_attacked_lines_agree(sdk: SdkReader, data: bytes) -> None:
    check_stream(sdk, data)
