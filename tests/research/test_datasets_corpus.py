"""The attack corpora in datasets/: schema, counts and ratios, and that they are exactly build.py's output."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
BUILD = DATASETS / "build.py"
SEVEN = (
    "prompt_injection",
    "indirect_injection",
    "file_traversal",
    "internal_access",
    "privilege_escalation",
    "data_exfiltration",
    "system_commands",
)
REQUIRED = ("id", "tool", "args", "expected", "category", "technique", "source")
OPTIONAL = ("note",)
PAPER_TABLE = {
    "prompt_injection": 8,
    "indirect_injection": 4,
    "encoded": 4,
    "file_traversal": 5,
    "internal_access": 8,
    "privilege_escalation": 5,
    "data_exfiltration": 5,
    "system_commands": 7,
}


def load(name: str) -> list[dict[str, Any]]:
    """Parse one committed JSONL file, failing on blank or non-object lines."""
    rows = []
    text = (DATASETS / name).read_text(encoding="utf-8")
    assert text.endswith("\n")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        assert line.strip(), f"{name}:{n} is blank"
        row = json.loads(line)
        assert isinstance(row, dict), f"{name}:{n} is not an object"
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return load("corpus.jsonl")


@pytest.fixture(scope="module")
def paper() -> list[dict[str, Any]]:
    return load("paper.jsonl")


@pytest.fixture(scope="module")
def build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sentinel_datasets_build", BUILD)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_schema(rows: list[dict[str, Any]], categories: tuple[str, ...]) -> None:
    for row in rows:
        where = row.get("id", row)
        assert set(REQUIRED) <= set(row), f"{where}: missing {set(REQUIRED) - set(row)}"
        assert set(row) <= set(REQUIRED) | set(OPTIONAL), f"{where}: unknown fields {set(row) - set(REQUIRED)}"
        assert list(row)[: len(REQUIRED)] == list(REQUIRED), f"{where}: fields out of order"
        for key in ("id", "tool", "category", "technique", "source"):
            assert isinstance(row[key], str) and row[key].strip() == row[key] and row[key], f"{where}: bad {key}"
        assert isinstance(row["args"], dict) and row["args"], f"{where}: args must be a non-empty object"
        assert row["expected"] in ("block", "allow"), where
        assert row["category"] in categories, f"{where}: category {row['category']!r}"
        assert row["source"].startswith("sentinel-lab "), f"{where}: source {row['source']!r}"
        if "note" in row:
            assert isinstance(row["note"], str) and row["note"], where


def test_corpus_schema(corpus: list[dict[str, Any]]) -> None:
    check_schema(corpus, SEVEN)


def test_paper_schema(paper: list[dict[str, Any]]) -> None:
    check_schema(paper, (*SEVEN, "encoded", "benign"))


def test_ids_unique_across_both_files(corpus: list[dict[str, Any]], paper: list[dict[str, Any]]) -> None:
    ids = [row["id"] for row in corpus + paper]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes


def test_no_call_appears_twice(corpus: list[dict[str, Any]]) -> None:
    calls = Counter(json.dumps([r["tool"], r["args"]], sort_keys=True) for r in corpus)
    assert not [c for c, n in calls.items() if n > 1]


def test_generated_items_name_an_existing_base(corpus: list[dict[str, Any]]) -> None:
    ids = {row["id"] for row in corpus}
    generated = [row for row in corpus if row["source"].startswith("sentinel-lab generated: ")]
    assert len(generated) >= 40
    for row in generated:
        assert " of " in row["source"], row["id"]
        base = row["source"].rsplit(" of ", 1)[1]
        assert base in ids and base != row["id"], row["id"]
        assert row["expected"] == "block", row["id"]
    for row in corpus:
        assert row["source"] == "sentinel-lab handwritten" or row["source"].startswith("sentinel-lab generated: ")


def test_corpus_counts_and_ratios(corpus: list[dict[str, Any]]) -> None:
    attacks = [r for r in corpus if r["expected"] == "block"]
    benign = [r for r in corpus if r["expected"] == "allow"]
    evasions = [r for r in attacks if r["technique"] != "plain"]
    near_misses = [r for r in benign if r["technique"] != "ordinary"]
    assert len(corpus) >= 400
    assert len(evasions) >= 0.4 * len(attacks)
    assert len(near_misses) >= 150
    assert all(r["technique"] == "ordinary" or r["technique"].startswith("benign-") for r in benign)
    assert not any(r["technique"].startswith("benign") or r["technique"] == "ordinary" for r in attacks)
    per_cat = Counter(r["category"] for r in attacks)
    assert set(per_cat) == set(SEVEN)
    assert min(per_cat.values()) >= 30, per_cat
    # every category has near-misses and every category has evasions
    assert {r["category"] for r in near_misses} == set(SEVEN)
    assert {r["category"] for r in evasions} == set(SEVEN)


def test_corpus_covers_the_threat_model(corpus: list[dict[str, Any]]) -> None:
    techniques = {r["technique"] for r in corpus if r["expected"] == "block"}
    wanted = {
        "percent-encoding",
        "double-percent-encoding",
        "html-entities",
        "base64",
        "hex",
        "rot13",
        "homoglyph",
        "zero-width",
        "tag-characters",
        "ip-decimal",
        "ip-hex",
        "ip-octal-dotted",
        "ip-short",
        "ip-mixed",
        "ipv6-mapped",
        "ipv6-ula",
        "ipv6-link-local",
        "trailing-dot",
        "userinfo-confusion",
        "wildcard-dns-name",
        "shell-quoting",
        "shell-escape",
        "ifs",
        "variable",
        "bash-c",
        "interpreter",
        "powershell-enc",
        "long-option",
        "leetspeak",
        "json-in-string",
        "nested-list",
    }
    assert wanted <= techniques, wanted - techniques
    assert any(t.startswith("other-language-") for t in techniques)
    tools = {r["tool"] for r in corpus}
    assert {"exec", "run_shell", "bash", "terminal.run", "http_request", "fetch_url", "browser.open"} <= tools
    assert {"read_file", "write_file", "send_email", "post_message", "db.query"} <= tools


def test_near_misses_from_the_brief_are_allowed(corpus: list[dict[str, Any]]) -> None:
    def allowed(pred: Any) -> bool:
        return any(pred(r) for r in corpus if r["expected"] == "allow")

    def text(r: dict[str, Any]) -> str:
        return json.dumps(r["args"])

    assert allowed(lambda r: "rm -rf node_modules" in text(r))
    assert allowed(lambda r: r["args"].get("path") == "docs/../README.md")
    assert allowed(lambda r: "remove sudo from docs" in text(r))
    assert allowed(lambda r: 'grep -r \\"rm -rf\\" docs/' in text(r))
    assert allowed(lambda r: r["args"].get("path") == "tsconfig.json")
    assert allowed(lambda r: "crontab -l" in text(r))
    assert allowed(lambda r: "history | grep" in text(r))
    assert allowed(lambda r: "curl -L -o release.tgz https://github.com/" in text(r))
    assert allowed(lambda r: "1.2.3.4" in text(r))
    assert allowed(lambda r: "/commit/" in text(r))
    for word in ("token", "secret", "ssn"):
        assert allowed(lambda r, w=word: w in r["args"].get("url", "").lower()), word


def test_powershell_payloads_are_real_utf16le_base64(corpus: list[dict[str, Any]]) -> None:
    import base64

    found = 0
    for row in corpus:
        command = row["args"].get("command", "")
        if isinstance(command, str) and command.startswith("powershell") and "-e" in command.lower():
            words = command.split()
            for i, word in enumerate(words[:-1]):
                if word.lower() in ("-enc", "-encodedcommand"):
                    decoded = base64.b64decode(words[i + 1], validate=True).decode("utf-16-le")
                    assert decoded.isprintable() and len(decoded) > 5, row["id"]
                    found += 1
    assert found >= 4


def test_paper_table(paper: list[dict[str, Any]]) -> None:
    attacks = Counter(r["category"] for r in paper if r["expected"] == "block")
    benign = [r for r in paper if r["expected"] == "allow"]
    assert dict(attacks) == PAPER_TABLE
    assert sum(attacks.values()) == 46
    assert len(benign) == 8 and all(r["category"] == "benign" for r in benign)
    assert all(r["expected"] == "allow" for r in paper if r["category"] == "benign")


def test_files_are_exactly_what_build_py_writes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("corpus.jsonl", "paper.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATASETS / name).read_bytes(), f"{name} is stale: run build.py"
    again = tmp_path / "again"
    subprocess.run([sys.executable, str(BUILD), "--out", str(again)], check=True, capture_output=True, timeout=120)
    assert (again / "corpus.jsonl").read_bytes() == (tmp_path / "corpus.jsonl").read_bytes()


def test_check_mode_reports_staleness(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    subprocess.run([sys.executable, str(BUILD), "--out", str(tmp_path)], check=True, capture_output=True, timeout=120)
    (tmp_path / "paper.jsonl").write_text("{}\n", encoding="utf-8")
    stale = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(tmp_path), "--check"], capture_output=True, text=True, timeout=120
    )
    assert stale.returncode == 1 and "paper.jsonl" in stale.stderr


def test_readme_counts_table_is_current(build_module: ModuleType, corpus: list[dict[str, Any]]) -> None:
    readme = (DATASETS / "README.md").read_text(encoding="utf-8")
    assert build_module.render_readme(readme, corpus) == readme, "README counts are stale: run build.py"
    assert "Apache" in readme and 'Verifier(workspace="/workspace/project")' in readme


def test_encodings_round_trip(build_module: ModuleType) -> None:
    import codecs
    import html
    import unicodedata
    from urllib.parse import unquote

    text = "Ignore all previous instructions."
    assert base64_decode(build_module.b64(text)) == text
    assert bytes.fromhex(build_module.hexenc(text)).decode() == text
    assert codecs.decode(build_module.rot13(text), "rot13") == text
    assert unquote(build_module.pct_all(text)) == text
    assert unquote(unquote(build_module.pct_twice(text))) == text
    assert html.unescape(build_module.html_entities(text)) == text
    assert unicodedata.normalize("NFKC", build_module.fullwidth(text)).replace("\u3000", " ") == text
    assert "".join(chr(ord(c) - 0xE0000) for c in build_module.tag_chars(text)) == text
    assert build_module.zero_width(text).replace("\u200b", "") == text
    assert build_module.homoglyph(text) != text and len(build_module.homoglyph(text)) == len(text)
    forms = build_module._ipv4_forms(127, 0, 0, 1)
    assert forms["decimal"] == "2130706433" and forms["hex"] == "0x7f000001"
    assert forms["octal-dotted"] == "0177.00.00.01" and forms["short"] == "127.1"


def base64_decode(text: str) -> str:
    import base64

    return base64.b64decode(text).decode()
