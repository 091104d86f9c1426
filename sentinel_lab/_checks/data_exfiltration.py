"""data_exfiltration: block data that matters leaving for a host outside the allowed set.

The check judges what flows where rather than matching a list of bad domains. Data that matters is a secret
(``_secrets``), a sensitive file (keys, shadow, ``.env``, cloud credentials), an environment dump, command
output substituted into a request, or an archive of files. It flows through a URL (path, query, DNS label),
a request body, form or upload, a header that is not a credential header, an email, a chat or webhook message,
a pipeline into a network program, a redirect to ``/dev/tcp``, ``scp``/``rsync``/cloud copies, or a push to a
freshly added git remote. Any file is data that matters when it leaves over a bare connection (``nc host port <
file``, ``socat``, ``openssl s_client``, a file served by ``nc -l``), as over a raw socket in code: no ordinary
upload uses one; over HTTP to a named host, an ordinary file is an upload. A destination in
``Settings.allowed_hosts`` is always fine; a credential sent to its
own provider (a GitHub token to ``api.github.com``, an ``Authorization`` header) is credential use, not a leak.
Request catchers (``webhook.site``, ``interactsh``...) are blocked outright; paste, tunnel and chat-webhook
services whenever they receive data.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import unquote

from sentinel_lab import _vocab as vocab
from sentinel_lab._analysis import Analysis, Text
from sentinel_lab._analysis._code import CodeFacts
from sentinel_lab._analysis._paths import sensitive_kind
from sentinel_lab._analysis._secrets import Secret, find_secrets
from sentinel_lab._analysis._shell import NETWORK_TOOLS, socat_addresses
from sentinel_lab._analysis._urls import Endpoint, canonical_host, classify_host, split_url
from sentinel_lab._checks import Settings, host_matches
from sentinel_lab._core.verdict import Violation
from sentinel_lab._text.hosts import host_suffix

__all__ = ["check", "sink_kind"]

POLICY = "data_exfiltration"
_MAX_EVIDENCE = 200

# --- destinations -------------------------------------------------------------------------------------------------

_CATCHERS = vocab.words("request_catcher_hosts")
_TUNNELS = frozenset(
    [
        "ngrok.io",
        "ngrok.app",
        "ngrok-free.app",
        "ngrok-free.dev",
        "ngrok.dev",
        "trycloudflare.com",
        "serveo.net",
        "serveousercontent.com",
        "loca.lt",
        "localtunnel.me",
        "localhost.run",
        "lhr.life",
        "lhr.rocks",
        "bore.pub",
        "pagekite.me",
        "telebit.cloud",
        "tunnelto.dev",
        "playit.gg",
        "pinggy.io",
        "pinggy.link",
        "devtunnels.ms",
        "tunnelmole.net",
        "localxpose.io",
        "loclx.io",
    ]
)
_PASTES = vocab.words("paste_hosts")
_CHAT_HOOKS = (
    ("discord.com", "/api/webhooks"),
    ("discordapp.com", "/api/webhooks"),
    ("hooks.slack.com", ""),
    ("api.telegram.org", "/bot"),
    ("outlook.office.com", "/webhook"),
    ("webhook.office.com", ""),
    ("chat.googleapis.com", "/v1/spaces"),
)
# Hosts that own a kind of credential: sending it there is using it.
_PROVIDERS: dict[str, tuple[str, ...]] = {
    "aws_access_key": ("amazonaws.com", "aws.amazon.com"),
    "aws_secret_key": ("amazonaws.com", "aws.amazon.com"),
    "github_token": ("github.com", "githubusercontent.com", "ghcr.io"),
    "gitlab_token": ("gitlab.com",),
    "slack_token": ("slack.com",),
    "stripe_key": ("stripe.com",),
    "stripe_test_key": ("stripe.com",),
    "openai_key": ("openai.com",),
    "anthropic_key": ("anthropic.com",),
    "google_api_key": ("googleapis.com", "google.com"),
    "gcp_oauth_token": ("googleapis.com", "google.com"),
    "gcp_service_account": ("googleapis.com", "google.com"),
    "npm_token": ("npmjs.org", "npmjs.com"),
    "pypi_token": ("pypi.org",),
    "huggingface_token": ("huggingface.co",),
    "digitalocean_token": ("digitalocean.com",),
    "sendgrid_key": ("sendgrid.com",),
    "azure_storage_key": ("windows.net", "azure.com"),
    "azure_sas": ("windows.net", "azure.com"),
}
_ENV_PROVIDERS = (
    ("GITHUB", "github_token"), ("GH_", "github_token"), ("AWS_", "aws_secret_key"), ("OPENAI", "openai_key"),
    ("ANTHROPIC", "anthropic_key"), ("SLACK", "slack_token"), ("STRIPE", "stripe_key"), ("GITLAB", "gitlab_token"),
    ("GOOGLE", "google_api_key"), ("GCP", "google_api_key"), ("NPM", "npm_token"), ("HF_", "huggingface_token"),
)  # fmt: skip

# --- what a call sends ---------------------------------------------------------------------------------------

_SEND_TOOL_WORDS = (
    "send", "post", "email", "mail", "message", "publish", "share", "upload", "comment", "tweet", "notify",
    "webhook", "gist", "paste", "reply", "forward", "slack", "discord", "telegram", "sms", "submit", "issue",
    "chat", "http", "request", "fetch", "api", "curl", "browser", "navigate", "gmail", "smtp",
)  # fmt: skip
_RECIPIENT_KEYS = frozenset({"to", "cc", "bcc", "recipient", "recipients", "email", "emails", "to_email", "address"})
_CRED_HEADER_WORDS = ("authorization", "api-key", "apikey", "api_key", "token", "auth", "cookie", "x-key",
                      "secret", "password", "signature")  # fmt: skip
_CRED_PARAM_NAMES = frozenset(
    {"key", "api_key", "apikey", "api-key", "token", "access_token", "auth", "auth_token", "appid", "app_id",
     "client_secret", "client_id", "password", "pass", "secret", "sig", "signature", "code", "state"}
)  # fmt: skip
_FILE_KEYS = frozenset(
    {"attachment", "attachments", "file", "files", "path", "paths", "document", "upload", "filename",
     "filepath", "file_path", "source", "src", "local_path", "input_file", "media", "image", "photo", "filenames"}
)  # fmt: skip

# --- shell ---------------------------------------------------------------------------------------------------------

_HTTP_CLIENTS = frozenset(
    {"curl", "wget", "wget2", "http", "https", "xh", "xhs", "curlie", "httpie", "iwr", "irm", "invoke-webrequest",
     "invoke-restmethod", "aria2c", "lwp-request", "fetch"}
)  # fmt: skip
#: Stream sinks that carry bare bytes to a host or a listening port (no protocol of their own).
_RAW_STREAMS = NETWORK_TOOLS
_STREAM_SINKS = _RAW_STREAMS | frozenset(
    {"ssh", "mail", "mailx", "sendmail", "mutt", "swaks", "msmtp", "ftp", "tftp", "sftp", "lftp", "smbclient"}
)
_DNS_TOOLS = frozenset({"nslookup", "dig", "host", "drill", "ping", "ping6", "resolvectl", "getent", "traceroute"})
_COPY_REMOTE = frozenset({"scp", "rsync", "sftp", "pscp"})
_CLOUD_COPY = frozenset({"aws", "gsutil", "gcloud", "az", "rclone", "azcopy", "s3cmd", "mc", "b2"})
_ENV_DUMPERS = frozenset({"env", "printenv", "set", "export", "declare", "compgen", "get-childitem", "gci", "dir"})
_RECON = vocab.words("recon_programs")
_ARCHIVERS = frozenset({"tar", "zip", "7z", "7za", "gzip", "bzip2", "xz", "zstd", "cpio", "rar", "pax"})
_TUNNEL_CMDS = frozenset({"ngrok", "cloudflared", "lt", "localtunnel", "bore", "pinggy", "tunnelto", "frpc", "chisel"})
_CURL_DATA = frozenset({"-d", "--data", "--data-binary", "--data-raw", "--data-ascii", "--data-urlencode", "--json"})
_CURL_FORM = frozenset({"-F", "--form", "--form-string"})
_CURL_UPLOAD = frozenset({"-T", "--upload-file"})
_SECRET_VAR_PARTS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE",
                     "CREDENTIAL", "AUTH", "SESSION", "COOKIE", "_KEY", "_PAT")  # fmt: skip
_CODE_NET = ("urlopen", "requests.", "http.client", "httpx.", "urllib", "fetch(", "axios", "socket", "net/http",
             "invoke-webrequest", "invoke-restmethod", "webclient", "xmlhttprequest", "to program", "sendto(",
             "curl", "wget", "smtplib", "aiohttp")  # fmt: skip
# The whole environment (not one variable used as a credential).
_ENV_WHOLE = ("dict(os.environ", "os.environ)", "os.environ.items", "os.environ.copy", "str(os.environ",
              "repr(os.environ", "dumps(os.environ", "os.environ,", "environ}", "process.env)", "process.env}",
              "process.env,", "stringify(process.env", "env::vars()", "system.getenv()", "get-childitem env:",
              "gci env:", "ls env:", "/proc/self/environ", "printenv", "environ.items")  # fmt: skip
_RAW_SEND = ("socket", ".send(", "sendall", "sendto(", "smtplib", "ftplib", "paramiko.sftp")
_SQL_OUT = ("to program", "into outfile", "into dumpfile", "copy (select", "lo_export", "xp_cmdshell")


class _Dest(NamedTuple):
    """Where data goes: a host, what kind of sink it is, and the text that names it (a tuple: cheap to build)."""

    host: str
    sink: str | None
    evidence: str


def sink_kind(host: str, path: str = "") -> str | None:
    """What kind of data-receiving service ``host`` is: request catcher, tunnel, paste, chat webhook, or None."""
    kind = _host_sink(host)
    if kind is None or not kind.startswith("/"):
        return kind
    return "chat webhook" if path.startswith(kind[1:] if kind != "/" else "") else None


@lru_cache(maxsize=4096)
def _host_sink(host: str) -> str | None:
    """The sink kind of a host; ``"/<path prefix>"`` when it is a chat-webhook host that needs a path check."""
    h = canonical_host(host)
    if not h:
        return None
    if host_suffix(h, _CATCHERS) is not None:
        return "request catcher"
    if host_suffix(h, _TUNNELS) is not None:
        return "tunnel"
    if host_suffix(h, _PASTES) is not None:
        return "paste service"
    hook = host_suffix(h, _HOOK_PATHS)
    if hook is not None:
        return "/" + _HOOK_PATHS[hook]
    return None


# No chat-webhook domain lies under another, so the one suffix found is the only one that could match.
_HOOK_PATHS = dict(_CHAT_HOOKS)


def _secrets_of(text: str) -> tuple[Secret, ...]:
    """Secrets of a text; short texts (the common, repeated case) are cached, long ones are not kept."""
    return _secrets_cached(text) if len(text) <= 4096 else tuple(find_secrets(text))


@lru_cache(maxsize=2048)
def _secrets_cached(text: str) -> tuple[Secret, ...]:
    return tuple(find_secrets(text))


def _provider_ok(kind: str, host: str) -> bool:
    doms = _PROVIDERS.get(kind)
    return doms is not None and len(doms) > 0 and host_matches(host, doms)


def _sensitive(path: str) -> str | None:
    """Why a path is sensitive (ssh_key, env_file ...), via ``_paths.sensitive_kind`` plus directories."""
    return _sensitive_cached(path) if len(path) <= 1024 else None


@lru_cache(maxsize=8192)
def _sensitive_cached(path: str) -> str | None:
    p = path.strip().strip("\"'")
    if not p:
        return None
    if p.startswith("@"):
        p = p[1:]
    if p.startswith("file://"):
        p = p[7:]
    kind = sensitive_kind(p)
    if kind:
        return kind
    q = p.replace("\\", "/").rstrip("/")
    low = q.lower()
    if low.endswith((".pub", "/known_hosts", ".pub.asc")):
        return None  # public keys and host lists are meant to be shared
    for part, what in (
        ("/.ssh", "ssh_dir"), ("/.gnupg", "gpg_dir"), ("/.aws", "cloud_credentials"), ("/.kube", "kube_config"),
        ("/.docker", "docker_config"), ("/.config/gcloud", "cloud_credentials"), ("/.azure", "cloud_credentials"),
        ("/.password-store", "password_store"), ("/etc/ssl/private", "tls_key"), ("/.vault-token", "credentials"),
        ("/var/run/secrets", "k8s_secret"), ("/run/secrets", "docker_secret"),
    ):  # fmt: skip
        if low.endswith(part) or part + "/" in low or low == part[1:] or low.startswith(part[1:] + "/"):
            return what
    if low in ("~", "$home", "${home}", "/root", "%userprofile%", "$env:userprofile") or (
        low.startswith(("/home/", "/users/")) and low.count("/") == 2
    ):
        return "home_dir"
    if low in ("/", "/etc", "c:", "c:/"):
        return "root_dir"
    if low.endswith((".pem", ".key", ".p12", ".pfx", ".keystore", ".jks", ".kdbx", ".ppk")):
        return "key_file"
    return None


class _Out:
    __slots__ = ("items", "seen")

    def __init__(self) -> None:
        self.items: list[Violation] = []
        self.seen: set[str] = set()

    def add(self, severity: str, reason: str, evidence: str) -> None:
        """Record a violation once per reason."""
        key = reason
        if key in self.seen:
            return
        self.seen.add(key)
        self.items.append(Violation(POLICY, reason, severity, evidence[:_MAX_EVIDENCE]))


def _allowed(host: str, s: Settings) -> bool:
    return bool(host) and bool(s.allowed_hosts) and host_matches(host, s.allowed_hosts)


# --- A: data carried by URLs -----------------------------------------------------------------------------------------


def _decoded_values(query: str) -> list[tuple[str, str]]:
    """(name, value) pairs of a query string, values percent-decoded, plus base64/hex readings of long values."""
    out: list[tuple[str, str]] = []
    for pair in query.split("&")[:64]:
        name, _, value = pair.partition("=")
        value = unquote(value.replace("+", " "))
        out.append((unquote(name).lower(), value))
        if len(value) >= 16:
            dec = _decode_blob(value)
            if dec:
                out.append(("", dec))
    return out


def _decode_blob(value: str) -> str | None:
    v = value.strip()[:8192]
    if len(v) >= 16 and len(v) % 2 == 0 and _HEX.issuperset(v):  # stops at the first non-hex character
        try:
            raw = bytes.fromhex(v)
        except ValueError:
            raw = b""
        text = _printable(raw)
        if text:
            return text
    t = v.rstrip("=")
    if len(t) >= 16 and _B64.issuperset(t):
        pad = "=" * (-len(t) % 4)
        try:
            raw = base64.urlsafe_b64decode(t.replace("+", "-").replace("/", "_") + pad)
        except (binascii.Error, ValueError):
            return None
        return _printable(raw)
    return None


_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
_HEX = frozenset("0123456789abcdefABCDEF")


def _printable(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < 8:
        return None
    ok = len(s) if s.isprintable() else sum(1 for c in s if c.isprintable() or c in "\n\r\t")
    if ok < 0.95 * len(s):
        return None
    if s.isascii():  # an ASCII letter is exactly an ASCII character with case
        return s if s.lower() != s.upper() else None
    return s if any(c.isalpha() for c in s) else None


def _label_data(host: str) -> str | None:
    """A DNS label that carries data: very long, or decoding (hex/base32/base64) to readable text."""
    for label in host.split(".")[:-2]:
        if len(label) >= 52:
            return label
        if len(label) >= 24:
            if _decode_blob(label):
                return label
            try:
                raw = base64.b32decode(label.upper() + "=" * (-len(label) % 8))
            except (binascii.Error, ValueError):
                continue
            if _printable(raw):
                return label
    return None


def _url_flows(ep: Endpoint, s: Settings, out: _Out) -> None:
    host = ep.host
    if not host or _allowed(host, s):
        return
    sink = sink_kind(host, ep.path)
    accessed = ep.context != "prose"
    carried: list[tuple[str, str]] = _decoded_values(ep.query) if ep.query else []
    if ep.path and len(ep.path) >= 16:
        for seg in ep.path.split("/")[:32]:
            if len(seg) >= 16:
                if "%" in seg:
                    seg = unquote(seg)
                carried.append(("", seg))
                if "." not in seg:  # file names have dots; base64 and hex blobs do not
                    dec = _decode_blob(seg)
                    if dec:
                        carried.append(("", dec))
    for name, value in carried:
        for sec in _secrets_of(value):
            if _provider_ok(sec.kind, host):
                continue
            if name in _CRED_PARAM_NAMES and not sec.strong and not sink:
                continue  # a credential parameter used as such (``?api_key=...``)
            sev = "critical" if sec.strong else "high"
            where = f"{ep.scheme}://{host}{ep.path[:60]}" if ep.scheme else host
            out.add(sev, f"{_kind_text(sec.kind)} sent to {host} in the URL", f"{where} [{sec.preview}]")
    if not accessed:
        return
    if sink == "request catcher":
        out.add("high", f"request to a request-catcher service ({host})", ep.raw)
    elif sink and ep.query and any(len(v) >= 12 for _, v in carried):
        out.add("high", f"data sent to a {sink} ({host}) in the URL", ep.raw)
    label = _label_data(host) if len(host) > 40 else None
    if label:
        out.add("high", f"data encoded in a DNS label of {host}", ep.raw)


def _kind_text(kind: str) -> str:
    return {
        "private_key": "private key",
        "env_dump": "environment dump",
        "connection_string": "password in a connection string",
        "password": "password",
        "api_key": "API key",
        "credit_card": "card number",
        "jwt": "JSON web token",
    }.get(kind, kind.replace("_", " "))


# --- B: non-shell tool payloads ----------------------------------------------------------------------------------


def _is_cred_position(t: Text) -> bool:
    path = t.path.lower()
    if "header" not in path and "auth" not in path and "cookie" not in path:
        return False
    key = t.key
    return any(w in key for w in _CRED_HEADER_WORDS)


def _recipients(a: Analysis) -> list[_Dest]:
    out: list[_Dest] = []
    for t in a.texts:
        if t.key in _RECIPIENT_KEYS and "@" in t.norm:
            for part in t.norm.replace(",", " ").replace(";", " ").split()[:64]:
                if "@" in part:
                    dom = part.rsplit("@", 1)[1].strip("<>\"'()[]").lower()
                    if dom:
                        out.append(_Dest(canonical_host(dom), None, part))
    return out


# The words of a tool's name: ``sendEmail`` -> send, email; ``HTTPRequest`` -> http, request; ``post_tweet``.
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


@lru_cache(maxsize=1024)
def _tool_sends(tool: str) -> bool:
    """Whether a tool's name says it sends: a word of the name starts with a sending word (``sendmail``,
    ``emailer``, ``postMessage``), not merely contains one (``register`` holds ``gist``, ``compost`` ``post``)."""
    words = [w.lower() for w in _NAME_WORD.findall(tool)]
    return any(w.startswith(_SEND_TOOL_WORDS) for w in words) or "open_url" in tool.lower()


def _payload_flows(a: Analysis, eps: list[Endpoint], s: Settings, out: _Out) -> None:
    dests: list[_Dest] = []
    for ep in eps:
        if ep.context in ("url", "host", "value") and ep.host:
            dests.append(_Dest(ep.host, sink_kind(ep.host, ep.path), ep.raw))
    dests.extend(_recipients(a))
    sends = _tool_sends(a.tool)
    if not dests and not sends:
        return
    open_dests = [d for d in dests if not _allowed(d.host, s)]
    if dests and not open_dests:
        return
    if not dests:
        open_dests = [_Dest("", None, a.tool)]
    where = ", ".join(sorted({d.host for d in open_dests if d.host})) or f"the recipients of {a.tool}"
    sink = next((d for d in open_dests if d.sink), None)
    dest_texts = {id(ep.text) for ep in eps if ep.context in ("url", "host")}
    has_payload = False
    for t in a.texts:
        if t.is_key or id(t) in dest_texts or t.key in _RECIPIENT_KEYS:
            continue
        if t.key in ("method", "verb", "channel", "model", "chat_id", "subject", "role"):
            continue
        if _is_cred_position(t):
            _secret_flow(t, open_dests, s, out, where, sink, cred=True)
            continue
        if len(t.norm) >= 2:
            has_payload = True
        _secret_flow(t, open_dests, s, out, where, sink)
        if t.key in _FILE_KEYS or t.path.lower().startswith(("files", "attachments")):
            kind = _sensitive(t.norm)
            if kind:
                out.add("critical", f"sensitive file ({kind}) attached and sent to {where}", t.norm)
    if sink and has_payload and sink.sink in ("request catcher", "paste service", "tunnel"):
        out.add("high", f"data sent to a {sink.sink} ({sink.host})", sink.evidence)


def _secret_flow(
    t: Text, dests: list[_Dest], s: Settings, out: _Out, where: str, sink: _Dest | None, cred: bool = False
) -> None:
    """Flag secrets of one payload text. In a credential position (an ``Authorization`` header) only
    credentials that belong to another provider, key material, or anything sent to a data sink count."""
    structured = t.norm.lstrip()[:1] in ("{", "[")
    for v in t.variants:
        for sec in _secrets_of(v):
            if dests and all(d.host and _provider_ok(sec.kind, d.host) for d in dests):
                continue
            if cred and not (
                (sink and sink.sink != "chat webhook") or sec.kind in _PROVIDERS or sec.kind in _KEY_MATERIAL
            ):
                continue
            if not sec.strong and structured and not sink:
                continue  # a credential field of a structured request body (a login), not a leak
            if sec.kind == "jwt" and not sink and t.key in ("token", "jwt", "id_token", "access_token"):
                continue
            sev = "critical" if sec.strong else "high"
            out.add(sev, f"{_kind_text(sec.kind)} sent to {where}", t.path if cred else sec.preview)


_KEY_MATERIAL = frozenset({"private_key", "env_dump", "gcp_service_account"})


# --- C: shell commands -------------------------------------------------------------------------------------------


def _commands(a: Analysis) -> list[Any]:
    try:
        cmds = a.commands
    except Exception:  # the shell view is optional for this check: text rules still apply
        return []
    if not cmds:
        return []
    return list(cmds) if isinstance(cmds, (list, tuple)) else []


def _hosts_in_args(c: Any) -> list[_Dest]:
    out: list[_Dest] = []
    name = c.name
    if name == "socat":  # its hosts are in its network addresses only ('TCP:HOST:PORT', 'SOCKS4:PROXY:HOST:PORT')
        for address in socat_addresses(c.argv):
            if address.kind == "network":
                out.extend(_Dest(canonical_host(h), sink_kind(h), c.raw) for h in _socat_hosts(address.target))
        return out
    for w in c.argv[1:]:
        if "://" in w:
            for p in split_url(w[w.find("://") - 8 if w.find("://") >= 8 else 0 :].lstrip("=")):
                if p.host:
                    out.append(_Dest(canonical_host(p.host), sink_kind(p.host, p.path), c.raw))
        elif name in _STREAM_SINKS or name in _COPY_REMOTE or name in _DNS_TOOLS:
            h = _bare_host(w, name)
            if h:
                out.append(_Dest(h, sink_kind(h), c.raw))
    for _op, target in c.redirects:
        if "/dev/tcp/" in target or "/dev/udp/" in target:
            h = target.split("/dev/", 1)[1][4:].split("/", 1)[0]
            out.append(_Dest(canonical_host(h), sink_kind(h), c.raw))
    return out


def _socat_hosts(target: str) -> list[str]:
    """The host names and addresses in a socat network address's parameters (``[::1]:80``, ``host:port``, a
    proxy and its target); none for a listening port alone."""
    if target.startswith("["):
        end = target.find("]")
        return [target[1:end]] if end > 1 else []
    return [part for part in target.split(":") if part and not part.isdigit()]


def _bare_host(w: str, name: str) -> str | None:
    if w.startswith("-") or not w or w.startswith(("/", "./", "~")):
        return None
    if name in _COPY_REMOTE:
        if ":" not in w or w[1:2] == ":":
            return None
        w = w.split(":", 1)[0]
    w = w.rsplit("@", 1)[-1]
    if w.isdigit():
        return None
    w = w.lstrip(".")  # "$x.evil.example" with $x expanded to nothing
    if "." in w or ":" in w or classify_host(w).internal:
        return canonical_host(w)
    return None


def _opt_values(argv: tuple[str, ...], opts: frozenset[str]) -> list[str]:
    vals: list[str] = []
    i = 1
    while i < len(argv):
        w = argv[i]
        if w in opts and i + 1 < len(argv):
            vals.append(argv[i + 1])
            i += 2
            continue
        for o in opts:
            if o.startswith("--") and w.startswith(o + "="):
                vals.append(w[len(o) + 1 :])
            elif len(o) == 2 and w.startswith(o) and len(w) > 2 and not w.startswith("--"):
                vals.append(w[2:])
        i += 1
    return vals


def _curl_options(argv: tuple[str, ...]) -> tuple[list[str], list[str], list[str]]:
    """Values of curl's data, form and upload options, in one pass (``-dX``, ``--data=X`` and ``-d X``)."""
    data: list[str] = []
    form: list[str] = []
    upload: list[str] = []
    i = 1
    n = len(argv)
    while i < n:
        w = argv[i]
        i += 1
        if not w.startswith("-") or len(w) < 2:
            continue
        if w.startswith("--"):
            opt, eq, val = w.partition("=")
        else:  # short options may be bundled: -sd @file, -sSfT file
            opt, eq, val = w[:2], "", w[2:]
            for j in range(1, len(w)):
                flag = "-" + w[j]
                if flag in _CURL_DATA or flag in _CURL_FORM or flag in _CURL_UPLOAD:
                    opt, val = flag, w[j + 1 :]
                    break
                if not w[j].isalpha():
                    break
        if opt in _CURL_DATA:
            bucket = data
        elif opt in _CURL_FORM:
            bucket = form
        elif opt in _CURL_UPLOAD:
            bucket = upload
        else:
            continue
        if eq or val:
            bucket.append(val)
        elif i < n:
            bucket.append(argv[i])
            i += 1
    return data, form, upload


