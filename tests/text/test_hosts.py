"""The one host-suffix test: equal or a subdomain on a label boundary, never a bare string suffix."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel_lab._text.hosts import host_matches, host_suffix

DOMAINS = frozenset({"example.com", "ngrok.io", "internal"})


def test_suffix_names_the_matching_entry() -> None:
    assert host_suffix("example.com", DOMAINS) == "example.com"
    assert host_suffix("a.b.example.com", DOMAINS) == "example.com"
    assert host_suffix("x.ngrok.io", DOMAINS) == "ngrok.io"
    assert host_suffix("db.internal", DOMAINS) == "internal"


def test_suffix_respects_label_boundaries() -> None:
    assert host_suffix("notexample.com", DOMAINS) is None
    assert host_suffix("example.com.evil.net", DOMAINS) is None
    assert host_suffix("com", DOMAINS) is None
    assert host_suffix("", DOMAINS) is None


def test_suffix_prefers_the_longest_match_first_found() -> None:
    # the host itself, then each tail from the left: the most specific listed entry wins
    assert host_suffix("a.example.com", frozenset({"com", "example.com"})) == "example.com"


def test_matches_ignores_case_trailing_dots_and_wildcards() -> None:
    assert host_matches("API.Example.COM.", ["example.com"])
    assert host_matches("api.example.com", ["*.Example.com."])
    assert host_matches("example.com", ("*.example.com",))
    assert not host_matches("badexample.com", ("example.com",))
    assert not host_matches("example.com", ())


LABEL = st.text(alphabet="abc-", min_size=1, max_size=3)
HOST = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


@settings(max_examples=300, deadline=None)
@given(HOST, st.lists(HOST, max_size=4))
def test_suffix_agrees_with_the_definition(host: str, domains: list[str]) -> None:
    expected = {d for d in domains if host == d or host.endswith("." + d)}
    found = host_suffix(host, frozenset(domains))
    assert (found is not None) == bool(expected)
    assert found is None or found in expected
    assert host_matches(host, domains) == bool(expected)
