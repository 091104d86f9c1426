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

import orjson

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_CHARS",
    "MISSING",
    "FrameError",
    "decode",
    "encode",
    "sniff_id",
    "sniff_id_tail",
    "valid_id",
]

# 64 KiB a read: os.read allocates its whole size first, and past glibc's mmap threshold (128 KiB) that is an mmap
# and munmap per read (256 KiB: 9.5 µs a small message; 64 KiB: 0.5 µs). Reading into a reused bytearray
# (os.readv) then copying out the bytes measured slower (0.75 µs): the shrink of a fresh bytes object is cheaper.
_READ_CHUNK = 64 * 1024
_ID_SCAN_BYTES = 4096
MISSING: Any = object()
MAX_DEPTH = 64  # nesting of objects and arrays, the message itself counting as 1; real tool schemas need < 20
_WALK_ALWAYS = 64 * 1024  # past this size a line is walked without counting first
MAX_NUMBER_CHARS = 64  # digits of an integer (sign excluded); a float's whole literal may be 2x this
PARSE_ERROR = -32700
INVALID_REQUEST = -32600


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one instance: json.dumps builds one per call
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"))  # \u-escapes everything, lone surrogates included
# characters that str.splitlines() and some line readers take as line ends; JSON allows them raw inside strings
_LINE_SEPARATORS = (("\x85", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


#: orjson serialises plain JSON types only: anything else (a subclass, a dataclass, a date) raises, and goes the
#: standard library's way, as do integers past 64 bits and strings holding a lone surrogate.
_ORJSON_PLAIN = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_LINE_SEPARATOR_BYTES = tuple((raw.encode("utf-8"), escaped.encode("ascii")) for raw, escaped in _LINE_SEPARATORS)


def encode(msg: dict[str, Any]) -> bytes:
    """The one serialisation of a message: compact UTF-8 JSON on one ``\\n``-terminated line.

    No raw control character and no Unicode line separator appears in the output, so every line reader sees
    exactly one line, and ``decode(encode(m)) == m`` for every message ``decode`` accepts. orjson writes it (a
    tenth of the standard library's time); what orjson refuses the standard library writes.
    """
    try:
        out = orjson.dumps(msg, option=_ORJSON_PLAIN)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _encode_stdlib(msg)
    if not out.isascii():  # one C pass; the separators are not ASCII
        for raw_bytes, escaped_bytes in _LINE_SEPARATOR_BYTES:
            if raw_bytes in out:
                out = out.replace(raw_bytes, escaped_bytes)
    return out + b"\n"


def _encode_stdlib(msg: dict[str, Any]) -> bytes:
    text = _ENCODER.encode(msg)
    for raw, escaped in _LINE_SEPARATORS:  # O(1) for ASCII/Latin-1 text: a str cannot hold a wider character
        if raw in text:
            text = text.replace(raw, escaped)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # a lone surrogate (legal as a JSON escape, not in UTF-8): escape everything
        return _ASCII_ENCODER.encode(msg).encode("ascii") + b"\n"


class FrameError(Exception):
    """A line that is not exactly one acceptable message: ``code`` is -32700 (unreadable bytes or JSON) or
    -32600 (readable JSON that is not one message object); ``id`` is the request id when it can be read."""

    def __init__(self, code: int, message: str, id: Any = MISSING) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id


class _Reject(Exception):
    """Raised from inside the JSON parser's hooks; turned into a ``FrameError`` by ``decode``."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key  # the duplicated key, for a duplicate


def _no_constant(name: str) -> Any:
    raise _Reject(f"Parse error: {name} is not JSON")


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS + (literal[0] == "-"):
        raise _Reject(f"Parse error: integer of {len(literal)} characters (at most {MAX_NUMBER_CHARS} digits)")
    return int(literal)


def _bounded_float(literal: str) -> float:
    if len(literal) > 2 * MAX_NUMBER_CHARS:
        raise _Reject(f"Parse error: number of {len(literal)} characters (at most {2 * MAX_NUMBER_CHARS})")
    value = float(literal)
    if value in (_INF, -_INF):
        raise _Reject("Parse error: number out of range")
    return value


_INF = float("inf")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Reject(f"Parse error: duplicate key {json.dumps(key)[:80]}", key)
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_pairs, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant
)


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` (the value itself at depth 1); level by level, linear."""
    level = [value]
    for _ in range(limit):
        below: list[Any] = []
        for node in level:
            below += [c for c in (node.values() if type(node) is dict else node) if type(c) is dict or type(c) is list]
        if not below:
            return False
        level = below
    return True


def _id_of(obj: dict[str, Any]) -> Any:
    rid = obj.get("id", MISSING)
    return rid if valid_id(rid) else MISSING


def _refused_id(body: bytes) -> Any:
    """The id to answer a refused line with: read from its head and its tail, ``MISSING`` if they disagree."""
    head = sniff_id(body[:_ID_SCAN_BYTES])
    tail = sniff_id_tail(body[-_ID_SCAN_BYTES:])
    if head is MISSING:
        return tail
    if tail is MISSING or (type(tail) is type(head) and tail == head):
        return head
    return MISSING


def decode(line: bytes) -> dict[str, Any]:
    """One line (its trailing ``\\n`` optional) to one JSON-RPC message object, read strictly.

    UTF-8 only (no BOM), no raw control character (``\\r``, ``\\t``, NUL, ...) anywhere, no duplicate key at any
    depth, no NaN/Infinity, no lone surrogate, at most ``MAX_DEPTH`` levels and ``MAX_NUMBER_CHARS`` digits, a
    JSON object at the top, and an ``id`` (when present) that is an integer or a string (null only in an error).
    Anything else raises ``FrameError`` (and nothing else), so a line that another reader could take as a
    different message or as two messages is never accepted. Linear in the input.
    """
    nl = line.find(b"\n")  # the line itself is not copied: JSON takes a final "\n" as whitespace
    if (0 <= nl < len(line) - 1) or b"\r" in line or b"\t" in line or b"\x00" in line:
        raise FrameError(PARSE_ERROR, _control_reason(line), _refused_id(line))
    if line.startswith(b"\xef\xbb\xbf"):
        raise FrameError(PARSE_ERROR, "Parse error: byte order mark (UTF-8 without BOM only)", _refused_id(line[3:]))
    obj = _canonical_line(line)
    if obj is None:
        obj = _decode_strictly(line)
    if type(obj) is not dict:
        if type(obj) is list:
            raise FrameError(INVALID_REQUEST, "Invalid Request: batches (JSON arrays) are not accepted")
        raise FrameError(INVALID_REQUEST, f"Invalid Request: a message is a JSON object, not {type(obj).__name__}")
    rid = obj.get("id", MISSING)
    if rid is not MISSING and not valid_id(rid) and not (rid is None and "error" in obj):
        # the SDK reads {"id": null | 1.5 | true, "method": ...} as a notification: no such id may pass
        raise FrameError(INVALID_REQUEST, "Invalid Request: id must be an integer or a string")
    # the walk costs one step per container: for a small line two C-speed counts of brackets usually spare it
    if (len(line) > _WALK_ALWAYS or line.count(b"{") + line.count(b"[") > MAX_DEPTH) and _depth_exceeds(obj, MAX_DEPTH):
        raise FrameError(PARSE_ERROR, f"Parse error: nesting deeper than {MAX_DEPTH}", _id_of(obj))
    if b"\\u" in line and (b"\\ud" in line or b"\\uD" in line) and _has_lone_surrogate(obj):
        raise FrameError(PARSE_ERROR, "Parse error: lone surrogate escape (not a Unicode character)", _id_of(obj))
    return obj


def _canonical_line(line: bytes) -> Any:
    """What ``line`` says when it is exactly orjson's own serialisation of what orjson reads from it, else
    ``None``.

    Such a line is compact, every string escaped as the shortest form, every number in its one shortest
    spelling, and no key is repeated (a repeated key leaves the object one member short, and the
    serialisation shorter than the line), so the strict reading gives the same value: the official clients
    write their messages so, and orjson reads and writes a small message in a tenth of the time. Any other
    line (whitespace, escapes, an integer past 64 bits, which orjson reads as a float) is read strictly."""
    try:
        obj = orjson.loads(line)
        body = orjson.dumps(obj)
    except orjson.JSONDecodeError:  # also a lone surrogate escape: the strict reader says which error
        return None
    except TypeError:  # pragma: no cover - what orjson reads it writes
        return None
    if body == line or (len(line) == len(body) + 1 and line.endswith(b"\n") and line.startswith(body)):
        return obj
    return None


def _decode_strictly(line: bytes) -> Any:
    """The standard library's reading of ``line`` with every strict rule as a hook: ``FrameError`` otherwise."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(PARSE_ERROR, f"Parse error: invalid UTF-8 at byte {exc.start}", _refused_id(line)) from None
    try:
        obj = _DECODER.decode(text)
    except _Reject as exc:
        # two ids: the SDK would take the last, another reader the first; answer neither
        raise FrameError(PARSE_ERROR, exc.message, MISSING if exc.key == "id" else _refused_id(line)) from None
    except RecursionError:
        raise FrameError(PARSE_ERROR, f"Parse error: nesting deeper than {MAX_DEPTH}", _refused_id(line)) from None
    except ValueError as exc:  # JSONDecodeError, and anything the parser reports as a bad value
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        pos = (
            f" at byte {len(text[: exc.pos].encode('utf-8', 'surrogatepass'))}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise FrameError(PARSE_ERROR, f"Parse error: {reason}{pos}"[:200], _refused_id(line)) from None
    return obj


def _has_lone_surrogate(obj: dict[str, Any]) -> bool:
    try:
        _ENCODER.encode(obj).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _control_reason(line: bytes) -> str:
    body = line[:-1] if line.endswith(b"\n") else line
    if b"\x00" in body:
        return "Parse error: NUL byte (UTF-8 only; UTF-16/32 text is not accepted)"
    for byte, name in ((b"\r", "carriage return"), (b"\n", "line feed"), (b"\t", "tab")):
        if byte in body:
            return f"Parse error: raw {name} in a line (escape it inside strings; none between tokens)"
    return "Parse error: raw control character"


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


_BLANK = b" \t\r\n"


def _skip_back(data: bytes, i: int) -> int:
    while i >= 0 and data[i] in _BLANK:
        i -= 1
    return i


def _string_start(data: bytes, close: int) -> int:
    """Index of the quote opening the JSON string whose closing quote is at ``close``; -1 if not in ``data``.

    A quote is a string boundary when an even number of backslashes precedes it; each backslash run is counted
    once, so the scan is linear.
    """
    i = close - 1
    while True:
        i = data.rfind(b'"', 0, i + 1)
        if i < 0:
            return -1
        k = i - 1
        while k >= 0 and data[k] == 0x5C:  # backslash
            k -= 1
        if k < 0:
            return -1  # the run reaches the window's start: cannot tell whether this quote is escaped
        if (i - 1 - k) % 2 == 0:
            return i
        i = k


def sniff_id_tail(suffix: bytes) -> Any:
    """The top-level ``"id"`` of a JSON object from the end of a (possibly cut) line; ``MISSING`` if unsure.

    Servers built on the TypeScript SDK write the id last (``{"result":...,"jsonrpc":"2.0","id":5}``). Only an id
    that is the object's last member is found, read backwards from the closing brace in one linear pass.
    """
    data = suffix[-_ID_SCAN_BYTES:]
    i = _skip_back(data, len(data) - 1)
    if i < 0 or data[i] != 0x7D:  # }
        return MISSING
    i = _skip_back(data, i - 1)
    if i < 0:
        return MISSING
    end = i + 1
    if data[i] == 0x22:  # a string id
        start = _string_start(data, i)
        if start < 0:
            return MISSING
    else:
        while i >= 0 and (0x30 <= data[i] <= 0x39 or data[i] == 0x2D):
            i -= 1
        start = i + 1
        if start == end or end - start > MAX_NUMBER_CHARS + 1:
            return MISSING
    token = data[start:end]
    i = _skip_back(data, start - 1)
    if i < 0 or data[i] != 0x3A:  # :
        return MISSING
    i = _skip_back(data, i - 1)
    if i < 3 or data[i - 3 : i + 1] != b'"id"':
        return MISSING
    i = _skip_back(data, i - 4)
    if i < 0 or data[i] not in b",{":
        return MISSING
    try:
        value = json.loads(token.decode("utf-8"))
        if type(value) is str:
            value.encode("utf-8")  # a lone surrogate is no id
    except ValueError:  # bad UTF-8, bad JSON, or a lone surrogate (UnicodeError is a ValueError)
        return MISSING
    return value if valid_id(value) else MISSING


# ----------------------------------------------------------------------------------------------- fd plumbing


class _LineReader:
    """Reads ``\\n``-delimited messages from a non-blocking fd, refusing lines over ``limit`` bytes unbuffered.

    Only ``\\n`` ends a line (the MCP stdio framing); a ``\\r`` stays in the line for ``decode`` to refuse.
    ``on_line`` gets each line with its trailing newline. ``on_oversize(prefix, suffix, size)`` gets the first and
    the last 4 KiB of a refused line (without its newline) and its length, so an id at either end can be answered.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        limit: int,
        on_line: Callable[[bytes], None],
        on_oversize: Callable[[bytes, bytes, int], None],
        on_eof: Callable[[], None],
    ) -> None:
        self.loop, self.fd, self.limit = loop, fd, limit
        self.on_line, self.on_oversize, self.on_eof = on_line, on_oversize, on_eof
        self.parts: list[bytes] = []
        self.size = 0
        self.discarding = False
        self.discarded = 0
        self.prefix = b""
        self.suffix = b""
        self.paused = False
        self.done = False
        self.watched = True  # False for an fd epoll refuses (a regular file, /dev/null): it is read by polling
        self.polling = False
        os.set_blocking(fd, False)
        self._watch()

    def _watch(self) -> None:
        if self.watched:
            try:
                self.loop.add_reader(self.fd, self._readable)
                return
            except PermissionError:  # such an fd is always ready: read it from the loop until it ends
                self.watched = False
        if not self.polling:
            self.polling = True
            self.loop.call_soon(self._poll)

    def _unwatch(self) -> None:
        if self.watched:
            self.loop.remove_reader(self.fd)

    def _poll(self) -> None:
        self.polling = False
        if not self.paused and not self.done:
            self._readable()
            if not self.paused and not self.done:
                self.polling = True
                self.loop.call_soon(self._poll)

    def pause(self) -> None:
        if not self.paused and not self.done:
            self.paused = True
            self._unwatch()

    def resume(self) -> None:
        if self.paused and not self.done:
            self.paused = False
            self._watch()

    def stop(self) -> None:
        if not self.done:
            self.done = True
            if not self.paused:
                self._unwatch()

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, _READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if self.discarding:  # an oversize last line without newline is still refused, so it can be answered
                self._end_discard()
            elif self.parts:
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
        head = b"".join(self.parts) + first if self.parts else first
        self.prefix = head[:_ID_SCAN_BYTES]
        self.suffix = head[-_ID_SCAN_BYTES:]
        self.discarded = len(head)
        self.parts.clear()
        self.size = 0
        self.discarding = True

    def _keep_tail(self, more: bytes) -> None:
        self.discarded += len(more)
        if len(self.prefix) < _ID_SCAN_BYTES:
            self.prefix += more[: _ID_SCAN_BYTES - len(self.prefix)]
        if len(more) >= _ID_SCAN_BYTES:
            self.suffix = more[-_ID_SCAN_BYTES:]
        elif more:
            self.suffix = (self.suffix + more)[-_ID_SCAN_BYTES:]

    def _end_discard(self) -> None:
        prefix, suffix, size = self.prefix, self.suffix, self.discarded
        self.discarding = False
        self.prefix = self.suffix = b""
        self.discarded = 0
        self.on_oversize(prefix, suffix, size)

    def _feed(self, data: bytes) -> None:
        start = 0
        limit = self.limit
        while not self.done:
            nl = data.find(b"\n", start)
            if nl < 0:
                rest = data[start:] if start else data
                if self.discarding:
                    self._keep_tail(rest)
                elif self.size + len(rest) > limit:
                    self._start_discard(rest)
                elif rest:
                    self.parts.append(rest)
                    self.size += len(rest)
                return
            seg = data[start : nl + 1]  # the line with its newline (the whole chunk, uncopied, in the common case)
            start = nl + 1
            if self.discarding:
                self._keep_tail(seg[:-1])
                self._end_discard()
                continue
            if self.size + len(seg) - 1 > limit:
                self._start_discard(seg[:-1])
                self._end_discard()
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
