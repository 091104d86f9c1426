"""Bytes to messages and back for the stdio transport: line framing over non-blocking fds, and serialisation.

The proxy reads newline-delimited JSON-RPC from the client and from the tool server through ``_LineReader`` and
writes through ``_Writer``; everything it relays is serialised by ``encode`` from the object it judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["MISSING", "encode", "sniff_id", "valid_id"]

_READ_CHUNK = 256 * 1024
_ID_SCAN_BYTES = 4096
MISSING: Any = object()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one instance: json.dumps builds one per call
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"))  # \u-escapes everything, lone surrogates included


def encode(msg: dict[str, Any]) -> bytes:
    text = _ENCODER.encode(msg)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # a lone surrogate (legal as a JSON escape, not in UTF-8): escape everything
        return _ASCII_ENCODER.encode(msg).encode("ascii") + b"\n"


def valid_id(value: Any) -> bool:
    return (type(value) is int) or (type(value) is str)


def sniff_id(prefix: bytes) -> Any:
    """The top-level ``"id"`` of a JSON object from the start of a (possibly cut) line; ``MISSING`` if unknown.

    A single linear pass that tracks nesting and strings, so an ``"id"`` inside ``params`` is not mistaken for
    the request id.
    """
    text = prefix[:_ID_SCAN_BYTES].decode("utf-8", "replace")
    n = len(text)
    i = 0
    while i < n and text[i] in " \t\r":
        i += 1
    if i >= n or text[i] != "{":
        return MISSING
    depth = 0
    expect_key = False
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return MISSING
            token = text[i + 1 : j]
            i = j + 1
            if depth == 1 and expect_key:
                expect_key = False
                k = i
                while k < n and text[k] in " \t\r":
                    k += 1
                if k < n and text[k] == ":" and token == "id":
                    k += 1
                    while k < n and text[k] in " \t\r":
                        k += 1
                    end = k
                    if k < n and text[k] == '"':
                        end = k + 1
                        while end < n and text[end] != '"':
                            end += 2 if text[end] == "\\" else 1
                        end += 1
                    else:
                        while end < n and (text[end] == "-" or text[end].isdigit()):
                            end += 1
                    try:
                        value = json.loads(text[k:end])
                    except ValueError:
                        return MISSING
                    return value if valid_id(value) else MISSING
            continue
        if ch in "{[":
            depth += 1
            expect_key = ch == "{" and depth == 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 1:
            expect_key = True
        i += 1
    return MISSING


# ----------------------------------------------------------------------------------------------- fd plumbing


class _LineReader:
    """Reads newline-delimited messages from a non-blocking fd, refusing lines over ``limit`` bytes unbuffered.

    ``on_line`` gets each line with its trailing newline, so a message forwarded unchanged is written as is.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        limit: int,
        on_line: Callable[[bytes], None],
        on_oversize: Callable[[bytes, int], None],
        on_eof: Callable[[], None],
    ) -> None:
        self.loop, self.fd, self.limit = loop, fd, limit
        self.on_line, self.on_oversize, self.on_eof = on_line, on_oversize, on_eof
        self.parts: list[bytes] = []
        self.size = 0
        self.discarding = False
        self.discarded = 0
        self.prefix = b""
        self.paused = False
        self.done = False
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    def pause(self) -> None:
        if not self.paused and not self.done:
            self.paused = True
            self.loop.remove_reader(self.fd)

    def resume(self) -> None:
        if self.paused and not self.done:
            self.paused = False
            self.loop.add_reader(self.fd, self._readable)

    def stop(self) -> None:
        if not self.done:
            self.done = True
            if not self.paused:
                self.loop.remove_reader(self.fd)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, _READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if self.parts and not self.discarding:
                line = b"".join(self.parts) + b"\n"
                self.parts.clear()
                self.size = 0
                if not line.isspace():
                    self.on_line(line)
            self.stop()
            self.on_eof()
            return
        self._feed(data)

    def _start_discard(self, first: bytes) -> None:
        head = b"".join(self.parts) if self.parts else b""
        self.prefix = (head + first[:_ID_SCAN_BYTES])[:_ID_SCAN_BYTES]
        self.discarded = self.size + len(first)
        self.parts.clear()
        self.size = 0
        self.discarding = True

    def _feed(self, data: bytes) -> None:
        start = 0
        limit = self.limit
        while not self.done:
            nl = data.find(b"\n", start)
            if nl < 0:
                rest = data[start:] if start else data
                if self.discarding:
                    self.discarded += len(rest)
                elif self.size + len(rest) > limit:
                    self._start_discard(rest)
                elif rest:
                    self.parts.append(rest)
                    self.size += len(rest)
                return
            seg = data[start : nl + 1]  # the line with its newline (the whole chunk, uncopied, in the common case)
            start = nl + 1
            if self.discarding:
                self.discarding = False
                self.on_oversize(self.prefix, self.discarded + len(seg) - 1)
                self.prefix = b""
                continue
            if self.size + len(seg) - 1 > limit:
                self._start_discard(seg[:-1])
                self.discarding = False
                self.on_oversize(self.prefix, self.discarded)
                self.prefix = b""
                continue
            if self.parts:
                self.parts.append(seg)
                line = b"".join(self.parts)
                self.parts.clear()
                self.size = 0
            else:
                line = seg
            if not line.isspace():
                self.on_line(line)


class _Writer:
    """Writes to a non-blocking fd, buffering what the kernel does not take; pauses its sources while full."""

    HIGH = 8 * 1024 * 1024
    LOW = 1024 * 1024

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, on_error: Callable[[], None]) -> None:
        self.loop, self.fd, self.on_error = loop, fd, on_error
        self.buf = bytearray()
        self.closed = False
        self.close_when_drained = False
        self.sources: tuple[_LineReader, ...] = ()
        self.drained: asyncio.Future[None] | None = None
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if self.buf:
            self.buf += data
        else:
            try:
                n = os.write(self.fd, data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self._fail()
                return
            if n == len(data):
                return
            self.buf += data[n:]
            self.loop.add_writer(self.fd, self._writable)
        if len(self.buf) > self.HIGH:
            for source in self.sources:
                source.pause()

    def _writable(self) -> None:
        try:
            n = os.write(self.fd, self.buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._fail()
            return
        del self.buf[:n]
        if len(self.buf) < self.LOW:
            for source in self.sources:
                source.resume()
        if not self.buf:
            self.loop.remove_writer(self.fd)
            self._on_drained()

    def _on_drained(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if self.close_when_drained:
            self.close()

    def _fail(self) -> None:
        self.buf.clear()
        self.close()
        self._on_drained()
        self.on_error()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_writer(self.fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def close_after_flush(self) -> None:
        if not self.buf:
            self.close()
        else:
            self.close_when_drained = True

    async def drain(self, timeout: float) -> None:
        if not self.buf or self.closed:
            return
        self.drained = self.loop.create_future()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drained, timeout)
