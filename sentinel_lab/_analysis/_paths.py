"""File-system paths found in an action's arguments, canonicalised and judged against the workspace.

A path is decoded (percent, double percent, ``%uXXXX``, overlong UTF-8), cut at a null byte, stripped of a
``file://`` scheme, converted from Windows forms (drive letters, ``\\\\?\\``, UNC, mixed separators), expanded
(``~``, ``~user``), and resolved lexically component by component, treating the filter-bypass forms ``....``
and ``..;`` as ``..`` and ``/proc/<pid>/root`` as ``/``. Relative paths are anchored at a ``cwd`` argument
inside the workspace, else at the workspace, else left unanchored (``resolved`` is None) while still counting
how far their ``..`` climbs. Everything is linear in the length of the input; no regular expressions.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from sentinel_lab import _vocab as vocab
from sentinel_lab._analysis._texts import Text
from sentinel_lab._text.glob import GLOB_CHARS, Glob

if TYPE_CHECKING:
    from sentinel_lab._analysis import Analysis

__all__ = [
    "COMMAND_KEYS",
    "CWD_KEYS",
    "PATH_KEYS",
    "PROSE_KEYS",
    "Canon",
    "PathRef",
    "canonical",
    "decode_path",
    "is_under",
    "paths_of",
    "sensitive_dir_kind",
    "sensitive_kind",
]

#: Keys whose value is a path (compared lower-case); keys ending in one of _PATH_SUFFIXES count too.
PATH_KEYS = vocab.words("path_keys")
_PATH_SUFFIXES = ("path", "_file", "_dir", "directory", "folder", "filename", "_paths", "_files", "_dirs")
#: Keys that name the working directory: relative paths in the same call are anchored there.
CWD_KEYS = frozenset({"cwd", "workdir", "working_dir", "working_directory", "current_dir", "chdir"})
#: Keys holding prose or data (message bodies, file contents): never scanned for paths (nothing is opened).
#: Search terms and data bodies join people's prose here: a pattern or a payload names no file to open.
PROSE_KEYS = vocab.words("prose_keys") | vocab.words("search_keys") | {"data", "payload"}

_HOME = os.path.expanduser("~") if os.path.expanduser("~").startswith("/") else "/root"
_HEX = frozenset("0123456789abcdefABCDEF")
# Overlong UTF-8 spellings of '.', '/', '\\' and NUL (never valid UTF-8; classic filter bypasses).
_OVERLONG = (
    (b"\xf0\x80\x80\xae", b"."),
    (b"\xf0\x80\x80\xaf", b"/"),
    (b"\xe0\x80\xae", b"."),
    (b"\xe0\x80\xaf", b"/"),
    (b"\xe0\x81\x9c", b"\\"),
    (b"\xc0\xae", b"."),
    (b"\xc0\xaf", b"/"),
    (b"\xc1\x9c", b"\\"),
    (b"\xc1\x1c", b"\\"),
    (b"\xc0\x2f", b"/"),
    (b"\xc0\x5c", b"\\"),
    (b"\xc0\x2e", b"."),
    (b"\xc0\x80", b"\x00"),
)
# Slash and dot look-alikes that NFKC leaves alone.
_LOOKALIKES = str.maketrans({"\u2215": "/", "\u2044": "/", "\u29f5": "\\", "\u29f8": "/", "\u2216": "\\"})
_QUOTES = "\"'`"
_TOKEN_SEPARATORS = str.maketrans({c: " " for c in "\"'`;|&<>(),=\t\r\n{}[]"})
# Windows reserves these; ``..`` followed by dots/spaces/semicolons is read as ``..`` by some servers.
_DOTDOT_JUNK = ". ;"
#: socat address types that name a file: ``OPEN:PATH`` in a command opens PATH.
_FILE_ADDRESS_TYPES = frozenset(t for t, kind in vocab.mapping("socat_address_types").items() if kind == "file")
_CD_WORDS = frozenset({"cd", "pushd", "chdir", "-C", "--directory", "Set-Location", "sl"})
# Variables that name the home directory, in the shells an agent meets.
_HOME_VARS = (
    "$HOME/",
    "${HOME}/",
    "$HOME",
    "${HOME}",
    "%USERPROFILE%",
    "%HOMEPATH%",
    "$env:USERPROFILE",
    "$env:HOME",
    "$home",
)
_SYSTEM_DIRS = frozenset({"etc", "root", "proc", "sys", "boot", "dev", "var", "usr", "bin", "sbin", "home"})
_URL_SCHEMES = ("http://", "https://", "ftp://", "ftps://", "ws://", "wss://")


def _pct_once(s: str) -> str:
    """Decode one layer of ``%XX`` and ``%uXXXX`` escapes, reading the bytes as lenient UTF-8."""
    pieces = s.split("%")
    out = bytearray(pieces[0].encode("utf-8", "surrogatepass"))
    for piece in pieces[1:]:
        if len(piece) >= 2 and piece[0] in _HEX and piece[1] in _HEX:
            out.append(int(piece[:2], 16))
            out += piece[2:].encode("utf-8", "surrogatepass")
        elif len(piece) >= 5 and piece[0] in "uU" and all(c in _HEX for c in piece[1:5]):
            out += chr(int(piece[1:5], 16)).encode("utf-8", "surrogatepass")
            out += piece[5:].encode("utf-8", "surrogatepass")
        else:
            out += b"%" + piece.encode("utf-8", "surrogatepass")
    raw = bytes(out)
    if any(b in raw for b in (b"\xc0", b"\xc1", b"\xe0\x80", b"\xe0\x81", b"\xf0\x80")):
        for bad, good in _OVERLONG:
            raw = raw.replace(bad, good)
    return raw.decode("utf-8", "replace")


def decode_path(s: str) -> tuple[str, bool]:
    """Undo up to three layers of percent encoding (double encoding included); return (text, was_encoded)."""
    encoded = False
    for _ in range(3):
        if "%" not in s:
            break
        nxt = _pct_once(s)
        if nxt == s:
            break
        s, encoded = nxt, True
    if not s.isascii():
        t = s.translate(_LOOKALIKES)
        if t != s:
            s, encoded = t, True
    return s, encoded


class Canon(NamedTuple):
    """The lexical resolution of one path string (see ``canonical``)."""

    parts: tuple[str, ...]  # resolved components (anchor included when anchored)
    absolute: bool  # the input was absolute (or anchored); ``parts`` start at a root
    anchored: bool  # relative input that was anchored at a base
    windows: bool
    root: str  # "/" for POSIX, "c:/" for a drive, "//" for UNC
    dotdot: bool  # used ``..`` (or a disguised form)
    disguised: bool  # ``....``, ``..;`` or similar filter-bypass spellings of ``..``
    above: int  # ``..`` steps that had nothing left to pop (climbed above the root or the anchor)
    min_depth: int  # the shallowest depth reached while resolving (0 = the root itself)
    first_up_depth: int  # depth just before the first ``..`` (-1 when there was none)
    null_byte: bool
    encoded: bool
    file_url: bool
    proc_root: bool  # went through /proc/<pid>/root or /proc/<pid>/cwd

    @property
    def resolved(self) -> str | None:
        """The canonical absolute path, or None for an unanchored relative path."""
        if not self.absolute:
            return None
        return self.root + "/".join(self.parts)

    @property
    def relative(self) -> str:
        """The resolved components joined (for unanchored paths: what is left after ``..``)."""
        return "/".join(self.parts)


def _strip_file_url(s: str) -> tuple[str, bool]:
    low = s[:8].lower()
    if not low.startswith("file:"):
        return s, False
    rest = s[5:]
    if rest.startswith("//"):
        rest = rest[2:]
        if rest.startswith("/"):
            # file:///etc/passwd or file:///C:/Windows
            if len(rest) >= 3 and rest[2] in ":|" and rest[1].isalpha():
                return rest[1] + ":" + rest[3:], True
            return rest, True
        host, _, p = rest.partition("/")
        if host.lower() in ("", "localhost", "127.0.0.1", "::1", "[::1]"):
            return "/" + p, True
        return "//" + host + "/" + p, True
    return rest, True


def canonical(path: str, anchor: tuple[str, ...] | None = None, *, anchor_root: str = "/") -> Canon:
    """Resolve ``path`` lexically. ``anchor`` (resolved components) is where a relative path starts.

    Windows paths are compared case-insensitively: their components are lower-cased.
    """
    if _plain(path):
        return _canonical_plain(path, anchor, anchor_root)
    s, encoded = decode_path(path)
    null_byte = "\x00" in s
    if null_byte:
        s = s[: s.index("\x00")]
    s = s.strip().strip(_QUOTES)
    s, file_url = _strip_file_url(s)
    windows = False
    if s[:4] in ("\\\\?\\", "\\\\.\\", "//?/", "//./"):
        s = s[4:]
        windows = True
        if s[:4].upper() in ("UNC\\", "UNC/"):
            s = "\\\\" + s[4:]
    if "\\" in s:
        windows = True
        s = s.replace("\\", "/")
    root = "/"
    absolute = False
    if len(s) >= 2 and s[1] == ":" and s[0].isascii() and s[0].isalpha():
        windows = True
        root = s[0].lower() + ":/"
        s = s[2:]
        absolute = True  # ``C:foo`` is drive-relative; judged as rooted at the drive
    elif windows and s.startswith("//"):
        host, _, rest = s[2:].partition("/")
        root = "//" + host.lower() + "/"
        s = rest
        absolute = True
    elif s[:1] in "$%" and s.startswith(_HOME_VARS):
        s = "~" + s[s.index("/") :] if "/" in s else "~"
    if not absolute and s.startswith("~"):
        user, _sep, rest = s[1:].partition("/")
        if not user:
            home = _HOME
        elif user == "root":
            home = "/root"
        else:
            home = "/home/" + user
        s = home + "/" + rest
        absolute = True
    elif s.startswith("/"):
        absolute = True
    anchored = False
    if absolute:
        stack: list[str] = []
    elif anchor is not None:
        stack = list(anchor)
        root = anchor_root
        absolute = anchored = True
    else:
        stack = []
    base = len(stack)
    min_depth = base
    first_up = -1
    above = 0
    dotdot = disguised = proc_root = False
    for part in s.split("/"):
        if not part or part == ".":
            continue
        if windows:
            if ":" in part:
                part = part.split(":", 1)[0] or part  # NTFS alternate data stream: SAM::$DATA is SAM
            part = part.rstrip(" .").lower() or part  # Windows ignores trailing dots and spaces
        if part == "..":
            up = True
        elif part[:2] == ".." and not part.strip(_DOTDOT_JUNK):
            up = disguised = True  # '....', '...', '..;', '.. ' (filter bypasses, Windows trimming)
        else:
            up = False
        if up:
            if first_up < 0:
                first_up = len(stack)
            dotdot = True
            if stack:
                stack.pop()
            else:
                above += 1
            if len(stack) < min_depth:
                min_depth = len(stack)
            continue
        stack.append(part)
        if len(stack) == 3 and absolute and not anchored and root == "/" and stack[0] == "proc":
            pid, leaf = stack[1], stack[2]
            if (pid in ("self", "thread-self") or pid.isdigit()) and leaf in ("root", "cwd"):
                proc_root = True
                if leaf == "root" or anchor is None:
                    stack = []
                else:
                    stack = list(anchor)
                    root = anchor_root
    return Canon(
        tuple(stack),
        absolute,
        anchored,
        windows,
        root,
        dotdot,
        disguised,
        above,
        min_depth,
        first_up,
        null_byte,
        encoded,
        file_url,
        proc_root,
    )


_SPECIAL = frozenset("%$\\~\x00:;\"'` \t\r\n")


def _plain(path: str) -> bool:
    """An ASCII path with nothing to decode, expand or convert and no ``..``-like component."""
    return path.isascii() and bool(path) and ".." not in path and "/proc" not in path and _SPECIAL.isdisjoint(path)


def _canonical_plain(path: str, anchor: tuple[str, ...] | None, anchor_root: str) -> Canon:
    parts = [p for p in path.split("/") if p and p != "."]
    if path[0] == "/":
        return Canon(tuple(parts), True, False, False, "/", False, False, 0, 0, -1, False, False, False, False)
    if anchor is None:
        return Canon(tuple(parts), False, False, False, "/", False, False, 0, 0, -1, False, False, False, False)
    return Canon(
        (*anchor, *parts), True, True, False, anchor_root, False, False, 0, len(anchor), -1, False, False, False, False
    )


@lru_cache(maxsize=256)
def _root_parts(root: str) -> tuple[str, tuple[str, ...]] | None:
    c = canonical(root)
    if not c.absolute:
        return None
    return c.root, c.parts


def is_under(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or inside it, comparing whole components (so ``/w/project-secrets`` is
    not under ``/w/project``) after canonicalising both; relative paths are never under anything."""
    r = _root_parts(root)
    if r is None:
        return False
    c = canonical(path)
    if not c.absolute:
        return False
    return _under(c.root, c.parts, r[0], r[1])


