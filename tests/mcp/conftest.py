"""Fixtures of the MCP tests: the reference hosts and servers installed by ``npm ci --prefix tests/hosts``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HOSTS = Path(__file__).resolve().parent.parent / "hosts"
NPM_PACKAGES = (
    "@modelcontextprotocol/sdk",
    "@modelcontextprotocol/inspector",
    "@modelcontextprotocol/server-everything",
    "@modelcontextprotocol/server-filesystem",
)


@pytest.fixture(scope="session")
def hosts_bin() -> Path:
    """``tests/hosts/node_modules/.bin``; skips, saying how to fix it, when Node, npm or the packages are absent."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"'{tool}' is not on PATH: the reference host tests need Node.js and npm")
    modules = HOSTS / "node_modules"
    missing = [name for name in NPM_PACKAGES if not (modules / name / "package.json").is_file()]
    if missing:
        pytest.skip(f"npm packages missing in {modules} ({', '.join(missing)}): run 'npm ci --prefix tests/hosts'")
    return modules / ".bin"
