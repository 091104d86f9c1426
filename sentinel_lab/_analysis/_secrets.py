"""Secrets in text: private keys, cloud and SaaS tokens, JWTs, password/API-key assignments, card numbers, and
environment dumps. Each finding has a ``kind`` and a redacted ``preview`` (the secret itself is never kept).

Detection is linear: one tokenisation pass (``str.translate`` + ``split``) with prefix tests per token, bounded
``str.find`` loops for keywords, and two single-class regular expressions with bounded repetition (card-number
runs, dotted JWT parts) that cannot backtrack catastrophically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sentinel_lab import _vocab as vocab

__all__ = ["STRONG_KINDS", "TOKEN_PREFIXES", "Secret", "find_secrets", "has_secret", "luhn", "preview"]

MAX_FINDINGS = 32
MAX_CANDIDATES = 512  # near-matches examined per detector and text; bounds the work on adversarial input
_MAX_VALUE = 256


@dataclass(frozen=True, slots=True)
class Secret:
    """One secret found in a text: ``kind`` (e.g. ``aws_access_key``), its span, and a redacted preview.

    ``strong`` is true for formats that are unmistakably credentials (a key block, an ``AKIA`` key id); weak
    findings (a ``password=`` assignment, a Luhn-valid card number) depend more on context.
    """

    kind: str
    start: int
    end: int
    preview: str
    strong: bool = True


def preview(value: str) -> str:
    """A safe preview of one secret: a short prefix so a reader can tell what it was, the rest hidden.

    ``AKIA…(20 chars)``. Used for ``Secret.preview``; whole records are redacted by ``_audit.redact_for_log``.
    """
    keep = 4 if len(value) >= 12 else 1
    return f"{value[:keep]}…({len(value)} chars)"


# Token prefixes with the kind, minimum total length, and allowed body characters.
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM_ = _ALNUM | frozenset("_-")
_B64URL = _ALNUM_ | frozenset("=")
_UPPER_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_PREFIXES: tuple[tuple[str, str, int, frozenset[str]], ...] = (
    ("ghp_", "github_token", 36, _ALNUM),
    ("gho_", "github_token", 36, _ALNUM),
    ("ghu_", "github_token", 36, _ALNUM),
    ("ghs_", "github_token", 36, _ALNUM),
    ("ghr_", "github_token", 36, _ALNUM),
    ("github_pat_", "github_token", 50, _ALNUM_),
    ("glpat-", "gitlab_token", 26, _ALNUM_),
    ("xoxb-", "slack_token", 20, _ALNUM_),
    ("xoxp-", "slack_token", 20, _ALNUM_),
    ("xoxa-", "slack_token", 20, _ALNUM_),
    ("xoxr-", "slack_token", 20, _ALNUM_),
    ("xoxs-", "slack_token", 20, _ALNUM_),
    ("xoxe-", "slack_token", 20, _ALNUM_),
    ("xapp-", "slack_token", 20, _ALNUM_),
    ("sk_live_", "stripe_key", 24, _ALNUM),
    ("rk_live_", "stripe_key", 24, _ALNUM),
    ("sk_test_", "stripe_test_key", 24, _ALNUM),
    ("whsec_", "stripe_key", 30, _ALNUM),
    ("sk-ant-", "anthropic_key", 40, _ALNUM_),
    ("sk-proj-", "openai_key", 40, _ALNUM_),
    ("sk-svcacct-", "openai_key", 40, _ALNUM_),
    ("sk-", "openai_key", 32, _ALNUM_),
    ("AIza", "google_api_key", 39, _ALNUM_),
    ("ya29.", "gcp_oauth_token", 30, _ALNUM_ | frozenset(".")),
    ("npm_", "npm_token", 40, _ALNUM),
    ("pypi-AgE", "pypi_token", 60, _ALNUM_),
    ("hf_", "huggingface_token", 34, _ALNUM),
    ("dop_v1_", "digitalocean_token", 60, _ALNUM),
    ("shpat_", "shopify_token", 38, _ALNUM),
    ("SG.", "sendgrid_key", 60, _ALNUM_ | frozenset(".")),
    ("glsa_", "grafana_token", 40, _ALNUM_),
)
_PREFIX_HEADS = tuple(p[0] for p in _PREFIXES)
_AWS_KEY_HEADS = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA")
#: How known credential formats begin (cloud, SaaS and package-registry tokens, AWS key ids): the one catalogue.
TOKEN_PREFIXES: tuple[str, ...] = (*_PREFIX_HEADS, *_AWS_KEY_HEADS)
_TOKEN_SPLIT = str.maketrans({c: " " for c in "\"'`,;()[]{}<>|&=:?#/\\*!\n\r\t"})

# Keywords whose assignment (``key=value``, ``"key": "value"``) carries a secret value.
_ASSIGN_KEYWORDS: tuple[tuple[str, str, int], ...] = (
    ("password", "password", 6),
    ("passwd", "password", 6),
    ("passphrase", "password", 6),
    ("pwd", "password", 6),
    ("secret", "api_key", 8),
    ("secret_key", "api_key", 8),
    ("api_key", "api_key", 8),
    ("apikey", "api_key", 8),
    ("api-key", "api_key", 8),
    ("access_key", "api_key", 8),
    ("private_key", "api_key", 16),
    ("client_secret", "api_key", 8),
    ("token", "api_key", 12),
    ("credential", "api_key", 8),
    ("credentials", "api_key", 8),
    ("aws_secret_access_key", "aws_secret_key", 30),
)
_ASSIGN_KEYWORDS = tuple(sorted(_ASSIGN_KEYWORDS, key=lambda k: -len(k[0])))  # longest (most specific) first
_PLACEHOLDER_WORDS = ("changeme", "placeholder", "redacted", "dummy", "your_", "your-", "<", "xxx")
_IDENT_DOT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")
_PLACEHOLDERS = vocab.words("secret_placeholders")
_PLACEHOLDER_HEADS = ("$", "{", "<", "%", "*", "[", "(", "your", "my_", "my-", "os.", "env", "process.",
                      "getenv", "secrets.", "vault:", "ref+", "file:", "@")  # fmt: skip

_VALUE_RE = re.compile(r"[^ \t\r\n\"'`,;&)}\]<>]*")  # one negated class: linear
_AUTH_STOP = frozenset(" \t\r\n\"'`/?#<>")
_CARD_RE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_ENV_HINTS = ("PATH=", "HOME=", "USER=", "SHELL=", "HOSTNAME=", "PWD=", "LANG=", "TERM=", "LOGNAME=")
_SECRET_NAME_PARTS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE",
                      "CREDENTIAL", "AUTH")  # fmt: skip

#: Kinds that are credentials by their format alone.
STRONG_KINDS = frozenset(
    {"private_key", "aws_access_key", "aws_secret_key", "github_token", "gitlab_token", "slack_token",
     "stripe_key", "anthropic_key", "openai_key", "google_api_key", "gcp_oauth_token", "gcp_service_account",
     "azure_storage_key", "azure_sas", "npm_token", "pypi_token", "huggingface_token", "digitalocean_token",
     "shopify_token", "sendgrid_key", "grafana_token", "jwt", "env_dump", "connection_string"}
)  # fmt: skip

_TRIGGERS = (
    "-----BEGIN", "PuTTY-User-Key", *_AWS_KEY_HEADS, "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    "glpat-", "xox", "xapp-", "_live_", "sk_test_", "whsec_", "sk-", "AIza", "ya29.", "npm_", "pypi-", "hf_",
    "dop_v1_", "shpat_", "SG.", "glsa_", "eyJ", "ccountKey", "sig=", "service_account",
)  # fmt: skip
_LOWER_TRIGGERS = ("pass", "pwd", "secret", "key", "token", "credential")


class _Out:
    __slots__ = ("items", "spans")

    def __init__(self) -> None:
        self.items: list[Secret] = []
        self.spans: set[tuple[int, int]] = set()

    def add(self, kind: str, start: int, end: int, value: str) -> None:
        """Record a finding once per span, keeping only its redacted preview."""
        if len(self.items) < MAX_FINDINGS and (start, end) not in self.spans:
            self.spans.add((start, end))
            self.items.append(Secret(kind, start, end, preview(value), kind in STRONG_KINDS))


def _private_keys(text: str, out: _Out) -> None:
    """Key blocks, found from their ``PRIVATE KEY-----`` label so that decoy ``-----BEGIN`` lines cost nothing."""
    pos = 0
    while len(out.items) < MAX_FINDINGS:
        j = text.find("PRIVATE KEY", pos)
        if j == -1:
            break
        pos = j + 11
        begin = text.rfind("-----BEGIN ", max(0, j - 40), j)
        if begin == -1:
            continue
        stop = text.find("-----END", pos, pos + 20000)
        end = stop if stop != -1 else min(len(text), pos + 200)
        out.add("private_key", begin, end, text[begin:end])
        pos = max(pos, end)
    i = text.find("PuTTY-User-Key-File")
    if i != -1 and "Private-Lines" in text:
        out.add("private_key", i, i + 19, text[i : i + 40])


def _tokens(text: str, out: _Out) -> None:
    cleaned = text.translate(_TOKEN_SPLIT)
    pos = 0
    for tok in [t for t in cleaned.split() if len(t) >= 20]:
        n = len(tok)
        start = text.find(tok, pos)
        if start != -1:
            pos = start + n
        if n == 20 and tok.startswith(_AWS_KEY_HEADS) and set(tok) <= _UPPER_ALNUM:
            out.add("aws_access_key", start, start + n, tok)
            continue
        if tok.startswith("eyJ") and tok.count(".") == 2:
            head, body, sig = tok.split(".")
            if len(head) >= 10 and body.startswith("eyJ") and len(sig) >= 8 and set(tok) <= _B64URL | {"."}:
                out.add("jwt", start, start + n, tok)
                continue
        if tok.startswith(_PREFIX_HEADS):
            for head, kind, minimum, chars in _PREFIXES:
                if tok.startswith(head):
                    body = tok[len(head) :]
                    if n >= minimum and set(body) <= chars and any(c.isdigit() for c in body):
                        out.add(kind, start, start + n, tok)
                    break


def _assignments(text: str, low: str, out: _Out) -> None:
    starts: set[int] = set()
    for kw, kind, min_len in _ASSIGN_KEYWORDS:
        pos = 0
        for _ in range(MAX_CANDIDATES):
            if len(out.items) >= MAX_FINDINGS:
                break
            i = low.find(kw, pos)
            if i == -1:
                break
            pos = i + len(kw)
            j = pos
            # The keyword must end the key: "token_type" and "tokens" are other keys.
            if j < len(low) and low[j] in _KEY_CHARS:
                continue
            k = j
            while k < len(low) and k - j < 4 and low[k] in "\"' \t":
                k += 1
            if k >= len(low) or low[k] not in "=:":
                continue
            k += 1
            if k < len(low) and low[k] == "=":  # "==" is a comparison
                continue
            while k < len(low) and k - j < 12 and low[k] in "\"' \t":
                k += 1
            m = _VALUE_RE.match(text, k, min(len(text), k + _MAX_VALUE))
            e = m.end() if m else k
            pos = max(pos, e)  # a keyword inside this value is not an assignment of its own
            value = text[k:e]
            if k not in starts and _real_value(value, min_len, kind):
                starts.add(k)
                out.add(kind, i, e, value)


def _real_value(value: str, min_len: int, kind: str) -> bool:
    """A literal secret value, not a placeholder, a reference (``$VAR``, ``os.environ[...]``) or a word."""
    if len(value) < min_len:
        return False
    low = value.lower()
    if low in _PLACEHOLDERS or low.startswith(_PLACEHOLDER_HEADS) or len(set(low)) <= 2:
        return False
    if low.endswith((")", "[", "(")) or "..." in low or "xxxx" in low or "****" in low or "${" in low:
        return False
    if "." in low and set(low) <= _IDENT_DOT:  # self.password, config.db.pw: a reference in code
        return False
    if any(w in low for w in _PLACEHOLDER_WORDS):
        return False
    has_digit = any(c.isdigit() for c in value)
    if kind == "password":
        return has_digit or not value.isalpha() or len(value) >= 12
    return has_digit and len(set(value)) >= 6


def luhn(digits: str) -> bool:
    """The Luhn checksum of a string of digits holds (card numbers): the one test the audit log uses too."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand(d: str) -> bool:
    two, four = int(d[:2]), int(d[:4])
    return (
        d[0] == "4"
        or 51 <= two <= 55
        or 2221 <= four <= 2720
        or two in (34, 37, 36, 38, 62, 65)
        or four == 6011
        or 644 <= int(d[:3]) <= 649
        or 3528 <= four <= 3589
        or 300 <= int(d[:3]) <= 305
    )