def _payload_files(c: Any) -> tuple[list[str], bool, list[str]]:
    """(files sent, reads stdin as data, literal data strings) for a network command."""
    name, argv = c.name, c.argv
    files: list[str] = []
    literals: list[str] = []
    stdin = False
    if name in ("curl", "curlie"):
        data, form, upload = _curl_options(argv)
        for v in data:
            at = v.find("@")
            if v.startswith("@") or (at > 0 and "=" not in v[:at] and "--data-urlencode" in argv):
                f = v[at + 1 :]
                if f == "-":
                    stdin = True
                else:
                    files.append(f)
            else:
                literals.append(v)
        for v in form:
            _n, _, val = v.partition("=")
            if val.startswith(("@", "<")):
                f = val[1:].split(";", 1)[0]
                if f == "-":
                    stdin = True
                else:
                    files.append(f)
            else:
                literals.append(val)
        for v in upload:
            if v in ("-", "."):
                stdin = True
            else:
                files.append(v)
    elif name in ("wget", "wget2"):
        for w in argv[1:]:
            for o in ("--post-file=", "--body-file="):
                if w.startswith(o):
                    files.append(w[len(o) :])
            for o in ("--post-data=", "--body-data="):
                if w.startswith(o):
                    literals.append(w[len(o) :])
        files.extend(_opt_values(argv, frozenset({"--post-file", "--body-file"})))
    elif name in ("http", "https", "xh", "xhs", "httpie"):
        for w in argv[1:]:
            if w.startswith("@"):
                files.append(w[1:])
            elif "=@" in w or "@" in w.split("=", 1)[0][1:]:
                files.append(w.split("@", 1)[1])
            elif "=" in w and not w.startswith("-"):
                literals.append(w.split("=", 1)[1])
        stdin = True
    elif name in ("iwr", "irm", "invoke-webrequest", "invoke-restmethod"):
        low = [w.lower() for w in argv]
        for i, w in enumerate(low[:-1]):
            if w == "-infile":
                files.append(argv[i + 1])
            elif w == "-body":
                literals.append(argv[i + 1])
        for i, w in enumerate(argv[1:], 1):
            if low[i - 1] != "-outfile" and _sensitive(w.strip("()")):
                files.append(w.strip("()"))
    elif name in _STREAM_SINKS:
        stdin = True
        if name == "socat":  # the file address a network address is fed from (``socat -u OPEN:F TCP:H:P``)
            addresses = socat_addresses(argv)
            if any(a.kind == "network" for a in addresses):
                files.extend(a.target for a in addresses if a.kind == "file" and a.sends and a.target)
        elif name in ("mutt", "mail", "mailx"):
            files.extend(_opt_values(argv, frozenset({"-a", "-A", "--attach"})))
    for op, target in c.redirects:
        if op.lstrip("0123456789") in ("<", "<>"):
            files.append(target)
        elif op.endswith("<<<"):
            literals.append(target)
    return files, stdin, literals


