"""The vocabulary files: each has a header saying where it comes from, is sorted, unique and normalised, is read by
some module of the package, and the loader names the known vocabularies when asked for an unknown one."""

from __future__ import annotations

import re
import unicodedata
from importlib import resources
from pathlib import Path

import pytest

from sentinel_lab import _vocab as vocab

PACKAGE = Path(vocab.__file__).resolve().parent.parent
FILES = sorted(p.name for p in resources.files(vocab.__name__).iterdir() if p.name.endswith((".txt", ".tsv")))
#: A header may name the rule its entries follow (``# normalise: nfkc`` keeps case); the default is NFKC + casefold.
RULES = {
    "nfkc-casefold": lambda s: unicodedata.normalize("NFKC", s).casefold(),
    "nfkc": lambda s: unicodedata.normalize("NFKC", s),
}


def _read(name: str) -> list[str]:
    return resources.files(vocab.__name__).joinpath(name).read_text(encoding="utf-8").splitlines()


def _entries(name: str) -> list[str]:
    return [line for line in _read(name) if not line.startswith("#")]


def _rule(name: str) -> str:
    for line in _read(name):
        found = re.match(r"#\s*normalise:\s*(\S+)", line)
        if found:
            return found.group(1)
    return "nfkc-casefold"


def test_there_are_vocabularies() -> None:
    assert len(FILES) >= 5
    assert vocab.names() == sorted(f.rsplit(".", 1)[0] for f in FILES)


@pytest.mark.parametrize("name", FILES)
def test_header_says_where_the_list_comes_from(name: str) -> None:
    first = _read(name)[0]
    assert first.startswith("# ") and len(first) > 20, f"{name}: the first line must give the list's source or reason"


@pytest.mark.parametrize("name", FILES)
def test_entries_are_sorted_unique_and_normalised(name: str) -> None:
    entries = _entries(name)
    assert entries, f"{name} has no entries"
    assert all(e.strip() and e == e.strip() for e in entries), f"{name}: blank entry or stray spaces"
    keys = [e.split("\t", 1)[0] for e in entries] if name.endswith(".tsv") else entries
    assert keys == sorted(keys), f"{name} is not sorted"
    assert len(set(keys)) == len(keys), f"{name} repeats an entry"
    normalise = RULES[_rule(name)]
    bad = [k for k in keys if normalise(k) != k]  # a mapping's category is a label, not a word: only keys
    assert bad == [], f"{name}: not normalised ({_rule(name)}): {bad[:5]}"


@pytest.mark.parametrize("name", [f for f in FILES if f.endswith(".tsv")])
def test_mappings_have_a_category_on_every_line(name: str) -> None:
    table = vocab.mapping(name[: -len(".tsv")])
    assert len(table) == len(_entries(name))
    assert all(table.values())


def _package_source() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py") if "_vocab" not in p.relative_to(PACKAGE).parts
    )


@pytest.mark.parametrize("name", FILES)
def test_every_vocabulary_is_read_by_some_module(name: str) -> None:
    stem, ext = name.rsplit(".", 1)
    loader = "words" if ext == "txt" else "mapping"
    assert f'{loader}("{stem}")' in _package_source(), f"{name} is read by no module (orphan)"


def test_words_are_what_the_file_holds() -> None:
    assert vocab.words("shells") == frozenset(_entries("shells.txt"))
    assert "bash" in vocab.words("shells")
    assert vocab.words("shells") is vocab.words("shells")  # read once


def test_unknown_vocabulary_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match=r"no vocabulary named 'no_such_list'.*shells"):
        vocab.words("no_such_list")
    with pytest.raises(LookupError, match="no vocabulary named"):
        vocab.mapping("no_such_table")


def test_a_malformed_mapping_line_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vocab, "_lines", lambda filename: ["word-without-category"])
    vocab.mapping.cache_clear()
    try:
        with pytest.raises(ValueError, match="not 'word<TAB>category'"):
            vocab.mapping("anything")
    finally:
        vocab.mapping.cache_clear()
