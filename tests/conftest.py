"""Shared fixtures: paths of the repository and a fresh verifier with the corpus workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def verifier():
    from sentinel_lab import Verifier

    return Verifier(workspace="/workspace/project", rate_limit=False)
