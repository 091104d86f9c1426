"""The ``intent_alignment`` content check: prompt-injection phrasing anywhere in the arguments.

Every text of the call is scanned in each of its readings (normal form and decoded variants: percent, HTML,
base64, hex, rot13, tag characters) with ``_analysis._injection``. The strongest reading decides; a finding
that only appears once decoded gets a bonus (hiding an instruction in base64 is itself a signal). Strings
that are elements of lists are also read joined in order, so an instruction split across list items
(``["Ignore all previous", "instructions"]``) is seen whole. A combined score of at least ``THRESHOLD`` (0.5)
is a violation: ``critical`` from 0.85, else ``high``. Whether the call fits the user's goal is judged
separately by the verifier (``_intent.heuristic_intent``).
"""

from __future__ import annotations

from sentinel_lab._analysis import Analysis
from sentinel_lab._analysis._injection import THRESHOLD, Finding, scan, scan_folded, score_of
from sentinel_lab._checks import Settings
from sentinel_lab._verdict import Violation

__all__ = ["CRITICAL", "DECODED_BONUS", "check"]

#: Combined score from which the violation is critical.
CRITICAL = 0.85
#: Factor applied to findings that appear only in a decoded reading (base64, rot13, hidden tag characters).
DECODED_BONUS = 1.15

_KIND_WORDS = {
    "override": "an instruction override",
    "role": "a role override",
    "fake_turn": "a fake system/assistant turn",
    "exfiltration": "an instruction to send data out",
    "tool_call": "an instruction to call a tool",
    "prompt_leak": "a request for the system prompt",
    "marker": "an injected-instructions marker",
    "address": "text addressed to the model",
    "secrecy": "an instruction to hide actions from the user",
}
_TAG_LO, _TAG_HI = 0xE0000, 0xE007F
_TAGS_ASCII = {cp: (cp - _TAG_LO if 0x20 <= cp - _TAG_LO < 0x7F else None) for cp in range(_TAG_LO, _TAG_HI + 1)}


def _hidden_tags(raw: str) -> str | None:
    """The ASCII text spelt in Unicode tag characters (invisible when rendered), if any."""
    if raw.isascii() or not any(_TAG_LO <= ord(c) <= _TAG_HI for c in raw):
        return None
    return "".join(chr(cp - _TAG_LO) for c in raw if _TAG_LO + 0x20 <= (cp := ord(c)) < _TAG_LO + 0x7F)


def _readings(a: Analysis) -> list[tuple[str, str, bool, bool]]:
    """(path, text, folded already, decoded) for every reading worth scanning."""
    out: list[tuple[str, str, bool, bool]] = []
    listed: list[str] = []
    for t in a.texts:
        out.append((t.path, t.folded, True, False))
        for v in t.variants[1:]:
            out.append((t.path, v, False, True))
        hidden = _hidden_tags(t.raw)
        if hidden:
            out.append((t.path, hidden, False, True))
        if "[" in t.path and not t.is_key:
            listed.append(t.folded)
    if len(listed) > 1:
        out.append(("(list items joined)", " ".join(listed), True, False))
    return out


def check(a: Analysis, s: Settings) -> list[Violation]:
    """A violation when any argument text reads as prompt injection (see the module docstring)."""
    best_score = 0.0
    best: tuple[str, list[Finding], bool] | None = None
    for path, text, folded, decoded in _readings(a):
        if len(text) < 6:
            continue
        findings = scan_folded(text) if folded else scan(text)
        if not findings:
            continue
        score = score_of(findings)
        if decoded:
            score = min(0.99, score * DECODED_BONUS)
        if score > best_score:
            best_score, best = score, (path, findings, decoded)
            if score >= CRITICAL:
                break  # one critical reading decides; the rest cannot change the verdict
    if best is None or best_score < THRESHOLD:
        return []
    path, findings, decoded = best
    kinds = ", ".join(dict.fromkeys(_KIND_WORDS.get(f.kind, f.kind) for f in findings[:3]))
    hidden = " (in a decoded reading)" if decoded else ""
    reason = f"prompt injection in '{path or '(arguments)'}'{hidden}: {kinds} (score {best_score:.2f})"
    severity = "critical" if best_score >= CRITICAL else "high"
    return [Violation("intent_alignment", reason, severity, findings[0].evidence)]