def _source_kind(c: Any) -> tuple[str, str] | None:
    """How sensitive the output of a command is: (severity, what) or None for ordinary output."""
    name = c.name
    args = [w for w in c.argv[1:] if not w.startswith("-")]
    if name in _ENV_DUMPERS and (name in ("env", "printenv") or not args or c.argv[1:2] in (("-p",), ("-x",))):
        if name in ("env", "printenv") and args and not any(_secret_var(a) for a in args):
            if "=" not in "".join(args) and len(args) == 1 and name == "printenv":
                return None
            if name == "env" and args:
                return None
        return "critical", "environment dump"
    if name == "history" or (name == "fc" and "-l" in c.argv):
        return "critical", "shell history"
    for w in c.argv[1:]:
        kind = _sensitive(w)
        if kind:
            return "critical", f"sensitive file ({kind})"
        if "/proc/" in w and "environ" in w:
            return "critical", "process environment"
    for op, target in c.redirects:
        if op.lstrip("0123456789") == "<":
            kind = _sensitive(target)
            if kind:
                return "critical", f"sensitive file ({kind})"
    if name in _ARCHIVERS and any(_broad_tree(w) for w in args):
        return "high", "archive of the project, home or system files"
    return None


def _broad_tree(word: str) -> bool:
    w = word.rstrip("/").lower()
    return w == "" or w in _BROAD_TREES or _sensitive(word) in ("home_dir", "root_dir")


