"""Placeholder until the intent_alignment check lands."""

from __future__ import annotations

from sentinel_lab._analysis import Analysis
from sentinel_lab._checks import Settings
from sentinel_lab._verdict import Violation


def check(a: Analysis, s: Settings) -> list[Violation]:
    return []
