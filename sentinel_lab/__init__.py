"""sentinel-lab: deterministic security for LLM agent tool calls.

Core (no pandas, no IPython): ``Verifier`` and ``Verdict``, ``Policy`` and its engine sessions, the MCP proxy
and the ``Sentinel`` SDK client. Lab (imported lazily, on first use): ``verdicts_frame``, ``explore``,
``evaluate``, ``detection_report`` and the ``%load_ext sentinel_lab`` notebook extension.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sentinel_lab._core.errors import (
    AuditError,
    DatasetError,
    InvalidAction,
    PolicyError,
    PolicyViolation,
    ProxyError,
    SentinelError,
)
from sentinel_lab._core.verdict import POLICIES, SEVERITIES, IntentResult, Verdict, Violation
from sentinel_lab._verify.ratelimit import RateLimit
from sentinel_lab._verify.scope import Scope
from sentinel_lab._verify.verifier import Intent, ToolCall, Verifier, compiled

if TYPE_CHECKING:  # pragma: no cover - names resolved lazily below
    from sentinel_lab._asgi import SentinelMiddleware
    from sentinel_lab._mcp.sdk import Sentinel
    from sentinel_lab._policy.engine import Session
    from sentinel_lab._policy.model import Policy
    from sentinel_lab.evaluation import detection_report, evaluate
    from sentinel_lab.lab.explorer import explore
    from sentinel_lab.lab.recorder import verdicts_frame

__version__ = "0.1.0"

__all__ = [
    "POLICIES",
    "SEVERITIES",
    "AuditError",
    "DatasetError",
    "Intent",
    "IntentResult",
    "InvalidAction",
    "Policy",
    "PolicyError",
    "PolicyViolation",
    "ProxyError",
    "RateLimit",
    "Scope",
    "Sentinel",
    "SentinelError",
    "SentinelMiddleware",
    "Session",
    "ToolCall",
    "Verdict",
    "Verifier",
    "Violation",
    "__version__",
    "compiled",
    "detection_report",
    "evaluate",
    "explore",
    "load_ipython_extension",
    "unload_ipython_extension",
    "verdicts_frame",
]

# name -> module that defines it; imported on first access so the proxy path stays light.
_LAZY = {
    "Policy": "sentinel_lab._policy.model",
    "Session": "sentinel_lab._policy.engine",
    "Sentinel": "sentinel_lab._mcp.sdk",
    "SentinelMiddleware": "sentinel_lab._asgi",
    "evaluate": "sentinel_lab.evaluation",
    "detection_report": "sentinel_lab.evaluation",
    "explore": "sentinel_lab.lab.explorer",
    "verdicts_frame": "sentinel_lab.lab.recorder",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sentinel_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sentinel_lab``: register the ``%sentinel`` / ``%%sentinel`` magics."""
    from sentinel_lab.lab.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext sentinel_lab``: stop every proxy, tool server and thread the extension started."""
    from sentinel_lab.lab.magics import unload_ipython_extension as unload

    unload(ipython)