# Trees whose archive is everything the agent can reach (a named build directory is ordinary data).
_BROAD_TREES = frozenset({".", "*", "..", "~", "$home", "${home}", "/etc", "/home", "/root", "/var", "/srv", "/opt",
                          "./*", "$pwd", "${pwd}", "/users", "c:", "/workspace"})  # fmt: skip


def _secret_var(word: str) -> bool:
    w = word.upper().lstrip("$%{").rstrip("}%")
    return any(p in w for p in _SECRET_VAR_PARTS)


def _env_refs(raw: str) -> list[tuple[str, bool]]:
    """Secret-looking variable references in a command's raw text: (name, in a credential option)."""
    out: list[tuple[str, bool]] = []
    pos = 0
    n = len(raw)
    while len(out) < 16:
        i = raw.find("$", pos)
        if i == -1:
            break
        j = i + 1
        if raw[j : j + 1] == "{":
            j += 1
        elif raw[j : j + 4].lower() == "env:":
            j += 4
        k = j
        while k < n and k - j < 64 and (raw[k].isalnum() or raw[k] == "_"):
            k += 1
        pos = max(k, i + 1)
        name = raw[j:k]
        if name and _secret_var(name):
            before = raw[max(0, i - 120) : i]
            opt = before.rfind(" -")
            cred = False
            if opt != -1:
                o = before[opt + 1 :].split(None, 1)[0].lower()
                cred = o in ("-h", "--header", "-u", "--user", "--oauth2-bearer", "-headers", "-credential")
            cred = cred or "authorization" in before.lower()[-60:] or "bearer" in before.lower()[-20:]
            out.append((name, cred))
    return out


