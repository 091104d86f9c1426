"""Host names compared on label boundaries: the one test of "this host is that domain or a subdomain of it".

``evil.example.com`` is under ``example.com``; ``notexample.com`` is not. Every view that asks the question
(internal-name suffixes, tunnel and paste services, allow lists, policy ``host_in``) uses these two functions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["host_matches", "host_suffix"]


def host_suffix(host: str, domains: Collection[str]) -> str | None:
    """The entry of ``domains`` that ``host`` equals or is a subdomain of (on a label boundary), or None.

    Exact spelling: both sides are compared as given (callers pass canonical, lower-case hosts). Each suffix of
    ``host`` that starts after a dot is probed once, so the cost is linear in the number of labels.
    """
    if host in domains:
        return host
    i = host.find(".")
    while i != -1:
        tail = host[i + 1 :]
        if tail in domains:
            return tail
        i = host.find(".", i + 1)
    return None


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """True when ``host`` equals a pattern or is a subdomain of it, ignoring case and trailing dots (``*.x``
    means ``x`` and its subdomains): the reading used for lists a person writes (allowed or internal hosts)."""
    host = host.lower().rstrip(".")
    wanted: set[str] = set()
    for p in patterns:
        p = p.lower().rstrip(".")
        wanted.add(p[2:] if p.startswith("*.") else p)
    return host_suffix(host, wanted) is not None
