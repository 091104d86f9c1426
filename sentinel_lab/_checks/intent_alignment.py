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

import re

from sentinel_lab._analysis import Analysis
from sentinel_lab._analysis._injection import THRESHOLD, Finding, prepare, scan_folded, score_of
from sentinel_lab._analysis._paths import COMMAND_KEYS
from sentinel_lab._checks import Settings
from sentinel_lab._core.verdict import Violation
from sentinel_lab._text.normalize import _has_tags, tag_text

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


_TAG_FIRST = chr(_TAG_LO)


def _hidden_tags(raw: str) -> str | None:
    """The ASCII text spelt in Unicode tag characters (invisible when rendered), if any."""
    if not _has_tags(raw):  # one C pass, O(1) for text with no character above U+FFFF
        return None
    return tag_text(raw)


def _readings(a: Analysis) -> list[tuple[str, str, bool, bool]]:
    """(path, text, folded already, decoded) for every reading worth scanning, in the order ``check`` reads
    them (kept for callers and tests; ``check`` walks the same sequence without building the list)."""
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


class _Best:
    """The strongest reading so far: (score, path, findings, decoded), and the readings already scanned."""

    __slots__ = ("decoded", "findings", "path", "scanned", "score")

    def __init__(self) -> None:
        self.score = 0.0
        self.path = ""
        self.findings: list[Finding] | None = None
        self.decoded = False
        self.scanned: set[tuple[str, bool]] = set()

    def offer(self, path: str, text: str, folded: bool, decoded: bool) -> bool:
        """Scan one reading; True once a critical reading decides the call.

        Readings that fold to the same text (a string of tag characters only spells its tag reading, the same
        payload in two arguments) are scanned once: an equal text with the same bonus scores the same, and only
        a higher score replaces the best, so the repeat could change nothing."""
        if not isinstance(text, str):
            return False
        prepared = text if folded else prepare(text)
        key = (prepared, decoded)
        if key in self.scanned:
            return False
        self.scanned.add(key)
        findings = scan_folded(prepared)
        if not findings:
            return False
        score = score_of(findings)
        if decoded:
            score = min(0.99, score * DECODED_BONUS)
        if score > self.score:
            self.score, self.path, self.findings, self.decoded = score, path, findings, decoded
            return score >= CRITICAL  # one critical reading decides; the rest cannot change the verdict
        return False


# A long option's name in a command line (``--export-secret-keys``, ``--delete-all``): program syntax, not words to a
# reader. Its value (``--message="..."``) stays. One pass of a pattern that cannot backtrack.
_OPTION_NAME = re.compile(r"(?<![^\s'\"])--[a-z0-9][a-z0-9-]*")


def _command_prose(folded: str) -> str:
    """A command text as the scanner should read it: long option names replaced by a space."""
    return _OPTION_NAME.sub(" ", folded) if "--" in folded else folded


def check(a: Analysis, s: Settings) -> list[Violation]:
    """A violation when any argument text reads as prompt injection (see the module docstring)."""
    best = _Best()
    listed: list[str] | None = None
    done = False
    for t in a.texts:
        folded = t.folded if t.key not in COMMAND_KEYS else _command_prose(t.folded)
        if len(folded) >= 6 and best.offer(t.path, folded, True, False):
            done = True
            break
        variants = t.variants
        if len(variants) > 1:
            for v in variants[1:]:
                if len(v) >= 6 and best.offer(t.path, v, False, True):
                    done = True
                    break
            if done:
                break
        raw = t.raw
        if not raw.isascii():
            hidden = _hidden_tags(raw)
            if hidden and len(hidden) >= 6 and best.offer(t.path, hidden, False, True):
                done = True
                break
        if "[" in t.path and not t.is_key:
            if listed is None:
                listed = [folded]
            else:
                listed.append(folded)
    if not done and listed is not None and len(listed) > 1:
        joined = " ".join(listed)
        if len(joined) >= 6:
            best.offer("(list items joined)", joined, True, False)
    findings = best.findings
    if findings is None:
        return []
    best_score, path, decoded = best.score, best.path, best.decoded
    if best_score < THRESHOLD:
        return []
    kinds = ", ".join(dict.fromkeys(_KIND_WORDS.get(f.kind, f.kind) for f in findings[:3]))
    hidden = " (in a decoded reading)" if decoded else ""
    reason = f"prompt injection in '{path or '(arguments)'}'{hidden}: {kinds} (score {best_score:.2f})"
    severity = "critical" if best_score >= CRITICAL else "high"
    return [Violation("intent_alignment", reason, severity, findings[0].evidence)]