def _env_provider(name: str) -> str | None:
    up = name.upper()
    for prefix, kind in _ENV_PROVIDERS:
        if up.startswith(prefix):
            return kind
    return None


def _judge_send(
    c: Any, dests: list[_Dest], s: Settings, out: _Out, severity: str, what: str, evidence: str | None = None
) -> None:
    open_dests = [d for d in dests if not _allowed(d.host, s)]
    if dests and not open_dests:
        return
    where = ", ".join(sorted({d.host for d in open_dests if d.host})) or "a remote host"
    out.add(severity, f"{what} sent to {where} by {c.name}", evidence or c.raw)


def _shell_flows(a: Analysis, cmds: list[Any], s: Settings, out: _Out) -> None:
    """Flows inside shell commands. One pass in text order (linear in the number of commands): substitutions
    are emitted before the command that consumes them, pipeline stages in order."""
    for c in cmds:  # anything to judge? (a plain loop: this runs for every command text)
        if c.redirects:
            break
        if c.name in _NET_COMMANDS:
            argv = c.argv
            # ``git`` only matters for ``add``, ``push`` and ``remote`` (see ``_git``); ``git commit`` sends nothing
            if c.name != "git" or (len(argv) > 1 and argv[1] in ("add", "push", "remote")):
                break
    else:
        return
    sources: dict[int, tuple[str, str] | None] = {}

    def source(c: Any) -> tuple[str, str] | None:
        k = id(c)
        if k not in sources:
            sources[k] = _source_kind(c)
        return sources[k]

    feeding = {id(c.text) for c in cmds if c.name in _RECON or (c.name in _ENV_DUMPERS and source(c))}
    served = [c for c in cmds if _serves_files(c)]
    pending: dict[tuple[int, str], list[Any]] = {}  # substitutions waiting for their consumer
    upstream: dict[tuple[int, int], tuple[tuple[str, str] | None, str, str]] = {}  # pipeline -> (src, raw, name)
    git_remotes: dict[int, list[tuple[str, str, str]]] = {}
    staged: dict[str, tuple[str, str]] = {}  # temp files written from sensitive sources earlier in the text
    tainted: dict[str, tuple[str, str]] = {}  # shell variables assigned from sensitive sources
    for c in cmds:
        name = c.name
        pipe_key = (id(c.text), c.pipeline)
        before = upstream.get(pipe_key)
        mine = source(c) if c.name in _ARCHIVERS or c.argv[1:] or c.redirects or c.name in _ENV_DUMPERS else None
        if before is None or (before[0] is None and mine):
            upstream[pipe_key] = (mine, c.raw, name)
        else:
            upstream[pipe_key] = (before[0], before[1], name)
        subs: list[Any] = []
        if "(" in c.via or "`" in c.via:  # $(...), `...`, <(...), PowerShell (...); consumer "" = an assignment
            pending.setdefault((id(c.text), c.consumer), []).append(c)
        else:
            subs = pending.pop((id(c.text), name), [])
        if c.assigns and subs and len(tainted) < 32:  # K=$(cat ~/.ssh/id_rsa): remember what K holds
            src = next((x for x in map(source, subs) if x), None)
            if src:
                for var, _val in c.assigns:
                    tainted[var] = src
        if c.redirects or name in _WRITERS:
            targets = _written_files(c)
            src = source(c) if targets else None
            if src:
                for target in targets:
                    staged[_norm_file(target)] = src
        if name == "git":
            _git(c, git_remotes, s, out, staged)
            continue
        if name in _TUNNEL_CMDS:
            _tunnel(c, served, out)
            continue
        is_http = name in _HTTP_CLIENTS
        is_stream = name in _STREAM_SINKS
        is_dns = name in _DNS_TOOLS
        is_copy = name in _COPY_REMOTE
        is_cloud = name in _CLOUD_COPY
        to_tcp = _dev_tcp(c)
        if not (is_http or is_stream or is_dns or is_copy or is_cloud or name == "gh" or to_tcp):
            continue
        dests = _hosts_in_args(c)
        for d in dests:
            if len(d.host) > 40 and not _allowed(d.host, s) and _label_data(d.host):
                out.add("high", f"data encoded in a DNS label of {d.host}", c.raw)
        if is_dns and id(c.text) in feeding and _label_variable(c.raw):
            _judge_send(c, dests, s, out, "high", "variable data in a DNS name")
        # command output substituted into the request ($(...) / `...`)
        for sub in subs[:64]:
            src = source(sub)
            if src:
                _judge_send(c, dests, s, out, src[0], src[1], c.raw)
            elif is_dns or sub.name in _RECON:
                what = "command output in a DNS query" if is_dns else f"output of {sub.name}"
                _judge_send(c, dests, s, out, "high", what, c.raw)
        if is_copy:
            _copy(c, dests, s, out, staged)
            continue
        if is_cloud or name == "gh":
            _cloud(c, s, out)
            continue
        files, stdin, literals = _payload_files(c)
        stdin = stdin or "xargs" in c.wrappers  # ... | xargs curl: the input becomes arguments
        for var, src in tainted.items():
            if f"${var}" in c.raw or f"${{{var}}}" in c.raw:
                _judge_send(c, dests, s, out, src[0], f"{src[1]} (in ${var})")
        for f in files:
            kind = _sensitive(f)
            pre = staged.get(_norm_file(f))
            if pre:
                _judge_send(c, dests, s, out, pre[0], f"{pre[1]} (staged in {f})")
            elif kind:
                _judge_send(c, dests, s, out, "critical", f"sensitive file ({kind})")
            elif any(d.sink in ("request catcher", "paste service", "tunnel") for d in dests) or s.allowed_hosts:
                _judge_send(c, dests, s, out, "high", f"file {f}")
            elif (
                name in _RAW_STREAMS
                and not f.startswith("/dev/")
                and not any(classify_host(d.host).loopback for d in dests)
            ):
                # bytes on a bare connection (or served on a listening port), as a raw socket in code is judged
                # (``_bare_destination``): no ordinary upload of a file uses one
                _judge_send(c, dests, s, out, "high", f"file {f} over a raw connection")
        for lit in literals:
            for sec in _secrets_of(lit):
                if not any(_provider_ok(sec.kind, d.host) for d in dests):
                    sev = "critical" if sec.strong else "high"
                    _judge_send(c, dests, s, out, sev, _kind_text(sec.kind), f"{c.name} ... [{sec.preview}]")
        for var, cred in _env_refs(c.raw):
            if cred and not any(d.sink for d in dests):
                continue
            prov = _env_provider(var)
            if prov and dests and all(_provider_ok(prov, d.host) for d in dests):
                continue
            _judge_send(c, dests, s, out, "critical", f"secret variable ${var}")
        if (stdin or to_tcp) and before is not None:
            src, raw, prev_name = before
            if src:
                _judge_send(c, dests, s, out, src[0], src[1], f"{raw} | {c.raw}")
            elif stdin and any(d.sink for d in dests):
                _judge_send(c, dests, s, out, "high", f"output of {prev_name}", f"{raw} | {c.raw}")
        if to_tcp:
            src = source(c)
            if src:
                _judge_send(c, dests, s, out, src[0], src[1])
            elif c.name not in _SHELLS:
                _judge_send(c, dests, s, out, "high", f"output of {c.name}")
        if any(d.sink == "request catcher" for d in dests):
            _judge_send(c, dests, s, out, "high", "a request to a request-catcher service")
        elif (files or literals or stdin) and any(d.sink in ("paste service", "tunnel") for d in dests):
            _judge_send(c, dests, s, out, "high", "data for a paste or tunnel service")


