"""Reading what a proxy wrote to its audit log, to show in the notebook what the engine decided beside the answer.

The proxy reports a blocked call's verdict in its error, but an allowed call's answer carries no verdict, and a
finding of the output scan in ``flag`` mode (the answer is delivered, the finding logged) and the proxy's own
verification time exist only in its audit log. The lab starts each proxy with a private audit log and reads its
new complete lines after each call: ``tool_call`` records (decision, rule, ``latency_us`` = verification time)
in call order, and ``output_scan`` records keyed by the client's request id.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AuditTail"]


@dataclass
class AuditTail:
    """New records of one audit log file, read incrementally (only whole lines)."""

    path: str
    offset: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    scans: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    _used: int = 0

    def read(self) -> int:
        """Read the lines written since the last read; returns how many records were added."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return 0
        end = data.rfind(b"\n")
        if end < 0:
            return 0
        self.offset += end + 1
        added = 0
        for raw in data[: end + 1].splitlines():
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            kind = record.get("event_type")
            if kind == "tool_call":
                self.calls.append(record)
            elif kind == "output_scan":
                self.scans.setdefault(_key(record.get("request_id")), []).append(record)
            else:
                continue
            added += 1
        return added

    def pending(self) -> int:
        """How many ``tool_call`` records have not been claimed by ``claim`` yet."""
        return len(self.calls) - self._used

    def claim(self, tool: str) -> dict[str, Any] | None:
        """The next unclaimed ``tool_call`` record for ``tool`` (calls through one proxy are sequential)."""
        for i in range(self._used, len(self.calls)):
            if self.calls[i].get("tool") == tool:
                self._used = i + 1
                return self.calls[i]
        return None

    def findings(self, record: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The output-scan records for the request of ``record`` (a ``tool_call`` record)."""
        if record is None:
            return []
        return list(self.scans.get(_key(record.get("request_id")), ()))

    def remove(self) -> None:
        """Delete the log file and its public-key file (the lab's private copy)."""
        for path in (self.path, self.path + ".pub"):
            with contextlib.suppress(OSError):
                os.unlink(path)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
