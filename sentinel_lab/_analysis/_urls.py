"""URLs and hosts found in an action's arguments, parsed for real and classified.

``endpoints_of(a)`` finds URLs (``scheme://...`` and the single-slash forms of ``file:``/``netdoc:``), whole-value
hosts in host-like fields (``host``, ``url`` without a scheme, ``[v6]``, ``host:port``) and address tokens in shell
commands and code, in every decoded reading of every text. ``classify_host(host)`` tells what a host is: IPv4 in
any notation ``inet_aton`` accepts, IPv6 with the IPv4 it embeds (mapped, NAT64, 6to4, Teredo, compatible), names
that resolve to loopback (``localhost``, ``localtest.me``, ``*.nip.io``...), cloud metadata endpoints and internal
name suffixes. Everything is linear in the input: ``str.find`` loops with capped look-around and two regular
expressions that cannot backtrack (one bounded scheme word, one negated character class).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple, Union

from sentinel_lab import _vocab as vocab
from sentinel_lab._analysis._texts import Text
from sentinel_lab._text.hosts import host_suffix
from sentinel_lab._text.normalize import normalize

if TYPE_CHECKING:
    from sentinel_lab._analysis import Analysis

__all__ = [
    "DANGEROUS_SCHEMES",
    "Endpoint",
    "HostInfo",
    "IPAddress",
    "canonical_host",
    "classify_host",
    "endpoints_of",
    "parse_ip",
    "parse_ipv4",
    "split_url",
]

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]  # noqa: UP007 (runtime alias on 3.10)

MAX_URL = 8192  # longest URL text parsed; the rest of a longer run is ignored
MAX_PER_VARIANT = 64  # URLs parsed per reading of one text
MAX_ENDPOINTS = 512  # per analysis

#: Schemes that reach local files or speak raw protocols to arbitrary ports (classic SSRF escalators).
DANGEROUS_SCHEMES = frozenset(
    {
        "gopher",
        "dict",
        "file",
        "ldap",
        "ldaps",
        "ldapi",
        "jar",
        "netdoc",
        "tftp",
        "php",
        "phar",
        "expect",
        "glob",
        "ogg",
        "rar",
        "zip",
        "data-uri",
        "mhtml",
        "view-source",
        "smb",
        "ssh2.shell",
        "ssh2.exec",
    }
)
# Schemes whose authority follows after any run of slashes/backslashes (WHATWG "special" schemes).
_SPECIAL = frozenset({"http", "https", "ftp", "ws", "wss"})
# Schemes accepted with a single slash (``file:/etc/passwd``) besides the special ones.
_SINGLE_SLASH = frozenset({"file", "netdoc", "jar", "php", "phar", "glob", "gopher", "dict", "ldap", "tftp"})
_TRAIL = ".,;:!?'\")]}>*"
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
_OCTDIGITS = frozenset("01234567")
_IPV4ISH = frozenset("0123456789abcdefABCDEFxX.")

# --- classification tables -------------------------------------------------------------------------------------

_METADATA_V4 = {
    "169.254.169.254": "cloud instance metadata (AWS, GCP, Azure, OCI, DigitalOcean, OpenStack)",
    "169.254.170.2": "AWS ECS task metadata",
    "169.254.170.23": "AWS EKS pod identity",
    "100.100.100.200": "Alibaba Cloud metadata",
    "192.0.0.192": "Oracle Cloud metadata",
    "169.254.169.253": "AWS VPC DNS resolver",
    "169.254.169.123": "AWS time sync",
}
_METADATA_V6 = {
    "fd00:ec2::254": "AWS instance metadata (IPv6)",
    "fd00:ec2::23": "AWS EKS pod identity (IPv6)",
    "fd00:ec2::253": "AWS VPC DNS resolver (IPv6)",
}
_METADATA_NAMES = vocab.mapping("metadata_hosts")
_LOOPBACK_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "ip6-localhost",
        "ip6-loopback",
        "loopback",
        "localhost6",
        "localhost6.localdomain6",
    }
)
# Public names whose DNS answers 127.0.0.1 (for the name and every subdomain).
_LOOPBACK_DOMAINS = frozenset(
    (
        "localhost",
        "localtest.me",
        "lvh.me",
        "vcap.me",
        "lacolhost.com",
        "localho.st",
        "fuf.me",
        "local.gd",
        "localhost.direct",
        "127.0.0.1.nip.io",
        "yoogle.com",
        "ulh.us",
        "smackaho.st",
        "spoofed.burpcollaborator.net",
    )
)
# Wildcard DNS services that answer the IP written inside the name.
_WILDCARD_DNS = frozenset(("nip.io", "sslip.io", "xip.io", "traefik.me", "nip.direct", "backname.io", "xip.name"))
# DNS-rebinding services whose names embed the addresses they alternate between.
_REBIND_DNS = frozenset(("rbndr.us", "1u.ms", "rebind.it", "rebind.network", "lock.cmpxchg8b.com"))
# Name suffixes that only resolve inside a private network.
_INTERNAL_SUFFIXES = frozenset(
    (
        "internal",
        "local",
        "localdomain",
        "corp",
        "lan",
        "home",
        "home.arpa",
        "intranet",
        "intra",
        "private",
        "priv",
        "svc",
        "cluster.local",
        "consul",
        "localnet",
        "int",
        "infra",
    )
)

_V4_NETS = [
    (ipaddress.ip_network("127.0.0.0/8"), "loopback"),
    (ipaddress.ip_network("0.0.0.0/8"), "unspecified"),
    (ipaddress.ip_network("10.0.0.0/8"), "private"),
    (ipaddress.ip_network("172.16.0.0/12"), "private"),
    (ipaddress.ip_network("192.168.0.0/16"), "private"),
    (ipaddress.ip_network("100.64.0.0/10"), "private"),
    (ipaddress.ip_network("169.254.0.0/16"), "link_local"),
    (ipaddress.ip_network("192.0.0.0/24"), "reserved"),
    (ipaddress.ip_network("198.18.0.0/15"), "reserved"),
    (ipaddress.ip_network("224.0.0.0/4"), "reserved"),
    (ipaddress.ip_network("240.0.0.0/4"), "reserved"),
]
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_ULA = ipaddress.ip_network("fc00::/7")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_LINK_LOCAL6 = ipaddress.ip_network("fe80::/10")
_MULTICAST6 = ipaddress.ip_network("ff00::/8")


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What a host is. ``host`` is canonical (lower-case, NFKC/IDNA, no trailing dot, IPs in canonical form).

    The flags say why the host is internal; ``embedded`` is an IPv4 address hidden in it (mapped IPv6,
    ``127.0.0.1.nip.io``...), ``note`` a short human reason.
    """

    host: str
    ip: IPAddress | None = None
    loopback: bool = False
    private: bool = False
    link_local: bool = False
    metadata: bool = False
    unspecified: bool = False
    reserved: bool = False
    local_name: bool = False
    embedded: IPAddress | None = None
    note: str = ""

    @property
    def internal(self) -> bool:
        """True when the host is anything but an ordinary public address or name."""
        return (
            self.loopback
            or self.private
            or self.link_local
            or self.metadata
            or self.unspecified
            or self.reserved
            or self.local_name
        )

    @property
    def kinds(self) -> tuple[str, ...]:
        """The names of the flags that are set, most serious first."""
        names = ("metadata", "loopback", "unspecified", "link_local", "private", "reserved", "local_name")
        return tuple(n for n in names if getattr(self, n))