def _cards(text: str, out: _Out) -> None:
    for n, m in enumerate(_CARD_RE.finditer(text)):
        if n >= MAX_CANDIDATES:
            break
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
            continue
        seps = {c for c in raw if not c.isdigit()}
        if len(seps) > 1:
            continue
        if _card_brand(digits) and luhn(digits):
            out.add("credit_card", m.start(), m.end(), raw)
        if len(out.items) >= MAX_FINDINGS:
            break


def _env_dump(text: str, out: _Out) -> None:
    if text.count("=") < 4:
        return
    lines = text.replace("\0", "\n").split("\n", 4000)
    names = 0
    common = 0
    secretish = 0
    for line in lines[:4000]:
        s = line.strip()
        if s.startswith(("export ", "declare -x ")):
            s = s.split(" ", 2)[-1]
        name, eq, _ = s.partition("=")
        if not eq or not name or len(name) > 64 or not name.replace("_", "A").isalnum() or not name.isupper():
            continue
        names += 1
        if name + "=" in _ENV_HINTS:
            common += 1
        if any(p in name for p in _SECRET_NAME_PARTS):
            secretish += 1
    if names >= 4 and (common >= 2 or secretish >= 1):
        out.add("env_dump", 0, len(text), text[:40])


def _cloud_blobs(text: str, out: _Out) -> None:
    i = text.find("ccountKey=")
    if i != -1:
        k = i + 10
        e = k
        while e < len(text) and e - k < 120 and (text[e].isalnum() or text[e] in "+/="):
            e += 1
        if e - k >= 80:
            out.add("azure_storage_key", i - 1, e, text[k:e])
    i = text.find("sig=")
    if i != -1 and "sv=" in text and ("se=" in text or "sp=" in text):
        e = i + 4
        while e < len(text) and e - i < 120 and text[e] not in "&\"' \n":
            e += 1
        if e - i >= 30:
            out.add("azure_sas", i, e, text[i:e])
    if '"service_account"' in text and "private_key" in text:
        j = text.find('"service_account"')
        out.add("gcp_service_account", j, j + 17, text[j : j + 40])


