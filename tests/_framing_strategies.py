"""Hypothesis strategies for the framing tests: valid JSON-RPC messages, and lines an attacker derives from them.

Shared by the unit/fuzz tests of ``decode`` and by the differential harness against the official SDK's reader.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sentinel_lab._mcp.framing import encode

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**64) + 1, max_value=10**64 - 1),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
ids = st.one_of(st.integers(min_value=-(10**64) + 1, max_value=10**64 - 1), st.text(max_size=20))
methods = st.one_of(st.sampled_from(["tools/call", "tools/list", "ping", "resources/read"]), st.text(max_size=20))


def _envelope(**fields: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", **{k: v for k, v in fields.items() if v is not _ABSENT}}


_ABSENT: Any = object()
_maybe_params = st.one_of(st.just(_ABSENT), json_objects)

message_st: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(lambda i, m, p: _envelope(id=i, method=m, params=p), ids, methods, _maybe_params),
    st.builds(lambda m, p: _envelope(method=m, params=p), methods, _maybe_params),
    st.builds(lambda i, r: _envelope(id=i, result=r), ids, json_objects),
    st.builds(
        lambda i, c, m: _envelope(id=i, error={"code": c, "message": m}),
        st.one_of(ids, st.none()),
        st.integers(-33000, 33000),
        st.text(max_size=20),
    ),
)

# bytes an attacker puts where a reader might see a line end, whitespace or another encoding
_SPLICES = [b"\r", b"\n", b"\t", b"\r\n", b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8"]
_SPLICES += [b"\xef\xbb\xbf", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b" "]
_ODD_IDS = [b"null", b"true", b"1.0", b"1e2", b"-0", b"[1]", b"{}", b'"\\ud800"', b"01", b"1" * 70]
_BAD_VALUES = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999", b"9" * 65, b"9" * 5000, b"1." + b"0" * 200]
_BAD_STRINGS = [
    b'"\\ud800"',
    b'"\\udfff"',
    b'"\\ud800\\ud800"',
    b'"\\udc00\\ud800"',
    b'"a\\uDBFFb"',
    b'"\\ud83d\\ude00"',
]


@st.composite
def attacked_line(draw: st.DrawFn) -> bytes:
    """A valid message's line with one to three mutations: splices, encodings, duplicate keys, deep nesting,
    big numbers, lone surrogates, a smuggled second message, odd ids."""
    msg = draw(message_st)
    line = encode(msg)[:-1]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 8))
        if kind == 0:  # a raw byte sequence anywhere
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.sampled_from(_SPLICES)) + line[at:]
        elif kind == 1:  # another encoding of the same text, with or without its BOM
            codec = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be", "utf-8-sig"]))
            line = line.decode("utf-8", "surrogateescape").encode(codec, "surrogatepass")
        elif kind == 2:  # a duplicate of a key the object already has, first or last
            key = draw(st.sampled_from(sorted(msg))).encode()
            member = b'"' + key + b'":' + encode(draw(json_values))[:-1]
            line = (b"{" + member + b"," + line[1:]) if draw(st.booleans()) else (line[:-1] + b"," + member + b"}")
        elif kind == 3:  # deep nesting around a member's value
            depth = draw(st.sampled_from([62, 63, 64, 65, 200, 3000]))
            line = line[:-1] + b',"deep":' + b"[" * depth + b"]" * depth + b"}"
        elif kind == 4:  # a number out of bounds, or a non-JSON constant
            line = line[:-1] + b',"n":' + draw(st.sampled_from(_BAD_VALUES)) + b"}"
        elif kind == 5:  # a lone surrogate (and, for contrast, a valid pair)
            line = line[:-1] + b',"s":' + draw(st.sampled_from(_BAD_STRINGS)) + b"}"
        elif kind == 6:  # a second message between two bare carriage returns inside a string
            hidden = encode(draw(message_st))[:-1]
            sep = draw(st.sampled_from([b"\r", b"\n", b"\r\n", b"\xe2\x80\xa8"]))
            line = line[:-1] + b',"x":"' + sep + hidden + sep + b'"}'
        elif kind == 7:  # an id that is not an integer or a string
            line = b'{"id":' + draw(st.sampled_from(_ODD_IDS)) + b"," + line[1:]
        else:  # a batch
            line = b"[" + line + b"]"
    return line
