"""MCP's routing headers on Streamable HTTP: ``Mcp-Method``, ``Mcp-Name`` and ``MCP-Protocol-Version``.

They repeat parts of the body so that an HTTP intermediary can route without reading it, which makes a request
whose headers say one thing and whose body another a way past a policy that reads only one of them. The gateway
checks them against the body it judged (``mismatch``) and the proxy writes them for an upstream from the message
it forwards (``routing_headers``), both from this one table.

A header value that would not survive HTTP (non-ASCII, control characters, edge spaces) travels as
``=?base64?<standard base64 of the UTF-8>?=``; a malformed or non-canonical one matches nothing (the official
SDK's codec, so both ends read a header alike).

``Mcp-Param-*`` headers (2026-07-28) repeat the ``tools/call`` arguments whose input schema property carries
``x-mcp-header``: ``ParamHeaders`` learns those schemas from the ``tools/list`` answers the relay relays, checks
a client's headers against the judged arguments and writes them for an upstream from the judged arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mcp.shared.inbound import (
    decode_header_value,
    encode_header_value,
    find_invalid_x_mcp_header,
    mcp_param_headers,
    validate_mcp_param_headers,
    x_mcp_header_map,
)

from sentinel_lab._core.wire import PROTOCOL_VERSION_META

__all__ = [
    "NAME_PARAMS",
    "ParamHeaders",
    "decode_header_value",
    "duplicated",
    "encode_header_value",
    "mismatch",
    "routing_headers",
]

#: Method -> the params key whose value the ``Mcp-Name`` header repeats.
NAME_PARAMS: Mapping[str, str] = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_ROUTING = frozenset({b"mcp-method", b"mcp-name", b"mcp-protocol-version"})
_PARAM_PREFIX = "mcp-param-"
_MAX_HEADER_CHARS = 8192
_MAX_TOOLS = 10_000


def _plain(value: str) -> bool:
    return all(0x20 <= ord(c) <= 0x7E for c in value) and value == value.strip()


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


class ParamHeaders:
    """The ``x-mcp-header`` annotations of the tools listed so far, by tool name (the SDK's schema readers)."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}  # a listed tool with at least one valid annotation
        self.listed: set[str] = set()

    def learn(self, tools: Iterable[Any]) -> None:
        """Remember what each tool of a ``tools/list`` answer annotates (a tool with an invalid annotation is
        one conforming clients drop: it is remembered as annotating nothing)."""
        for tool in tools:
            name = tool.get("name") if type(tool) is dict else None
            if type(name) is not str:
                continue
            if name not in self.listed and len(self.listed) >= _MAX_TOOLS:
                continue
            self.listed.add(name)
            schema = tool.get("inputSchema")
            valid = type(schema) is dict and find_invalid_x_mcp_header(schema) is None
            if valid and x_mcp_header_map(schema):
                self.schemas[name] = schema
            else:
                self.schemas.pop(name, None)

    def headers_for(self, name: Any, arguments: Any) -> dict[str, str]:
        """The ``Mcp-Param-*`` headers a call of ``name`` with these (judged) arguments carries upstream."""
        schema = self.schemas.get(name) if type(name) is str else None
        if schema is None or type(arguments) is not dict:
            return {}
        return mcp_param_headers(x_mcp_header_map(schema), arguments)

    def check(self, headers: Mapping[str, str], name: Any, arguments: Any) -> str:
        """Why a client's ``Mcp-Param-*`` headers disagree with the call's arguments ('' when they agree). Sent
        for a tool not listed here yet, they cannot be checked and are refused (the official client then lists
        the tools again and retries)."""
        sent = any(key.lower().startswith(_PARAM_PREFIX) for key in headers)
        schema = self.schemas.get(name) if type(name) is str else None
        if schema is None:
            if sent and name not in self.listed:
                return "Invalid Request: Mcp-Param headers for a tool not listed yet (list the tools, then retry)"
            return ""
        rejection = validate_mcp_param_headers(schema, arguments if type(arguments) is dict else {}, headers)
        return f"Invalid Request: {rejection.message}" if rejection is not None else ""
