"""The ``intent_alignment`` content check: prompt-injection phrasing anywhere in the arguments.

Every text of the call is scanned in each of its readings (normal form and decoded variants: percent, HTML,
base64, hex, rot13, tag characters) with ``_analysis._injection``. The strongest reading decides; a finding
that only appears once decoded gets a bonus (hiding an instruction in base64 is itself a signal). A combined
score of at least ``THRESHOLD`` (0.5) is a violation: ``critical`` from 0.85, else ``high``. Whether the call
fits the user's goal is judged separately by the verifier (``_intent.heuristic_intent``).
"""

from __future__ import annotations

from sentinel_lab._analysis import Analysis
from sentinel_lab._analysis._injection import THRESHOLD, Finding, scan, scan_folded, score_of
from sentinel_lab._checks import Settings
from sentinel_lab._verdict import Violation

__all__ = ["CRITICAL", "DECODED_BONUS", "check"]

#: Combined score from which the violation is critical.
CRITICAL = 0.85
#: Factor applied to findings that appear only in a decoded reading (base64, rot13, ...).
DECODED_BONUS = 1.15

_KIND_WORDS = {
    "override": "an instruction override",
    "role": "a role override",
    "fake_turn": "a fake system/assistant turn",
    "exfiltration": "an instruction to send secrets out",
    "tool_call": "an instruction to call a tool",
    "prompt_leak": "a request for the system prompt",
    "marker": "an injected-instructions marker",
    "address": "text addressed to the model",
    "secrecy": "an instruction to hide actions from the user",
}


def _where(path: str) -> str:
    return path or "(arguments)"


def check(a: Analysis, s: Settings) -> list[Violation]:
    """A violation when any argument text reads as prompt injection (see the module docstring)."""
    best_score = 0.0
    best: tuple[str, list[Finding], bool] | None = None
    for t in a.texts:
        if len(t.folded) < 6:
            continue
        findings = scan_folded(t.folded)
        score = score_of(findings)
        decoded = False
        for v in t.variants[1:]:
            extra = scan(v)
            if extra:
                sc = min(0.99, score_of(extra) * DECODED_BONUS)
                if sc > score:
                    score, findings, decoded = sc, extra, True
        if score > best_score:
            best_score = score
            best = (t.path, findings, decoded)
    if best is None or best_score < THRESHOLD:
        return []
    path, findings, decoded = best
    kinds = ", ".join(dict.fromkeys(_KIND_WORDS.get(f.kind, f.kind) for f in findings[:3]))
    hidden = " (in a decoded reading)" if decoded else ""
    reason = f"prompt injection in '{_where(path)}'{hidden}: {kinds} (score {best_score:.2f})"
    severity = "critical" if best_score >= CRITICAL else "high"
    return [Violation("intent_alignment", reason, severity, findings[0].evidence)]
