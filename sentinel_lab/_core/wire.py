"""The proxy's wire constants: JSON-RPC error codes, message prefixes and ``_meta`` keys, defined once.

The relay writes them, the Python SDK and the demo read them back, the notebook lab looks for the verdict key:
every one of them imports these names, so a code or a key cannot drift between the side that sends it and the
side that reads it.
"""

from __future__ import annotations

__all__ = [
    "APPROVAL_META_KEY",
    "AUTH_CODE",
    "AUTH_PREFIX",
    "BLOCK_CODE",
    "BLOCK_PREFIX",
    "HEADER_MISMATCH",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "OUTPUT_SCAN_META_KEY",
    "PARSE_ERROR",
    "PROTOCOL_VERSION_META",
    "PROXY_ERROR_CODE",
    "PROXY_ERROR_PREFIX",
    "SERVER_INFO_META",
    "SESSION_META_KEY",
    "VERDICT_META_KEY",
]

# The two codes of the proxy's own refusals sit in the JSON-RPC server-error band's implementation-defined part
# (-32000..-32019 in MCP's allocation) but away from -32000 and -32001, which both official SDKs (Python and
# TypeScript) raise on the client side for ConnectionClosed and RequestTimeout: a host must never read a policy
# block as a dropped connection or a timeout. -32002 is retired by MCP and never reused.

#: A call (or a server message) the policy or the output scan refused: ``"Sentinel Security Block: <reason>"``,
#: the verdict in ``error.data``.
BLOCK_CODE = -32010
#: A request whose session id is missing (``--require-session``) or does not verify: ``"Sentinel Auth Error: ..."``.
AUTH_CODE = -32011
#: The proxy itself could not get an answer (unreadable or oversized reply, server gone, shutdown, audit failure).
PROXY_ERROR_CODE = -32603
#: MCP's code (2026-07-28) for a request whose routing headers (``Mcp-Method``, ``Mcp-Name``,
#: ``MCP-Protocol-Version``) disagree with its body.
HEADER_MISMATCH = -32020
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

BLOCK_PREFIX = "Sentinel Security Block: "
AUTH_PREFIX = "Sentinel Auth Error: "
PROXY_ERROR_PREFIX = "Sentinel Proxy Error: "

#: Where a client puts its session id: ``params._meta["sentinel/session"]`` of any request; the proxy returns the
#: connection's id in the ``initialize`` / ``server/discover`` result's ``_meta`` under the same key.
SESSION_META_KEY = "sentinel/session"
#: In a blocked call's ``isError`` result (``deny_style: result``, or output blocked): ``_meta[key]`` = verdict.
VERDICT_META_KEY = "sentinel/verdict"
#: In a relayed ``tools/call`` result whose ``structuredContent`` (never altered) shows prompt injection signs:
#: ``_meta[key]`` = ``{"decision": "flag", "kinds": [...], "field": "structuredContent"}``.
OUTPUT_SCAN_META_KEY = "sentinel/output_scan"
#: The 2026-07-28 revision's per-request protocol version in ``params._meta``.
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
#: Where a 2026-07-28 ``server/discover`` answer (and any result) names the server that made it.
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
#: In the proxy's own approval question (an ``elicitation/create`` request, or the elicitation inside its
#: ``InputRequiredResult``): ``params._meta[key]`` = ``{"tool", "arguments", "reason", "rule", "digest",
#: "expires_in_s"}``, so an SDK client answers from data rather than from the message text.
APPROVAL_META_KEY = "sentinel/approval"
