"""Strict reading of one line into one message: every rejection class, round trips, ids of refused lines, and
property-based fuzzing of framing, encodings, keys, nesting, numbers, surrogates and ids."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from _framing_strategies import attacked_line, json_values, message_st
from _growth import BOUND, FACTOR, cpu_seconds
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel_lab._mcp.framing import (
    MAX_DEPTH,
    MAX_NUMBER_CHARS,
    MISSING,
    FrameError,
    _canonical_line,
    _decode_strictly,
    decode,
    encode,
    sniff_id,
    sniff_id_tail,
)

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


def _refusal(line: bytes) -> FrameError:
    with pytest.raises(FrameError) as err:
        decode(line)
    return err.value


# ------------------------------------------------------------------------------------------ acceptance


def test_an_ordinary_line_with_or_without_its_newline() -> None:
    assert decode(PING + b"\n") == decode(PING) == {"jsonrpc": "2.0", "id": 1, "method": "ping"}


def test_json_whitespace_spaces_and_escapes_are_read() -> None:
    line = b'{ "jsonrpc" : "2.0" , "id" : "a\\"b" , "result" : { "t" : "\\t\\r\\n\\u2028\\ud83d\\ude00 caf\xc3\xa9" } }'
    assert decode(line) == {"jsonrpc": "2.0", "id": 'a"b', "result": {"t": "\t\r\n\u2028\U0001f600 café"}}


def test_limits_themselves_are_accepted() -> None:
    deep: Any = []
    for _ in range(MAX_DEPTH - 3):  # the message, result, and 62 lists: exactly MAX_DEPTH levels
        deep = [deep]
    assert decode(encode({"id": 1, "result": {"a": deep}}))["result"]["a"] == deep
    big = int("9" * MAX_NUMBER_CHARS)
    assert decode(encode({"id": -big, "result": {"n": big, "f": 1.7976931348623157e308}}))["id"] == -big


def test_a_real_tool_schema_fits_the_depth_bound() -> None:
    """A tools/list with nested object schemas (properties of items of properties) is far from MAX_DEPTH."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(8):
        schema = {"type": "object", "properties": {"x": {"type": "array", "items": schema}}, "required": ["x"]}
    msg = {"jsonrpc": "2.0", "id": 2, "result": {"tools": [{"name": "t", "inputSchema": schema}]}}
    assert decode(encode(msg)) == msg


# ------------------------------------------------------------------------------------------ rejections


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\r"}}', "carriage return"),
        (b'{"jsonrpc":"2.0",\r"id":1,"method":"ping"}', "carriage return"),
        (b'{"jsonrpc":"2.0",\t"id":1,"method":"ping"}', "tab"),
        (b'{"jsonrpc":"2.0","id":1,\n"method":"ping"}', "line feed"),
        (PING + b"\r\n", "carriage return"),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping\x00"}', "NUL"),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping\x0b"}', "control character"),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","x":\x1c1}', "Expecting value"),
        (b"\xef\xbb\xbf" + PING, "byte order mark"),
        (PING.decode().encode("utf-16"), "NUL"),
        (PING.decode().encode("utf-32-be"), "NUL"),
        (b'{"jsonrpc":"2.0","id":1,"method":"p\xffing"}', "invalid UTF-8"),
        (b'{"jsonrpc":"2.0","id":1,"method":"p\xed\xa0\x80"}', "invalid UTF-8"),  # a surrogate written in UTF-8
        (b'{"jsonrpc":"2.0","id":1,"method":"p\xc0\xafx"}', "invalid UTF-8"),  # an overlong encoding
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}', "duplicate key"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":{"b":1,"b":2}}}', "duplicate key"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":NaN}}', "NaN"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":Infinity}}', "Infinity"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":-Infinity}}', "-Infinity"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":1e309}}', "out of range"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":' + b"1" * 65 + b"}}", "integer of 65"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"n":0.' + b"1" * 200 + b"}}", "number of"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"\\ud800"}}', "lone surrogate"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"\\uDC00\\uD800"}}', "lone surrogate"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"\\ud800":1}}', "lone surrogate"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 70 + b"]" * 70 + b"}", "nesting"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nesting"),
        (b"", "Expecting value"),
        (b"{", "Expecting property name"),
        (PING + PING, "Extra data"),
        (b"'single'", "Expecting value"),
    ],
)
def test_unreadable_lines_are_parse_errors(line: bytes, reason: str) -> None:
    err = _refusal(line)
    assert err.code == -32700
    assert err.message.startswith("Parse error: ") and reason in err.message, err.message


