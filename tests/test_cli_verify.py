"""`sentinel-lab verify` as a real subprocess: inline JSON, JSONL file, stdin; exit codes 0, 1, 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel_lab._cli", "verify", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_inline_allowed_exits_0_with_json() -> None:
    out = run('{"tool": "read_file", "args": {"path": "README.md"}}', "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["allowed"] is True and record["tool"] == "read_file" and record["args"] == {"path": "README.md"}


def test_jsonl_file_with_a_blocked_call_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    lines = [
        {"id": "a", "tool": "read_file", "args": {"path": "README.md"}},
        {"id": "b", "name": "exec", "arguments": {"command": "ls"}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = run(str(path), "--json", "--allowed-host", "example.com")
    assert out.returncode == 0, out.stderr
    records = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r["id"] for r in records] == ["a", "b"]
    blocked = tmp_path / "blocked.jsonl"
    blocked.write_text(json.dumps({"tool": "fetch", "args": {"url": "https://elsewhere.org/"}}) + "\n")
    out = run(str(blocked), "--json", "--allowed-host", "example.com")
    assert out.returncode == 1
    assert json.loads(out.stdout)["violations"][0]["policy"] == "scope_enforcement"


def test_stdin_and_bad_input_exit_2() -> None:
    out = run(stdin='{"tool": "x", "args": {}}\n{"nope": 1}\n')
    assert out.returncode == 2
    assert "line 2" in out.stderr and "unrecognised action shape" in out.stderr
    out = run(stdin="{broken\n")
    assert out.returncode == 2 and "cannot read input" in out.stderr
