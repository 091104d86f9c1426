"""The exception tree of sentinel-lab: every error we raise derives from ``SentinelError``.

SentinelError
 ├── InvalidAction        an action that is not one of the known tool-call shapes
 ├── PolicyError          a policy file or setting that is wrong (names file, line and key)
 ├── PolicyViolation      a call denied by policy (SDK); carries the verdict
 ├── ProxyError           the proxy or its tool server failed (start-up, crash, timeout)
 ├── AuditError           an audit log that cannot be written or does not verify
 └── DatasetError         a dataset that cannot be loaded (missing extra or path)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel_lab._core.verdict import Verdict

__all__ = [
    "AuditError",
    "DatasetError",
    "InvalidAction",
    "PolicyError",
    "PolicyViolation",
    "ProxyError",
    "SentinelError",
]


class SentinelError(Exception):
    """Base class of every error raised by sentinel-lab."""


class InvalidAction(SentinelError, ValueError):
    """The action is not a recognised tool-call shape, so it cannot be verified."""


class PolicyError(SentinelError, ValueError):
    """A policy is malformed; the message names the file, line and key at fault."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, key: str | None = None
    ) -> None:
        self.file, self.line, self.key = file, line, key
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        keypart = f" (key '{key}')" if key else ""
        super().__init__(f"{prefix}{message}{keypart}")


class PolicyViolation(SentinelError):
    """A tool call was denied by policy; ``verdict`` says which rule and why."""

    def __init__(self, verdict: Verdict, message: str | None = None) -> None:
        self.verdict = verdict
        super().__init__(message or f"blocked: {verdict.reason}")


class ProxyError(SentinelError, RuntimeError):
    """The proxy or the tool server behind it failed (start-up, crash, timeout)."""

    def __init__(self, message: str, *, stderr_tail: str = "", data: Any = None) -> None:
        self.stderr_tail = stderr_tail
        self.data = data
        super().__init__(message + (f"\n--- tool server stderr ---\n{stderr_tail}" if stderr_tail else ""))


class AuditError(SentinelError):
    """An audit log could not be written, or it does not verify."""


class DatasetError(SentinelError, LookupError):
    """A dataset cannot be loaded: the message names the missing extra or path."""