class Endpoint(NamedTuple):
    """One URL or host found in a text (an immutable record: the analysis builds one per URL found).

    ``raw`` is the substring as found (in one decoded reading of ``text``); ``context`` says how it is used:
    ``url`` (a URL field, or a net tool's argument), ``host`` (a host field), ``value`` (a whole one-word value),
    ``command`` (shell or code) or ``prose`` (mentioned inside free text, not accessed).
    """

    text: Text
    raw: str
    scheme: str
    host: str
    ip: IPAddress | None
    port: int | None
    path: str
    query: str
    userinfo: str
    info: HostInfo
    context: str
    dangerous_scheme: bool = False

    @property
    def loopback(self) -> bool:
        """Loopback address or a name that resolves to one."""
        return self.info.loopback

    @property
    def private(self) -> bool:
        """Private-network address (RFC 1918, CGNAT, IPv6 ULA)."""
        return self.info.private

    @property
    def link_local(self) -> bool:
        """Link-local address (169.254/16, fe80::/10)."""
        return self.info.link_local

    @property
    def metadata(self) -> bool:
        """A cloud or cluster metadata endpoint."""
        return self.info.metadata

    @property
    def unspecified(self) -> bool:
        """The unspecified address (0.0.0.0, ::), which reaches this host."""
        return self.info.unspecified

    @property
    def reserved(self) -> bool:
        """Reserved, multicast or broadcast address."""
        return self.info.reserved

    @property
    def local_name(self) -> bool:
        """A name that only resolves inside a private network."""
        return self.info.local_name

    @property
    def internal(self) -> bool:
        """Internal host or dangerous scheme."""
        return self.info.internal or self.dangerous_scheme

    @property
    def kinds(self) -> tuple[str, ...]:
        """Flag names that apply (``dangerous_scheme`` last)."""
        return self.info.kinds + (("dangerous_scheme",) if self.dangerous_scheme else ())

    @property
    def accessed(self) -> bool:
        """True unless the endpoint is only mentioned in prose."""
        return self.context != "prose"

    def __repr__(self) -> str:
        return f"Endpoint({self.raw!r}, host={self.host!r}, context={self.context!r}, kinds={self.kinds})"