_SHELLS = vocab.words("shells")
# The programs whose written files ``_written_files`` reads (the gate is derived from what it handles).
_ARCHIVE_OUTPUTS = frozenset({"zip", "7z", "7za", "rar"})  # the first operand is the archive
_COPIERS = frozenset({"cp", "mv", "install", "tee", "dd"})
_WRITERS = frozenset({"tar"}) | _ARCHIVE_OUTPUTS | _COPIERS


def _norm_file(path: str) -> str:
    p = path.strip().strip("\"'")
    if p.startswith("@"):
        p = p[1:]
    return p[2:] if p.startswith("./") else p


def _written_files(c: Any) -> list[str]:
    """Files a command writes (redirections, archive outputs, copy destinations)."""
    out = [t for op, t in c.redirects if op.lstrip("0123456789&").startswith(">") and not t.startswith("&")]
    argv = c.argv
    name = c.name
    if name == "tar":
        for i, w in enumerate(argv[1:], 1):
            if w.startswith("--file="):
                out.append(w[7:])
            elif i + 1 < len(argv) and _tar_f(w, i):
                out.append(argv[i + 1])
    elif name in _ARCHIVE_OUTPUTS:
        ops = [w for w in argv[1:] if not w.startswith("-") and w not in ("a", "u")]
        if ops:
            out.append(ops[0])
    elif name in _COPIERS:
        ops = [w for w in argv[1:] if not w.startswith("-")]
        if name == "dd":
            out.extend(w[3:] for w in ops if w.startswith("of="))
        elif name == "tee":
            out.extend(ops)
        elif len(ops) >= 2:
            out.append(ops[-1])
    return out


def _tar_f(word: str, index: int) -> bool:
    """Whether this tar word ends with the ``f`` flag, so the next word is the archive (``-czf x``, ``czf x``)."""
    if word.startswith("--"):
        return False
    if word.startswith("-"):
        return word.endswith("f")
    return index == 1 and word.isalpha() and word.endswith("f")


def _label_variable(raw: str) -> bool:
    """A shell expansion used as a DNS label: ``$x.evil.com``, ``${x}.evil.com``, ``$(cmd).evil.com``."""
    pos = 0
    for _ in range(64):
        i = raw.find("$", pos)
        if i == -1:
            return False
        pos = i + 1
        j = i + 1
        if raw[j : j + 1] in ("{", "("):
            close = raw.find("}" if raw[j] == "{" else ")", j, j + 400)
            if close == -1:
                continue
            j = close + 1
        else:
            while j < len(raw) and j - i < 64 and (raw[j].isalnum() or raw[j] == "_"):
                j += 1
        if raw[j : j + 1] == "." and raw[j + 1 : j + 2].isalnum():
            return True
    return False


_NET_COMMANDS = _HTTP_CLIENTS | _STREAM_SINKS | _DNS_TOOLS | _COPY_REMOTE | _CLOUD_COPY | _TUNNEL_CMDS | {"git", "gh"}


def _dev_tcp(c: Any) -> bool:
    return any("/dev/tcp/" in t or "/dev/udp/" in t for _op, t in c.redirects if not _op.startswith("<"))


# scp/rsync options whose value is not a file being sent (keys, filters, ports, remote shells).
_COPY_VALUE_OPTS = frozenset(
    {"-i", "-F", "-o", "-e", "-P", "-p", "-S", "-l", "-c", "-J", "-f", "--rsh", "--exclude", "--include",
     "--exclude-from", "--include-from", "--filter", "--files-from", "--password-file", "--log-file", "--chmod",
     "--chown", "--rsync-path", "--backup-dir", "--partial-dir", "--temp-dir", "--compare-dest", "--link-dest"}
)  # fmt: skip


def _copy(c: Any, dests: list[_Dest], s: Settings, out: _Out, staged: dict[str, tuple[str, str]]) -> None:
    remote = [d for d in dests if d.host]
    if not remote:
        return
    argv = c.argv
    for i in range(1, len(argv) - 1):
        w = argv[i]
        if w.startswith("-") or ":" in w.split("/", 1)[0] or argv[i - 1] in _COPY_VALUE_OPTS:
            continue
        kind = _sensitive(w)
        pre = staged.get(_norm_file(w))
        if pre:
            _judge_send(c, remote, s, out, pre[0], f"{pre[1]} (staged in {w})")
        elif kind:
            _judge_send(c, remote, s, out, "critical", f"sensitive file ({kind})")
        elif s.allowed_hosts:
            _judge_send(c, remote, s, out, "high", f"file {w}")