@pytest.mark.parametrize(
    "line",
    [
        b"[" + PING + b"]",
        b"[]",
        b'"ping"',
        b"1",
        b"null",
        b'{"jsonrpc":"2.0","id":null,"method":"tools/call"}',
        b'{"jsonrpc":"2.0","id":1.0,"method":"tools/call"}',
        b'{"jsonrpc":"2.0","id":true,"method":"tools/call"}',
        b'{"jsonrpc":"2.0","id":[1],"result":{}}',
    ],
)
def test_readable_json_that_is_not_one_message_is_an_invalid_request(line: bytes) -> None:
    err = _refusal(line)
    assert err.code == -32600 and err.message.startswith("Invalid Request: ")
    assert err.id is MISSING


def test_an_error_may_carry_a_null_id() -> None:
    line = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'
    assert decode(line)["id"] is None


# ------------------------------------------------------------------------------------------ ids of refused lines


@pytest.mark.parametrize(
    ("line", "rid"),
    [
        (b'{"jsonrpc":"2.0","id":5,"method":"x","params":{"s":"\r"}}', 5),
        (b'{"jsonrpc":"2.0","id":"a","method":"x","params":{"n":NaN}}', "a"),
        (b'{"method":"x","params":{"n":NaN},"jsonrpc":"2.0","id":9}', 9),  # the id written last
        (b'{"method":"x","params":{"id":3,"n":NaN},"jsonrpc":"2.0"}', MISSING),  # params' id is not the id
        (b'{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}', MISSING),  # which one? neither
        (b'{"jsonrpc":"2.0","id":4,"method":"x","id":4}', MISSING),  # a duplicated id is never answered
        (b'{"jsonrpc":"2.0","id":6,"method":"x","params":{"a":1,"a":2}}', 6),
        (b"\xef\xbb\xbf" + PING, 1),
        (b'{"jsonrpc":"2.0","id":7,"method":"x","params":' + b"[" * 5000 + b"]" * 5000 + b"}", 7),
        (b'{"jsonrpc":"2.0","id":8,"method":"x","params":' + b"[" * 80 + b"]" * 80 + b"}", 8),
    ],
)
def test_a_refused_line_carries_its_id_when_it_can_be_read(line: bytes, rid: Any) -> None:
    assert _refusal(line).id == rid if rid is not MISSING else _refusal(line).id is MISSING


# ------------------------------------------------------------------------------------------ sniff_id_tail


@pytest.mark.parametrize(
    ("suffix", "rid"),
    [
        (b'{"result":{"content":[]},"jsonrpc":"2.0","id":5}', 5),
        (b'aaaa"}]},"jsonrpc":"2.0","id":-12}\n', -12),
        (b'xx"},"jsonrpc":"2.0" , "id" : "req-1" }\r\n', "req-1"),
        (b'xx"},"id":"a\\"b\\\\"}', 'a"b\\'),
        (b'{"a":{"id":5}}', MISSING),  # nested
        (b'{"a":[{"id":5}]}', MISSING),
        (b'{"a":"x\\",\\"id\\":5}"}', MISSING),  # inside a string
        (b'\\",\\"id\\":5}', MISSING),
        (b'"id":5}', MISSING),  # cannot see what precedes the key
        (b',"id":5.0}', MISSING),
        (b',"id":true}', MISSING),
        (b',"id":null}', MISSING),
        (b',"id":"\\ud800"}', MISSING),
        (b',"id":' + b"1" * 70 + b"}", MISSING),
        (b',"xid":5}', MISSING),
        (b',"id":5', MISSING),  # cut before the brace
        (b"", MISSING),
    ],
)
def test_sniff_id_tail(suffix: bytes, rid: Any) -> None:
    got = sniff_id_tail(suffix)
    assert got is MISSING if rid is MISSING else got == rid


