"""The proxy's wire constants live in ``_core.wire`` only: every module that sends or reads them imports them, so
the relay, the SDK, the demo and the notebook lab cannot disagree on a code, a prefix or a ``_meta`` key."""

from __future__ import annotations

import ast
from pathlib import Path

from sentinel_lab._core import wire

PACKAGE = Path(wire.__file__).resolve().parent.parent


def _string_and_int_constants(path: Path) -> set[object]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[object] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            found.add(-node.operand.value if isinstance(node.operand.value, int) else None)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
            found.update(wire_prefix for wire_prefix in _PREFIXES if node.value.startswith(wire_prefix))
    return found


_PREFIXES = (wire.BLOCK_PREFIX, wire.AUTH_PREFIX, wire.PROXY_ERROR_PREFIX)
_OWN = {wire.BLOCK_CODE, wire.AUTH_CODE, wire.SESSION_META_KEY, wire.VERDICT_META_KEY, *_PREFIXES}


def test_no_module_spells_a_wire_constant_itself() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(map(str, _OWN & _string_and_int_constants(path)))
        for path in PACKAGE.rglob("*.py")
        if path.name != "wire.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_relay_and_the_sdk_use_the_same_codes() -> None:
    from sentinel_lab._mcp import relay, sdk

    assert relay.BLOCK_CODE == wire.BLOCK_CODE and relay.SESSION_ERROR_CODE == wire.AUTH_CODE
    assert sdk.BLOCK_CODE == wire.BLOCK_CODE and sdk.AUTH_CODE == wire.AUTH_CODE
    assert relay.VERDICT_META_KEY == sdk.VERDICT_META_KEY == "sentinel/verdict"


def test_block_and_auth_codes_are_no_code_a_client_raises_itself() -> None:
    """Both official SDKs raise -32000 (connection closed) and -32001 (request timeout) client side; MCP reserves
    -32020.. for the spec and retired -32002: the proxy's refusals use none of them."""
    import mcp_types.jsonrpc as rpc

    own = {wire.BLOCK_CODE, wire.AUTH_CODE}
    sdk_codes = {rpc.CONNECTION_CLOSED, rpc.REQUEST_TIMEOUT}
    spec_codes = {v for k, v in vars(rpc).items() if k.isupper() and isinstance(v, int)}
    assert sdk_codes == {-32000, -32001}
    assert len(own | {wire.PROXY_ERROR_CODE}) == 3
    assert own.isdisjoint(sdk_codes | spec_codes | {-32002})
    assert all(-32019 <= c <= -32000 for c in own)  # the implementation-defined band