def _under(root: str, parts: tuple[str, ...], wroot: str, wparts: tuple[str, ...]) -> bool:
    if root != wroot or len(parts) < len(wparts):
        return False
    if root == "/":
        return parts[: len(wparts)] == wparts
    return tuple(p.lower() for p in parts[: len(wparts)]) == tuple(p.lower() for p in wparts)


# --- sensitive files -----------------------------------------------------------------------------------------

_NAME_KINDS = vocab.mapping("secret_file_names")
_ETC_KINDS = vocab.mapping("etc_file_kinds")
_ENV_OK_SUFFIXES = frozenset({"example", "sample", "template", "dist", "defaults", "tmpl", "schema", "tpl", "in"})
_KEY_EXTS = (".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".kdbx", ".gpg", ".asc")
_BROWSERS = ("chrome", "chromium", "brave", "edge", "firefox", "mozilla", "opera", "vivaldi", "safari", "yandex")
_PROC_KINDS = {"environ": "proc_environ", "mem": "process_memory", "maps": None, "cmdline": None}
_HIVES = frozenset({"sam", "system", "security"})


@lru_cache(maxsize=8192)
def _sensitive(parts: tuple[str, ...]) -> str | None:
    """Kind of sensitive file named by resolved components (any case), or None. Linear in the components."""
    if not parts:
        return None
    name = parts[-1].lower()
    n = len(parts)
    first = parts[0].lower()
    kind = _NAME_KINDS.get(name)
    if kind:
        return kind
    if name == ".env" or (name.startswith(".env.") and name[5:] not in _ENV_OK_SUFFIXES):
        return "env_file"
    if name.endswith(".env") and len(name) > 4:
        return "env_file"
    if n >= 2:
        parent = parts[-2].lower()
        if parent == ".ssh":
            if name.endswith(".pub") or name in ("known_hosts", "known_hosts.old", "config", "environment"):
                return None
            return "ssh_key"
        if parent == ".aws" and name in ("credentials", "config"):
            return "cloud_credentials"
        if parent == ".kube" and name == "config":
            return "kube_config"
        if parent == ".docker" and name == "config.json":
            return "docker_credentials"
        if parent == "gh" and name == "hosts.yml":
            return "credentials"
        if parent == "sudoers.d":
            return "sudoers"
        if name in ("cookies", "login data", "web data") and any(b in p.lower() for p in parts for b in _BROWSERS):
            return "browser_cookies" if name == "cookies" else "browser_credentials"
    if first == "etc" and n >= 2:
        rest = "/".join(p.lower() for p in parts[1:])
        kind = _ETC_KINDS.get(rest) or _ETC_KINDS.get(rest.rstrip("~-").removesuffix(".bak").removesuffix(".old"))
        if kind:
            return kind
        if n >= 3 and parts[1].lower() == "ssl" and parts[2].lower() == "private":
            return "private_key"
        if n == 3 and parts[1].lower() == "ssh" and name.startswith("ssh_host_") and name.endswith("_key"):
            return "ssh_key"
    if first == "proc" and n == 3:
        kind = _PROC_KINDS.get(name)
        if kind:
            return kind
    if first == "proc" and n == 2 and name == "kcore":
        return "process_memory"
    if first == "dev" and n == 2 and name in ("mem", "kmem"):
        return "process_memory"
    if n >= 4 and first == "var" and parts[1].lower() == "run" and parts[2].lower() == "secrets":
        return "container_secret"
    if first == "run" and n >= 2 and parts[1].lower() == "secrets":
        return "container_secret"
    for p in parts[:-1]:
        lp = p.lower()
        if lp in (".gnupg", ".password-store"):
            return "gpg_keyring" if lp == ".gnupg" else "credentials"
        if lp in ("gcloud", ".azure"):
            return "cloud_credentials"
        if lp == "keyrings" or lp == "keychains":
            return "keyring"
        if lp == "kubernetes.io~secret":
            return "container_secret"
    if name.endswith(_KEY_EXTS) and len(name) > 4:
        return "private_key"
    if name.endswith(".pem") and ("key" in name or "priv" in name):
        return "private_key"
    if n >= 3 and name in _HIVES and parts[-2].lower() == "config" and parts[-3].lower() == "system32":
        return "windows_hive"
    for k in range(n - 1):
        if parts[k].lower() == "microsoft" and parts[k + 1].lower() in ("credentials", "protect", "vault"):
            return "windows_credentials"
    return None


#: Directories whose whole content is credentials (copying or archiving them is the risk, not listing).
_DIR_KINDS = {
    ".ssh": "ssh_key",
    ".aws": "cloud_credentials",
    ".gnupg": "gpg_keyring",
    ".kube": "kube_config",
    ".docker": "docker_credentials",
    "gcloud": "cloud_credentials",
    ".azure": "cloud_credentials",
    ".password-store": "credentials",
    "keyrings": "keyring",
    ".mozilla": "browser_credentials",
}


def sensitive_dir_kind(parts: tuple[str, ...]) -> str | None:
    """Kind of credential directory named by resolved components (``~/.ssh``, ``~/.aws``...), or None."""
    return _DIR_KINDS.get(parts[-1].lower()) if parts else None


@lru_cache(maxsize=4096)
def sensitive_kind(path: str) -> str | None:
    """What kind of sensitive file ``path`` names (``ssh_key``, ``shadow``, ``credentials``, ``env_file``,
    ``proc_environ``...), or None. Works on any spelling (encoded, Windows, ``~``, ``$HOME``, ``file://``).
    Credential directories (``~/.ssh``, ``~/.aws``) count too: sending one anywhere is sending its keys."""
    if not isinstance(path, str) or not path:
        return None
    parts = canonical(path[:4096]).parts
    return _sensitive(parts) or sensitive_dir_kind(parts)


# --- finding paths in an analysis ----------------------------------------------------------------------------


class PathRef(NamedTuple):
    """One path found in the arguments, resolved and judged (an immutable record).

    ``resolved`` is the canonical absolute POSIX path (``c:/...`` or ``//host/...`` for Windows forms), or None
    when a relative path cannot be anchored (no workspace). ``escapes``: its ``..`` steps leave the workspace
    (or, without a workspace, climb above where they start; see ``file_traversal``). ``inside_workspace`` is None
    when there is no workspace or no resolution. ``sensitive`` names the kind of sensitive file, if any.
    """

    text: Text
    raw: str
    resolved: str | None
    windows: bool
    escapes: bool
    inside_workspace: bool | None
    sensitive: str | None
    canon: Canon  # the full lexical resolution (flags below are read from it)
    explicit: bool = True  # the value of a path-like key (not a token found in other text)
    url: bool = False  # the path part of an http(s)/ftp URL

    @property
    def null_byte(self) -> bool:
        """The path held a null byte (it was cut there)."""
        return self.canon.null_byte

    @property
    def dotdot(self) -> bool:
        """The path used ``..`` (or a disguised spelling of it)."""
        return self.canon.dotdot

    @property
    def disguised(self) -> bool:
        """``..`` was spelt as ``....``, ``..;`` or similar."""
        return self.canon.disguised

    @property
    def encoded(self) -> bool:
        """The path needed percent/overlong decoding."""
        return self.canon.encoded

    @property
    def climbs(self) -> int:
        """``..`` steps above the root or, for an unanchored relative path, above its start."""
        return self.canon.above

    @property
    def relative(self) -> str:
        """Resolved components without the root (what is left of an unanchored path)."""
        return self.canon.relative


def _is_path_key(key: str) -> bool:
    return key in PATH_KEYS or key.endswith(_PATH_SUFFIXES)


# Every rule of ``_looks_like_path`` needs one of these characters: a token without them is never a path.
_PATH_MARKS = frozenset("/\\~$%:")


def _looks_like_path(tok: str) -> bool:
    c = tok[0]
    if _PATH_MARKS.isdisjoint(tok):
        return False
    if c in "/~\\" or tok.startswith(("./", "../", "..\\", ".\\")):
        return True
    if c in "$%" and tok.startswith(_HOME_VARS):
        return True
    if len(tok) >= 3 and tok[1] == ":" and tok[2] in "/\\" and c.isascii() and c.isalpha():
        return True
    low = tok[:8].lower()
    if low.startswith("file:"):
        return True
    if "/" in tok and ("/." in tok or c == "."):
        return True  # a hidden component: root/.ssh, .aws/credentials
    return "../" in tok or "..\\" in tok or "%2e" in tok.lower() or "%252e" in tok.lower() or "%c0" in tok.lower()


def _workspace_parts(ws: str | None) -> tuple[str, tuple[str, ...]] | None:
    return _root_parts(ws) if ws else None


def _judge(
    c: Canon, ws: tuple[str, tuple[str, ...]] | None, url: bool
) -> tuple[str | None, bool, bool | None, str | None]:
    """(resolved, escapes, inside_workspace, sensitive) for one resolution."""
    inside: bool | None = None
    if ws is not None and c.absolute:
        inside = _under(c.root, c.parts, ws[0], ws[1])
    sensitive = _sensitive(c.parts)
    escapes = False
    if c.dotdot:
        if url:
            escapes = c.above > 0
        elif ws is not None and c.absolute:
            if not inside:
                # left the workspace: anchored inside it, started inside it, or climbed to the root
                started_inside = c.anchored or (c.first_up_depth >= len(ws[1]) and c.min_depth < len(ws[1]))
                escapes = started_inside or c.min_depth == 0 or c.above > 0
        elif c.absolute:
            escapes = c.min_depth == 0 or c.above > 0
        elif c.above > 0:
            # unanchored: one level up is a sibling project file; more, or into system/sensitive files, is not
            first = c.parts[0].lower() if c.parts else ""
            escapes = c.above > 1 or first in _SYSTEM_DIRS or sensitive is not None
    return c.resolved, escapes, inside, sensitive


@lru_cache(maxsize=8192)
def _resolved_cached(
    path: str, anchor: tuple[str, ...] | None, anchor_root: str, ws: tuple[str, tuple[str, ...]] | None, url: bool
) -> tuple[Canon, tuple[str | None, bool, bool | None, str | None]]:
    """``canonical`` and ``_judge`` of one path string, cached as one entry: paths repeat across calls."""
    c = canonical(path, anchor, anchor_root=anchor_root)
    return c, _judge(c, ws, url)


def _anchor_for(a: Analysis, ws: tuple[str, tuple[str, ...]] | None) -> tuple[str, tuple[str, ...]] | None:
    """The working directory relative paths start from: a ``cwd`` argument inside the workspace, else the
    workspace itself, else None."""
    if ws is None:
        return None
    for t in a.texts:
        if t.key in CWD_KEYS and not t.is_key and t.norm:
            c = canonical(t.norm, ws[1], anchor_root=ws[0])
            if c.absolute and _under(c.root, c.parts, ws[0], ws[1]):
                return c.root, c.parts
    return ws


def _url_path(tok: str) -> str | None:
    low = tok[:8].lower()
    if not low.startswith(_URL_SCHEMES):
        return None
    rest = tok[tok.index("//") + 2 :]
    slash = rest.find("/")
    if slash < 0:
        return None
    p = rest[slash:]
    for sep in "?#":
        i = p.find(sep)
        if i >= 0:
            p = p[:i]
    return p


def paths_of(a: Analysis, workspace: str | None) -> list[PathRef]:
    """All paths in the arguments, judged against ``workspace``: values of path-like keys, and path-looking
    tokens in other non-prose texts (commands, URLs' paths, lists). Linear in the total text size; cheap on
    ordinary strings."""
    ws = _workspace_parts(workspace)
    anchor = _anchor_for(a, ws)
    anchor_parts = anchor[1] if anchor else None
    anchor_root = anchor[0] if anchor else "/"
    out: list[PathRef] = []
    seen: set[tuple[str, str]] = set()

    def add(
        t: Text, s: str, explicit: bool, url: bool = False, here: tuple[str, ...] | None = None, shown: str = ""
    ) -> None:
        if (t.path, s) in seen or len(out) >= 1000:
            return
        seen.add((t.path, s))
        base = here if here is not None else anchor_parts
        if len(s) <= 512:
            c, judged = _resolved_cached(s, base, anchor_root, ws, url)
        else:
            c = canonical(s, base, anchor_root=anchor_root)
            judged = _judge(c, ws, url)
        if url and not c.dotdot and not c.null_byte and judged[3] is None:  # [3]: _sensitive(c.parts)
            return
        raw = shown or s
        resolved, escapes, inside, sensitive = judged
        out.append(PathRef(t, raw[:512], resolved, c.windows, escapes, inside, sensitive, c, explicit, url))

    for t in a.texts:
        if t.is_key:
            continue
        key = t.key
        if key in PROSE_KEYS:
            continue
        if _is_path_key(key) and "\n" not in t.norm and len(t.norm) <= 4096:
            for v in t.variants:
                if v.strip():
                    add(t, v, True)
                    if " " in v.strip() or "\t" in v:
                        # 'a.txt ../../etc/passwd': a tool that splits on spaces opens each part
                        for tok in v.split():
                            if _looks_like_path(tok):
                                add(t, tok, True)
            continue
        for v in t.variants:
            if "/" not in v and "\\" not in v and "~" not in v and "%" not in v:
                continue
            here: tuple[str, ...] | None = None  # after ``cd DIR`` inside the workspace
            after_cd = False
            for tok in v[:65536].translate(_TOKEN_SEPARATORS).split():
                if after_cd:
                    # ``cd DIR`` / ``tar -C DIR``: later relative paths in this text start there
                    after_cd = False
                    c = canonical(tok, here if here is not None else anchor_parts, anchor_root=anchor_root)
                    if c.absolute and c.root == "/":
                        here = c.parts
                    if _looks_like_path(tok):
                        add(t, tok, False, here=here)
                    continue
                if tok in _CD_WORDS:
                    after_cd = True
                    continue
                if _PATH_MARKS.isdisjoint(tok):
                    continue  # no ':' (so no URL) and nothing ``_looks_like_path`` accepts
                if "://" in tok[:10]:
                    if tok[:5].lower() == "file:":
                        add(t, tok, False)
                        continue
                    p = _url_path(tok)
                    if p and (".." in p or "%" in p or "\x00" in p):
                        add(t, p, False, url=True)
                    continue
                if _looks_like_path(tok):
                    add(t, tok, False, here=here)
                elif ":" in tok:  # socat's 'OPEN:/etc/passwd' ('_vocab/socat_address_types.tsv'; options cut at ',')
                    head, _, rest = tok.partition(":")
                    if rest and head.lower() in _FILE_ADDRESS_TYPES:
                        add(t, rest, False, here=here)
        if key in COMMAND_KEYS and (a._commands is not None or not _SHELL_TRICKS.isdisjoint(t.norm[:65536])):
            # quoting, escapes, variables, braces and globs: read the words as the shell will
            globs = 0
            for cmd in a.commands:
                if cmd.text is not t:
                    continue
                for word in (*cmd.argv[1:], *(target for _op, target in cmd.redirects)):
                    if not word or len(word) > 4096:
                        continue
                    if GLOB_CHARS.isdisjoint(word):
                        if _looks_like_path(word):
                            add(t, word, False)
                    elif word[:1] in "/~" and globs < 64:
                        globs += 1
                        target = _glob_target(word)
                        if target:
                            add(t, target, False, shown=f"{word} (matches {target})")
    for ct in a.code:  # files code reads and writes, resolved by the code analysis (``os.path.join('/etc', x)``)
        files = [r.path for r in ct.facts.reads] + [w.path for w in ct.facts.writes]
        for f in files:
            if f and len(f) <= 4096 and "\n" not in f:
                add(ct.text, f, False)
    return out


#: Keys whose value is a command line (its words are also read through the shell parser); ``code`` too: notebook
#: and interpreter tools run shell lines from it (``!cat ~/.ssh/id_rsa``).
COMMAND_KEYS = vocab.words("command_keys") | {"code"}
_SHELL_TRICKS = frozenset("\"'\\$`{*?[")
# Sensitive files a glob may be aimed at ('/e?c/sh*dow'); each is matched, never expanded on disk.
_GLOB_TARGETS = (
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/passwd",
    "/etc/sudoers",
    "/etc/master.passwd",
    "/root/.ssh/id_rsa",
    "/root/.ssh/id_ed25519",
    "/root/.ssh/id_ecdsa",
    "/root/.aws/credentials",
    "/root/.bash_history",
    "/proc/self/environ",
    "/proc/1/environ",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "~/.ssh/id_rsa",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ecdsa",
    "~/.aws/credentials",
    "~/.netrc",
    "~/.git-credentials",
    "~/.kube/config",
    "~/.docker/config.json",
    "~/.bash_history",
    "~/.config/gcloud/credentials.db",
)


def _glob_target(word: str) -> str | None:
    """The sensitive file a glob word can name, if any (its literal prefix must fit, then a bounded match)."""
    cut = min((k for k in (word.find("*"), word.find("?"), word.find("[")) if k >= 0), default=len(word))
    prefix = word[:cut]
    glob = Glob(word[:256])  # ``*`` may cross ``/`` here, to over-approximate
    for target in _GLOB_TARGETS:
        if target.startswith(prefix) and glob.match(target):
            return target
    return None
