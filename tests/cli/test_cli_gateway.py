"""``sentinel-lab gateway`` and ``sentinel-lab proxy --upstream-url`` on the command line: ``--check`` says one
line and exits 0 or 2, bad addresses and URLs are refused before anything starts, the session cap holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from _http_servers import free_port, sentinel, serving, write_files

from sentinel_lab._commands.gateway import parse_listen

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sentinel(*args), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_listen("[::1]:80") == ("::1", 80)
    for bad in ("8765", "host:", ":80", "h:0", "h:70000", "h:x"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)


def test_gateway_check(tmp_path: Path) -> None:
    server, policy = write_files(tmp_path)
    ok = cli("gateway", "--listen", "127.0.0.1:8765", "--policy", str(policy), "--check", sys.executable, str(server))
    assert ok.returncode == 0, ok.stderr
    assert "configuration OK: http://127.0.0.1:8765/mcp in front of" in ok.stderr
    bad = cli("gateway", "--listen", "nowhere", "--policy", str(policy), "--check", sys.executable, str(server))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "HOST:PORT" in bad.stderr
    url = cli(
        "gateway", "--listen", "127.0.0.1:8765", "--policy", str(policy), "--upstream-url", "http://h:1/mcp", "--check"
    )
    assert url.returncode == 0 and "in front of http://h:1/mcp" in url.stderr
    cap = cli("gateway", "--listen", "127.0.0.1:1", "--policy", str(policy), "--max-sessions", "0", "--check", "x")
    assert cap.returncode == 2 and "--max-sessions" in cap.stderr


def test_proxy_upstream_url_check(tmp_path: Path) -> None:
    _server, policy = write_files(tmp_path)
    ok = cli("proxy", "--policy", str(policy), "--upstream-url", "https://tools.example.com/mcp", "--check")
    assert ok.returncode == 0 and "upstream https://tools.example.com/mcp" in ok.stderr
    scheme = cli("proxy", "--policy", str(policy), "--upstream-url", "ftp://tools.example.com/mcp", "--check")
    assert scheme.returncode == 2 and "http:// or https://" in scheme.stderr
    both = cli("proxy", "--policy", str(policy), "--upstream-url", "http://h/mcp", "--check", sys.executable, "x.py")
    assert both.returncode == 2 and "not both" in both.stderr


def test_gateway_refuses_sessions_past_the_cap(tmp_path: Path) -> None:
    server, policy = write_files(tmp_path)
    port = free_port()
    args = sentinel("gateway", "--listen", f"127.0.0.1:{port}", "--policy", str(policy), "--max-sessions", "1")
    args += ["--", sys.executable, str(server), "stdio", str(tmp_path / "calls.jsonl")]
    url = f"http://127.0.0.1:{port}/mcp"
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with serving(args, port, tmp_path / "gateway.err"):
        first = httpx2.post(url, content=json.dumps(INIT), headers=headers, timeout=60)
        assert first.status_code == 200
        second = httpx2.post(url, content=json.dumps(INIT), headers=headers, timeout=60)
        assert second.status_code == 503 and "too many open sessions" in second.json()["error"]["message"]
        sid = first.headers["mcp-session-id"]
        assert httpx2.delete(url, headers={"Mcp-Session-Id": sid}, timeout=60).status_code == 200
        third = httpx2.post(url, content=json.dumps(INIT), headers=headers, timeout=60)
        assert third.status_code == 200 and third.headers["mcp-session-id"] != sid
