"""The audit log: signed hash chain, tamper detection, torn tails, several writers, redaction, the CLI."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinel_lab._audit import GENESIS, AuditLog, redact, verify_log
from sentinel_lab._exceptions import AuditError


def _write(path: Path, n: int, key: object = None) -> AuditLog:
    log = AuditLog(path, key=key)  # type: ignore[arg-type]
    for i in range(n):
        log.write("tool_call", session_id="s", tool=f"t{i}", decision="allow", request_id=i, arguments={"i": i})
    return log


def test_records_carry_seed_fields_and_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, 3).close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for field in (
        "timestamp",
        "session_id",
        "event_type",
        "tool",
        "decision",
        "details",
        "request_id",
        "arguments",
        "rule",
        "latency_us",
        "prev",
        "hash",
        "sig",
        "seq",
        "kid",
    ):
        assert field in records[0]
    assert records[0]["prev"] == GENESIS
    assert [r["prev"] for r in records[1:]] == [r["hash"] for r in records[:-1]]
    assert [r["seq"] for r in records] == [0, 1, 2]
    report = verify_log(path)
    assert report.ok and report.records == 3 and not report.truncated_tail


@pytest.mark.parametrize(
    "edit",
    ["modify", "delete_middle", "swap", "resign_other_key", "drop_sig"],
)
def test_every_kind_of_tampering_is_found(tmp_path: Path, edit: str) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, 5).close()
    lines = path.read_text().splitlines()
    if edit == "modify":
        lines[2] = lines[2].replace('"t2"', '"t9"')
    elif edit == "delete_middle":
        del lines[2]
    elif edit == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif edit == "resign_other_key":  # a forger with their own key rewrites the whole log
        forged = tmp_path / "forged.jsonl"
        _write(forged, 5).close()
        lines = forged.read_text().splitlines()
    elif edit == "drop_sig":
        rec = json.loads(lines[3])
        del rec["sig"]
        lines[3] = json.dumps(rec)
    path.write_text("\n".join(lines) + "\n")
    report = verify_log(path)  # trusts only the key in a.jsonl.pub
    assert not report.ok
    assert (
        report.first_bad_line
        == {"modify": 3, "delete_middle": 3, "swap": 2, "resign_other_key": 1, "drop_sig": 4}[edit]
    )


def test_explicit_public_key_is_the_trust_anchor(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "a.jsonl"
    _write(path, 2, key=key).close()
    pub = key.public_key().public_bytes_raw().hex()
    assert verify_log(path, public_key=pub).ok
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    bad = verify_log(path, public_key=other)
    assert not bad.ok and "unknown key" in bad.reason


def test_torn_tail_is_reported_and_cut_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    seed = "11" * 32
    _write(path, 3, key=seed).close()
    with open(path, "ab") as fh:
        fh.write(b'{"timestamp":"2026-11-21T06:00:00Z","session_id":"s","ev')  # crash mid-write
    report = verify_log(path)
    assert report.ok and report.records == 3 and report.truncated_tail
    log = AuditLog(path, key=seed)
    log.write("tool_call", tool="after", decision="allow")
    log.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["event_type"] for r in records[3:]] == ["audit_recovered", "tool_call"]
    assert records[3]["details"]["dropped_torn_tail_bytes"] > 0
    assert verify_log(path).ok and verify_log(path).records == 5


def _child_writer(path: str, seed: str, n: int) -> None:
    log = AuditLog(path, key=seed)
    for i in range(n):
        log.write("tool_call", tool=f"p{os.getpid()}-{i}", decision="allow")
    log.close()


def test_several_processes_append_to_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    seed = "22" * 32
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child_writer, args=(str(path), seed, 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    report = verify_log(path)
    assert report.ok and report.records == 120, report.summary()


def test_redaction_by_key_and_by_value_shape() -> None:
    out = redact(
        {
            "password": "hunter2",
            "API-Key": "abc",
            "headers": {"Authorization": "Bearer abc.def.ghi"},
            "note": "my key is sk-proj-abcdefghijklmnop1234 ok",
            "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "aws": "AKIAIOSFODNN7EXAMPLE",
            "card": "4111111111111111",
            "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
            "path": "/home/user/projects/sentinel/README.md",
            "commit": "https://github.com/org/repo/commit/4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "city": "Paris",
            "pin_sha256": "ab" * 32,
            "hex_secret": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "count": 3,
            "long": "a" * 2000,
        }
    )
    assert out["password"] == out["API-Key"] == out["headers"]["Authorization"] == "[REDACTED]"
    assert out["note"] == "my key is [REDACTED] ok"
    assert out["jwt"] == out["aws"] == out["card"] == out["pem"] == "[REDACTED]"
    assert out["path"] == "/home/user/projects/sentinel/README.md"
    assert out["commit"].startswith("https://github.com/")
    assert out["city"] == "Paris" and out["count"] == 3
    assert out["pin_sha256"] == "ab" * 32 and out["hex_secret"] == "[REDACTED]"
    assert len(out["long"]) < 600 and out["long"].endswith("chars)")


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, 3).close()
    cli = [sys.executable, "-m", "sentinel_lab._cli", "audit", "verify"]
    ok = subprocess.run([*cli, str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 3 records")
    path.write_text(path.read_text().replace('"t1"', '"tX"'))
    bad = subprocess.run([*cli, str(path)], capture_output=True, text=True)
    assert bad.returncode == 1 and "BAD at line 2" in bad.stdout
    missing = subprocess.run([*cli, str(tmp_path / "none.jsonl")], capture_output=True, text=True)
    assert missing.returncode == 2


def test_lone_surrogates_cannot_suppress_a_record(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.write("tool_call", tool="rm\ud800", request_id="id\udc00", arguments={"k\ud801": "v\udfff"}, decision="block")
    log.close()
    report = verify_log(path)
    assert report.ok and report.records == 1
    rec = json.loads(path.read_text())
    assert rec["tool"] == "rm\\ud800" and rec["arguments"] == {"k\\ud801": "v\\udfff"}


def test_bad_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "a.jsonl", key="not a key")