def _cloud(c: Any, s: Settings, out: _Out) -> None:
    argv = [w.lower() for w in c.argv]
    if c.name == "gh":
        if argv[1:3] == ["gist", "create"] or argv[1:3] == ["release", "upload"]:
            for w in c.argv[3:]:
                kind = _sensitive(w) if not w.startswith("-") else None
                if kind:
                    out.add("critical", f"sensitive file ({kind}) published with gh {argv[1]}", c.raw)
        return
    if not any(w in ("cp", "mv", "sync", "copy", "upload", "move", "rsync") for w in argv[1:4]):
        return
    for w in c.argv[2:]:
        if w.startswith("-") or "://" in w:
            continue
        kind = _sensitive(w)
        if kind:
            out.add("critical", f"sensitive file ({kind}) copied to cloud storage by {c.name}", c.raw)


def _git(
    c: Any, remotes: dict[int, list[tuple[str, str, str]]], s: Settings, out: _Out, staged: dict[str, Any]
) -> None:
    argv = c.argv
    key = id(c.text)
    if len(argv) >= 3 and argv[1] == "add":
        for w in argv[2:]:
            kind = _sensitive(w) if not w.startswith("-") else None
            if kind and kind not in ("home_dir", "root_dir"):
                staged[f"git:{key}"] = ("critical", f"sensitive file ({kind}) committed")
        return
    if len(argv) >= 2 and argv[1] == "push" and f"git:{key}" in staged:
        out.add("critical", f"{staged[f'git:{key}'][1]} and pushed", c.raw)
    if argv[1:3] in (("remote", "add"), ("remote", "set-url")) and len(argv) >= 5:
        url = argv[-1]
        remotes.setdefault(key, []).append((argv[-2], url, c.raw))
        return
    if len(argv) >= 2 and argv[1] == "push":
        ops = [w for w in argv[2:] if not w.startswith("-")]
        added = remotes.get(key, [])
        target = ops[0] if ops else "origin"
        for name, url, raw in added:
            if name == target or (not ops and name == "origin"):
                host = _git_host(url)
                if host and _allowed(host, s):
                    return
                out.add("high", f"repository pushed to a newly set remote {host or url}", f"{raw} && {c.raw}")
                return
        if "://" in target or "@" in target:
            host = _git_host(target)
            if host and s.allowed_hosts and not _allowed(host, s):
                out.add("high", f"repository pushed to {host}, outside the allowed hosts", c.raw)


def _git_host(url: str) -> str:
    if "://" in url:
        parts = split_url(url)
        return canonical_host(parts[-1].host) if parts else ""
    if "@" in url and ":" in url:  # git@host:owner/repo
        return canonical_host(url.split("@", 1)[1].split(":", 1)[0])
    return ""


def _serves_files(o: Any) -> bool:
    """A local file server (``python -m http.server``, ``http-server``, ``php -S``) that a tunnel could expose."""
    argv = o.argv
    if "http.server" in argv or "SimpleHTTPServer" in argv:
        return True
    if o.name in ("http-server", "serve", "webfsd") or (o.name == "php" and "-S" in argv):
        return any(_sensitive(w) in ("home_dir", "root_dir") for w in argv[1:8])
    return False


def _tunnel(c: Any, served: list[Any], out: _Out) -> None:
    exposes = [w for w in c.argv[1:] if w.startswith("file:") or _sensitive(w) in ("home_dir", "root_dir")]
    others = [o for o in served if o is not c]
    if exposes or others:
        what = exposes[0] if exposes else others[0].raw
        out.add("high", f"local files exposed to the internet through a tunnel ({c.name})", f"{c.raw} [{what}]")


# --- D: code and SQL texts ---------------------------------------------------------------------------------------


_CODE_KEYS = frozenset(
    {"code", "script", "sql", "query_code", "source_code", "program", "snippet", "python", "js", "javascript",
     "source", "statement", "expression"}
)  # fmt: skip
_CODE_RUNNERS = frozenset(
    {"python", "python2", "python3", "pypy", "pypy3", "node", "nodejs", "deno", "bun", "perl", "ruby", "php",
     "psql", "mysql", "sqlite3", "powershell", "pwsh", "osascript", "lua", "java", "jshell", "groovy"}
)  # fmt: skip


def _code_flows(a: Analysis, eps: list[Endpoint], cmds: list[Any], s: Settings, out: _Out) -> None:
    """Code handed to an interpreter or a database that sends the whole environment, a sensitive file or a
    query's output over the network (``requests.post(url, json=dict(os.environ))``, ``COPY ... TO PROGRAM``)."""
    code_texts = {id(t) for t in a.texts if t.key in _CODE_KEYS}
    if cmds:
        for c in cmds:
            if c.name in _CODE_RUNNERS:
                code_texts.add(id(c.text))
    if not code_texts:
        return
    by_text: dict[int, list[Endpoint]] = {}
    for e in eps:
        if e.host and id(e.text) in code_texts:
            by_text.setdefault(id(e.text), []).append(e)
    quiet = _quiet_programs(a)
    for t in a.texts:
        if id(t) not in code_texts or id(t) in quiet:
            continue
        low = t.folded
        if len(low) < 12 or not any(w in low for w in _CODE_NET):
            continue
        hosts = by_text.get(id(t), [])
        open_hosts = [e.host for e in hosts if not _allowed(e.host, s)]
        if hosts and not open_hosts:
            continue
        raw_socket = any(w in low for w in _RAW_SEND)
        if not open_hosts and not raw_socket and not any(w in low for w in _SQL_OUT):
            continue
        where = open_hosts[0] if open_hosts else "a remote host"
        if any(w in low for w in _SQL_OUT):
            out.add("critical", f"database output sent to {where}", t.norm)
            continue
        if any(w in low for w in _ENV_WHOLE):
            out.add("critical", f"the whole environment sent to {where} from code", t.norm)
            continue
        for tok in low.replace("'", " ").replace('"', " ").replace("(", " ").replace(")", " ").split()[:2000]:
            if ("/" in tok or tok.startswith(".")) and "://" not in tok:
                kind = _sensitive(tok.strip(",;"))
                if kind and kind not in ("home_dir", "root_dir"):
                    out.add("critical", f"sensitive file ({kind}) sent to {where} from code", t.norm)
                    break


def _quiet_programs(a: Analysis) -> set[int]:
    """Texts that are whole programs the code analysis read to the end and found no network call, process, remote
    shell or code built at run time in: the word test of ``_code_flows`` (``socket`` beside ``os.environ``) would
    only guess what the parse shows does not happen (``socket.gethostname()`` then ``print(dict(os.environ))``)."""
    quiet: set[int] = set()
    loud: set[int] = set()  # a text with any other piece of code in it (a shell line in a notebook cell) is not
    for ct in a.code:
        f = ct.facts
        busy = f.sends or f.shells or f.flows or f.spawns or f.dynamic or f.downloads or f.decoded
        if ct.origin != "command" and f.parsed and not f.truncated and not busy:
            quiet.add(id(ct.text))
        else:
            loud.add(id(ct.text))
    return quiet - loud


def _truncated_flows(a: Analysis, cmds: list[Any], out: _Out) -> None:
    """A command text too large or complex to parse completely: judge it by what it names (fail closed)."""
    for t in {id(c.text): c.text for c in cmds}.values():
        low = t.folded
        if not any(w in low for w in ("curl", "wget", "nc ", "ncat", "socat", "/dev/tcp", "scp ", "http", "dig ")):
            continue
        for tok in low.translate(_CODE_SPLIT).split()[:20000]:
            kind = _sensitive(tok) if ("/" in tok or tok.startswith(".")) and "://" not in tok else None
            if kind and kind not in ("home_dir", "root_dir"):
                out.add("high", f"sensitive file ({kind}) named in a network command too large to analyse", tok)
                return