@settings(max_examples=200, deadline=None)
@given(message_st, st.integers(0, 6000))
def test_sniff_id_tail_finds_an_id_written_last_and_never_a_wrong_one(msg: dict[str, Any], pad: int) -> None:
    """The TypeScript SDK's order (id last) is found from the last 4 KiB; any other order gives no wrong id."""
    body = {k: v for k, v in msg.items() if k != "id"}
    body["pad"] = "x" * pad
    if "id" in msg and msg["id"] is not None:
        line = encode({**body, "id": msg["id"]})
        assert sniff_id_tail(line[-4096:]) == msg["id"]
    got = sniff_id_tail(encode(msg)[-4096:])
    assert got is MISSING or got == msg.get("id")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_sniffers_never_raise(data: bytes) -> None:
    for value in (sniff_id(data), sniff_id_tail(data)):
        assert value is MISSING or type(value) in (int, str)


# ------------------------------------------------------------------------------------------ round trips, fuzzing


@settings(max_examples=300, deadline=None)
@given(message_st)
def test_decode_encode_round_trip(msg: dict[str, Any]) -> None:
    line = encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert b"\r" not in line and b"\t" not in line and "\u2028".encode() not in line and b"\xc2\x85" not in line
    assert decode(line) == msg
    assert encode(decode(line)) == line


@settings(max_examples=300, deadline=None)
@given(attacked_line())
def test_any_attacked_line_is_refused_or_read_canonically(data: bytes) -> None:
    """Only FrameError ever escapes; an accepted piece has no byte another reader could split or re-encode on."""
    for piece in data.split(b"\n"):
        try:
            msg = decode(piece)
        except FrameError as err:
            assert err.code in (-32700, -32600)
            assert err.message.startswith(("Parse error: ", "Invalid Request: "))
            assert err.id is MISSING or type(err.id) in (int, str)
            continue
        assert not any(b in piece for b in (b"\r", b"\t", b"\x00")) and not piece.startswith(b"\xef\xbb\xbf")
        piece.decode("utf-8")  # strict
        assert decode(encode(msg)) == msg
        assert json.loads(piece) == msg  # the lax reader agrees on what the accepted line says


