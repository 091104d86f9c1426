"""Shared fixtures: paths of the repository and a fresh verifier with the corpus workspace."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Shared test helpers (``_growth``, ``_framing_strategies``) live beside this file; tests mirror the package in
# sub-folders, so put this folder on the import path for them.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def verifier():
    from sentinel_lab import Verifier

    return Verifier(workspace="/workspace/project", rate_limit=False)