_CODE_SPLIT = str.maketrans({c: " " for c in "'\"()|;&<>`$={}"})


# --- E: code analysed as a program (``Analysis.code``) -----------------------------------------------------------

#: Trees outside any workspace whose files describe the machine or its users: read and sent out, they leak it.
_SYSTEM_TREES = ("/etc/", "/proc/", "/sys/", "/root/", "/var/log/", "/var/lib/", "/var/spool/", "/boot/", "/home/",
                 "/users/", "c:/windows/", "c:/users/", "c:/programdata/")  # fmt: skip
#: Recon programs that print a file: their output is judged by the file they read.
_FILE_READERS = frozenset({"cat", "head", "tail", "base64", "xxd", "od", "hexdump", "strings", "gzip", "tar", "zip"})
#: Network calls that carry raw bytes to a host (not an HTTP client): judged by scope like ``nc``.
#: Sends that write bytes to a socket with no protocol of their own.
_RAW_SOCKETS = ("socket", "sock", "conn.send", "net.", "tls.", "dgram")
_RAW_APIS = ("socket", "conn.send", "sock", "smtplib", "ftplib", "paramiko", "telnetlib", "net.", "tls.", "dgram")


def _code_dest(dest: str | None) -> str:
    """The host of a send's destination (a URL, ``host`` or ``host:port``), canonical; ``""`` when not literal."""
    if not dest:
        return ""
    if "://" in dest:
        parts = split_url(dest)
        return canonical_host(parts[-1].host) if parts and parts[-1].host else ""
    host = dest.strip().split("/", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("[") and "]" in host:
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return canonical_host(host) if host else ""


def _system_file(path: str, workspace: str | None) -> bool:
    """A file outside the workspace that belongs to the system or a user (``/etc/group``, ``/proc/...``)."""
    p = path.strip().replace("\\", "/").lower()
    if p.startswith("~"):
        return True
    if workspace and p.startswith(workspace.rstrip("/").lower() + "/"):
        return False
    return p.startswith(_SYSTEM_TREES)


def _recon_output(source: str) -> str | None:
    """What a ``cmd:<command>`` source reveals: a sensitive file it prints, or the machine's facts (``whoami``)."""
    words = source[4:].replace("'", " ").replace('"', " ").split()[:64]
    for w in words:
        kind = _sensitive(w) if ("/" in w or w.startswith(("~", "."))) else None
        if kind and kind not in ("home_dir", "root_dir"):
            return f"sensitive file ({kind})"
    prog = words[0].rsplit("/", 1)[-1] if words else ""
    if prog in _RECON and prog not in _FILE_READERS:
        return f"output of {words[0]}"
    return None


def _code_source(src: str, api: str, host: str, s: Settings, sink: str | None) -> tuple[str, str] | None:
    """``(severity, what)`` for data from ``src`` (a ``CodeFacts`` flow source) sent by ``api`` to ``host``."""
    if src == "environ":
        return "critical", "the whole environment"
    if src.startswith("env:"):
        name = src[4:]
        for prefix, provider in _ENV_PROVIDERS:
            if name.upper().startswith(prefix) and host and _provider_ok(provider, host):
                return None  # a provider's credential sent to the provider: credential use
        if s.allowed_hosts or sink or not host or api.startswith(_RAW_APIS):
            return "high", f"secret environment variable {name}"
        return None  # an API key read from the environment and sent with the request it authorises
    if src.startswith("cmd:"):
        what = _recon_output(src)
        if what:
            return ("critical" if what.startswith("sensitive") else "high"), what
        return ("high", f"output of {src[4:44]}") if s.allowed_hosts else None
    if src.startswith("file:"):
        path = src[5:]
        kind = _sensitive(path) if path != "?" else None
        if kind and kind not in ("home_dir", "root_dir"):
            return "critical", f"sensitive file ({kind})"
        if path != "?" and _system_file(path, s.workspace):
            return "high", f"system file {path[:80]}"
        if s.allowed_hosts or sink:
            return "high", f"file {path[:80]}"
        if host and _bare_destination(api, host):
            return "high", f"file {path[:80]}"
    return None


def _bare_destination(api: str, host: str) -> bool:
    """A destination no ordinary upload of a file uses: a raw socket to another machine (no protocol, just the
    bytes), or a public address written as a bare IP (services are reached by name)."""
    info = classify_host(host)
    if info.loopback:
        return False
    return api.startswith(_RAW_SOCKETS) or (info.ip is not None and not info.internal)


def _program_flows(facts: CodeFacts) -> list[tuple[str, str | None, str]]:
    """Read-to-send pairs of code read at the level of calls (JavaScript, PowerShell): each sensitive or system
    file read, the environment, paired with each send of the same program (no data flow is tracked there)."""
    if not facts.sends:
        return []
    sources = [f"file:{r.path}" for r in facts.reads if r.path]
    return [(src, send.destination, send.api) for send in facts.sends[:16] for src in sources[:16]]


def _code_facts_flows(a: Analysis, s: Settings, out: _Out) -> None:
    """Judge code by what it does: a read of a sensitive or system file, the environment or a command's output
    reaching a network send (whatever the destination, unless it is allowed), reverse and bind shells, raw
    sockets to hosts outside the allowed set."""
    for ct in a.code:
        facts = ct.facts
        for sh in facts.shells:
            where = f"{sh.host}:{sh.port}" if sh.host else f"port {sh.port}" if sh.port else "the network"
            out.add("critical", f"{sh.kind} shell from code ({where})", ct.source)
        flows: list[tuple[str, str | None, str]] = [(f.source, f.destination, f.api) for f in facts.flows]
        if ct.language != "python":
            flows.extend(_program_flows(facts))
        for src, dest, api in flows:
            host = _code_dest(dest)
            if host and _allowed(host, s):
                continue
            sink = sink_kind(host) if host else None
            judged = _code_source(src, api, host, s, sink)
            if judged:
                out.add(judged[0], f"{judged[1]} sent to {host or 'a remote host'} from code", f"{api}: {ct.source}")
        if s.allowed_hosts:
            for send in facts.sends:
                host = _code_dest(send.destination)
                raw = host and send.api.startswith(_RAW_APIS) and not _allowed(host, s)
                if raw and not classify_host(host).loopback:
                    out.add("high", f"raw socket to {host}, outside the allowed hosts", ct.source)


def check(a: Analysis, s: Settings) -> list[Violation]:
    """Violations for data that matters flowing to a destination outside ``Settings.allowed_hosts``."""
    if not a.texts:
        return []
    out = _Out()
    eps = a.endpoints
    for ep in eps:
        if ep.host and (ep.query or len(ep.path) >= 16 or len(ep.host) > 40 or ep.context != "prose"):
            _url_flows(ep, s, out)
    _payload_flows(a, eps, s, out)
    cmds = _commands(a)
    if cmds:
        _shell_flows(a, cmds, s, out)
        if a.shell_truncated:
            _truncated_flows(a, cmds, out)
    _code_flows(a, eps, cmds, s, out)
    _code_facts_flows(a, s, out)
    items = out.items
    if len(items) > 1:
        items.sort(key=_not_critical)
    return items


def _not_critical(v: Violation) -> bool:
    return v.severity != "critical"
