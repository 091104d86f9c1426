"""The audit log: signed hash chain, tamper detection, torn tails, several writers, redaction, the CLI."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _growth import assert_linear
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinel_lab._core.errors import AuditError
from sentinel_lab._mcp.audit import GENESIS, AuditLog, redact_for_log, verify_log


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


def test_torn_tail_is_kept_and_set_aside_by_a_recovery_record(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    seed = "11" * 32
    _write(path, 3, key=seed).close()
    torn = b'{"timestamp":"2026-11-21T06:00:00Z","session_id":"s","ev'  # crash mid-write
    with open(path, "ab") as fh:
        fh.write(torn)
    report = verify_log(path)
    assert report.ok and report.records == 3 and report.truncated_tail
    log = AuditLog(path, key=seed)  # the tail is checked when the log is opened, before any relaying
    assert log.recovered_bytes == len(torn)
    log.write("tool_call", tool="after", decision="allow")
    log.close()
    data = path.read_bytes()
    assert torn + b"\n" in data  # the evidence stays in the file
    lines = data.splitlines()
    records = [json.loads(line) for line in lines[:3] + lines[4:]]
    assert [r["event_type"] for r in records[3:]] == ["recovery", "tool_call"]
    details = records[3]["details"]
    assert details["set_aside_bytes"] == len(torn) + 1 and records[3]["prev"] == records[2]["hash"]
    report = verify_log(path)
    assert report.ok and report.records == 5 and not report.truncated_tail, report.summary()
    assert [(r.line, r.set_aside_bytes, r.set_aside_lines) for r in report.recoveries] == [(5, len(torn) + 1, 1)]
    assert "recovery" in report.summary()


def test_corrupt_complete_last_line_starts_a_new_segment(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    seed = "12" * 32
    _write(path, 2, key=seed).close()
    with open(path, "ab") as fh:
        fh.write(b"garbage line\n\x00\xff binary\n")
    assert not verify_log(path).ok  # junk with no recovery after it is reported
    with AuditLog(path, key=seed) as log:
        for i in range(3):
            log.write("tool_call", tool=f"later{i}", decision="allow")  # every later write succeeds
    report = verify_log(path)
    assert report.ok and report.records == 6 and report.recoveries[0].set_aside_lines == 2, report.summary()


def _recovered_log(tmp_path: Path) -> Path:
    path = tmp_path / "r.jsonl"
    seed = "13" * 32
    _write(path, 3, key=seed).close()
    with open(path, "ab") as fh:
        fh.write(b'{"seq":3,"torn')
    _write(path, 2, key=seed).close()
    assert verify_log(path).ok
    return path


@pytest.mark.parametrize(
    "edit", ["edit_good_before", "edit_set_aside", "drop_set_aside", "drop_recovery", "edit_after"]
)
def test_a_recovered_log_still_shows_every_edit(tmp_path: Path, edit: str) -> None:
    path = _recovered_log(tmp_path)
    lines = path.read_bytes().split(b"\n")[:-1]  # 3 good, 1 set aside, recovery, 2 good
    if edit == "edit_good_before":
        lines[2] = lines[2].replace(b'"t2"', b'"t9"')
    elif edit == "edit_set_aside":
        lines[3] = lines[3].replace(b"torn", b"TORN")
    elif edit == "drop_set_aside":
        del lines[3]
    elif edit == "drop_recovery":
        del lines[4]
    elif edit == "edit_after":
        lines[6] = lines[6].replace(b'"t1"', b'"t8"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = verify_log(path)
    assert not report.ok
    assert (
        report.first_bad_line
        == {
            "edit_good_before": 3,
            "edit_set_aside": 5,
            "drop_set_aside": 4,
            "drop_recovery": 4,
            "edit_after": 7,
        }[edit]
    ), report.summary()


def test_a_log_shrunk_under_the_writer_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = _write(path, 3)
    data = path.read_bytes()
    keep = data[: data.index(b"\n") + 1]
    with open(path, "r+b") as fh:  # someone cuts the last two records
        fh.truncate(len(keep))
    log.write("tool_call", tool="after", decision="allow")
    log.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[1]["event_type"] == "recovery" and records[1]["details"]["missing_bytes"] == len(data) - len(keep)
    report = verify_log(path)
    assert report.ok and report.recoveries and "shrank" in report.recoveries[0].reason


def test_writes_to_a_removed_or_replaced_log_raise(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = _write(path, 1)
    path.unlink()
    with pytest.raises(AuditError, match="removed"):
        log.write("tool_call", tool="x")
    path.write_text("")
    with pytest.raises(AuditError, match="replaced"):
        log.write("tool_call", tool="x")
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.write("tool_call", tool="x")


def test_a_full_disk_raises_on_write(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    path = tmp_path / "full.jsonl"
    path.symlink_to("/dev/full")
    log = AuditLog(path)
    with pytest.raises(AuditError, match="cannot write"):
        log.write("tool_call", tool="x")
    log.close()


_SHORT_WRITER = """
import resource, signal, sys
from sentinel_lab._mcp.audit import AuditLog
from sentinel_lab._core.errors import AuditError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
log = AuditLog(sys.argv[1], key="14" * 32)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
try:
    for i in range(100):
        log.write("tool_call", tool="t", decision="allow", arguments={"i": i, "pad": "x" * 200})