def _typed(value: Any) -> Any:
    """``value`` with every scalar's type beside it: ``1``, ``1.0`` and ``True`` are three values."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


def _spellings(msg: dict[str, Any]) -> list[bytes]:
    """The same message as the clients and servers write it: compact or spaced, raw UTF-8 or escaped."""
    return [
        encode(msg),
        json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"),
        json.dumps(msg, separators=(",", ":")).encode(),
        json.dumps(msg).encode(),
        json.dumps(msg, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8", "surrogatepass"),
    ]


@settings(max_examples=400, deadline=None)
@given(st.one_of(message_st, attacked_line()))
def test_the_fast_reading_is_the_strict_reading(drawn: dict[str, Any] | bytes) -> None:
    """orjson reads a line only when the line is exactly its own serialisation of what it read; such a line is
    read the same by the strict reader (types included), and every other line goes to the strict reader."""
    lines = [drawn] if isinstance(drawn, bytes) else _spellings(drawn)
    for line in lines:
        fast = _canonical_line(line)
        if fast is None:
            continue
        assert _typed(_decode_strictly(line)) == _typed(fast)


def test_the_official_clients_compact_lines_take_the_fast_reading() -> None:
    for line in (PING, b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{"a":1.5}}}'):
        assert _canonical_line(line) == _canonical_line(line + b"\n") == decode(line)
    # a duplicate key, whitespace, an escape or an integer orjson cannot hold is never read the fast way
    for line in (b'{"a":1,"a":2}', b'{"a": 1}', b'{"a":"\\u00e9"}', b'{"a":' + b"9" * 30 + b"}", b'{"a":1E2}'):
        assert _canonical_line(line) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_frame_error(data: bytes) -> None:
    try:
        msg = decode(data)
    except FrameError:
        return
    assert decode(encode(msg)) == msg


@settings(max_examples=200, deadline=None)
@given(json_values, json_values, st.text(min_size=1, max_size=6))
def test_a_duplicate_key_anywhere_is_refused(a: Any, b: Any, key: str) -> None:
    k = json.dumps(key).encode()
    inner = b"{" + k + b":" + encode(a)[:-1] + b"," + k + b":" + encode(b)[:-1] + b"}"
    for line in (inner, b'{"jsonrpc":"2.0","id":1,"result":{"x":[' + inner + b"]}}"):
        err = _refusal(line)
        assert err.code == -32700 and "duplicate key" in err.message


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 3000), st.sampled_from([b"[", b'{"a":']))
def test_nesting_is_bounded_exactly(depth: int, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    line = b'{"id":1,"result":{"v":' + opener * depth + b"0" + closer * depth + b"}}"
    if depth + 2 <= MAX_DEPTH:
        assert decode(line)["id"] == 1
    else:
        err = _refusal(line)
        assert err.code == -32700 and "nesting" in err.message and err.id == 1


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6000), st.booleans())
def test_integer_size_is_bounded_exactly(digits: int, negative: bool) -> None:
    literal = (b"-" if negative else b"") + b"7" * digits
    line = b'{"id":1,"result":{"n":' + literal + b"}}"
    if digits <= MAX_NUMBER_CHARS:
        assert decode(line)["result"]["n"] == int(literal)
    else:
        assert "integer of" in _refusal(line).message


@settings(max_examples=200, deadline=None)
@given(st.integers(0xD800, 0xDFFF), st.integers(0, 0xFFFF), st.booleans())
def test_only_paired_surrogate_escapes_are_read(first: int, second: int, upper: bool) -> None:
    esc = f"\\u{first:04x}\\u{second:04x}"
    line = ('{"id":1,"result":{"s":"' + (esc.upper().replace("\\U", "\\u") if upper else esc) + '"}}').encode()
    paired = 0xD800 <= first <= 0xDBFF and 0xDC00 <= second <= 0xDFFF
    if paired:
        assert len(decode(line)["result"]["s"]) == 1
    else:
        assert "lone surrogate" in _refusal(line).message


# ------------------------------------------------------------------------------------------ linearity


@pytest.mark.parametrize(
    "unit",
    [
        b'"\\ud800",',  # lone surrogate escapes
        b'"\\ud83d\\ude00",',  # paired ones
        b"[",  # nesting (refused early)
        b"[0],",  # many containers (walked)
        b'"\\\\\\"",',  # backslash runs
        b'{"k":1,"k":2},',  # duplicate keys
        b"9" * 100 + b",",  # long numbers
        b'"' + "\u0301".encode() * 10 + b'",',  # combining marks are plain text
        b'"\r",',  # refused before parsing
    ],
)
def test_decode_is_linear(unit: bytes) -> None:
    def line(n: int) -> bytes:
        return b'{"jsonrpc":"2.0","id":1,"result":{"v":[' + unit * n + b'"end"]}}'

    def run(data: bytes) -> None:
        with contextlib.suppress(FrameError):
            decode(data)
        sniff_id_tail(data[-4096:])

    n = (200_000 if unit == b"[0]," else 1_000_000) // len(unit)  # 50k containers are plenty
    small, large = line(n // FACTOR), line(n)
    ratio = cpu_seconds(lambda: run(large), 3) / max(cpu_seconds(lambda: run(small), 3), 1e-3)
    assert ratio < BOUND, f"decode grew {ratio:.1f}x for {FACTOR}x the input"
