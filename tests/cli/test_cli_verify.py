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


DEEP = 10_000


def _assert_one_clear_line(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-500:])
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sentinel-lab verify: "), out.stderr[-500:]


def test_json_nested_too_deeply_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"tool": "t", "args": {"a": ' + "[" * DEEP + "]" * DEEP + "}}\n")
    out = run(str(path), "--json")
    _assert_one_clear_line(out)
    assert "nests too deeply" in out.stderr


def test_openai_arguments_nested_too_deeply_is_one_line_and_exit_2() -> None:
    action = {"type": "function", "function": {"name": "t", "arguments": "[" * DEEP + "]" * DEEP}}
    out = run("--json", stdin=json.dumps(action) + "\n")
    _assert_one_clear_line(out)
    assert "line 1" in out.stderr


def test_undecodable_bytes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    _assert_one_clear_line(run(str(path)))
    _assert_one_clear_line(run(str(tmp_path)))  # a directory


def test_a_bad_policy_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("description: " + "[" * DEEP + "]" * DEEP + "\n")
    out = run('{"tool": "t", "args": {}}', "--policy", str(policy))
    _assert_one_clear_line(out)
    assert "nests deeper" in out.stderr


def test_odd_but_valid_values_still_print_a_verdict(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    lines = [
        '{"tool": "\\ud800x", "args": {"a": "\\udfff"}}',  # lone surrogates
        '{"tool": "t", "args": {"n": ' + "9" * 5000 + "}}",  # past the int/str conversion limit
        json.dumps({"tool": "t", "args": {"a": json.loads("[" * 500 + "]" * 500)}}),  # deep but readable
    ]
    path.write_text("\n".join(lines) + "\n")
    out = run(str(path), "--json")
    assert "Traceback" not in out.stderr
    records = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(records) == 3
    assert records[0]["tool"] == "\ud800x"
    assert records[2]["allowed"] is False  # too deep to see everything: blocked
    assert out.returncode == 1
    table = run(str(path))  # the table view writes the same three rows
    assert "Traceback" not in table.stderr and table.returncode == 1


def test_policy_mode_keeps_the_goal_and_the_allowed_hosts(tmp_path: Path) -> None:
    """``--policy P --goal G``: the goal reaches the policy's verifier, as it does without a policy."""
    policy = tmp_path / "p.yaml"
    policy.write_text("default_action: ALLOW\nverifier: {rate_limit: false}\n")
    call = json.dumps({"tool": "transfer_money", "args": {"to": "XX00123", "amount": 900}})
    goal = "summarise my unread email"
    for extra in ([], ["--policy", str(policy)]):
        out = run(call, "--json", "--goal", goal, *extra)
        assert out.returncode == 1, (extra, out.stdout, out.stderr)
        record = json.loads(out.stdout)
        assert record["intent"] is not None and not record["intent"]["aligned"], extra
        assert any(v["policy"] == "intent_alignment" for v in record["violations"]), extra
    out = run(call, "--json", "--policy", str(policy))  # no goal: nothing to judge intent against
    assert out.returncode == 0 and json.loads(out.stdout)["intent"] is None, out.stdout
    fetch = json.dumps({"tool": "fetch", "args": {"url": "https://elsewhere.org/"}})
    out = run(fetch, "--json", "--policy", str(policy), "--allowed-host", "example.com")
    assert out.returncode == 1 and json.loads(out.stdout)["violations"][0]["policy"] == "scope_enforcement"


def test_policy_mode_refuses_a_workspace_flag_it_would_ignore(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("default_action: ALLOW\n")
    out = run('{"tool": "t", "args": {}}', "--policy", str(policy), "--workspace", "/w")
    assert out.returncode == 2 and "verifier.workspace" in out.stderr


def test_verify_profile_flag_selects_the_admin_profile() -> None:
    import subprocess
    import sys

    line = '{"tool": "run_shell", "args": {"command": "sudo systemctl restart nginx"}}\n'
    base = [sys.executable, "-m", "sentinel_lab", "verify", "--json", "--workspace", "/workspace/project"]
    confined = subprocess.run(base, input=line, capture_output=True, text=True, check=False)
    admin = subprocess.run([*base, "--profile", "admin"], input=line, capture_output=True, text=True, check=False)
    assert confined.returncode == 1 and '"allowed": false' in confined.stdout
    assert admin.returncode == 0 and '"allowed": true' in admin.stdout
    bad = subprocess.run([*base, "--profile", "root"], input=line, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