except AuditError as exc:
    print("refused:", exc)
    sys.exit(3)
"""


def test_a_write_cut_short_by_a_file_size_limit_raises_and_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, 1, key="14" * 32).close()
    limit = path.stat().st_size + 1500  # room for a few records, then a short write mid-record
    child = subprocess.run([sys.executable, "-c", _SHORT_WRITER, str(path), str(limit)], capture_output=True, text=True)
    assert child.returncode == 3 and "refused:" in child.stdout, child.stderr
    assert verify_log(path).truncated_tail or not path.read_bytes().endswith(b"}\n")
    _write(path, 1, key="14" * 32).close()
    report = verify_log(path)
    assert report.ok and report.recoveries and report.recoveries[0].set_aside_bytes > 0, report.summary()


def test_records_are_canonical_json(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.write("tool_call", tool="café ✓", arguments={"b": 1, "a": "ü"}, latency_us=float("inf"))
    log.close()
    line = path.read_bytes().rstrip(b"\n")
    assert line.isascii()
    rec = json.loads(line)
    assert line == json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    assert rec["tool"] == "café ✓" and rec["latency_us"] is None


def _respell(line: bytes, how: str) -> bytes:
    rec = json.loads(line)
    if how == "duplicate_prepended":
        return b'{"decision":"allow",' + line[1:]
    if how == "duplicate_appended":
        return line[:-1] + b',"decision":"allow"}'
    if how == "spaces":
        return json.dumps(rec, sort_keys=True).encode()
    if how == "key_order":
        return json.dumps(dict(reversed(list(rec.items()))), separators=(",", ":")).encode()
    if how == "escaped_slash":
        return line.replace(b"/", b"\\/")
    if how == "raw_utf8":
        return json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if how == "upper_hex_escape":
        return line.replace(b"\\u00e9", b"\\u00E9")
    if how == "trailing_space":
        return line + b" "
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "duplicate_prepended",
        "duplicate_appended",
        "spaces",
        "key_order",
        "escaped_slash",
        "raw_utf8",
        "upper_hex_escape",
        "trailing_space",
    ],
)
def test_any_other_spelling_of_a_record_is_rejected(tmp_path: Path, how: str) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    for i in range(3):
        log.write("tool_call", tool=f"t{i}", decision="block", details={"url": "https://x/é"})
    log.close()
    lines = path.read_bytes().split(b"\n")[:-1]
    respelled = _respell(lines[1], how)
    assert respelled != lines[1]
    lines[1] = respelled
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = verify_log(path)
    assert not report.ok and report.first_bad_line == 2 and report.records == 1, report.summary()
    if how.startswith("duplicate"):
        assert "duplicate key 'decision'" in report.reason
    else:
        assert "canonical" in report.reason


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
    out = redact_for_log(
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
    assert missing.returncode == 2 and "sentinel-lab audit:" in missing.stderr


def test_cli_verify_reports_recovery_and_forged_duplicates(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "sentinel_lab._cli", "audit", "verify"]
    path = _recovered_log(tmp_path)
    ok = subprocess.run([*cli, str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK: 6 records" in ok.stdout and "recovery" in ok.stdout, ok.stdout
    lines = path.read_bytes().split(b"\n")
    lines[1] = b'{"decision":"block",' + lines[1][1:]
    path.write_bytes(b"\n".join(lines))
    bad = subprocess.run([*cli, str(path)], capture_output=True, text=True)
    assert bad.returncode == 1 and "BAD at line 2: duplicate key 'decision'" in bad.stdout, bad.stdout


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql -uroot -pS3cr3t! shop", "mysql -uroot -p[REDACTED] shop"),
        ("mysqldump -p'two words' db", "mysqldump -p'[REDACTED]' db"),
        ("PGPASSWORD=hunter2 psql -h db", "PGPASSWORD=[REDACTED] psql -h db"),
        (
            'env GITHUB_TOKEN="a b" AWS_SECRET=z DB_PASS=q MYSQL_PWD=w run',
            'env GITHUB_TOKEN="[REDACTED]" AWS_SECRET=[REDACTED] DB_PASS=[REDACTED] MYSQL_PWD=[REDACTED] run',
        ),
        ("export API_TOKEN=abc; make", "export API_TOKEN=[REDACTED]; make"),
        (
            'curl -H "Authorization: Bearer abc123" https://api.example.com',
            'curl -H "Authorization: Bearer [REDACTED]" https://api.example.com',
        ),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        ("proxy-authorization:Bearer xyz", "proxy-authorization:Bearer [REDACTED]"),
        ("then use Bearer tok now", "then use Bearer [REDACTED] now"),
        ("git clone https://bob:pa55@git.example.com/r.git", "git clone https://bob:[REDACTED]@git.example.com/r.git"),
        ("postgres://app:s3cret@db:5432/x", "postgres://app:[REDACTED]@db:5432/x"),
        (
            "https://api.example.com/v1?user=a&access_token=xyz&n=2",
            "https://api.example.com/v1?user=a&access_token=[REDACTED]&n=2",
        ),
        ("mysql --password hunter2 db", "mysql --password [REDACTED] db"),
        ("openssl enc -pass pass:hunter2 -in f", "openssl enc -pass [REDACTED] -in f"),
        ("password: hunter2\nuser: bob", "password: [REDACTED]\nuser: bob"),
        ('{"password":"x","user":"bob"', '{"password":"[REDACTED]","user":"bob"'),
    ],
)
def test_redaction_inside_strings(text: str, expected: str) -> None:
    assert redact_for_log(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "gcc -pthread -pipe -O2 x.c",
        "find . -path ./x -prune -print",
        "see https://docs.example.com/a?b=1",
        "ssh -p 22 host",
        "Basic usage of the tool",
        "user=bob&limit=10",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact_for_log(text) == text


def test_redaction_in_structures() -> None:
    out = redact_for_log(
        {
            "passwords": ["a", "b"],
            "argv": ["mysql", "-u", "root", "--password", "x", "-pY", "db"],
            "argv2": ["curl", "-H", "Authorization: Bearer abc", "--token", "t0k"],
            "headers": {"Authorization": "Bearer x", "Accept": "text/plain"},
            "header_list": [{"name": "X-Api-Key", "value": "k1"}, {"name": "Accept", "value": "json"}],
            "env": {"PGPASSWORD": "p", "HOME": "/root"},
            "body": '{"user": "bob", "password": "hunter2", "nested": "{\\"token\\": \\"t\\"}"}',
            "list_json": '["--password", "x", "--user", "bob"]',
            "nested": [[{"credentials": [{"pw": "z"}]}]],
        }
    )
    assert out["passwords"] == "[REDACTED]"
    assert out["argv"] == ["mysql", "-u", "root", "--password", "[REDACTED]", "-p[REDACTED]", "db"]
    assert out["argv2"] == ["curl", "-H", "Authorization: Bearer [REDACTED]", "--token", "[REDACTED]"]
    assert out["headers"] == {"Authorization": "[REDACTED]", "Accept": "text/plain"}
    assert out["header_list"] == [{"name": "X-Api-Key", "value": "[REDACTED]"}, {"name": "Accept", "value": "json"}]
    assert out["env"] == {"PGPASSWORD": "[REDACTED]", "HOME": "/root"}
    body = json.loads(out["body"])
    assert body["user"] == "bob" and body["password"] == "[REDACTED]"
    assert json.loads(body["nested"]) == {"token": "[REDACTED]"}
    assert json.loads(out["list_json"]) == ["--password", "[REDACTED]", "--user", "bob"]
    assert out["nested"] == [[{"credentials": "[REDACTED]"}]]
    assert "hunter2" not in json.dumps(out)


def test_redaction_survives_hostile_shapes() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    assert redact_for_log(deep).startswith("[[[")  # not decoded, not a crash
    deep_list: list[object] = []
    for _ in range(10_000):
        deep_list = [deep_list]
    assert json.dumps(redact_for_log(deep_list))  # depth-bounded, JSON-safe
    assert redact_for_log(10**5000) == f"<integer of {(10**5000).bit_length()} bits>"
    assert redact_for_log({"x": "[1" + "0" * 5000 + "]"})["x"].startswith("[10")


@pytest.mark.parametrize(
    "chunk",
    [
        'password="',
        "-p'",
        "Bearer ",
        "a=1&",
        "https://u:p@",
        '{"password": "x", ',
        "--password ",
        "x" * 40 + " ",
        "://",
    ],
)
def test_redaction_is_linear(chunk: str) -> None:
    assert_linear(redact_for_log, chunk * (2**19 // len(chunk)))
