"""The one tool-name rule: allowing patterns match exactly, denying patterns ignore case."""

from __future__ import annotations

import pytest

from sentinel_lab._text.glob import Glob, ToolPattern, tool_matches


@pytest.mark.parametrize(
    ("tool", "pattern", "allows", "denies"),
    [
        ("read_file", "read_file", True, True),
        ("Read_File", "read_file", False, True),
        ("fs.read", "fs.*", True, True),
        ("FS.READ", "fs.*", False, True),
        ("fs", "fs.*", False, False),
        ("execute_shell", "exec?te_*", True, True),
        ("STRASSE_tool", "straße_*", False, True),  # casefold: ß and ss are one letter sequence
    ],
)
def test_tool_matches(tool: str, pattern: str, allows: bool, denies: bool) -> None:
    pats = (ToolPattern(pattern),)
    assert tool_matches(tool, pats, deny=False) is allows
    assert tool_matches(tool, pats, deny=True) is denies


def test_glob_answers_a_pattern_that_naive_backtracking_would_explode_on() -> None:
    """``a*a*...b`` against ``aaa...``: exponential for a naive backtracker, pattern x text steps here."""
    g = Glob("a*" * 30 + "b")
    assert not g.match("a" * 5000)
    assert Glob("*.example.com").match("api.example.com") and not Glob("*.example.com").match("example.com")


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("/e?c/sh*dow", "/etc/shadow", True),
        ("/etc/sh[a-z]dow", "/etc/shadow", True),
        ("/etc/sh[!a]dow", "/etc/shadow", False),
        ("/etc/pass*", "/etc/shadow", False),
        ("~/.ss?/id_*", "~/.ssh/id_rsa", True),
        ("/???/??adow", "/etc/shadow", True),
        ("a*b*c*d*e", "a" + "x" * 250, False),
    ],
)
def test_glob_match_over_paths(pattern: str, text: str, expected: bool) -> None:
    assert Glob(pattern).match(text) is expected
