"""The audit log: signed hash chain, tamper detection, torn tails, several writers, redaction, the CLI."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _framing_strategies import json_values
from _growth import assert_linear
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sentinel_lab._core.errors import AuditError
from sentinel_lab._mcp.audit import _CANONICAL, GENESIS, AuditLog, _canonical, _fields, redact_for_log, verify_log


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
        "seq",
        "kid",
    ):
        assert field in records[0]
    assert records[0]["prev"] == GENESIS
    assert [r["prev"] for r in records[1:]] == [r["hash"] for r in records[:-1]]
    assert [r["seq"] for r in records] == [0, 1, 2, 3]
    # one signature for the three: the checkpoint written at close names them and their hashes
    assert not any("sig" in r for r in records[:3])
    checkpoint = records[3]
    assert checkpoint["event_type"] == "checkpoint" and checkpoint["sig"]
    assert checkpoint["details"]["covers"] == [[0, 2]]
    assert (
        checkpoint["details"]["digest"] == hashlib.sha256("".join(r["hash"] for r in records[:3]).encode()).hexdigest()
    )
    report = verify_log(path)
    assert report.ok and report.records == 3 and report.checkpoints == 1 and not report.truncated_tail


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
    elif edit == "drop_sig":  # the checkpoint's
        rec = json.loads(lines[5])
        del rec["sig"]
        lines[5] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    report = verify_log(path)  # trusts only the key in a.jsonl.pub
    assert not report.ok
    assert (
        report.first_bad_line
        == {"modify": 3, "delete_middle": 3, "swap": 2, "resign_other_key": 1, "drop_sig": 6}[edit]
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
    records = [json.loads(line) for line in lines[:4] + lines[5:]]
    assert [r["event_type"] for r in records[3:]] == ["checkpoint", "recovery", "tool_call", "checkpoint"]
    details = records[4]["details"]
    assert details["set_aside_bytes"] == len(torn) + 1 and records[4]["prev"] == records[3]["hash"]
    report = verify_log(path)
    assert report.ok and report.records == 5 and not report.truncated_tail, report.summary()
    assert [(r.line, r.set_aside_bytes, r.set_aside_lines) for r in report.recoveries] == [(6, len(torn) + 1, 1)]
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
    lines = path.read_bytes().split(b"\n")[:-1]  # 3 good, checkpoint, 1 set aside, recovery, 2 good, checkpoint
    if edit == "edit_good_before":
        lines[2] = lines[2].replace(b'"t2"', b'"t9"')
    elif edit == "edit_set_aside":
        lines[4] = lines[4].replace(b"torn", b"TORN")
    elif edit == "drop_set_aside":
        del lines[4]
    elif edit == "drop_recovery":
        del lines[5]
    elif edit == "edit_after":
        lines[7] = lines[7].replace(b'"t1"', b'"t8"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = verify_log(path)
    assert not report.ok
    assert (
        report.first_bad_line
        == {
            "edit_good_before": 3,
            "edit_set_aside": 6,
            "drop_set_aside": 5,
            "drop_recovery": 5,
            "edit_after": 8,
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
    line = path.read_bytes().split(b"\n")[0]
    assert line.isascii()
    rec = json.loads(line)
    assert line == json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    assert rec["tool"] == "café ✓" and rec["latency_us"] is None


_tricky_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e-4, 9.9e-5, 1.5e-5, 1e-7, 1e-10, 2.5e-300, 5e-324, 1e16, 1e15, 1.5e22, -0.0, 0.1]),
)
_record_values = st.recursive(
    st.one_of(
        json_values,
        _tricky_floats,
        st.text(alphabet=st.characters(max_codepoint=0x2030), max_size=12),
        st.sampled_from(["\x7f", "a\x7fb", "\x1f\x08", "é", "\u2028", "t2e-5", ":1e-05"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _record_values, max_size=6))
@example({"tool": "a\x7fb"})  # DEL: ASCII, yet escaped by the standard library
@example({"latency_us": 1.5e-05, "x": [1e-07, 0.0001, 1e16]})  # the floats orjson spells otherwise
@example({"arguments": {"n": 2**64}, "t": "ok"})  # past 64 bits: orjson refuses
@example({"b": 1, "a": {"d": None, "c": True}})
def test_the_fast_canonical_form_is_the_standard_librarys_byte_for_byte(record: dict[str, object]) -> None:
    """orjson writes the records; the form stays the standard library's (sorted keys, ASCII, ``repr`` floats),
    so logs written before and after verify alike."""
    assert _canonical(record) == _CANONICAL.encode(record).encode()


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
    kinds = [json.loads(line)["event_type"] for line in path.read_text().splitlines()]
    assert kinds.count("tool_call") == 120 and not report.unsigned, report.summary()
    assert report.ok and report.records == 120 + kinds.count("recovery"), report.summary()


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
    rec = json.loads(path.read_text().splitlines()[0])
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


# ------------------------------------------------------------------ signatures per checkpoint


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 30  # a safety net only: the wait ends as soon as the condition holds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_checkpoint_every_n_records_and_after_t_ms_off_the_writers_path(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, checkpoint_records=4, checkpoint_ms=60_000)
    kinds = lambda: [r["event_type"] for r in _lines(path)]  # noqa: E731
    for batch in range(2):
        for i in range(4):
            log.write("tool_call", tool=f"t{batch}{i}")
        _wait_for(lambda batch=batch: kinds().count("checkpoint") == batch + 1, "a checkpoint of four records")
    log.write("tool_call", tool="ninth")
    covers = [r["details"]["covers"] for r in _lines(path) if r["event_type"] == "checkpoint"]  # type: ignore[index]
    assert covers == [[[0, 3]], [[5, 8]]]
    report = verify_log(path)  # the ninth record waits for its checkpoint: not proven yet
    assert not report.ok and report.unsigned == 1 and report.first_bad_line == 11 and "not signed" in report.reason
    log.close()
    assert verify_log(path).ok and verify_log(path).records == 9
    timed = tmp_path / "t.jsonl"
    log = AuditLog(timed, checkpoint_records=1000, checkpoint_ms=50)
    log.write("tool_call", tool="alone")
    _wait_for(lambda: len(_lines(timed)) == 2, "the timed checkpoint")
    report = verify_log(timed)
    assert report.ok and report.records == 1 and report.checkpoints == 1, report.summary()
    log.close()


def test_unsigned_records_are_never_proven_even_when_rehashed_consistently(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, key="31" * 32, checkpoint_records=1000, checkpoint_ms=600_000)
    for i in range(3):
        log.write("tool_call", tool=f"t{i}", decision="allow")
    report = verify_log(path)
    assert not report.ok and report.unsigned == 3 and report.first_bad_line == 1 and report.records == 0
    # someone who can write the file but has no key rewrites a record and fixes the chain after it
    records = _lines(path)
    records[1]["decision"] = "blocked"  # a new size: the writer re-reads the tail and continues after it
    prev = records[0]["hash"]
    for rec in records[1:]:
        rec["prev"] = prev
        body = {k: v for k, v in rec.items() if k != "hash"}
        rec["hash"] = prev = hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    path.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records))
    assert not verify_log(path).ok  # still not proven
    log.close()  # the writer's checkpoint names the hashes it wrote: the edit is the first bad line
    report = verify_log(path)
    assert not report.ok and report.first_bad_line == 4 and "digest" in report.reason, report.summary()


def test_another_writer_cannot_vouch_for_a_record_that_was_changed(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    seed = "32" * 32
    a = AuditLog(path, key=seed, checkpoint_records=1000, checkpoint_ms=600_000)
    b = AuditLog(path, key=seed, checkpoint_records=1000, checkpoint_ms=600_000)
    a.write("tool_call", tool="a0")
    b.write("tool_call", tool="b0", decision="block")
    records = _lines(path)  # B's record changed and rehashed before anyone signed it
    records[-1]["decision"] = "allow"
    body = {k: v for k, v in records[-1].items() if k != "hash"}
    records[-1]["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    path.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records))
    a.write("tool_call", tool="a1")  # A continues the chain after the changed record and signs its own two
    a.close()
    b.close()
    report = verify_log(path)
    assert not report.ok and "digest" in report.reason, report.summary()
    assert _lines(path)[report.first_bad_line - 1]["event_type"] == "checkpoint"  # B's checkpoint: B's hash  # type: ignore[index]


_KILLED_WRITER = """
import os, sys
from sentinel_lab._mcp.audit import AuditLog
log = AuditLog(sys.argv[1], key="33" * 32, checkpoint_records=1000, checkpoint_ms=600_000)
for i in range(4):
    log.write("tool_call", tool=f"k{i}", decision="allow")
