"""``sentinel-lab --version``, ``--help`` and ``sentinel-lab proxy`` as a host sees them: ``--check`` exits 0 or 2
with one line, paths resolve as documented, and every start-up failure and every hidden or blocked tool is said
on stderr in one line and recorded in the audit log."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import sentinel_lab
from sentinel_lab._mcp.audit import verify_log

POLICIES = Path(__file__).resolve().parents[2] / "policies"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def cli(*args: str, cwd: Path | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel_lab", *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_version() -> None:
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"sentinel-lab {sentinel_lab.__version__}"


def test_help_is_written_for_users() -> None:
    out = cli("--help")
    assert out.returncode == 0
    assert "thin dispatcher" not in out.stdout and "_commands" not in out.stdout  # not the module docstring
    for word in ("proxy", "verify", "--version", "python -m sentinel_lab", "--check"):
        assert word in out.stdout, word
    proxy = cli("proxy", "--help")
    assert proxy.returncode == 0 and "--check" in proxy.stdout and "beside the policy file" in proxy.stdout


def test_check_accepts_a_good_configuration_from_any_directory(tmp_path: Path) -> None:
    out = cli(
        "proxy", "--policy", str(POLICIES / "demo.yaml"), "--audit", "a.jsonl", "--check", "--", "python", cwd=Path("/")
    )
    assert out.returncode == 0 and len(_lines(out.stderr)) == 1, out.stderr
    assert "configuration OK" in out.stderr and str(POLICIES / "a.jsonl") in out.stderr
    assert not (POLICIES / "a.jsonl").exists()  # checking writes nothing


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--policy", "policies/strict.yaml", "python"], ["policy file", "does not exist", "relative to /"]),
        (["--policy", str(POLICIES / "strict.yaml"), "no-such-server-xyz"], ["'no-such-server-xyz' is not on PATH"]),
        (["--policy", str(POLICIES / "strict.yaml"), "./missing.py"], ["'./missing.py' is not an executable file"]),
        (["--policy", str(POLICIES / "strict.yaml"), "--audit", "/no/such/dir/a.jsonl", "python"], ["/no/such/dir"]),
        (["--policy", str(POLICIES / "strict.yaml")], ["no tool server command"]),
        (["--policy", str(POLICIES / "strict.yaml"), "--analysis-budget", "0", "python"], ["--analysis-budget"]),
    ],
)
def test_check_refuses_a_bad_configuration_in_one_line(args: list[str], words: list[str]) -> None:
    out = cli("proxy", "--check", *args, cwd=Path("/"))
    assert out.returncode == 2 and out.stdout == ""
    lines = _lines(out.stderr)
    assert len(lines) == 1 and lines[0].startswith("sentinel-lab proxy: configuration error: "), out.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_bad_policy_file_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("default_action: ALLOW\nstatc_rules: {}\n")
    out = cli("proxy", "--policy", str(bad), "--check", "python")
    assert out.returncode == 2 and len(_lines(out.stderr)) == 1 and f"{bad}:2" in out.stderr


def test_a_start_up_failure_is_said_once_and_audited(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("default_action: ALLOW\n")
    out = cli("proxy", "--policy", str(policy), "--audit", "audit.jsonl", "--", "no-such-server-xyz", cwd=Path("/"))
    assert out.returncode == 2
    lines = _lines(out.stderr)
    assert len(lines) == 1 and lines[0].startswith("sentinel-lab proxy: cannot start: ") and "not on PATH" in lines[0]
    records = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [r["event_type"] for r in records] == ["startup_error", "checkpoint"]  # signed at close
    assert "not on PATH" in records[0]["details"]["reason"]
    assert verify_log(tmp_path / "audit.jsonl").ok


def test_strict_policy_hiding_every_tool_says_so(tmp_path: Path) -> None:
    """The README's strict policy in front of the demo server: the host sees no tools, and is told why."""
    messages = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "get_weather", "arguments": {}}},
    ]
    policy = tmp_path / "strict.yaml"
    policy.write_text((POLICIES / "strict.yaml").read_text())
    argv = [
        "proxy",
        "--policy",
        str(policy),
        "--audit",
        "audit.jsonl",
        sys.executable,
        "-m",
        "sentinel_lab.demo_server",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel_lab", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    killer = threading.Timer(60, proc.kill)
    killer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        proc.stdin.flush()
        replies = {}
        while len(replies) < 4:  # the server answers before its stdin closes
            reply = json.loads(proc.stdout.readline())
            replies[reply["id"]] = reply
        proc.stdin.close()
        stderr = proc.stderr.read()
        proc.wait()
    finally:
        killer.cancel()
    assert replies[2]["result"]["tools"] == [] and replies[3]["result"]["tools"] == []
    assert replies[4]["error"]["code"] == -32010
    hidden = [line for line in stderr.splitlines() if "hidden by the policy" in line]
    assert len(hidden) == 1 and "every tool the server lists" in hidden[0] and "get_weather" in hidden[0]
    blocked = [line for line in stderr.splitlines() if line.startswith("sentinel-lab proxy: blocked a call")]
    assert len(blocked) == 1 and "'get_weather'" in blocked[0]
    records = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    events = [r for r in records if r["event_type"] == "tools_hidden"]
    assert len(events) == 1 and events[0]["details"]["all"] is True and "get_weather" in events[0]["details"]["hidden"]
