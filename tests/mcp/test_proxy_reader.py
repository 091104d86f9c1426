"""The proxy's line reader: any chunking of the byte stream gives the same lines; oversize lines are refused
without being kept, and the line after them is intact."""

from __future__ import annotations

import asyncio
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel_lab._mcp.framing import _LineReader

LIMIT = 64


def _run(chunks: list[bytes], limit: int = LIMIT) -> tuple[list[bytes], list[tuple[bytes, bytes, int]], bool]:
    loop = asyncio.new_event_loop()
    r, w = os.pipe()
    lines: list[bytes] = []
    oversize: list[tuple[bytes, bytes, int]] = []
    eof: list[bool] = []
    try:
        reader = _LineReader(
            loop,
            r,
            limit,
            lines.append,
            lambda prefix, suffix, size: oversize.append((prefix, suffix, size)),
            lambda: eof.append(True),
        )
        for chunk in chunks:
            reader._feed(chunk)
        os.close(w)
        w = -1
        reader._readable()  # EOF: a last line without newline is still delivered
        return lines, oversize, bool(eof)
    finally:
        if w >= 0:
            os.close(w)
        os.close(r)
        loop.close()


line_st = st.one_of(st.binary(max_size=80), st.binary(min_size=60, max_size=200)).map(lambda b: b.replace(b"\n", b"."))


@settings(max_examples=150, deadline=None)
@given(st.lists(line_st, min_size=1, max_size=12), st.data())
def test_any_chunking_gives_the_same_lines(raw_lines: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(line + b"\n" for line in raw_lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    lines, oversize, eof = _run([c for c in chunks if c])
    expected = [line + b"\n" for line in raw_lines if len(line) <= LIMIT and line.strip()]
    assert lines == expected
    big = [line for line in raw_lines if len(line) > LIMIT]
    assert oversize == [(line[:4096], line[-4096:], len(line)) for line in big]
    assert eof


def test_oversize_size_is_the_line_length_however_it_is_cut() -> None:
    line = b"a" * 100
    for chunks in ([line + b"\n"], [line[:50], line[50:] + b"\n"], [line[:70], line[70:] + b"\n"], [line, b"\n"]):
        _, oversize, _ = _run(chunks)
        assert oversize == [(line, line, 100)], chunks


def test_unterminated_last_line_is_delivered_at_eof() -> None:
    lines, oversize, eof = _run([b'{"a":1}\n{"b"', b":2}"])
    assert lines == [b'{"a":1}\n', b'{"b":2}\n'] and not oversize and eof


def test_oversize_keeps_only_a_prefix() -> None:
    big = b'{"jsonrpc":"2.0","id":9,"method":"x","params":"' + b"y" * 10_000 + b'"}'
    lines, oversize, _ = _run([big[:30], big[30:5000], big[5000:] + b"\n", b'{"ok":true}\n'])
    assert lines == [b'{"ok":true}\n']
    ((prefix, suffix, size),) = oversize
    assert size == len(big) and prefix.startswith(b'{"jsonrpc":"2.0","id":9') and len(prefix) <= 4096
    assert suffix == big[-4096:]


def test_oversize_keeps_the_last_4_kib_however_it_is_cut() -> None:
    """The TypeScript SDK writes the id last: the tail of a refused line must survive any chunking."""
    big = (
        b'{"result":{"content":[{"type":"text","text":"' + bytes(range(32, 127)) * 300 + b'"}]},"jsonrpc":"2.0","id":5}'
    )
    for cuts in (
        [],
        [10],
        [len(big) - 3],
        [len(big) - 5000, len(big) - 4097, len(big) - 1],
        list(range(100, len(big), 997)),
    ):
        chunks = [big[a:b] for a, b in zip([0, *cuts], [*cuts, len(big)], strict=True)]
        lines, oversize, _ = _run([*chunks, b"\n", b'{"ok":1}\n'], limit=8192)
        assert lines == [b'{"ok":1}\n']
        assert oversize == [(big[:4096], big[-4096:], len(big))], cuts


def test_oversize_last_line_without_newline_is_reported_at_eof() -> None:
    """A server that dies mid-reply still lets the relay answer the request the reply was for."""
    big = b'{"jsonrpc":"2.0","id":3,"result":"' + b"z" * 500
    lines, oversize, eof = _run([big[:100], big[100:]])
    assert lines == [] and eof
    assert oversize == [(big, big, len(big))]


def test_only_line_feed_ends_a_line() -> None:
    """A bare carriage return (a line end for universal-newline readers) stays inside the line it is in."""
    lines, oversize, _ = _run([b'{"a":1}\r{"b":2}\r\n{"c":3}\n'])
    assert lines == [b'{"a":1}\r{"b":2}\r\n', b'{"c":3}\n'] and not oversize


def test_a_failing_output_scanner_withholds_the_output_in_block_mode() -> None:
    """Fail closed: if the scanner raises, block mode cannot vouch for the output, so it is withheld."""
    from sentinel_lab._mcp.relay import Proxy, _Pending
    from sentinel_lab._policy.model import Policy

    policy = Policy.from_yaml("default_action: ALLOW\nspotlight: {enabled: true, scan_output: block}\n")
    proxy = Proxy(["true"], policy)

    def broken(text: str) -> list:
        raise RuntimeError("scanner bug")

    proxy.scan = broken
    msg = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "ordinary output"}]}}
    proxy._scan_output(msg, _Pending("tools/call", False, "echo", {}), ["ordinary output"])
    assert msg["result"]["isError"] is True
    assert "ordinary output" not in str(msg["result"]["content"])
