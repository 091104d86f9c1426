"""A keyword baseline for comparison: the approach the seed verifier describes (one list of patterns per
policy, matched against all argument strings joined with spaces, no decoding and no parsing).

Written for sentinel-lab from the seed's documented behaviour, not from its code: its patterns here are our
own, chosen to block the seed's published examples. It shows what matching without analysis catches and
what it blocks by mistake; it is not the seed itself (which runs in Node and is not installable here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sentinel_lab._analysis._actions import parse_action
from sentinel_lab._core.verdict import Verdict, Violation

__all__ = ["PATTERNS", "KeywordBaseline"]

# Plain alternations and bounded classes only: none of these can backtrack catastrophically.
PATTERNS: dict[str, list[str]] = {
    "privilege_escalation": [
        r"\bsudo\b",
        r"\bsu\s+root\b",
        r"chmod\s+[0-7]?[4-7][0-7]{3}",
        r"/etc/sudoers",
        r"\badmin\b",
        r"\bchown\s+root\b",
    ],
    "data_exfiltration": [
        r"webhook\.site",
        r"ngrok",
        r"requestbin",
        r"pastebin",
        r"\btoken\b",
        r"\bsecret\b",
        r"\bssn\b",
        r"[A-Za-z0-9+/]{40}",
    ],
    "internal_access": [
        r"localhost",
        r"127\.0\.0\.1",
        r"169\.254\.169\.254",
        r"\b10\.\d{1,3}\.\d{1,3}\.\d{1,3}",
        r"\b192\.168\.\d{1,3}\.\d{1,3}",
        r"0\.0\.0\.0",
        r"metadata\.google\.internal",
    ],
    "file_traversal": [r"\.\./", r"\.\.\\", r"~/", r"/etc/passwd", r"/etc/shadow", r"\x00", r"\.ssh/"],
    "system_commands": [
        r"rm\s+-rf",
        r"mkfs",
        r"dd\s+if=",
        r"curl[^|]{0,200}\|\s*(ba)?sh",
        r":\(\)\s*\{",
        r"\bnc\s+-e\b",
        r"/dev/tcp/",
        r"shutdown",
        r"chmod\s+777",
    ],
    "intent_alignment": [
        r"ignore (all )?previous instructions",
        r"disregard (the )?above",
        r"\bDAN\b",
        r"developer mode",
        r"jailbreak",
        r"you are now",
        r"system prompt",
    ],
}
_COMPILED = {name: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE) for name, pats in PATTERNS.items()}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


class KeywordBaseline:
    """``verify(action) -> Verdict`` by pattern lists over the joined argument strings; nothing else."""

    def verify(self, action: Any, context: Mapping[str, Any] | None = None) -> Verdict:
        tool, args = parse_action(action)
        text = " ".join([tool, *_strings(args)])
        violations = []
        for name, rx in _COMPILED.items():
            m = rx.search(text)
            if m:
                violations.append(Violation(name, f"matched {m.group(0)[:40]!r}", "high", m.group(0)[:80]))
        return Verdict(
            allowed=not violations,
            violations=tuple(violations),
            tool=tool,
            args=args,
            rule="baseline." + violations[0].policy if violations else "",
        )

    def __repr__(self) -> str:
        return "KeywordBaseline()"