def _url_passwords(text: str, out: _Out) -> None:
    """``scheme://user:password@host`` (database URLs, git remotes with tokens)."""
    pos = 0
    for _ in range(MAX_CANDIDATES):
        i = text.find("://", pos)
        if i == -1:
            break
        pos = i + 3
        end = i + 3
        limit = min(len(text), end + 300)
        while end < limit and text[end] not in _AUTH_STOP:
            end += 1
        at = text.rfind("@", i + 3, end)
        if at == -1:
            continue
        userinfo = text[i + 3 : at]
        _user, colon, password = userinfo.partition(":")
        if colon and len(password) >= 4 and _real_value(password, 4, "password"):
            out.add("connection_string", i + 3, at, password)


def find_secrets(text: str) -> list[Secret]:
    """All secrets in ``text`` (at most ``MAX_FINDINGS``), in order of detection. Cheap when there are none."""
    if len(text) < 8:
        return []
    out = _Out()
    has_trigger = any(t in text for t in _TRIGGERS)
    if has_trigger:
        if "-----BEGIN" in text or "PuTTY" in text:
            _private_keys(text, out)
        _tokens(text, out)
        _cloud_blobs(text, out)
    low = text.lower()
    if len(low) == len(text) and any(t in low for t in _LOWER_TRIGGERS):
        _assignments(text, low, out)
    if "=" in text:
        _env_dump(text, out)
    if "://" in text and "@" in text:
        _url_passwords(text, out)
    if len(text) >= 13 and _CARD_RE.search(text):
        _cards(text, out)
    return out.items


def has_secret(text: str, *, strong_only: bool = False) -> bool:
    """True when ``text`` holds a secret (only format-certain kinds with ``strong_only``)."""
    found = find_secrets(text)
    return any(s.strong for s in found) if strong_only else bool(found)
