"""MCP's routing headers on Streamable HTTP: ``Mcp-Method``, ``Mcp-Name`` and ``MCP-Protocol-Version``.

They repeat parts of the body so that an HTTP intermediary can route without reading it, which makes a request
whose headers say one thing and whose body another a way past a policy that reads only one of them. The gateway
checks them against the body it judged (``mismatch``) and the proxy writes them for an upstream from the message
it forwards (``routing_headers``), both from this one table.

A header value that would not survive HTTP (non-ASCII, control characters, edge spaces) travels as
``=?base64?<standard base64 of the UTF-8>?=``; a malformed or non-canonical one matches nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from sentinel_lab._core.wire import PROTOCOL_VERSION_META

__all__ = ["NAME_PARAMS", "decode_header_value", "duplicated", "encode_header_value", "mismatch", "routing_headers"]

#: Method -> the params key whose value the ``Mcp-Name`` header repeats.
NAME_PARAMS: Mapping[str, str] = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_PREFIX, _SUFFIX = "=?base64?", "?="
_ROUTING = frozenset({b"mcp-method", b"mcp-name", b"mcp-protocol-version"})
_MAX_HEADER_CHARS = 8192


def _plain(value: str) -> bool:
    return all(0x20 <= ord(c) <= 0x7E for c in value) and value == value.strip()


def encode_header_value(value: str) -> str:
    """``value`` as it can travel in a header: itself when plain visible ASCII, else the base64 form."""
    if _plain(value) and not (value.startswith(_PREFIX) and value.endswith(_SUFFIX)):
        return value
    return _PREFIX + base64.b64encode(value.encode("utf-8")).decode("ascii") + _SUFFIX


def decode_header_value(value: str | None) -> str | None:
    """The text a header carries (None for a malformed base64 form, which then matches no body value)."""
    if value is None or not (value.startswith(_PREFIX) and value.endswith(_SUFFIX) and len(value) >= 11):
        return value
    payload = value[len(_PREFIX) : -len(_SUFFIX)]
    try:
        raw = base64.b64decode(payload, validate=True)
        if base64.b64encode(raw).decode("ascii") != payload:
            return None
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _name_of(msg: Mapping[str, Any]) -> Any:
    key = NAME_PARAMS.get(msg.get("method"))  # type: ignore[arg-type]
    params = msg.get("params")
    return params.get(key) if key is not None and type(params) is dict else None


def _version_of(msg: Mapping[str, Any]) -> Any:
    params = msg.get("params")
    meta = params.get("_meta") if type(params) is dict else None
    return meta.get(PROTOCOL_VERSION_META) if type(meta) is dict else None


def routing_headers(msg: Mapping[str, Any]) -> dict[str, str]:
    """The headers a 2026-07-28 request must carry (none for a message of an older revision, nor for
    ``initialize``, which opens a session of one whatever its ``_meta`` says)."""
    version = _version_of(msg)
    method = msg.get("method")
    if type(version) is not str or not _plain(version) or type(method) is not str or "id" not in msg:
        return {}
    if method == "initialize":
        return {}
    headers = {"MCP-Protocol-Version": version, "Mcp-Method": encode_header_value(method)}
    name = _name_of(msg)
    if type(name) is str:
        headers["Mcp-Name"] = encode_header_value(name)
    return headers


def duplicated(raw: Iterable[tuple[bytes, bytes]]) -> str:
    """Why a request's raw header lines are refused: a routing header sent twice ('' when none is), since a
    reader of the first copy and a reader of the last would disagree."""
    seen: set[bytes] = set()
    for name, _ in raw:
        key = name.lower()
        if key in _ROUTING:
            if key in seen:
                return f"Invalid Request: the {key.decode('ascii')} header appears more than once"
            seen.add(key)
    return ""


def mismatch(headers: Mapping[str, str], msg: Mapping[str, Any] | None, *, required: bool) -> str:
    """Why the routing headers disagree with the body ('' when they agree). ``required`` (the 2026-07-28
    revision): ``Mcp-Method`` and ``MCP-Protocol-Version`` must be there, and ``Mcp-Name`` for a method that
    names something; for older revisions only the headers sent are checked (``Mcp-Name`` against the body's
    ``name`` or ``uri``)."""
    method = headers.get("mcp-method")
    name = headers.get("mcp-name")
    params = msg.get("params") if msg is not None else None
    if method is None:
        if required:
            return "Invalid Request: the Mcp-Method header is required"
    elif msg is None or len(method) > _MAX_HEADER_CHARS or decode_header_value(method) != msg.get("method"):
        return "Invalid Request: the Mcp-Method header does not match the body's method"
    if required:
        body_name = _name_of(msg) if msg is not None else None
        if name is None:
            if type(body_name) is str:
                return "Invalid Request: the Mcp-Name header is required for this method"
        elif type(body_name) is not str or len(name) > _MAX_HEADER_CHARS or decode_header_value(name) != body_name:
            return "Invalid Request: the Mcp-Name header does not match the body"
        version = headers.get("mcp-protocol-version")
        if msg is None or version is None or version != _version_of(msg):
            return "Invalid Request: the MCP-Protocol-Version header must equal the protocol version in _meta"
    elif name is not None:
        decoded = decode_header_value(name) if len(name) <= _MAX_HEADER_CHARS else None
        names = [params.get(k) for k in ("name", "uri")] if type(params) is dict else []
        if decoded is None or decoded not in [n for n in names if type(n) is str]:
            return "Invalid Request: the Mcp-Name header does not match the body"
    return ""