os._exit(0)  # no close, no atexit: as after kill -9
"""


def test_records_of_a_writer_killed_before_its_checkpoint_are_acknowledged_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, 2, key="33" * 32).close()
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], check=True, timeout=60)
    report = verify_log(path)
    assert not report.ok and report.unsigned == 4 and report.first_bad_line == 4
    with AuditLog(path, key="33" * 32) as log:  # the next writer says so in a signed recovery record
        log.write("tool_call", tool="after")
    report = verify_log(path)
    assert report.ok and report.never_signed == 4 and report.records == 2 + 4 + 1 + 1, report.summary()
    assert [(r.line, r.unsigned_records) for r in report.recoveries] == [(8, 4)]
    assert "4 record(s) before it never signed" in report.summary()


def test_a_failed_checkpoint_refuses_every_later_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, checkpoint_records=1000, checkpoint_ms=600_000)
    log.write("tool_call", tool="t0")

    def broken(digest: str) -> str:
        raise OSError("signing device gone")

    monkeypatch.setattr(log, "_signature", broken)
    with pytest.raises(AuditError, match="checkpoint failed"):
        log.checkpoint()
    monkeypatch.undo()  # even with the key back, nothing more is written as if audited
    for _ in range(2):
        with pytest.raises(AuditError, match="checkpoint failed"):
            log.write("tool_call", tool="t1")
    log.close()
    assert len(_lines(path)) == 1


def test_logs_of_the_older_format_signed_per_record_still_verify(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    log = AuditLog(path, key="34" * 32)
    with log._lock:  # what the older writer wrote: every record signed itself, no checkpoints
        for i in range(3):
            log._locked(lambda i=i: log._append(_fields("tool_call", tool=f"o{i}", decision="allow"), sign=True))
    log.close()
    assert all("sig" in r for r in _lines(path)) and len(_lines(path)) == 3
    report = verify_log(path)
    assert report.ok and report.records == 3 and report.checkpoints == 0, report.summary()
    path.write_text(path.read_text().replace('"o1"', '"o7"'))
    assert verify_log(path).first_bad_line == 2
