"""The package's vocabularies: word, key, program and host lists, each kept once as a data file beside this module.

Each ``<name>.txt`` holds one item a line, sorted, unique and normalised as its ``#`` header says; ``<name>.tsv``
maps a word to a category (``word<TAB>category``). Files are read once, at first use, and kept as frozensets and
mappings, so a lookup stays one hash probe. Code that needs a different set spells the difference where it uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

__all__ = ["mapping", "names", "words"]


def _lines(filename: str) -> list[str]:
    """The entries of one data file: every line that is neither blank nor a ``#`` comment, stripped."""
    try:
        text = resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LookupError(f"no vocabulary named {filename.rsplit('.', 1)[0]!r} (known: {', '.join(names())})") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@cache
def words(name: str) -> frozenset[str]:
    """The set of words in ``<name>.txt``; a ``LookupError`` names the known vocabularies if there is none."""
    return frozenset(_lines(f"{name}.txt"))


@cache
def mapping(name: str) -> Mapping[str, str]:
    """The word -> category table in ``<name>.tsv`` (read-only)."""
    table: dict[str, str] = {}
    for line in _lines(f"{name}.tsv"):
        word, sep, category = line.partition("\t")
        if not sep or not category.strip():
            raise ValueError(f"{name}.tsv: line {line!r} is not 'word<TAB>category'")
        table[word.strip()] = category.strip()
    return MappingProxyType(table)


def names() -> list[str]:
    """Every vocabulary this package ships, by name (``<name>.txt`` and ``<name>.tsv``), sorted."""
    found = (entry.name for entry in resources.files(__name__).iterdir())
    return sorted(f.rsplit(".", 1)[0] for f in found if f.endswith((".txt", ".tsv")))