# --- IP parsing ---------------------------------------------------------------------------------------------------


def _num(part: str, octal: bool) -> int | None:
    if not part or len(part) > 34:
        return None
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        if not digits:
            return 0
        return int(digits, 16) if set(digits) <= _HEXDIGITS else None
    if not part.isascii() or not part.isdigit():
        return None
    if octal and len(part) > 1 and part[0] == "0":
        return int(part, 8) if set(part) <= _OCTDIGITS else None
    return int(part)


def _v4_from_parts(parts: list[str], octal: bool) -> ipaddress.IPv4Address | None:
    vals: list[int] = []
    for p in parts:
        v = _num(p, octal)
        if v is None:
            return None
        vals.append(v)
    n = len(vals)
    if any(v > 255 for v in vals[:-1]) or vals[-1] >= 256 ** (5 - n):
        return None
    num = 0
    for i, v in enumerate(vals[:-1]):
        num |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(num | vals[-1])


def parse_ipv4(host: str, *, octal: bool = True) -> ipaddress.IPv4Address | None:
    """Parse IPv4 in every notation ``inet_aton`` accepts: ``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
    ``127.1``, ``0x7f.1``. With ``octal=False`` leading zeros are read as decimal (the other common reading).
    """
    if not host or len(host) > 64 or not set(host) <= _IPV4ISH:
        return None
    parts = host.split(".")
    if len(parts) > 4:
        return None
    return _v4_from_parts(parts, octal)


def parse_ip(host: str) -> IPAddress | None:
    """Parse an IPv4 (any notation) or IPv6 (brackets and zone id allowed) address; None if it is a name."""
    h = host.strip()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if ":" in h:
        if len(h) > 80:
            return None
        try:
            return ipaddress.IPv6Address(h)
        except ValueError:
            base = h.partition("%")[0]
            try:
                return ipaddress.IPv6Address(base)
            except ValueError:
                return None
    return parse_ipv4(h.rstrip("."))


# --- host classification ----------------------------------------------------------------------------------------


def canonical_host(host: str) -> str:
    """Lower-case, NFKC, ideographic dots as dots, brackets and trailing dots stripped, IDNA for non-ASCII."""
    h = host.strip()
    if not h.isascii():
        h = normalize(h).replace("。", ".").replace("．", ".").replace("｡", ".")
    h = h.lower()
    if h.startswith("[") and "]" in h:
        h = h[1 : h.index("]")]
    elif h.count(":") == 1:  # "host:port" handed in by a caller
        name, _, port = h.partition(":")
        if port.isdigit():
            h = name
    h = h.rstrip(".")
    if not h.isascii():
        with contextlib.suppress(UnicodeError):
            h = h.encode("idna").decode("ascii")
    return h


