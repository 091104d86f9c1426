"""internal_access: block requests to internal network targets (SSRF).

An endpoint the action would reach (a URL or host argument, or one inside a shell command or code) is blocked
when its host is loopback, private, link-local, unspecified, reserved, a cloud metadata endpoint or an internal
name, or when its scheme reaches local files or raw ports (``gopher``, ``dict``, ``file``...), unless the host is
one of ``Settings.internal_hosts``. URLs merely mentioned in prose (an email body, a document) are not accesses.

Three uses of an internal address are not requests to an internal service: a listen address given to a server
(``--bind 127.0.0.1``, ``--host 0.0.0.0``, ``--listen``), a log-in to the agent's own machine over a remote shell
(``ssh``/``scp``/``rsync`` to loopback, port forwards included: running commands there is what the agent's shell
already does; other private hosts stay violations, that is lateral movement), and a bare placeholder name from
documentation (``http://example/api``, ``user@host``, ``server``) that no network resolves. In the ``admin``
profile a remote-shell log-in to a private-network address or a local host name (``ssh alice@10.0.0.1``, ``scp f
buildbox:``) is administration too: the machines of its own network are what such an agent looks after. Link-local
and metadata addresses stay violations there, and so does any other program's request to a private host.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from sentinel_lab import _vocab as vocab
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


_PLACEHOLDERS = vocab.words("placeholder_hosts")
_REMOTE_SHELLS = vocab.words("remote_shell_programs")
#: Options whose value is the address a server listens on (``--host`` only with an unspecified address).
#: Kinds of host an administering agent's remote shell may log in to (its own network's machines).
_LAN_KINDS = frozenset({"private", "local_name"})
_BIND_OPTIONS = frozenset({"--bind", "--bind-address", "--listen", "--listen-address", "--addr", "--address"})


class _Local:
    """Words of the call's commands that name a listen address or a remote-shell target, per command text."""

    __slots__ = ("admin", "binds", "remote")

    def __init__(self, a: Analysis, admin: bool) -> None:
        self.admin = admin
        self.binds: set[tuple[int, str]] = set()
        self.remote: dict[int, list[str]] = {}
        for c in a.commands:
            tid = id(c.text)
            argv = c.argv
            if c.name in _REMOTE_SHELLS:
                # a reverse forward (-R) opens this machine to the remote host: never exempt
                words = [w for k, w in enumerate(argv[1:64], 1) if not w.startswith("-R") and argv[k - 1] != "-R"]
                self.remote.setdefault(tid, []).extend(words)
            for j, w in enumerate(argv[1:], 1):
                opt, eq, val = w.partition("=")
                if not eq:
                    opt, val = w, argv[j + 1] if j + 1 < len(argv) else ""
                if opt in _BIND_OPTIONS or (opt in ("--host", "-H") and val in ("0.0.0.0", "::", "[::]")):
                    self.binds.add((tid, val.rsplit(":", 1)[0] if val.count(":") == 1 else val))

    def exempt(self, ep: Endpoint) -> bool:
        tid = id(ep.text)
        host = ep.host
        if (tid, host) in self.binds or (tid, ep.raw) in self.binds:
            return True
        info = ep.info
        if host and (info.loopback or (self.admin and set(info.kinds) <= _LAN_KINDS)):
            return any(host in w for w in self.remote.get(tid, ()))
        return False


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
    if kind == "local_name" and len(info.kinds) == 1 and (info.host or ep.host).lower() in _PLACEHOLDERS:
        return None
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
    local: _Local | None = None
    for ep in eps:
        if ep.context == "prose":
            continue
        v = _judge(ep, s)
        if v is not None and ep.context == "command":
            local = local or _Local(a, s.profile == "admin")
            if local.exempt(ep):
                continue
        if v is not None and v.evidence not in seen:
            seen.add(v.evidence)
            out.append(v)
    if len(out) > 1:
        out.sort(key=_not_critical)
    return out


def _not_critical(v: Violation) -> bool:
    return v.severity != "critical"
