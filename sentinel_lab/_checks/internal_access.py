"""internal_access: block requests to internal network targets (SSRF).

An endpoint the action would reach (a URL or host argument, or one inside a shell command or code) is blocked
when its host is loopback, private, link-local, unspecified, reserved, a cloud metadata endpoint or an internal
name, or when its scheme reaches local files or raw ports (``gopher``, ``dict``, ``file``...), unless the host is
one of ``Settings.internal_hosts``. URLs merely mentioned in prose (an email body, a document) are not accesses.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from sentinel_lab._analysis import Analysis
from sentinel_lab._analysis._urls import Endpoint, parse_ip
from sentinel_lab._checks import Settings, host_matches
from sentinel_lab._core.verdict import Violation

__all__ = ["check"]

POLICY = "internal_access"
_MAX_EVIDENCE = 200
_CRITICAL_SCHEMES = frozenset({"gopher", "dict", "jar", "netdoc", "php", "phar", "expect"})
_KIND_TEXT = {
    "metadata": "cloud metadata endpoint",
    "loopback": "loopback host",
    "unspecified": "unspecified address (reaches this host)",
    "link_local": "link-local address",
    "private": "private network host",
    "reserved": "reserved address",
    "local_name": "internal host name",
}


@lru_cache(maxsize=64)
def _networks(patterns: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for p in patterns:
        if "/" in p:
            try:
                nets.append(ipaddress.ip_network(p.strip(), strict=False))
            except ValueError:
                continue
        else:
            ip = parse_ip(p.partition("]")[0].lstrip("[") if p.startswith("[") else p)
            if ip is not None:
                nets.append(ipaddress.ip_network(ip))
    return tuple(nets)


def _permitted(ep: Endpoint, s: Settings) -> bool:
    if not s.internal_hosts:
        return False
    if ep.host and host_matches(ep.host, s.internal_hosts):
        return True
    ip = ep.ip
    if ip is not None:
        for net in _networks(s.internal_hosts):
            if ip.version == net.version and ip in net:
                return True
    if ep.host and ep.port is not None:
        return f"{ep.host}:{ep.port}" in {h.lower() for h in s.internal_hosts}
    return False


def _inside(path: str, root: str) -> bool:
    root = root.rstrip("/")
    if not root or ".." in path.split("/"):
        return False
    return path == root or path.startswith(root + "/")


def _judge(ep: Endpoint, s: Settings) -> Violation | None:
    info = ep.info
    if not info.internal and not ep.dangerous_scheme:
        return None
    if _permitted(ep, s):
        return None
    evidence = ep.raw[:_MAX_EVIDENCE]
    if ep.dangerous_scheme and not info.internal:
        if ep.scheme == "file":
            path = ep.path if ep.path.startswith("/") else "/" + ep.path
            roots = tuple(r for r in (s.workspace, *s.allowed_roots) if r)
            if any(_inside(path, r) for r in roots):
                return None
        sev = "critical" if ep.scheme in _CRITICAL_SCHEMES else "high"
        return Violation(POLICY, f"dangerous URL scheme '{ep.scheme}:'", sev, evidence)
    kind = info.kinds[0]
    what = _KIND_TEXT[kind]
    detail = f" ({info.note})" if info.note else ""
    severity = "critical" if info.metadata or (ep.dangerous_scheme and ep.scheme in _CRITICAL_SCHEMES) else "high"
    scheme = f" via '{ep.scheme}:'" if ep.dangerous_scheme else ""
    host = info.host or ep.host
    return Violation(POLICY, f"request to {what} {host}{detail}{scheme}", severity, evidence)


def check(a: Analysis, s: Settings) -> list[Violation]:
    """Violations for every internal target the action would reach (one per distinct evidence)."""
    eps = a.endpoints
    if not eps:
        return []
    out: list[Violation] = []
    seen: set[str] = set()
    for ep in eps:
        if ep.context == "prose":
            continue
        v = _judge(ep, s)
        if v is not None and v.evidence not in seen:
            seen.add(v.evidence)
            out.append(v)
    if len(out) > 1:
        out.sort(key=_not_critical)
    return out


def _not_critical(v: Violation) -> bool:
    return v.severity != "critical"