def _v4_kind(ip: ipaddress.IPv4Address) -> str:
    for net, kind in _V4_NETS:
        if ip in net:
            if kind == "unspecified" and int(ip) != 0:
                return "reserved"
            return kind
    if int(ip) == 0xFFFFFFFF:
        return "reserved"
    return ""


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped IPv6"
    if any(ip in n for n in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64 IPv6"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4 IPv6"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo IPv6"
    n = int(ip)
    if 1 < n < 2**32:
        return ipaddress.IPv4Address(n), "IPv4-compatible IPv6"
    if n >> 32 == 0xFFFF0000:  # ::ffff:0:a.b.c.d (SIIT)
        return ipaddress.IPv4Address(n & 0xFFFFFFFF), "IPv4-translated IPv6"
    return None, ""


def _info_for_ip(host: str, ip: IPAddress, note: str = "", alt: IPAddress | None = None) -> HostInfo:
    flags: dict[str, bool] = {}
    embedded: IPAddress | None = None
    canon = str(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        canon = str(ipaddress.IPv6Address(int(ip)))
        if canon in _METADATA_V6:
            flags["metadata"] = True
            note = note or _METADATA_V6[canon]
        if int(ip) == 1:
            flags["loopback"] = True
        elif int(ip) == 0:
            flags["unspecified"] = True
        elif ip in _LINK_LOCAL6:
            flags["link_local"] = True
        elif ip in _ULA or ip in _SITE_LOCAL:
            flags["private"] = True
        elif ip in _MULTICAST6:
            flags["reserved"] = True
        v4, how = _embedded_v4(ip)
        if v4 is not None:
            embedded = v4
            kind = _v4_kind(v4)
            if str(v4) in _METADATA_V4:
                flags["metadata"] = True
            if kind:
                flags[kind] = True
            if kind or str(v4) in _METADATA_V4:
                note = note or f"{how} of {v4}"
    else:
        for cand in (ip, alt):
            if cand is None:
                continue
            if str(cand) in _METADATA_V4:
                flags["metadata"] = True
                note = note or _METADATA_V4[str(cand)]
            kind = _v4_kind(cand)  # type: ignore[arg-type]
            if kind:
                flags[kind] = True
                if cand is alt:
                    note = note or f"read with decimal leading zeros as {alt}"
    return HostInfo(canon, ip, embedded=embedded, note=note, **flags)


def _ip_in_label_text(s: str) -> IPAddress | None:
    """An IP written inside a wildcard-DNS name: dotted, dashed, hex (``7f000001``) or dashed IPv6 (``--1``)."""
    labels = s.split(".")
    if len(labels) >= 4:
        ip = parse_ipv4(".".join(labels[-4:]), octal=False)
        if ip is not None:
            return ip
    last = labels[-1]
    dashed = last.split("-")
    if len(dashed) >= 4:
        ip = parse_ipv4(".".join(dashed[-4:]), octal=False)
        if ip is not None:
            return ip
    if len(last) == 8 and set(last) <= _HEXDIGITS:
        return ipaddress.IPv4Address(int(last, 16))
    if "-" in last:
        try:
            return ipaddress.IPv6Address(last.replace("-", ":"))
        except ValueError:
            pass
    return None


def classify_host(host: str) -> HostInfo:
    """Classify one host (name or address, any notation); cached, and cheap for ordinary public names."""
    return _classify_cached(host) if len(host) <= 512 else _classify(host)


@lru_cache(maxsize=4096)
def _classify_cached(host: str) -> HostInfo:
    return _classify(host)


def _classify(host: str) -> HostInfo:
    h = canonical_host(host)
    if "\x00" in h or "%00" in h:  # C resolvers stop at NUL: judge what they would see
        cut = h.replace("%00", "\x00").split("\x00", 1)[0]
        info = classify_host(cut)
        if info.internal:
            return info
        h = h.replace("\x00", "")
    if not h:
        return HostInfo(h)
    if h[-1].isdigit() or h[-1] in "abcdefx]" or ":" in h:
        ip = parse_ip(h)
        if ip is not None:
            alt = None
            if isinstance(ip, ipaddress.IPv4Address) and "0" in h:
                alt = parse_ipv4(h, octal=False)
                if alt == ip:
                    alt = None
            return _info_for_ip(h, ip, alt=alt)
    if h in _METADATA_NAMES:
        return HostInfo(h, metadata=True, local_name=True, note=_METADATA_NAMES[h])
    if h in _LOOPBACK_NAMES or host_suffix(h, _LOOPBACK_DOMAINS):
        return HostInfo(h, loopback=True, note="name resolves to loopback")
    wild = host_suffix(h, _WILDCARD_DNS)
    if wild and len(h) > len(wild):
        emb = _ip_in_label_text(h[: -len(wild) - 1])
        if emb is not None:
            inner = _info_for_ip(str(emb), emb)
            if inner.internal:
                return HostInfo(
                    h,
                    loopback=inner.loopback,
                    private=inner.private,
                    link_local=inner.link_local,
                    metadata=inner.metadata,
                    unspecified=inner.unspecified,
                    reserved=inner.reserved,
                    embedded=emb,
                    note=f"wildcard DNS name for {emb}",
                )
        return HostInfo(h)
    rebind = host_suffix(h, _REBIND_DNS)
    if rebind:
        for piece in h[: -len(rebind)].replace("-", ".").split("."):
            if len(piece) == 8 and set(piece) <= _HEXDIGITS:
                emb4 = ipaddress.IPv4Address(int(piece, 16))
                if _info_for_ip(str(emb4), emb4).internal:
                    return HostInfo(h, loopback=True, embedded=emb4, note=f"DNS rebinding name for {emb4}")
        prefix = h[: -len(rebind)]
        for sep in ("-rebind-", "-rr", "-fr-", "make-"):
            prefix = prefix.replace(sep, " ")
        for piece in prefix.split():
            named4 = parse_ipv4(piece.strip(".-"), octal=False)
            if named4 is not None and _info_for_ip(str(named4), named4).internal:
                return HostInfo(h, loopback=True, embedded=named4, note=f"DNS rebinding name for {named4}")
        return HostInfo(h, local_name=True, note="DNS rebinding service")
    if "." in h:
        suf = host_suffix(h, _INTERNAL_SUFFIXES)
        if suf:
            return HostInfo(h, local_name=True, note=f"internal name (.{suf})")
        if h.startswith("metadata.") and ("internal" in h or "oraclecloud" in h):
            return HostInfo(h, metadata=True, local_name=True, note="cloud metadata name")
    return HostInfo(h)


_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
# Schemes whose host is looked up in DNS (a single-label host there is a machine on the local network).
_NET_SCHEMES = vocab.words("dns_schemes")


def _single_label(host: str) -> bool:
    return bool(host) and "." not in host and host[0].isalnum() and len(host) <= 63 and set(host) <= _LABEL_CHARS


# --- URL splitting --------------------------------------------------------------------------------------------


def _first_of(s: str, chars: str) -> int:
    best = len(s)
    for c in chars:
        i = s.find(c, 0, best)
        if i != -1:
            best = i
    return best


def _split_hostport(hostport: str) -> tuple[str, int | None, bool]:
    """(host, port number or None, whether the port is a word such as ``port``: a URL no client accepts)."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1:
            return hostport[1:], None, False
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    elif hostport.count(":") > 1:  # unbracketed IPv6 (some clients accept it)
        return hostport, None, False
    else:
        host, _, port = hostport.partition(":")
    p = int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else None
    return host, p, port.isascii() and port.isalpha()


class _Parts(NamedTuple):
    """One reading of a URL's pieces, as ``split_url`` and ``_bare_parts`` cut them."""

    scheme: str
    userinfo: str
    host: str
    port: int | None
    path: str
    query: str
    named_port: bool = False  # the port is a word (``:port``): every client refuses the URL


def split_url(url: str) -> tuple[_Parts, ...]:
    """Split a URL into parts: one reading, or two when parsers disagree about the host (``\\@``).

    Special schemes skip any run of ``/`` and ``\\`` (``http:/\\host``); the authority ends at the first of
    ``/ \\ ? #`` (browser reading) and, as a second reading, at ``/ ? #`` only (``urllib``/curl reading).
    URLs of ordinary length are cached.
    """
    return _split_cached(url) if len(url) <= 2048 else _split_url(url)


@lru_cache(maxsize=1024)
def _split_cached(url: str) -> tuple[_Parts, ...]:
    return _split_url(url)


def _split_url(url: str) -> tuple[_Parts, ...]:
    scheme, colon, rest = url.partition(":")
    if not colon:
        scheme, rest = "", url
    scheme = scheme.lower()
    readings: list[tuple[str, str]] = []
    if scheme in _SPECIAL or rest.startswith(("//", "\\\\", "/\\", "\\/")) or not scheme:
        i = 0
        limit = len(rest) if scheme in _SPECIAL else min(len(rest), 2)
        while i < limit and rest[i] in "/\\":
            i += 1
        body = rest[i:]
        if scheme == "" and i == 0 and not url.startswith(("//", "\\\\")):
            body = rest
        end = _first_of(body, "/\\?#")
        readings.append((body[:end], body[end:]))
        alt_end = _first_of(body, "/?#")
        if alt_end != end:
            readings.append((body[:alt_end], body[alt_end:]))
    else:
        readings.append(("", rest))
    out: list[_Parts] = []
    for authority, tail in readings:
        userinfo, _, hostport = authority.rpartition("@")
        host, port, named_port = _split_hostport(hostport)
        frag = tail.find("#")
        if frag != -1:
            tail = tail[:frag]
        path, _, query = tail.partition("?")
        out.append(_Parts(scheme, userinfo, host, port, path, query, named_port))
    if len(out) == 2 and canonical_host(out[0].host) == canonical_host(out[1].host):
        out.pop()
    return tuple(out)


# --- finding endpoints in texts ----------------------------------------------------------------------------------

_URL_KEYS = frozenset(
    {
        "url",
        "uri",
        "urls",
        "href",
        "link",
        "links",
        "endpoint",
        "webhook",
        "callback",
        "redirect",
        "src",
        "location",
        "feed",
        "website",
        "site",
        "page",
        "resource",
        "base",
        "proxy",
        "upstream",
        "origin",
    }
)
_HOST_KEYS = frozenset(
    {
        "host",
        "hostname",
        "hosts",
        "server",
        "ip",
        "ip_address",
        "ipaddress",
        "addr",
        "address",
        "domain",
        "remote",
        "target",
        "destination",
        "dest",
        "backend",
        "peer",
        "node",
        "rhost",
        "lhost",
        "netloc",
    }
)
_CMD_KEYS = frozenset(
    {
        "command",
        "cmd",
        "commands",
        "script",
        "shell",
        "bash",
        "sh",
        "zsh",
        "powershell",
        "pwsh",
        "commandline",
        "command_line",
        "cmdline",
        "code",
        "source_code",
        "exec",
        "run",
        "argv",
        "args",
        "program",
        "snippet",
        "python",
        "js",
        "javascript",
        "sql",
        "query_code",
        "line",
    }
)
# Prose, search terms, tasks, data bodies, documents and edits: they quote addresses without fetching them.
_PROSE_KEYS = (
    vocab.words("prose_keys")
    | vocab.words("search_keys")
    | vocab.words("task_keys")
    | {"data", "payload", "json", "log", "doc", "docs", "documentation", "readme"}
    | {"old_str", "new_str", "old_string", "new_string", "patch", "diff"}
)
_NET_TOOL_WORDS = (
    "fetch",
    "http",
    "request",
    "browse",
    "browser",
    "navigate",
    "curl",
    "wget",
    "download",
    "url",
    "web",
    "scrape",
    "crawl",
    "open_page",
    "get_page",
    "visit",
    "webhook",
    "api_call",
    "call_api",
    "socket",
    "connect",
)
_SHELL_TOOL_WORDS = (
    "shell",
    "bash",
    "exec",
    "terminal",
    "command",
    "run_cmd",
    "powershell",
    "cmd",
    "python",
    "code",
    "sh_",
    "console",
    "script",
    "subprocess",
    "eval",
)
_NET_WORDS = (
    "curl",
    "wget",
    "nc ",
    "ncat",
    "netcat",
    "telnet",
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "ftp",
    "socat",
    "ping",
    "nmap",
    "dig ",
    "nslookup",
    "redis-cli",
    "mysql",
    "psql",
    "mongo",
    "ldap",
    "smbclient",
    "s_client",
    "socket",
    "requests",
    "urllib",
    "urlopen",
    "http",
    "fetch",
    "invoke-webrequest",
    "invoke-restmethod",
    "iwr ",
    "irm ",
    "/dev/tcp",
    "/dev/udp",
    "connect",
    "aria2c",
    "lynx",
    "w3m",
    "traceroute",
    "host ",
    "nikto",
    "sqlmap",
    "gobuster",
    "hydra",
    "kubectl",
    "docker -h",
    "mount",
    "showmount",
)
_TOKEN_SEP = str.maketrans({c: " " for c in ";|&()<>'\"`=,{}\t\r\n\\"})
_LOOPBACK_HINTS = (
    "localhost",
    "metadata",
    "kubernetes",
    ".internal",
    "nip.io",
    "sslip.io",
    "xip.io",
    "lvh.me",
    "localtest",
    "/dev/tcp",
    "/dev/udp",
    "[",
)


_DB_TOOL_WORDS = ("sql", "db.", "db_", "_db", "database", "postgres", "mysql", "sqlite", "clickhouse", "bigquery")


@lru_cache(maxsize=1024)
def _tool_kind(tool_key: str) -> tuple[bool, bool]:
    """(talks to the network, runs shell or code) judged from the tool's name; database tools run code."""
    shell = any(w in tool_key for w in _SHELL_TOOL_WORDS) or any(w in tool_key for w in _DB_TOOL_WORDS)
    return any(w in tool_key for w in _NET_TOOL_WORDS), shell


@lru_cache(maxsize=4096)
def _key_context(key: str, net_tool: bool, shell_tool: bool) -> tuple[str, bool]:
    """Context decided by the field name alone; ``""`` when it depends on the value."""
    key = key.replace("-", "_")
    if shell_tool and key in ("query", "statement", "sql", "q"):
        return "command", False
    if key in _URL_KEYS or key.endswith(("url", "uri", "_link", "endpoint")):
        return "url", True
    if key in _HOST_KEYS or key.endswith(("host", "hostname", "_ip", "_addr", "_address", "server")):
        return "host", True
    if key in _CMD_KEYS or (shell_tool and key not in _PROSE_KEYS):
        return "command", False
    if key in _PROSE_KEYS:
        return "prose", False
    if net_tool:
        return "url", False
    return "", False


def _context_of(t: Text, net_tool: bool, shell_tool: bool) -> tuple[str, bool]:
    """How a text uses what it contains, and whether its key names an address outright (``loose``)."""
    context, loose = _key_context(t.key, net_tool, shell_tool)
    if context:
        return context, loose
    s = t.norm.strip()
    return ("prose" if (" " in s or "\n" in s) else "value"), False


_URL_BODY_RE = re.compile(r"[^\s\"'<>`^{}|]*")  # a single character class: linear, never backtracks


def _url_end(v: str, start: int) -> int:
    m = _URL_BODY_RE.match(v, start, min(len(v), start + MAX_URL))
    return m.end() if m else start


class _Collector:
    __slots__ = ("out", "seen")

    def __init__(self) -> None:
        self.out: list[Endpoint] = []
        self.seen: set[tuple[str, str, int | None, str, str, str]] = set()

    def add(self, t: Text, raw: str, parts: _Parts, context: str, dangerous: bool = False) -> None:
        """Record one endpoint once (per text, host, scheme, port, path and context)."""
        if len(self.out) >= MAX_ENDPOINTS:
            return
        info = classify_host(parts.host) if parts.host else HostInfo("")
        # a single-label name is looked up inside the local network, unless the URL's port is a word
        # (``http://[ipv6]:port``, ``http://server:port``): every client refuses that URL, so nothing is resolved
        if parts.scheme in _NET_SCHEMES and not info.internal and not parts.named_port and _single_label(info.host):
            info = replace(info, local_name=True, note="single-label name (resolved inside the local network)")
        key = (info.host, parts.scheme, parts.port, parts.path[:200], context, t.path)
        if key in self.seen:
            return
        self.seen.add(key)
        self.out.append(
            Endpoint(
                t,
                raw,
                parts.scheme,
                info.host,
                info.ip,
                parts.port,
                parts.path,
                parts.query,
                parts.userinfo,
                info,
                context,
                dangerous or parts.scheme in DANGEROUS_SCHEMES,
            )
        )


# A scheme word followed by ":/" or ":\\". Linear: the lookbehind pins the start to a word boundary and the
# class run is bounded, so each position is tried at most 32 times with no nested repetition.
_SCHEME_RE = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,31}:[/\\]")


_SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _colon_spans(v: str) -> list[tuple[int, int]]:
    """``(start, colon)`` of each ``_SCHEME_RE`` match, found from the colons: the scheme is the whole run of
    scheme characters before a ``:`` that a slash follows (2..32 characters, starting with a letter). Each
    colon looks back at most 33 characters. Used for texts with few colons (almost all); ``_scan_urls`` hands
    colon-dense texts to the regex, whose per-position work is in C. Both give the same matches
    (``tests/test_fast_paths.py`` checks it)."""
    out: list[tuple[int, int]] = []
    find = v.find
    chars = _SCHEME_CHARS
    i = find(":")
    while i != -1:
        nxt = v[i + 1 : i + 2]
        if nxt == "/" or nxt == "\\":
            start = i
            floor = i - 33 if i > 33 else 0
            while start > floor and v[start - 1] in chars:
                start -= 1
            if 2 <= i - start <= 32 and (start == 0 or v[start - 1] not in chars) and v[start] in _ASCII_LETTERS:
                out.append((start, i))
        i = find(":", i + 1)
    return out


def _scheme_span(m: re.Match[str]) -> tuple[int, int]:
    """``(start, colon)`` of one ``_SCHEME_RE`` match."""
    return m.start(), m.end() - 2


def _scan_urls(t: Text, v: str, context: str, col: _Collector) -> None:
    found = 0
    # lazily for colon-dense texts (``map``, not a generator expression, which compiled code would build whole):
    # the matches after the last URL used are never searched for
    spans: Iterable[tuple[int, int]] = (
        _colon_spans(v) if v.count(":") <= 16 else map(_scheme_span, _SCHEME_RE.finditer(v))
    )
    for start, i in spans:
        scheme = v[start:i].lower()
        double = v[i + 1 : i + 3] in ("//", "\\\\", "/\\", "\\/")
        if not double and scheme not in _SPECIAL and scheme not in _SINGLE_SLASH:
            continue
        end = _url_end(v, i)
        raw = v[start:end].rstrip(_TRAIL)
        if raw.count("]") > raw.count("["):
            raw = raw.rstrip("]")
        dangerous = v[max(0, start - 4) : start].lower() == "jar:"
        for parts in split_url(raw):
            col.add(t, raw, parts, context, dangerous)
        found += 1
        if found >= MAX_PER_VARIANT:
            break


def _bare_parts(token: str) -> _Parts | None:
    """Read a scheme-less ``[user@]host[:port][/path]`` token; None when it is no host."""
    s = token.strip().strip(_TRAIL)
    if not s or len(s) > 300:
        return None
    if s.startswith("//"):
        s = s[2:]
    if "/dev/tcp/" in s or "/dev/udp/" in s:
        j = s.find("/dev/")
        rest = s[j + 9 :]
        host, _, port = rest.partition("/")
        p = int(port[:5]) if port[:5].isdigit() else None
        return _Parts(s[j + 5 : j + 8], "", host, p, "", "")
    end = _first_of(s, "/?#")
    authority, tail = s[:end], s[end:]
    userinfo, _, hostport = authority.rpartition("@")
    if not hostport.startswith("[") and hostport.count(":") > 1:
        try:
            ipaddress.IPv6Address(hostport.partition("%")[0])
            return _Parts("", userinfo, hostport, None, tail, "")
        except ValueError:
            pass
    if not hostport.startswith("[") and hostport.count(":") > 1:
        # curl --resolve/--connect-to style "name:port:address[:port]": the address is what is reached
        if "[" in hostport:
            hostport = hostport[hostport.index("[") :]
        else:
            for piece in hostport.split(":")[1:]:
                if piece.count(".") == 3 or piece.lower() in _LOOPBACK_NAMES:
                    hostport = piece
                    break
    host, port_number, named_port = _split_hostport(hostport)
    path, _, query = tail.partition("?")
    return _Parts("", userinfo, host, port_number, path, query, named_port)


def _address_like(parts: _Parts, token: str, strict: bool) -> bool:
    """Whether a bare token names a host worth classifying (commands are judged strictly)."""
    h = parts.host.strip("[]").rstrip(".").lower()
    if not h:
        return False
    if parts.scheme in ("tcp", "udp"):
        return True
    if not strict:
        return True
    if ":" in h:
        return True
    if set(h) <= _IPV4ISH:
        pieces = h.split(".")
        if len(pieces) == 4:
            return True
        if len(pieces) == 1:  # "8080:80" is a port mapping; "2130706433" and "0x7f000001" are addresses
            return (h.startswith("0x") and len(h) > 4) or (h.isdigit() and len(h) >= 8)
        return h.startswith(("127.", "0", "0x")) or parts.port is not None or bool(parts.userinfo)
    if h in _LOOPBACK_NAMES or h in _METADATA_NAMES or "." not in h:
        return h in _LOOPBACK_NAMES or h in _METADATA_NAMES
    if host_suffix(h, _LOOPBACK_DOMAINS) or host_suffix(h, _WILDCARD_DNS) or h.startswith("metadata."):
        return True
    return bool(parts.port is not None or parts.userinfo) and bool(host_suffix(h, _INTERNAL_SUFFIXES))


def _scan_bare(t: Text, v: str, context: str, loose: bool, col: _Collector) -> None:
    if context in ("host", "url", "value"):
        s = v.strip()
        if not s or ":/" in s or ":\\" in s or " " in s or len(s) > 300:
            return
        if "%" in s and s.count(":") < 2:
            return
        head, colon, rest = s.partition(":")
        if colon and head.isalpha() and not rest[:1].isdigit():
            return  # mailto:, urn:, data: ... are no host:port
        if not loose and not _value_host_hint(s):
            return
        parts = _bare_parts(s)
        if parts is None:
            return
        if not loose and parts.port is None and not parts.userinfo:
            h = canonical_host(parts.host)
            if h not in _LOOPBACK_NAMES and h not in _METADATA_NAMES and not host_suffix(h, _LOOPBACK_DOMAINS):
                return
        if _address_like(parts, s, strict=not loose):
            col.add(t, s, parts, context)
        return
    # command / code text: only tokens that could be addresses, and only when the text talks to the network
    low = v.lower()
    hinted = _has_any(low, _LOOPBACK_HINTS)
    if not hinted and _DIGITS.isdisjoint(v):
        return
    if not _has_any(low, _NET_WORDS):
        return
    taken = 0
    for tok in v.translate(_TOKEN_SEP).split():
        if not (
            (not _DIGITS.isdisjoint(tok) or (hinted and _has_any(tok.lower(), _LOOPBACK_HINTS)))
            and "://" not in tok
            and not (tok.isdigit() and len(tok) < 8)
            and (not tok.startswith("-") or "/dev/" in tok)
        ):
            continue
        taken += 1
        if taken > MAX_PER_VARIANT * 4:  # the tokens after the last candidate used are not looked at
            break
        parts = _bare_parts(tok)
        if parts is None or not _address_like(parts, tok, strict=True):
            continue
        col.add(t, tok, parts, "command")


_DIGITS = frozenset("0123456789")


def _has_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether ``text`` contains any of ``words``."""
    return any(w in text for w in words)


def _value_host_hint(s: str) -> bool:
    c = s[0]
    if c.isdigit() or c in "[/":
        return True
    low = s.lower()
    for h in _LOOPBACK_HINTS:  # noqa: SIM110 (a plain loop is cheaper than any() on this hot path)
        if h in low:
            return True
    return False


def endpoints_of(a: Analysis) -> list[Endpoint]:
    """Every URL and host in the action's texts (all decoded readings), with how each is used."""
    net_tool, shell_tool = _tool_kind(a.tool_key)
    col = _Collector()
    for t in a.texts:
        if t.is_key:
            continue
        context = ""
        loose = False
        for v in t.variants:
            has_url = ":/" in v or ":\\" in v
            if not has_url and not v:
                continue
            if not context:
                context, loose = _context_of(t, net_tool, shell_tool)
            if has_url:
                _scan_urls(t, v, context, col)
            if context != "prose":
                _scan_bare(t, v, context, loose, col)
            if len(col.out) >= MAX_ENDPOINTS:
                return col.out
    return col.out
