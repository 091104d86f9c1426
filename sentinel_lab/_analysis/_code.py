"""Code sent to an interpreter, analysed as a program: what it reads, writes, sends, runs, deletes and decodes.

Python is parsed with the standard library's ``ast`` (never executed, nothing it names is imported); imports with
their aliases, attribute chains, calls and a simple forward data flow (names, f-strings, concatenation and constant
folding, ``open(p).read()``, ``with open(p) as f``, base64 of literals) give immutable facts (``CodeFacts``).
Decoded and ``exec``'d literal code is analysed again, to a bounded depth. JavaScript (``node -e``) and PowerShell
are read by a linear tokenizer that respects strings and comments: calls and their string arguments give the
same facts. Input is bounded in size, nodes and depth; every walk is iterative or depth-bounded and linear.
Code that does not parse gives ``parsed=False``: callers read it as text.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

from sentinel_lab import _vocab as vocab
from sentinel_lab._analysis._texts import Text
from sentinel_lab._text.normalize import decode_encoded_command

if TYPE_CHECKING:
    from sentinel_lab._analysis import Analysis

__all__ = [
    "MAX_NODES",
    "MAX_SOURCE",
    "CodeFacts",
    "CodeText",
    "Deletion",
    "Download",
    "DynamicCode",
    "Exfiltration",
    "FileRead",
    "FileWrite",
    "NetworkSend",
    "PermissionChange",
    "Persistence",
    "ProcessKill",
    "RemoteShell",
    "Spawn",
    "Tamper",
    "code_facts",
    "code_of_argv",
    "code_texts_of",
    "javascript_facts",
    "language_of_tool",
    "powershell_facts",
    "python_facts",
    "registry_autorun",
    "script_facts",
]

MAX_SOURCE = 256 * 1024  # characters analysed (as the shell parser); longer code is cut at a line end, truncated
MAX_NODES = 300_000  # AST nodes (or tokens) visited per source, all decoded layers together
MAX_EVAL_DEPTH = 48  # nesting of expressions folded; deeper parts are unknown values
MAX_CODE_DEPTH = 4  # layers of decoded or exec'd code analysed again
MAX_TEXT = 64 * 1024  # a folded string longer than this is unknown (``'a' * 10**9`` folds to nothing)
MAX_FACTS = 2_000  # facts of one kind
_CACHE_SIZE = 256


# --- facts ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FileRead:
    """A file the code reads; ``path`` is the literal path when it could be resolved, else None."""

    api: str
    path: str | None


@dataclass(frozen=True, slots=True)
class FileWrite:
    """A file the code writes. ``content`` says what goes in: ``downloaded`` (fetched from the network),
    ``decoded`` (base64 and similar), ``code`` (a script or program text), ``copy`` (another file), ``data``
    (anything else) or ``""`` when the file is opened for writing and nothing written was seen."""

    api: str
    path: str | None
    content: str = ""


@dataclass(frozen=True, slots=True)
class NetworkSend:
    """A request or packet leaving the process; ``destination`` is the URL or host when literal; ``sources`` are
    the origins of data it carries (``file:<path>``, ``env:<NAME>``, ``environ``, ``cmd:<command>``)."""

    api: str
    destination: str | None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Download:
    """Data fetched from the network (``url`` when literal)."""

    api: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Spawn:
    """A process started. ``command`` is a shell command line for the shell analyser (argv lists are quoted into
    one); None when not literal. ``shell`` says the line runs through a shell; ``from_network`` that the command
    comes from data received over the network."""

    api: str
    command: str | None
    argv: tuple[str, ...] = ()
    shell: bool = False
    from_network: bool = False


@dataclass(frozen=True, slots=True)
class Deletion:
    """A file or tree removed (``recursive`` for ``rmtree`` and ``Remove-Item -Recurse``)."""

    api: str
    path: str | None
    recursive: bool = False


@dataclass(frozen=True, slots=True)
class PermissionChange:
    """A mode, owner or process identity change. ``mode`` is the literal mode (or the bits known to be set);
    ``setuid`` is set for set-user/group-id bits and ``setuid(0)``; ``owner`` for ``chown`` to a literal owner."""

    api: str
    path: str | None
    mode: int | None = None
    setuid: bool = False
    world_writable: bool = False
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Persistence:
    """Something that makes code run again later: ``mechanism`` is ``cron``, ``systemd``, ``autostart``,
    ``shell-rc``, ``ssh-keys``, ``init``, ``launchd``, ``preload``, ``registry-run``, ``scheduled-task`` or
    ``service``; ``target`` the file, key or command."""

    mechanism: str
    target: str


@dataclass(frozen=True, slots=True)
class DynamicCode:
    """Code built or loaded at run time: ``eval``/``exec``/``compile``, ``__import__`` of a non-literal name,
    deserialisers that run code (``pickle``, ``marshal``, ``dill``, unsafe ``yaml.load``), ``ctypes``.
    ``literal`` is True when the code is a known string (then it was analysed too and its facts are merged)."""

    api: str
    literal: bool = False
    sources: tuple[str, ...] = ()


#: Calls that load a native library from a file (its path is their first argument).
_NATIVE_LOADERS = frozenset({"LoadLibrary", "CDLL", "WinDLL", "OleDLL", "PyDLL", "dlopen"})


@dataclass(frozen=True, slots=True)
class ProcessKill:
    """A signal sent to a process; ``system`` when it targets init, every process or a process group."""

    api: str
    pid: int | None = None
    name: str | None = None
    system: bool = False


@dataclass(frozen=True, slots=True)
class RemoteShell:
    """A socket wired to a command interpreter: ``reverse`` (connects out) or ``bind`` (listens)."""

    kind: str
    host: str | None = None
    port: int | None = None


@dataclass(frozen=True, slots=True)
class Tamper:
    """A security control switched off (antivirus, firewall, audit logs)."""

    api: str
    target: str


@dataclass(frozen=True, slots=True)
class Exfiltration:
    """Data read from ``source`` (``file:<path>``, ``env:<NAME>``, ``environ``, ``cmd:<command>``) reaches a
    network send to ``destination`` (None when not literal)."""

    source: str
    destination: str | None
    api: str


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """Everything found in one piece of code. ``parsed`` is False when it is not code of the language (read it
    as text); ``truncated`` when a bound cut the analysis short (fail closed on it)."""

    language: str
    parsed: bool
    truncated: bool = False
    imports: frozenset[str] = frozenset()
    reads: tuple[FileRead, ...] = ()
    writes: tuple[FileWrite, ...] = ()
    sends: tuple[NetworkSend, ...] = ()
    downloads: tuple[Download, ...] = ()
    spawns: tuple[Spawn, ...] = ()
    deletions: tuple[Deletion, ...] = ()
    permissions: tuple[PermissionChange, ...] = ()
    persistence: tuple[Persistence, ...] = ()
    dynamic: tuple[DynamicCode, ...] = ()
    kills: tuple[ProcessKill, ...] = ()
    shells: tuple[RemoteShell, ...] = ()
    tampering: tuple[Tamper, ...] = ()
    flows: tuple[Exfiltration, ...] = ()
    decoded: tuple[str, ...] = ()  # code recovered from base64 and similar layers (also analysed)

    @property
    def commands(self) -> tuple[str, ...]:
        """The literal command lines the code runs, for the shell analyser."""
        return tuple(s.command for s in self.spawns if s.command is not None)

    @property
    def risky(self) -> bool:
        """True when any fact is dangerous in itself (reads, plain sends and data writes are judged by path and
        destination elsewhere)."""
        return bool(
            self.spawns
            or self.deletions
            or self.permissions
            or self.persistence
            or self.kills
            or self.shells
            or self.tampering
            or self.flows
            or any(not d.literal or d.api not in _LITERAL_OK for d in self.dynamic)
            or any(w.content in ("downloaded", "decoded", "code") for w in self.writes)
        )


_LITERAL_OK = frozenset({"eval", "exec", "compile", "__import__", "importlib.import_module"})


class _Collector:
    """Mutable accumulation of facts while walking; ``freeze`` gives the immutable ``CodeFacts``."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.truncated = False
        self.budget = MAX_NODES
        self.imports: set[str] = set()
        self.lists: dict[str, dict[object, None]] = {k: {} for k in _KINDS}
        self.decoded: dict[str, None] = {}
        # program-level evidence for remote shells
        self.connects: list[tuple[str | None, int | None]] = []
        self.binds: list[int | None] = []
        self.dup2 = False
        self.socket_io = False
        self.shell_spawned = False

    def add(self, kind: str, fact: object) -> None:
        bucket = self.lists[kind]
        if len(bucket) < MAX_FACTS:
            bucket[fact] = None
        else:
            self.truncated = True

    def freeze(self, parsed: bool = True) -> CodeFacts:
        if (self.connects or self.binds) and (self.dup2 or self.socket_io) and self.shell_spawned:
            for host, port in self.connects:
                self.add("shells", RemoteShell("reverse", host, port))
            for port in self.binds:
                self.add("shells", RemoteShell("bind", None, port))
        elif self.connects and any(s.from_network for s in self.lists["spawns"]):  # type: ignore[attr-defined]
            for host, port in self.connects:
                self.add("shells", RemoteShell("reverse", host, port))
        writes = self.lists["writes"]
        classified = {w.path for w in writes if isinstance(w, FileWrite) and w.content}
        kept = [w for w in writes if not (isinstance(w, FileWrite) and not w.content and w.path in classified)]
        for w in kept:
            if isinstance(w, FileWrite) and w.path:
                mech = persistence_of_path(w.path)
                if mech:
                    self.add("persistence", Persistence(mech, w.path))
        for s in list(self.lists["sends"]):
            if isinstance(s, NetworkSend):
                for src in s.sources:
                    if src.startswith(_SECRET_SOURCES):
                        self.add("flows", Exfiltration(src, s.destination, s.api))
        L = self.lists
        return CodeFacts(
            language=self.language,
            parsed=parsed,
            truncated=self.truncated,
            imports=frozenset(self.imports),
            reads=tuple(L["reads"]),  # type: ignore[arg-type]
            writes=tuple(kept),  # type: ignore[arg-type]
            sends=tuple(L["sends"]),  # type: ignore[arg-type]
            downloads=tuple(L["downloads"]),  # type: ignore[arg-type]
            spawns=tuple(L["spawns"]),  # type: ignore[arg-type]
            deletions=tuple(L["deletions"]),  # type: ignore[arg-type]
            permissions=tuple(L["permissions"]),  # type: ignore[arg-type]
            persistence=tuple(L["persistence"]),  # type: ignore[arg-type]
            dynamic=tuple(L["dynamic"]),  # type: ignore[arg-type]
            kills=tuple(L["kills"]),  # type: ignore[arg-type]
            shells=tuple(L["shells"]),  # type: ignore[arg-type]
            tampering=tuple(L["tampering"]),  # type: ignore[arg-type]
            flows=tuple(L["flows"]),  # type: ignore[arg-type]
            decoded=tuple(self.decoded),
        )


_KINDS = (
    "reads",
    "writes",
    "sends",
    "downloads",
    "spawns",
    "deletions",
    "permissions",
    "persistence",
    "dynamic",
    "kills",
    "shells",
    "tampering",
    "flows",
)
_SECRET_SOURCES = ("file:", "env:", "environ", "cmd:")


# --- shared vocabulary ----------------------------------------------------------------------------------------
_PERSISTENCE_PATHS: tuple[tuple[str, str], ...] = (
    ("/etc/cron", "cron"),
    ("/var/spool/cron", "cron"),
    ("/etc/anacrontab", "cron"),
    ("/etc/systemd/", "systemd"),
    ("/lib/systemd/", "systemd"),
    ("/usr/lib/systemd/", "systemd"),
    ("/.config/systemd/", "systemd"),
    ("/.config/autostart", "autostart"),
    ("/etc/xdg/autostart", "autostart"),
    ("/etc/profile", "shell-rc"),
    ("/etc/bash.bashrc", "shell-rc"),
    ("/etc/zsh/", "shell-rc"),
    ("/etc/environment", "shell-rc"),
    ("/.bashrc", "shell-rc"),
    ("/.bash_profile", "shell-rc"),
    ("/.bash_login", "shell-rc"),
    ("/.bash_logout", "shell-rc"),
    ("/.profile", "shell-rc"),
    ("/.zshrc", "shell-rc"),
    ("/.zprofile", "shell-rc"),
    ("/.zshenv", "shell-rc"),
    ("/.config/fish/config.fish", "shell-rc"),
    ("/.ssh/authorized_keys", "ssh-keys"),
    ("/etc/rc.local", "init"),
    ("/etc/init.d/", "init"),
    ("/etc/init/", "init"),
    ("/library/launchagents/", "launchd"),
    ("/library/launchdaemons/", "launchd"),
    ("/etc/ld.so.preload", "preload"),
    ("/etc/update-motd.d/", "init"),
    ("/.config/git/hooks", "autostart"),
    ("/start menu/programs/startup", "autostart"),
    ("/currentversion/run", "registry-run"),
    ("/windows/system32/tasks/", "scheduled-task"),
)


_REGISTRY_AUTORUNS = vocab.words("registry_persistence_keys")


def registry_autorun(key: str) -> bool:
    """Whether a registry key path or value (``HKCU\\...\\CurrentVersion\\Run``, ``UserInitMprLogonScript``)
    makes a program run at boot, log-on or start (``_vocab/registry_persistence_keys.txt``)."""
    low = key.lower().replace("/", "\\")
    return any(fragment in low for fragment in _REGISTRY_AUTORUNS)


def persistence_of_path(path: str) -> str:
    """The persistence mechanism a write to ``path`` installs (``cron``, ``shell-rc`` ...), or ``""``."""
    p = path.replace("\\", "/").lower()
    if p.startswith("~"):
        p = "/home/user" + p[1:] if p.startswith("~/") else "/home/" + p[1:]
    elif not p.startswith("/") and p[1:3] != ":/":
        p = "/" + p if p.startswith(".") else p
    for frag, mech in _PERSISTENCE_PATHS:
        if frag in p:
            return mech
    return ""


_SECRET_WORDS = (
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
    "SESSION",
    "COOKIE",
    "AWS_",
    "API",
    "CERT",
    "SIGNATURE",
)


def secret_env_name(name: str) -> bool:
    """True for an environment variable whose name suggests a secret (``AWS_SECRET_ACCESS_KEY``, ``GH_TOKEN``)."""
    up = name.upper()
    if up in ("PWD", "OLDPWD"):
        return False
    return any(w in up for w in _SECRET_WORDS)


_SHELL_NAMES = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "csh", "tcsh", "cmd", "cmd.exe", "powershell", "pwsh"}
)


def _is_shell_program(word: str | None) -> bool:
    if not word:
        return False
    first = word.strip().split(None, 1)[0] if word.strip() else ""
    base = first.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.endswith(".exe"):
        base = base[:-4]
    return base in _SHELL_NAMES or base in ("cmd", "powershell")


def _quote(word: str) -> str:
    if word and all(c.isalnum() or c in "@%+=:,./-_~" for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


_CODE_MARKERS = (
    "import ", "exec(", "eval(", "subprocess", "os.system", "socket", "/bin/sh", "/bin/bash", "powershell",
    "require(", "<?php", "function ", "def ", "curl ", "wget ", "chmod ", "base64 -d", "Invoke-",
)  # fmt: skip


def _looks_like_code(text: str) -> bool:
    head = text[:4096]
    if head.startswith("#!"):
        return True
    return any(m in head for m in _CODE_MARKERS)


class _Cache:
    """A bounded least-recently-used cache of facts by (language, source)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[tuple[str, str], CodeFacts] = OrderedDict()

    def get(self, key: tuple[str, str]) -> CodeFacts | None:
        found = self.data.get(key)
        if found is not None:
            self.data.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], value: CodeFacts) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)


_CACHE = _Cache(_CACHE_SIZE)


def _bounded(source: str) -> tuple[str, bool]:
    if len(source) <= MAX_SOURCE:
        return source, False
    cut = source.rfind("\n", 0, MAX_SOURCE)
    return source[: cut if cut > 0 else MAX_SOURCE], True


# --- Python ---------------------------------------------------------------------------------------------------
_PY_HINTS = ("(", "import ", "=", "[", ".")


class _V(NamedTuple):
    """The abstract value of an expression: a folded string or int, what it names, where its data came from."""

    text: str | None = None
    num: int | None = None
    ref: str = ""  # qualified API name ("os.system") or object kind ("file", "path", "socket", "response")
    arg: str | None = None  # an object's path, URL or host
    taint: frozenset[str] = frozenset()
    items: tuple[_V, ...] | None = None  # a literal list/tuple
    mode: str = ""  # an opened file's mode


_UNKNOWN = _V()
_EMPTY: frozenset[str] = frozenset()

_SPAWN_SHELL = frozenset(
    {
        "os.system",
        "os.popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "commands.getoutput",
        "commands.getstatusoutput",
        "platform.popen",
        "asyncio.create_subprocess_shell",
        "os.popen2",
        "os.popen3",
        "os.popen4",
    }
)
_SPAWN_ARGV = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "asyncio.create_subprocess_exec",
        "pty.spawn",
        "os.posix_spawn",
        "os.posix_spawnp",
        "sh.Command",
        "pexpect.spawn",
        "pexpect.run",
    }
)
_SPAWN_EXEC = frozenset(
    {f"os.{n}" for n in ("execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe")}
    | {f"os.{n}" for n in ("spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe")}
    | {"os.startfile"}
)
_OUTPUT_CALLS = frozenset(
    {"os.popen", "subprocess.getoutput", "subprocess.getstatusoutput", "subprocess.check_output", "subprocess.run"}
)
_DELETE = {
    "os.remove": False,
    "os.unlink": False,
    "os.rmdir": False,
    "os.removedirs": True,
    "shutil.rmtree": True,
    "send2trash.send2trash": False,
}
_CHMOD = frozenset({"os.chmod", "os.lchmod", "os.fchmod"})
_CHOWN = frozenset({"os.chown", "os.lchown", "os.fchown", "shutil.chown"})
_SETID = frozenset({"os.setuid", "os.seteuid", "os.setreuid", "os.setresuid", "os.setgid", "os.setegid"})
_KILL = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
_DESERIALISE = frozenset(
    {
        "pickle.loads",
        "pickle.load",
        "pickle.Unpickler",
        "cPickle.loads",
        "cPickle.load",
        "_pickle.loads",
        "marshal.loads",
        "marshal.load",
        "dill.loads",
        "dill.load",
        "cloudpickle.loads",
        "cloudpickle.load",
        "jsonpickle.decode",
        "shelve.open",
        "joblib.load",
        "torch.load",
        "numpy.load",
        "types.FunctionType",
        "types.CodeType",
        "runpy.run_path",
        "runpy.run_module",
        "code.interact",
        "imp.load_source",
        "importlib.machinery.SourceFileLoader",
    }
)
_DECODERS = frozenset(
    {
        "base64.b64decode",
        "base64.standard_b64decode",
        "base64.urlsafe_b64decode",
        "base64.b32decode",
        "base64.b16decode",
        "base64.a85decode",
        "base64.b85decode",
        "base64.decodebytes",
        "base64.decodestring",
        "binascii.a2b_base64",
        "binascii.unhexlify",
        "binascii.a2b_hex",
        "bytes.fromhex",
        "codecs.decode",
        "zlib.decompress",
        "gzip.decompress",
        "bz2.decompress",
        "lzma.decompress",
    }
)
# module prefix -> the kind of object its constructors return
_HTTP_MODULES = ("requests", "httpx", "urllib3", "aiohttp", "pycurl", "treq", "grequests")
_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request", "stream", "fetch"})
_FETCH_VERBS = frozenset({"get", "request", "stream", "fetch", "urlopen"})
_CLIENT_CTORS = frozenset(
    {
        "requests.Session",
        "requests.session",
        "httpx.Client",
        "httpx.AsyncClient",
        "aiohttp.ClientSession",
        "urllib3.PoolManager",
        "urllib3.HTTPConnectionPool",
        "urllib3.HTTPSConnectionPool",
        "urllib.request.build_opener",
        "urllib2.build_opener",
    }
)
_CONN_CTORS = {
    "http.client.HTTPConnection": "http",
    "http.client.HTTPSConnection": "http",
    "httplib.HTTPConnection": "http",
    "httplib.HTTPSConnection": "http",
    "smtplib.SMTP": "smtp",
    "smtplib.SMTP_SSL": "smtp",
    "ftplib.FTP": "ftp",
    "ftplib.FTP_TLS": "ftp",
    "telnetlib.Telnet": "telnet",
    "paramiko.SSHClient": "ssh",
    "paramiko.Transport": "ssh",
    "paramiko.SFTPClient": "ssh",
    "paramiko.SFTPClient.from_transport": "ssh",
    "websocket.create_connection": "ws",
    "websocket.WebSocket": "ws",
    "websockets.connect": "ws",
    "xmlrpc.client.ServerProxy": "http",
    "xmlrpclib.ServerProxy": "http",
    "socket.create_connection": "socket",
    "socket.socket": "socket",
    "ssl.wrap_socket": "socket",
    "nntplib.NNTP": "smtp",
    "poplib.POP3": "smtp",
    "imaplib.IMAP4": "smtp",
    "imaplib.IMAP4_SSL": "smtp",
}
_CONN_SEND_METHODS = frozenset(
    {
        "request",
        "send",
        "sendall",
        "sendto",
        "sendmail",
        "send_message",
        "storbinary",
        "storlines",
        "write",
        "exec_command",
        "put",
        "putfo",
        "send_bytes",
        "putrequest",
        "endheaders",
        "append",
        "post",
    }
)
_STAT_BITS = {
    "S_ISUID": 0o4000,
    "S_ISGID": 0o2000,
    "S_ISVTX": 0o1000,
    "S_IRWXU": 0o700,
    "S_IRUSR": 0o400,
    "S_IWUSR": 0o200,
    "S_IXUSR": 0o100,
    "S_IRWXG": 0o70,
    "S_IRGRP": 0o40,
    "S_IWGRP": 0o20,
    "S_IXGRP": 0o10,
    "S_IRWXO": 0o7,
    "S_IROTH": 0o4,
    "S_IWOTH": 0o2,
    "S_IXOTH": 0o1,
    "S_IEXEC": 0o100,
    "S_IWRITE": 0o200,
    "S_IREAD": 0o400,
}
_BUILTINS = frozenset(
    {"open", "eval", "exec", "compile", "__import__", "getattr", "globals", "locals", "vars", "input", "print"}
)
_WRITE_METHODS = frozenset({"to_csv", "to_json", "to_parquet", "to_excel", "to_pickle", "savefig", "save", "savez"})
_READ_FUNCS = frozenset(
    {
        "pandas.read_csv",
        "pandas.read_json",
        "pandas.read_excel",
        "pandas.read_parquet",
        "pandas.read_table",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "io.open",
        "codecs.open",
        "os.open",
        "linecache.getlines",
        "linecache.getline",
        "fileinput.input",
        "tarfile.open",
        "zipfile.ZipFile",
        "sqlite3.connect",
        "glob.glob",
        "os.listdir",
        "os.scandir",
        "os.walk",
    }
)
_SAFE_YAML = ("SafeLoader", "CSafeLoader", "BaseLoader")


def _normalise_ref(ref: str) -> str:
    for prefix in ("builtins.", "__builtins__.", "__builtin__."):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    if ref.startswith(("urllib2.", "urllib.request.")):
        return "urllib.request." + ref.split(".")[-1] if ref.startswith("urllib2.") else ref
    if ref.startswith("pd."):
        return "pandas." + ref[3:]
    if ref.startswith("np."):
        return "numpy." + ref[3:]
    if ref.startswith("posix."):
        return "os." + ref[6:]
    if ref.startswith("os.path.") or ref.startswith("pathlib."):
        return ref
    return ref


def _decode_literal(api: str, data: str, extra: str | None) -> str | None:
    """What a decoder returns for a literal argument (as text), or None when it does not decode."""
    raw: bytes
    try:
        b = data.encode("latin-1") if all(ord(c) < 256 for c in data) else data.encode("utf-8")
        name = api.rsplit(".", 1)[-1]
        if name in ("b64decode", "standard_b64decode", "decodebytes", "decodestring", "a2b_base64"):
            compact = b"".join(b.split())
            raw = base64.b64decode(compact + b"=" * (-len(compact) % 4))
        elif name == "urlsafe_b64decode":
            compact = b"".join(b.split())
            raw = base64.urlsafe_b64decode(compact + b"=" * (-len(compact) % 4))
        elif name == "b32decode":
            raw = base64.b32decode(b, casefold=True)
        elif name == "b16decode":
            raw = base64.b16decode(b, casefold=True)
        elif name == "a85decode":
            raw = base64.a85decode(b)
        elif name == "b85decode":
            raw = base64.b85decode(b)
        elif name in ("unhexlify", "a2b_hex", "fromhex"):
            raw = binascii.unhexlify("".join(data.split()))
        elif name == "decode" and api == "codecs.decode":
            enc = (extra or "").lower().replace("-", "_")
            if enc in ("rot13", "rot_13"):
                return codecs.decode(data, "rot13")
            if enc in ("base64", "base_64"):
                raw = base64.b64decode(b + b"=" * (-len(b) % 4))
            elif enc in ("hex", "hex_codec"):
                raw = binascii.unhexlify(b)
            else:
                return None
        elif name == "decompress":
            d = zlib.decompressobj(47 if api.startswith("gzip") else 15 + 32)
            raw = d.decompress(b, MAX_TEXT)
        else:
            return None
    except (ValueError, binascii.Error, zlib.error, UnicodeEncodeError):
        return None
    return raw[:MAX_TEXT].decode("utf-8", "replace")


def _qual(node: ast.AST) -> str:
    """A printable name for an unknown callee (``x.y.z``), bounded."""
    parts: list[str] = []
    cur = node
    while isinstance(cur, ast.Attribute) and len(parts) < 8:
        parts.append(cur.attr)
        cur = cur.value
    if isinstance(cur, ast.Name):
        parts.append(cur.id)
    return ".".join(reversed(parts))


_LEAVES = frozenset(
    {ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, *ast.operator.__subclasses__(),
     *ast.cmpop.__subclasses__(), *ast.unaryop.__subclasses__(), *ast.boolop.__subclasses__()}
)  # fmt: skip


class _Py:
    """One walk over a Python module: a forward pass in source order with a name environment."""

    def __init__(self, out: _Collector, depth: int) -> None:
        self.out = out
        self.depth = depth
        self.env: dict[str, _V] = {}
        self.memo: dict[int, _V] = {}
        self.funcs: dict[str, ast.AST] = {}

    # -- the walk --
    def run(self, tree: ast.AST) -> None:
        stack: list[ast.AST] = [tree]
        out = self.out
        while stack:
            node = stack.pop()
            out.budget -= 1
            if out.budget < 0:
                out.truncated = True
                return
            self.visit(node)
            children: list[ast.AST] = []
            for name in node._fields:
                value = getattr(node, name, None)
                if isinstance(value, ast.AST):
                    if type(value) not in _LEAVES:
                        children.append(value)
                elif isinstance(value, list):
                    children.extend(v for v in value if isinstance(v, ast.AST) and type(v) not in _LEAVES)
            children.reverse()
            stack.extend(children)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                self.out.imports.add(a.name)
                if a.asname:
                    self.env[a.asname] = _V(ref=a.name)
                else:
                    root = a.name.split(".", 1)[0]
                    self.env[root] = _V(ref=root)
                if a.name.split(".", 1)[0] == "ctypes":
                    self.out.add("dynamic", DynamicCode("ctypes"))
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            self.out.imports.add(mod)
            for a in node.names:
                full = f"{mod}.{a.name}" if mod else a.name
                self.out.imports.add(full)
                self.env[a.asname or a.name] = _V(ref=_normalise_ref(full))
            if mod.split(".", 1)[0] == "ctypes":
                self.out.add("dynamic", DynamicCode("ctypes"))
        elif isinstance(node, ast.Assign):
            val = self.eval(node.value)
            for t in node.targets:
                self.bind(t, val)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
            if node.value is not None:
                self.bind(node.target, self.eval(node.value))
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                old = self.env.get(node.target.id, _UNKNOWN)
                new = self.eval(node.value)
                text = None
                if isinstance(node.op, ast.Add) and old.text is not None and new.text is not None:
                    text = (old.text + new.text) if len(old.text) + len(new.text) <= MAX_TEXT else None
                self.env[node.target.id] = _V(text=text, taint=old.taint | new.taint)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, self.eval(item.context_expr))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            it = self.eval(node.iter)
            self.bind(node.target, _V(taint=it.taint, ref="line" if it.ref == "file" else ""))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.funcs[node.name] = node
            self.env.pop(node.name, None)
        elif isinstance(node, (ast.Call, ast.Subscript)):
            self.eval(node)

    def bind(self, target: ast.AST, val: _V) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = val
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = val.items
            for i, elt in enumerate(target.elts):
                sub = items[i] if items is not None and i < len(items) else _V(taint=val.taint)
                self.bind(elt, sub)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, _V(taint=val.taint))

    # -- expressions --
    def eval(self, node: ast.AST, depth: int = 0) -> _V:
        key = id(node)
        found = self.memo.get(key)
        if found is not None:
            return found
        if depth > MAX_EVAL_DEPTH:
            return _UNKNOWN
        val = self._eval(node, depth + 1)
        self.memo[key] = val
        return val

    def _eval(self, node: ast.AST, d: int) -> _V:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str):
                return _V(text=v)
            if isinstance(v, bytes):
                return _V(text=v.decode("latin-1"))
            if isinstance(v, bool):
                return _V(num=int(v))
            if isinstance(v, int):
                return _V(num=v)
            return _UNKNOWN
        if isinstance(node, ast.Name):
            found = self.env.get(node.id)
            if found is not None:
                return found
            if node.id in _BUILTINS:
                return _V(ref=node.id)
            if node.id in _WELL_KNOWN:  # imported in an earlier cell or by the tool's preamble
                return _V(ref=_WELL_KNOWN[node.id])
            return _UNKNOWN
        if isinstance(node, ast.Attribute):
            base = self.eval(node.value, d)
            if base.ref and base.ref not in _OBJECT_KINDS:
                ref = _normalise_ref(f"{base.ref}.{node.attr}")
                if ref == "os.environ":
                    return _V(ref=ref, taint=frozenset({"environ"}))
                if ref.startswith("stat.") and node.attr in _STAT_BITS:
                    return _V(num=_STAT_BITS[node.attr])
                return _V(ref=ref)
            return self._method_attr(base, node.attr)
        if isinstance(node, ast.JoinedStr):
            parts: list[str] = []
            taint: frozenset[str] = _EMPTY
            known = True
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    parts.append(part.value)
                elif isinstance(part, ast.FormattedValue):
                    inner = self.eval(part.value, d)
                    taint |= inner.taint
                    s = inner.text if inner.text is not None else (str(inner.num) if inner.num is not None else None)
                    if s is None:
                        known = False
                    else:
                        parts.append(s)
            text = "".join(parts) if known else None
            return _V(text=text if text is None or len(text) <= MAX_TEXT else None, taint=taint)
        if isinstance(node, ast.BinOp):
            return self._binop(node, d)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            vals = tuple(self.eval(e, d) for e in node.elts[:4096])
            return _V(items=vals, taint=_union(v.taint for v in vals))
        if isinstance(node, ast.Dict):
            vals = tuple(self.eval(e, d) for e in [*node.values, *(k for k in node.keys if k is not None)][:4096])
            return _V(taint=_union(v.taint for v in vals))
        if isinstance(node, ast.Call):
            return self._call(node, d)
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, d)
            idx = self.eval(node.slice, d)
            if base.ref == "os.environ":
                return self._env(idx)
            if base.text is not None and isinstance(node.slice, ast.Slice):
                step = self.eval(node.slice.step, d) if node.slice.step is not None else _UNKNOWN
                if step.num == -1 and node.slice.lower is None and node.slice.upper is None:
                    return _V(text=base.text[::-1], taint=base.taint)
            if base.items is not None and idx.num is not None and -len(base.items) <= idx.num < len(base.items):
                return base.items[idx.num]
            return _V(taint=base.taint | idx.taint)
        if isinstance(node, ast.UnaryOp):
            inner = self.eval(node.operand, d)
            if inner.num is not None and isinstance(node.op, (ast.USub, ast.Invert, ast.UAdd)):
                num = (
                    -inner.num
                    if isinstance(node.op, ast.USub)
                    else ~inner.num
                    if isinstance(node.op, ast.Invert)
                    else inner.num
                )
                return _V(num=num)
            return _V(taint=inner.taint)
        if isinstance(node, ast.IfExp):
            a, b = self.eval(node.body, d), self.eval(node.orelse, d)
            return _V(taint=a.taint | b.taint, text=a.text if a.text == b.text else None)
        if isinstance(node, (ast.Await, ast.Starred, ast.keyword, ast.FormattedValue, ast.NamedExpr)):
            val = self.eval(node.value, d)
            if isinstance(node, ast.NamedExpr):
                self.bind(node.target, val)
            return val
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            for gen in node.generators:
                it = self.eval(gen.iter, d)
                self.bind(gen.target, _V(taint=it.taint))
            elt = self.eval(node.elt, d)
            return _V(taint=elt.taint | _union(self.eval(g.iter, d).taint for g in node.generators))
        if isinstance(node, ast.BoolOp):
            ops = [self.eval(v, d) for v in node.values[:256]]
            return _V(taint=_union(v.taint for v in ops))
        if isinstance(node, ast.Lambda):
            return _UNKNOWN
        return _UNKNOWN

    def _binop(self, node: ast.BinOp, d: int) -> _V:
        a, b = self.eval(node.left, d), self.eval(node.right, d)
        taint = a.taint | b.taint
        op = node.op
        if isinstance(op, ast.Add):
            if a.text is not None and b.text is not None and len(a.text) + len(b.text) <= MAX_TEXT:
                return _V(text=a.text + b.text, taint=taint)
            if a.num is not None and b.num is not None:
                return _V(num=a.num + b.num)
        elif isinstance(op, ast.Mult):
            s, n = (a.text, b.num) if a.text is not None else (b.text, a.num)
            if s is not None and n is not None and n >= 0 and len(s) * n <= MAX_TEXT:
                return _V(text=s * n, taint=taint)
            if a.num is not None and b.num is not None and abs(a.num) < 1 << 32 and abs(b.num) < 1 << 32:
                return _V(num=a.num * b.num)
        elif isinstance(op, ast.BitOr):
            if a.num is not None or b.num is not None:
                return _V(num=(a.num or 0) | (b.num or 0), taint=taint)
        elif isinstance(op, ast.Div) and a.ref == "path":
            if a.arg is not None and b.text is not None:
                return _V(ref="path", arg=_join(a.arg, b.text))
            return _V(ref="path", arg=None)
        elif isinstance(op, ast.Mod) and a.text is not None:
            vals = b.items if b.items is not None else (b,)
            if all(v.text is not None or v.num is not None for v in vals) and a.text.count("%s") == len(vals):
                text = a.text
                for v in vals:
                    text = text.replace("%s", v.text if v.text is not None else str(v.num), 1)
                if len(text) <= MAX_TEXT:
                    return _V(text=text, taint=taint)
        return _V(taint=taint)

    def _env(self, idx: _V) -> _V:
        if idx.text is None:
            return _V(taint=frozenset({"environ"}))
        if secret_env_name(idx.text):
            return _V(taint=frozenset({f"env:{idx.text}"}))
        return _UNKNOWN

    def _method_attr(self, base: _V, attr: str) -> _V:
        """An attribute of an object value: a bound method (``ref`` ``kind.attr``) or data carrying its taint."""
        if base.ref in _OBJECT_KINDS:
            return _V(ref=f"{base.ref}.{attr}", arg=base.arg, taint=base.taint, text=base.text, mode=base.mode)
        return _V(ref=f"value.{attr}", arg=None, taint=base.taint, text=base.text)

    # -- calls --
    def _call(self, node: ast.Call, d: int) -> _V:
        func = self.eval(node.func, d)
        args = [self.eval(a, d) for a in node.args[:64]]
        kw = {k.arg: self.eval(k.value, d) for k in node.keywords[:64] if k.arg is not None}
        star = [self.eval(k.value, d) for k in node.keywords[:64] if k.arg is None]
        taint = _union(a.taint for a in args) | _union(v.taint for v in kw.values()) | _union(v.taint for v in star)
        ref = func.ref
        if not ref:
            if isinstance(node.func, ast.Name) and node.func.id in self.funcs:
                return _V(taint=taint)
            return _V(taint=taint | func.taint)
        return self._effect(ref, func, args, kw, taint, node)

    def _effect(
        self, ref: str, func: _V, args: list[_V], kw: dict[str, _V], taint: frozenset[str], node: ast.Call
    ) -> _V:
        out = self.out
        a0 = args[0] if args else kw.get("args", kw.get("path", kw.get("file", _UNKNOWN)))
        a1 = args[1] if len(args) > 1 else _UNKNOWN
        name = ref.rsplit(".", 1)[-1]
        # -- names built at run time --
        if ref == "getattr" and len(args) >= 2:
            if args[0].ref and args[1].text is not None:
                full = _normalise_ref(f"{args[0].ref}.{args[1].text}")
                return _V(ref=full, taint=frozenset({"environ"}) if full == "os.environ" else _EMPTY)
            if args[1].text is None:
                out.add("dynamic", DynamicCode("getattr", False))
            return _V(taint=taint)
        if ref in ("__import__", "importlib.import_module", "importlib.__import__"):
            if a0.text is not None:
                out.imports.add(a0.text)
                if a0.text.split(".", 1)[0] == "ctypes":
                    out.add("dynamic", DynamicCode("ctypes"))
                return _V(ref=_normalise_ref(a0.text))
            out.add("dynamic", DynamicCode(ref, False, _sorted(taint)))
            return _UNKNOWN
        if ref in ("globals", "locals", "vars"):
            return _V(ref="builtins_dict")
        if ref in ("builtins_dict.get", "builtins_dict.__getitem__") and a0.text is not None:
            return _V(ref=a0.text)
        # -- dynamic code --
        if ref in ("eval", "exec", "compile"):
            code = a0
            if code.ref == "code_object":
                out.add("dynamic", DynamicCode(ref, True, _sorted(code.taint)))
                return _UNKNOWN
            literal = code.text is not None
            out.add("dynamic", DynamicCode(ref, literal, _sorted(code.taint)))
            if literal and code.text is not None:
                self._nested(code.text, "python")
            return _V(ref="code_object") if ref == "compile" else _V(taint=taint)
        if ref in _DESERIALISE or ref.startswith(("ctypes.", "cffi.")):
            if ref.startswith(("ctypes.", "cffi.")):
                # ``cdll.LoadLibrary(path)``, ``ctypes.CDLL(path)``, ``ffi.dlopen(path)``: native code from a file
                lib = _path_text(a0) if ref.rsplit(".", 1)[-1] in _NATIVE_LOADERS else None
                out.add("dynamic", DynamicCode("ctypes", sources=(f"lib:{lib}",) if lib else ()))
                return _V(ref="ctypes.obj")
            if (
                ref in ("numpy.load", "torch.load")
                and not any(k == "allow_pickle" and v.num for k, v in kw.items())
                and ref == "numpy.load"
            ):
                out.add("reads", FileRead(ref, _path_text(a0)))
                return _V(taint=frozenset({f"file:{_path_text(a0) or '?'}"}))
            out.add("dynamic", DynamicCode(ref, False, _sorted(taint)))
            return _V(taint=taint)
        if ref in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load"):
            loader = kw.get("Loader", a1)
            if ref.startswith("yaml.unsafe") or not (loader.ref and loader.ref.endswith(_SAFE_YAML)):
                out.add("dynamic", DynamicCode(ref, False, _sorted(taint)))
            return _V(taint=taint)
        if ref.startswith("ctypes_obj"):
            return _UNKNOWN
        # -- decoders --
        if ref in _DECODERS or (name in ("b64decode", "urlsafe_b64decode", "decodebytes") and "base64" in ref):
            extra = a1.text if len(args) > 1 else (kw.get("encoding", _UNKNOWN).text)
            if a0.text is not None:
                text = _decode_literal(ref, a0.text, extra)
                if text is not None:
                    self._found_decoded(text)
                    return _V(text=text, taint=a0.taint | {"decoded"})
            return _V(taint=a0.taint | {"decoded"})
        # -- processes --
        if ref in _SPAWN_SHELL or ref in _SPAWN_ARGV or ref in _SPAWN_EXEC:
            return self._spawn(ref, args, kw, taint)
        # -- deletions, permissions, kills --
        if ref in _DELETE:
            out.add("deletions", Deletion(ref, _path_text(a0), _DELETE[ref]))
            return _UNKNOWN
        if ref in _CHMOD:
            mode = kw.get("mode", a1)
            self._chmod(ref, _path_text(a0), mode.num)
            return _UNKNOWN
        if ref in _CHOWN:
            owner = a1.text if a1.text is not None else (str(a1.num) if a1.num is not None else None)
            out.add("permissions", PermissionChange(ref, _path_text(a0), owner=owner))
            return _UNKNOWN
        if ref in _SETID:
            out.add("permissions", PermissionChange(ref, None, setuid=any(a.num == 0 for a in args)))
            return _UNKNOWN
        if ref in _KILL:
            pid = a0.num
            out.add("kills", ProcessKill(ref, pid, None, (pid is not None and pid <= 1) or ref == "os.killpg"))
            return _UNKNOWN
        if ref in ("psutil.Process", "psutil.process_iter", "psutil.pids"):
            return _V(ref="process", arg=str(a0.num) if a0.num is not None else None)
        if ref in ("process.kill", "process.terminate", "process.send_signal", "process.suspend"):
            pid = int(func.arg) if func.arg and func.arg.isdigit() else None
            out.add("kills", ProcessKill("psutil.Process." + name, pid, None, pid is not None and pid <= 1))
            return _UNKNOWN
        if ref in ("os.dup2", "os.dup"):
            out.dup2 = True
            return _UNKNOWN
        if ref in ("os.getenv", "os.environ.get", "os.getenvb", "os.environ.__getitem__", "os.environ.pop"):
            return self._env(a0)
        if ref in ("os.environ.copy", "os.environ.items", "os.environ.keys", "os.environ.values"):
            return _V(taint=frozenset({"environ"}))
        # -- files --
        if ref == "open" or ref in ("io.open", "codecs.open"):
            return self._open(ref, _path_text(a0), (kw.get("mode", a1).text or "r") if len(args) > 1 or "mode" in kw
                              else "r")  # fmt: skip
        if ref in ("pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePath", "Path"):
            parts = [a.text for a in args]
            if parts and all(p is not None for p in parts):
                return _V(ref="path", arg=_join(*[p for p in parts if p is not None]))
            return _V(ref="path", arg=None if args else ".")
        if ref in ("pathlib.Path.home", "path.home", "os.path.expanduser"):
            if ref == "os.path.expanduser":
                return _V(text=a0.text, taint=a0.taint)
            return _V(ref="path", arg="~")
        if ref in ("os.path.join", "posixpath.join", "ntpath.join", "path.joinpath"):
            parts = [a.text for a in args]
            if ref == "path.joinpath":
                parts = [func.arg, *parts]
            if parts and all(p is not None for p in parts):
                joined = _join(*[p for p in parts if p is not None])
                return _V(ref="path", arg=joined) if ref == "path.joinpath" else _V(text=joined)
            return _V(ref="path") if ref == "path.joinpath" else _UNKNOWN
        if ref.startswith("path."):
            return self._path_method(name, func.arg, args, taint)
        if ref.startswith("file."):
            return self._file_method(name, func, args, taint)
        if ref in ("shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move", "os.rename",
                   "os.replace", "shutil.copyfileobj", "os.link", "os.symlink"):  # fmt: skip
            src, dst = _path_text(a0), _path_text(a1)
            if ref != "shutil.copyfileobj":
                out.add("reads", FileRead(ref, src))
                content = "downloaded" if any(t.startswith("net:") for t in a0.taint) else "copy"
                out.add("writes", FileWrite(ref, dst, content))
            return _UNKNOWN
        if ref in _READ_FUNCS:
            path = _path_text(a0)
            out.add("reads", FileRead(ref, path))
            return _V(taint=frozenset({f"file:{path or '?'}"}))
        if name in _WRITE_METHODS and ref.startswith(("value.", "matplotlib.", "pandas.", "numpy.", "plt.")):
            out.add("writes", FileWrite(name, _path_text(a0), "data"))
            return _UNKNOWN
        if ref.startswith("value.") and name in _STR_METHODS:
            return self._str_method(name, func, args, taint)
        if ref in ("bytes", "bytearray", "str") and args:
            return _V(text=a0.text, taint=a0.taint)
        if ref == "chr" and a0.num is not None and 0 <= a0.num < 0x110000:
            return _V(text=chr(a0.num))
        # -- network --
        net = self._network(ref, name, func, args, kw, taint)
        if net is not None:
            return net
        # -- persistence from code --
        if ref in ("winreg.SetValueEx", "winreg.SetValue", "_winreg.SetValueEx"):
            key = func.arg or ""
            out.add("persistence", Persistence("registry-run", key or "registry"))
            return _UNKNOWN
        if ref in ("winreg.OpenKey", "winreg.CreateKey", "winreg.OpenKeyEx", "winreg.CreateKeyEx"):
            sub = a1.text or ""
            if registry_autorun(sub):
                out.add("persistence", Persistence("registry-run", sub))
            return _UNKNOWN
        if ref in ("crontab.CronTab",):
            out.add("persistence", Persistence("cron", "python-crontab"))
            return _UNKNOWN
        if ref.startswith("value.") or "." not in ref:
            return _V(taint=taint | func.taint)
        return _V(taint=taint)

    def _found_decoded(self, text: str) -> None:
        """Decoded text: remembered, and analysed as Python when it parses (hidden code is analysed as code)."""
        out = self.out
        if len(out.decoded) < 64:
            out.decoded[text[:4096]] = None
        if _looks_like_code(text) or "(" in text:
            self._nested(text, "python", quiet=True)

    def _nested(self, text: str, lang: str, quiet: bool = False) -> None:
        if self.depth + 1 > MAX_CODE_DEPTH:
            self.out.truncated = True
            return
        if lang == "python":
            tree = _parse_python(text)
            if tree is _TOO_DEEP:
                self.out.truncated = True
                return
            if tree is None:
                if not quiet:  # exec'd text that is not Python: perhaps a shell line or prose; nothing to add
                    pass
                return
            _Py(self.out, self.depth + 1).run(tree)

    def _open(self, api: str, path: str | None, mode: str) -> _V:
        out = self.out
        if any(c in mode for c in "wax+"):
            out.add("writes", FileWrite(api, path, ""))
            if "+" in mode or "r" in mode:
                out.add("reads", FileRead(api, path))
            return _V(ref="file", arg=path, mode="w")
        out.add("reads", FileRead(api, path))
        return _V(ref="file", arg=path, mode="r", taint=frozenset({f"file:{path or '?'}"}))

    def _file_method(self, name: str, func: _V, args: list[_V], taint: frozenset[str]) -> _V:
        if name in ("write", "writelines") and func.mode == "w":
            self.out.add("writes", FileWrite("open", func.arg, _content(args[0] if args else _UNKNOWN)))
            return _UNKNOWN
        if name in ("read", "readline", "readlines", "__iter__", "__enter__", "buffer", "read1"):
            return _V(taint=func.taint, ref="file" if name in ("__enter__", "buffer") else "", arg=func.arg,
                      mode=func.mode)  # fmt: skip
        return _V(taint=func.taint)

    def _path_method(self, name: str, path: str | None, args: list[_V], taint: frozenset[str]) -> _V:
        out = self.out
        a0 = args[0] if args else _UNKNOWN
        if name in ("read_text", "read_bytes"):
            out.add("reads", FileRead("Path." + name, path))
            return _V(taint=frozenset({f"file:{path or '?'}"}))
        if name in ("write_text", "write_bytes"):
            out.add("writes", FileWrite("Path." + name, path, _content(a0)))
            return _UNKNOWN
        if name == "open":
            mode = a0.text or "r"
            return self._open("Path.open", path, mode)
        if name in ("unlink", "rmdir"):
            out.add("deletions", Deletion("Path." + name, path))
            return _UNKNOWN
        if name in ("chmod", "lchmod"):
            self._chmod("Path." + name, path, a0.num)
            return _UNKNOWN
        if name in ("expanduser", "resolve", "absolute", "with_name", "with_suffix", "parent"):
            return _V(ref="path", arg=path)
        if name in ("glob", "rglob", "iterdir"):
            out.add("reads", FileRead("Path." + name, path))
            return _V(taint=frozenset({f"file:{path or '?'}"}))
        if name == "touch":
            out.add("writes", FileWrite("Path.touch", path, ""))
        if name in ("rename", "replace"):
            out.add("writes", FileWrite("Path." + name, _path_text(a0), "copy"))
        return _V(taint=taint)

    def _chmod(self, api: str, path: str | None, mode: int | None) -> None:
        setuid = mode is not None and bool(mode & 0o6000)
        world = mode is not None and bool(mode & 0o002)
        self.out.add("permissions", PermissionChange(api, path, mode, setuid, world))

    def _str_method(self, name: str, func: _V, args: list[_V], taint: frozenset[str]) -> _V:
        s = func.text
        t = func.taint | taint
        if s is None:
            return _V(taint=t)
        if name in ("decode", "encode"):
            return _V(text=s, taint=t)
        if name in ("strip", "rstrip", "lstrip") and not args:
            return _V(text=getattr(s, name)(), taint=t)
        if name in ("lower", "upper"):
            return _V(text=getattr(s, name)(), taint=t)
        if name == "replace" and len(args) >= 2 and args[0].text is not None and args[1].text is not None:
            if not args[0].text:
                return _V(taint=t)
            r = s.replace(args[0].text, args[1].text)
            return _V(text=r if len(r) <= MAX_TEXT else None, taint=t)
        if name == "join" and args and args[0].items is not None:
            parts = [v.text for v in args[0].items]
            if all(p is not None for p in parts):
                r = s.join(p for p in parts if p is not None)
                return _V(text=r if len(r) <= MAX_TEXT else None, taint=t)
        if name == "format":
            vals = [a.text if a.text is not None else (str(a.num) if a.num is not None else None) for a in args]
            if all(v is not None for v in vals) and "{}" in s and s.count("{") == len(vals):
                r = s
                for v in vals:
                    r = r.replace("{}", v or "", 1)
                return _V(text=r if len(r) <= MAX_TEXT else None, taint=t)
        return _V(taint=t)

    def _spawn(self, ref: str, args: list[_V], kw: dict[str, _V], taint: frozenset[str]) -> _V:
        out = self.out
        a0 = args[0] if args else kw.get("args", kw.get("cmd", _UNKNOWN))
        shell = ref in _SPAWN_SHELL or bool(kw.get("shell", _UNKNOWN).num)
        argv: tuple[str, ...] = ()
        command: str | None = None
        if ref in _SPAWN_EXEC:
            # execl(path, arg0, arg1...), execv(path, [argv]), spawnl(mode, path, arg0...)
            rest = args[1:] if ref.startswith("os.spawn") else args
            lst = next((a.items for a in rest[1:] if a.items is not None), None)
            if lst is not None:
                words = [v.text for v in lst]
            else:
                words = [v.text for v in rest[1:]] if len(rest) > 1 else [rest[0].text if rest else None]
                if ref.startswith(("os.execl", "os.spawnl")) and rest and rest[0].text and words:
                    words = [rest[0].text, *words[1:]]
                if ref.endswith("e") and words:
                    words = words[:-1]  # the environment
            if words and all(w is not None for w in words):
                argv = tuple(w for w in words if w is not None)
        elif a0.items is not None:
            words = [v.text for v in a0.items]
            if words and all(w is not None for w in words):
                argv = tuple(w for w in words if w is not None)
                if shell and argv:
                    command = argv[0]
        elif a0.text is not None:
            if shell or ref in ("pexpect.spawn", "pexpect.run"):
                command = a0.text
            else:
                argv = (a0.text,)
        if command is None and argv:
            command = " ".join(_quote(w) for w in argv)
        if ref == "pty.spawn":
            out.shell_spawned = out.shell_spawned or True
        from_net = any(t.startswith("net:") for t in a0.taint)
        if _is_shell_program(argv[0] if argv else command) or (ref == "pty.spawn"):
            out.shell_spawned = True
        if any(v.ref == "socket" or "socket" in v.taint for k, v in kw.items() if k in ("stdin", "stdout", "stderr")):
            out.socket_io = True
        out.add("spawns", Spawn(ref, command, argv, shell, from_net))
        if command and _edits_crontab(command):
            out.add("persistence", Persistence("cron", command))
        if ref in _OUTPUT_CALLS or ref == "os.popen":
            return _V(ref="proc_output", taint=frozenset({f"cmd:{command or '?'}"}))
        return _V(
            ref="proc_output", taint=frozenset({f"cmd:{command or '?'}"}) if ref == "subprocess.Popen" else _EMPTY
        )

    def _network(
        self, ref: str, name: str, func: _V, args: list[_V], kw: dict[str, _V], taint: frozenset[str]
    ) -> _V | None:
        out = self.out
        a0 = args[0] if args else kw.get("url", _UNKNOWN)
        root = ref.split(".", 1)[0]
        if ref in _CLIENT_CTORS:
            return _V(ref="client", arg=kw.get("base_url", _UNKNOWN).text)
        if (root in _HTTP_MODULES and name in _HTTP_VERBS) or (ref.startswith("client.") and name in _HTTP_VERBS):
            base = func.arg if ref.startswith("client.") else None
            url_v = a0
            if name == "request" and len(args) > 1:
                url_v = args[1]
            elif name == "request":
                url_v = kw.get("url", _UNKNOWN)
            dest = url_v.text if url_v.text is not None else base
            payload = taint - url_v.taint if False else taint
            out.add("sends", NetworkSend(ref, dest, _sorted(payload)))
            method = (args[0].text or "").lower() if name == "request" and args else name
            if method in _FETCH_VERBS or name in _FETCH_VERBS:
                out.add("downloads", Download(ref, dest))
            return _V(ref="response", arg=dest, taint=frozenset({f"net:{dest or '?'}"}))
        if ref in ("urllib.request.urlopen", "urllib.urlopen", "urllib.request.Request", "client.open"):
            if a0.ref == "request":
                dest, payload = a0.arg, a0.taint | _union(v.taint for v in [*args[1:], *kw.values()])
            else:
                dest, payload = a0.text, taint
            if ref.endswith("Request"):
                return _V(ref="request", arg=dest, taint=taint)
            out.add("sends", NetworkSend(ref, dest, _sorted(payload)))
            out.add("downloads", Download(ref, dest))
            return _V(ref="response", arg=dest, taint=frozenset({f"net:{dest or '?'}"}))
        if ref in ("urllib.request.urlretrieve", "urllib.urlretrieve", "wget.download"):
            dest = a0.text
            out.add("sends", NetworkSend(ref, dest, ()))
            out.add("downloads", Download(ref, dest))
            target = args[1] if len(args) > 1 else kw.get("filename", kw.get("out", _UNKNOWN))
            out.add("writes", FileWrite(ref, _path_text(target), "downloaded"))
            return _UNKNOWN
        if ref in _CONN_CTORS:
            kind = _CONN_CTORS[ref]
            host = a0.text if a0.ref != "conn" else a0.arg
            if a0.items is not None and a0.items:
                host = a0.items[0].text
                if kind == "socket" and len(a0.items) > 1:
                    out.connects.append((host, a0.items[1].num))
            elif kind == "socket" and ref == "socket.create_connection":
                out.connects.append((None, None))
            if kind == "ws" and host is not None:
                out.add("sends", NetworkSend(ref, host, _sorted(taint)))
            if kind == "socket":
                return _V(ref="socket", arg=host, taint=frozenset({"socket"}))
            return _V(ref="conn", arg=host)
        if ref.startswith("socket."):
            if name == "connect" or name == "connect_ex":
                host, port = None, None
                if a0.items is not None and a0.items:
                    host = a0.items[0].text
                    port = a0.items[1].num if len(a0.items) > 1 else None
                out.connects.append((host, port))
                return _UNKNOWN
            if name == "bind":
                port = a0.items[1].num if a0.items is not None and len(a0.items) > 1 else None
                out.binds.append(port)
                return _UNKNOWN
            if name in ("send", "sendall", "sendto", "sendmsg", "write"):
                dest = func.arg
                if name == "sendto" and len(args) > 1 and args[1].items:
                    dest = args[1].items[0].text
                if dest is None and out.connects:
                    dest = out.connects[-1][0]
                out.add("sends", NetworkSend(ref, dest, _sorted(taint)))
                return _UNKNOWN
            if name in ("recv", "recvfrom", "makefile", "recv_into", "read"):
                return _V(taint=frozenset({"net:socket", "socket"}))
            if name in ("fileno", "accept", "listen", "settimeout", "setsockopt", "dup", "wrap_socket"):
                return _V(ref="socket", arg=func.arg, taint=frozenset({"socket"}))
            if name in ("gethostbyname", "gethostbyname_ex", "getaddrinfo"):
                if taint & frozenset(t for t in taint if t.startswith(_SECRET_SOURCES)):
                    out.add("sends", NetworkSend("dns", a0.text, _sorted(taint)))
                return _UNKNOWN
            return None
        if ref.startswith("conn."):
            if name in _CONN_SEND_METHODS or name == "connect":
                dest = func.arg
                if name == "connect" and a0.text is not None:
                    dest = a0.text
                if name == "connect" and not taint:
                    return _V(ref="conn", arg=dest)
                if name == "put" and a0.text is not None:  # sftp.put(local_path, remote): uploads a file
                    out.add("reads", FileRead(ref, a0.text))
                    taint = taint | {f"file:{a0.text}"}
                out.add("sends", NetworkSend(ref, dest, _sorted(taint)))
                if name in ("exec_command",):
                    return _V(taint=frozenset({f"net:{dest or '?'}"}))
                return _V(ref="conn", arg=dest)
            if name in ("getresponse", "recv", "read", "retrbinary", "retrlines", "open_sftp", "get_transport"):
                if name == "open_sftp":
                    return _V(ref="conn", arg=func.arg)
                out.add("downloads", Download(ref, func.arg))
                return _V(ref="response", arg=func.arg, taint=frozenset({f"net:{func.arg or '?'}"}))
            return _V(ref="conn", arg=func.arg)
        if ref.startswith("response."):
            return _V(ref="response", arg=func.arg, taint=func.taint)
        if ref.startswith("request."):
            return _V(ref="request", arg=func.arg, taint=func.taint | taint)
        return None


_WELL_KNOWN = {
    name: name
    for name in (
        "os", "subprocess", "requests", "httpx", "urllib", "socket", "shutil", "pickle", "marshal", "base64", "pty",
        "ctypes", "smtplib", "ftplib", "paramiko", "telnetlib", "http", "pathlib", "importlib", "codecs", "zlib",
        "psutil", "signal", "winreg", "dill", "aiohttp", "urllib3", "websocket", "binascii", "asyncio",
    )
} | {"Path": "pathlib.Path", "pd": "pandas", "np": "numpy", "__builtins__": "builtins"}  # fmt: skip
_STR_METHODS = frozenset(
    {"decode", "encode", "strip", "lower", "upper", "rstrip", "lstrip", "replace", "format", "join", "splitlines"}
)
_OBJECT_KINDS = frozenset(
    {"file", "path", "socket", "response", "client", "conn", "request", "process", "code_object", "proc_output"}
)


def _edits_crontab(command: str) -> bool:
    """True when a command line runs ``crontab`` for anything but listing (``crontab -l`` alone)."""
    words = [*command.translate({ord(c): " " for c in ";|&()"}).split(), ""]
    return any(w.rsplit("/", 1)[-1] == "crontab" and words[i + 1] != "-l" for i, w in enumerate(words[:-1]))


def _union(items: Iterable[frozenset[str]]) -> frozenset[str]:
    out: frozenset[str] = _EMPTY
    for t in items:
        if t:
            out = out | t
    return out


def _sorted(taint: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(t for t in taint if t != "socket"))


def _join(*parts: str) -> str:
    out = ""
    for p in parts:
        out = p if p.startswith("/") or not out else out.rstrip("/") + "/" + p
    return out


def _path_text(v: _V) -> str | None:
    if v.text is not None:
        return v.text
    if v.ref in ("path", "file"):
        return v.arg
    return None


def _content(v: _V) -> str:
    if any(t.startswith("net:") for t in v.taint):
        return "downloaded"
    if "decoded" in v.taint:
        return "decoded"
    if v.text is not None and _looks_like_code(v.text):
        return "code"
    return "data"


def _parse_python(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, OverflowError):
        return None
    except (RecursionError, MemoryError):
        return _TOO_DEEP


_TOO_DEEP = ast.Module(body=[], type_ignores=[])  # nesting the parser cannot take: not parsed, and truncated


def _python_prefilter(source: str) -> bool:
    return any(h in source for h in _PY_HINTS)


def python_facts(source: str) -> CodeFacts:
    """The facts of a Python program (never executed); ``parsed=False`` when it is not Python."""
    key = ("python", source)
    found = _CACHE.get(key)
    if found is not None:
        return found
    facts = _python_uncached(source)
    _CACHE.put(key, facts)
    return facts


def _python_uncached(source: str) -> CodeFacts:
    if not _python_prefilter(source):
        return CodeFacts("python", False)
    text, cut = _bounded(source)
    tree = _parse_python(text)
    if tree is None or tree is _TOO_DEEP:
        return CodeFacts("python", False, cut or tree is _TOO_DEEP)
    out = _Collector("python")
    out.truncated = cut
    try:
        _Py(out, 0).run(tree)
    except RecursionError:  # pragma: no cover - evaluation depth is bounded; a last line of defence
        out.truncated = True
    return out.freeze()


# --- JavaScript and PowerShell: a linear tokenizer --------------------------------------------------------------
class _Tok(NamedTuple):
    kind: str  # "id", "str", "op", "var" (PowerShell $name), "nl"
    text: str


_PS_STOP = frozenset(";|(){}'\"`,=[]<>&")


_TEMPLATE_HOLE = 64  # characters of a template literal's ``${...}`` expression kept in the string's text


def _template(src: str, i: int, buf: list[str], budget: list[int]) -> tuple[int, bool]:
    """Scan a JavaScript template literal's text from ``i`` into ``buf`` up to its closing backtick (returns the
    index after it, False) or up to a ``${`` hole (returns the index of the hole's first character, True)."""
    n = len(src)
    while i < n:
        budget[0] -= 1
        if budget[0] < 0:
            return n, False
        ch = src[i]
        if ch == "\\":
            if i + 1 < n:
                nxt = src[i + 1]
                buf.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(nxt, nxt))
            i += 2
            continue
        if ch == "`":
            return i + 1, False
        if ch == "$" and i + 1 < n and src[i + 1] == "{":
            return i + 2, True
        buf.append(ch)
        i += 1
    return n, False


def _tokens(src: str, lang: str, budget: list[int]) -> list[_Tok]:
    """Identifiers (with dots and, for PowerShell, dashes), strings, variables and single-character operators;
    comments dropped. A JavaScript template literal is one string whose ``${...}`` holes keep their text, and the
    code inside each hole is tokenized too (so calls there are found). Linear: every step advances."""
    out: list[_Tok] = []
    i, n = 0, len(src)
    ps = lang == "powershell"
    script = lang in SCRIPT_LANGUAGES
    # open template holes: (the template's text so far, ``{`` depth inside the hole, where the hole starts)
    holes: list[tuple[list[str], int, int]] = []
    while i < n:
        budget[0] -= 1
        if budget[0] < 0:
            break
        c = src[i]
        if script:
            j = _script_lex(src, i, lang, out, budget)
            if j > i:
                i = j
                continue
        if not ps and (c == "`" or (c == "}" and holes and holes[-1][1] == 0)):
            if c == "`":
                buf: list[str] = []
                i += 1
            else:
                buf, _depth, start = holes.pop()
                buf.append("${" + src[start:i][:_TEMPLATE_HOLE] + "}")
                i += 1
            i, hole = _template(src, i, buf, budget)
            if hole:
                holes.append((buf, 0, i))
            else:
                out.append(_Tok("str", "".join(buf)[:MAX_TEXT]))
            continue
        if holes and c in "{}":
            text, depth, start = holes[-1]
            holes[-1] = (text, depth + (1 if c == "{" else -1), start)
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "\n":
            out.append(_Tok("nl", "\n"))
            i += 1
            continue
        if not ps and c == "/" and src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if not ps and c == "/" and src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if ps and c == "<" and src.startswith("<#", i):
            j = src.find("#>", i + 2)
            i = n if j < 0 else j + 2
            continue
        if ps and c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "'\"":
            j = i + 1
            buf = []
            esc = "`" if ps else "\\"
            while j < n:
                ch = src[j]
                if (ch == esc and c != "'") or (ch == "\\" and not ps):
                    if j + 1 < n:
                        nxt = src[j + 1]
                        buf.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(nxt, nxt))
                    j += 2
                    continue
                if ch == c:
                    if ps and c == "'" and j + 1 < n and src[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(ch)
                j += 1
            out.append(_Tok("str", "".join(buf)))
            i = j + 1
            continue
        if ps and c == "@" and i + 1 < n and src[i + 1] in "'\"":  # here-string @' ... '@
            q = src[i + 1]
            j = src.find("\n" + q + "@", i + 2)
            end = n if j < 0 else j
            out.append(_Tok("str", src[i + 2 : end].lstrip("\r\n")))
            i = n if j < 0 else j + 3
            continue
        if ps and c == "$":
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "_:"):
                j += 1
            out.append(_Tok("var", src[i + 1 : j].lower()))
            i = max(j, i + 1)
            continue
        if ps and (c.isalnum() or c in "_-\\/~%"):  # a bare word runs to whitespace or punctuation
            j = i + 1
            while j < n and not src[j].isspace() and src[j] not in _PS_STOP:
                j += 1
            out.append(_Tok("id", src[i:j]))
            i = j
            continue
        if c.isalnum() or c in "_$":
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "_$."):
                j += 1
            out.append(_Tok("id", src[i:j]))
            i = j
            continue
        out.append(_Tok("op", c))
        i += 1
    if budget[0] < 0:
        out.append(_Tok("cut", ""))
    return out


#: Languages read by the script lexer (``perl -e``, ``ruby -e``, ``lua -e``, ``php -r``).
SCRIPT_LANGUAGES = frozenset({"perl", "ruby", "lua", "php"})
_CLOSERS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_PERL_QUOTES = frozenset({"q", "qq", "qw", "qx", "m", "qr", "s", "tr", "y"})
_QUOTE_DELIMS = frozenset("/{([<|!#~^:@%'\"")
_REGEX_BEFORE = frozenset({"if", "unless", "and", "or", "not", "split", "grep", "return", "when", "while", "until"})


def _delimited(src: str, i: int, budget: list[int]) -> tuple[str, int]:
    """The text of a quote-like construct whose opening delimiter is at ``i`` (``q{a{b}}``, ``s/x/y/``'s first part,
    backslash escapes kept), and the index after its closing delimiter. Brackets nest; each step advances."""
    open_ = src[i]
    close = _CLOSERS.get(open_, open_)
    depth = 0
    j = i + 1
    n = len(src)
    while j < n:
        budget[0] -= 1
        ch = src[j]
        if ch == "\\":
            j += 2
            continue
        if ch == close and depth == 0:
            return src[i + 1 : j][:MAX_TEXT], j + 1
        if open_ != close and ch == open_:
            depth += 1
        elif open_ != close and ch == close:
            depth -= 1
        j += 1
    return src[i + 1 :][:MAX_TEXT], n


def _script_lex(src: str, i: int, lang: str, out: list[_Tok], budget: list[int]) -> int:
    """One token of Perl, Ruby, Lua or PHP where their lexing differs from JavaScript's: ``#`` and ``--`` comments,
    sigil variables and ``::``/``->``/Lua ``:`` names (methods read as ``.``: ``$s->send`` is ``$s.send``), Perl's
    ``q qq qw qx`` and regex operators, Ruby's ``%w() %x()``, backticks (kind ``bt``: a shell command), Lua long
    strings. Returns the index after what it consumed, or ``i`` when the shared lexer reads the character."""
    c = src[i]
    n = len(src)
    if c == "#" and lang != "lua":
        if lang == "perl" and i > 0 and src[i - 1] == "$":
            return i
        j = src.find("\n", i)
        return n if j < 0 else j
    if lang == "lua" and c == "-" and src.startswith("--", i):
        if src.startswith("[[", i + 2) or src.startswith("[=[", i + 2):
            end = "]]" if src[i + 2 : i + 4] == "[[" else "]=]"
            j = src.find(end, i + 4)
            return n if j < 0 else j + len(end)
        j = src.find("\n", i)
        return n if j < 0 else j
    if lang == "lua" and c == "[" and (src.startswith("[[", i) or src.startswith("[=[", i)):
        end = "]]" if src.startswith("[[", i) else "]=]"
        j = src.find(end, i + 2)
        body = src[i + 2 : n if j < 0 else j]
        out.append(_Tok("str", body.lstrip("\n")[:MAX_TEXT]))
        return n if j < 0 else j + len(end)
    if c == "`":
        if lang == "lua":
            out.append(_Tok("op", c))
            return i + 1
        text, j = _delimited(src, i, budget)
        out.append(_Tok("bt", text))
        return j
    if c == "/" and lang != "php":
        prev = out[-1] if out else None
        regex = lang in ("perl", "ruby") and (
            prev is None
            or (prev.kind == "op" and prev.text not in ")]}")
            or (prev.kind == "id" and prev.text in _REGEX_BEFORE)
            or prev.kind == "nl"
        )
        if regex:
            return _delimited(src, i, budget)[1]
        out.append(_Tok("op", c))
        return i + 1
    if lang == "ruby" and c == "%" and i + 2 < n:
        kind = src[i + 1] if src[i + 1].isalpha() else ""
        at = i + 1 + len(kind)
        if kind in ("", "w", "W", "q", "Q", "x", "i", "I") and at < n and src[at] in "([{<|!/":
            text, j = _delimited(src, at, budget)
            if kind == "x":
                out.append(_Tok("bt", text))
            elif kind in ("w", "W", "i", "I"):
                out.extend(_Tok("str", w) for w in text.split()[:256])
            else:
                out.append(_Tok("str", text))
            return j
        return i
    sigil = c in "$@" and lang != "lua" and i + 1 < n and (src[i + 1].isalnum() or src[i + 1] in "_:{")
    if not (c.isalnum() or c == "_" or sigil):
        return i
    j = i + 1
    if sigil and src[j] == "{":  # ${name}
        return i
    parts: list[str] = []
    start = i
    while j < n:
        ch = src[j]
        if ch.isalnum() or ch == "_":
            j += 1
        elif ch == ":" and src.startswith("::", j) and j + 2 < n and (src[j + 2].isalnum() or src[j + 2] == "_"):
            j += 2
        elif ch == "." and j + 1 < n and (src[j + 1].isalpha() or src[j + 1] == "_") and lang in ("ruby", "lua"):
            j += 1
        elif ch == "-" and src.startswith("->", j) and j + 2 < n and (src[j + 2].isalpha() or src[j + 2] == "_"):
            parts.append(src[start:j])
            j += 2
            start = j
        elif ch == ":" and lang == "lua" and j + 1 < n and (src[j + 1].isalpha() or src[j + 1] == "_"):
            parts.append(src[start:j])
            j += 1
            start = j
        else:
            break
    parts.append(src[start:j])
    word = ".".join(parts)
    if lang == "perl" and word in _PERL_QUOTES and j < n and src[j] in _QUOTE_DELIMS and (i == 0 or src[i - 1] != "-"):
        text, k = _delimited(src, j, budget)
        if word in ("s", "tr", "y") and k < n:  # the replacement part
            if src[j] in _CLOSERS:
                while k < n and src[k].isspace():
                    k += 1
                if k < n and src[k] in _CLOSERS:
                    k = _delimited(src, k, budget)[1]
            else:
                k = _delimited(src, k - 1, budget)[1]
        if word in ("q", "qq"):
            out.append(_Tok("str", text))
        elif word == "qw":
            out.extend(_Tok("str", w) for w in text.split()[:256])
        elif word == "qx":
            out.append(_Tok("bt", text))
        return k
    out.append(_Tok("id", word))
    return j


class _Call(NamedTuple):
    name: str  # dotted callee as written (``child_process.exec``, ``fs.readFileSync``, ``Invoke-WebRequest``)
    args: tuple[str, ...]  # literal string arguments (adjacent ``'a' + 'b'`` joined)
    words: tuple[str, ...]  # every identifier and variable inside the call (options, names)


def _calls(toks: list[_Tok], ps: bool) -> list[_Call]:
    """Calls ``name(...)`` with their string arguments, found with one stack of open parentheses (linear)."""
    out: list[_Call] = []
    stack: list[tuple[str, list[str], list[str], bool]] = []  # (name, strings, words, joining)
    prev: _Tok | None = None
    chain = ""  # the callee built across ``).method(`` links: require('x').exec
    for i, t in enumerate(toks):
        if t.kind == "op" and t.text == "(":
            name = prev.text if prev is not None and prev.kind == "id" else ""
            if name and chain and i >= 3 and toks[i - 2].text == "." and toks[i - 3].text == ")":
                name = f"{chain}.{name}"
            elif ps and name and i >= 5 and toks[i - 2].text == ":" == toks[i - 3].text and toks[i - 4].text == "]":
                name = f"{toks[i - 5].text}::{name}"  # a .NET static call: [System.Diagnostics.Process]::Start(
            stack.append((name, [], [], False))
        elif t.kind == "op" and t.text == ")":
            if stack:
                name, strs, words, _j = stack.pop()
                if name:
                    out.append(_Call(name, tuple(strs), tuple(words)))
                    chain = strs[0] if name in ("require", "import") and strs else name
                    if stack:
                        stack[-1][2].append(name)
                        if strs:
                            stack[-1][1].extend(strs[:1] if name not in _DECODE_CALLS else [])
        elif t.kind == "str":
            if stack:
                strs = stack[-1][1]
                if prev is not None and prev.kind == "op" and prev.text == "+" and strs and i >= 2:
                    if toks[i - 2].kind == "str":
                        strs[-1] = (strs[-1] + t.text)[:MAX_TEXT]
                    else:
                        strs.append(t.text)
                else:
                    strs.append(t.text)
        elif t.kind in ("id", "var") and stack:
            stack[-1][2].append(("$" if t.kind == "var" else "") + t.text)
        if t.kind in ("nl",) or (t.kind == "op" and t.text in ";,{}="):
            chain = ""
        prev = t
    return out


_DECODE_CALLS = frozenset({"Buffer.from", "atob"})
_JS_SPAWN = vocab.words("js_process_functions")
_JS_READ = vocab.words("js_file_read_functions")
_JS_WRITE = vocab.words("js_file_write_functions")
_JS_DELETE = vocab.words("js_file_delete_functions")
_JS_HTTP = vocab.words("js_http_clients")
_JS_COPIES = ("copyFile", "copyFileSync", "cp", "cpSync", "rename", "renameSync")
_JS_SEND_METHODS = frozenset({"post", "put", "patch"})


def _js_aliases(toks: list[_Tok]) -> dict[str, str]:
    """Names bound to modules: ``const cp = require('child_process')``, ``const {exec, spawn} = require(...)``,
    ``import cp from 'child_process'``, ``import * as cp from ...`` and ``import {execSync as run} from ...``."""
    aliases: dict[str, str] = {}
    for i, t in enumerate(toks):
        if t.kind == "id" and t.text in ("require", "import") and i + 2 < len(toks) and toks[i + 2].kind == "str":
            mod = toks[i + 2].text.removeprefix("node:")
            if i >= 2 and toks[i - 1].text == "=" and toks[i - 2].kind == "id":
                aliases[toks[i - 2].text] = mod
            elif i >= 2 and toks[i - 1].text == "=" and toks[i - 2].text == "}":
                j = i - 3
                while j >= 0 and toks[j].text != "{" and i - j < 64:
                    if toks[j].kind == "id":
                        aliases[toks[j].text] = f"{mod}.{toks[j].text}"
                    j -= 1
        elif t.kind == "id" and t.text == "from" and i + 1 < len(toks) and toks[i + 1].kind == "str":
            mod = toks[i + 1].text.removeprefix("node:")
            j = i - 1
            while j >= 0 and i - j < 64 and not (toks[j].kind == "id" and toks[j].text == "import"):
                j -= 1
            if j < 0 or i - j >= 64:
                continue
            names = toks[j + 1 : i]
            braced = False
            k = 0
            while k < len(names):
                w = names[k]
                if w.text == "{":
                    braced = True
                elif w.text == "}":
                    braced = False
                elif w.kind == "id" and w.text != "as":
                    as_name = names[k + 2].text if k + 2 < len(names) and names[k + 1].text == "as" else None
                    if braced:
                        aliases[as_name or w.text] = f"{mod}.{w.text}"
                    elif w.text != "type":
                        aliases[w.text] = mod
                    k += 3 if as_name else 1
                    continue
                elif w.text == "*" and k + 2 < len(names) and names[k + 1].text == "as":
                    aliases[names[k + 2].text] = mod
                    k += 3
                    continue
                k += 1
    return aliases


def _resolve(name: str, aliases: dict[str, str]) -> str:
    """The qualified name of a callee: aliases replaced, ``fs/promises`` and ``fs.promises`` read as ``fs``."""
    head, _, rest = name.partition(".")
    if head in aliases:
        base = aliases[head]
        name = f"{base}.{rest}" if rest else base
    if name.startswith("fs.promises."):
        name = "fs." + name[len("fs.promises.") :]
    elif name.startswith("fs/promises."):
        name = "fs." + name[len("fs/promises.") :]
    if name.startswith("new "):
        name = name[4:]
    return name


def javascript_facts(source: str) -> CodeFacts:
    """Facts of JavaScript (``node -e``): calls and their string arguments, with ``require`` aliases."""
    key = ("javascript", source)
    found = _CACHE.get(key)
    if found is not None:
        return found
    facts = _js_facts(source, 0)
    _CACHE.put(key, facts)
    return facts


def _js_facts(source: str, depth: int, out: _Collector | None = None) -> CodeFacts:
    if "(" not in source:
        return CodeFacts("javascript", False)
    text, cut = _bounded(source)
    own = out is None
    col = out if out is not None else _Collector("javascript")
    col.truncated = col.truncated or cut
    budget = [col.budget]
    toks = _tokens(text, "javascript", budget)
    col.budget = budget[0]
    if toks and toks[-1].kind == "cut":
        col.truncated = True
    aliases = _js_aliases(toks)
    has_env_secret = False
    env_sources: list[str] = []
    for i, t in enumerate(toks):
        if t.kind == "id" and t.text.startswith("process.env"):
            rest = t.text[len("process.env") :].lstrip(".")
            if not rest:
                nxt = toks[i + 2].text if i + 2 < len(toks) and toks[i + 1].text == "[" else None
                if nxt and secret_env_name(nxt):
                    env_sources.append(f"env:{nxt}")
                elif nxt is None:
                    env_sources.append("environ")
            elif secret_env_name(rest):
                env_sources.append(f"env:{rest}")
            has_env_secret = bool(env_sources)
    payload_sends: list[NetworkSend] = []
    net_connect = False
    for call in _calls(toks, False):
        name = _resolve(call.name.lstrip("."), aliases)
        last = name.rsplit(".", 1)[-1]
        a0 = call.args[0] if call.args else None
        if name in _JS_SPAWN or (name in ("execSync", "exec") and not aliases):
            argv = call.args
            whole = last.startswith(("spawn", "execFile", "fork")) or name in ("Deno.Command", "Deno.run", "Bun.spawn")
            cmd = " ".join(_quote(w) for w in argv) if whole else a0
            col.add("spawns", Spawn(name, cmd, tuple(argv), not whole))
            if _is_shell_program(a0):
                col.shell_spawned = True
        elif name in _JS_READ:
            col.add("reads", FileRead(name, a0))
        elif name in _JS_WRITE:
            copies = last in _JS_COPIES
            col.add("writes", FileWrite(name, call.args[1] if copies and len(call.args) > 1 else a0,
                                        "copy" if copies else "data"))  # fmt: skip
            if copies:
                col.add("reads", FileRead(name, a0))
        elif name in _JS_DELETE:
            col.add("deletions", Deletion(name, a0, "recursive" in call.words))
        elif name.startswith(("fs.", "Deno.")) and last in ("chmodSync", "chmod"):
            mode = next((int(w, 8) for w in call.words if w.startswith("0o") and w[2:].isdigit()), None)
            col.add("permissions", PermissionChange(name, a0, mode))
        elif name in _JS_HTTP or (name.startswith(("axios.", "got.")) and last in _HTTP_VERBS):
            dest = a0
            method = next((w.lower() for w in call.args[1:] if w.lower() in ("post", "put", "patch")), "")
            body = (
                "body" in call.words or "data" in call.words or "json" in call.words or last in _JS_SEND_METHODS
                or bool(method) or "write" in call.words
            )  # fmt: skip
            send = NetworkSend(name, dest, ())
            col.add("sends", send)
            if body:
                payload_sends.append(send)
            if not body:
                col.add("downloads", Download(name, dest))
        elif last in ("write", "end") and call.name.startswith(("req.", "request.", "client.", "socket.", "s.")):
            # bytes written to a socket opened by net.connect go to the host it connected to
            raw = net_connect and not call.name.startswith(("req.", "request."))
            host = col.connects[-1][0] if raw and col.connects else None
            payload_sends.append(NetworkSend(f"net.Socket.{last}" if raw else name, host, ()))
        elif (name.startswith("net.") and last in ("connect", "createConnection")) or (
            last == "connect" and (call.name.startswith(("client.", "socket.", "s.", "net.")) or "Socket" in call.name)
        ):
            host = next((a for a in call.args if not a.isdigit()), None)
            col.connects.append((host, None))
            net_connect = True
        elif name in ("eval", "Function", "vm.runInNewContext", "vm.runInThisContext", "vm.Script", "setTimeout") and (
            name != "setTimeout" or call.args
        ):
            col.add("dynamic", DynamicCode(name, a0 is not None))
            if a0 is not None and depth < MAX_CODE_DEPTH:
                _js_facts(a0, depth + 1, col)
        elif name in ("Buffer.from", "atob") and a0 is not None:
            enc = call.args[1] if len(call.args) > 1 else ("base64" if name == "atob" else "")
            if enc in ("base64", "hex"):
                dec = _decode_literal("base64.b64decode" if enc == "base64" else "bytes.fromhex", a0, None)
                if dec is not None:
                    col.decoded[dec[:4096]] = None
                    if depth < MAX_CODE_DEPTH:
                        _js_facts(dec, depth + 1, col)
        elif name in ("process.kill",):
            pid = int(a0) if a0 and a0.isdigit() else None
            col.add("kills", ProcessKill(name, pid, None, pid is not None and pid <= 1))
        elif name.endswith(".pipe") and net_connect:
            col.socket_io = True
    if "stdio" in source or ".pipe(" in source:
        col.socket_io = col.socket_io or net_connect
    if col.lists["downloads"] and ".pipe(" in text:  # a response piped into a file stream: the file is downloaded
        for w in list(col.lists["writes"]):
            if isinstance(w, FileWrite) and w.api.endswith("createWriteStream"):
                del col.lists["writes"][w]
                col.add("writes", replace(w, content="downloaded"))
    reads = [r for r in col.lists["reads"] if isinstance(r, FileRead)]
    sources = [f"file:{r.path or '?'}" for r in reads] + (env_sources if has_env_secret else [])
    for send in payload_sends:
        for src in sources:
            col.add("flows", Exfiltration(src, send.destination, send.api))
    return col.freeze() if own else CodeFacts("javascript", True)


# --- Perl, Ruby, Lua and PHP: calls of the shared call splitter, with paren-less calls made explicit ------------
_SCRIPT_KEYWORDS = frozenset(
    {"my", "our", "local", "return", "if", "unless", "elsif", "else", "while", "until", "for", "foreach", "and", "or",
     "not", "do", "then", "end", "sub", "def", "class", "module", "function", "in", "new", "use", "package", "begin",
     "rescue", "ensure", "eq", "ne", "lt", "gt", "le", "ge", "cmp", "x", "echo", "print", "puts", "say", "p",
     "printf", "die", "warn", "nil", "true", "false", "self", "lambda", "proc", "when", "case", "elseif", "repeat"}
)  # fmt: skip
#: Words that end a paren-less call's arguments: ``system "x" or die``, ``print if /x/``.
_SCRIPT_ENDERS = frozenset({"if", "unless", "or", "and", "while", "until", "do", "then", "for", "foreach"})
_SCRIPT_SPAWN = vocab.mapping("script_spawn_functions")
_SCRIPT_OPEN = vocab.mapping("script_file_opens")
_SCRIPT_READ = vocab.mapping("script_file_read_functions")
_SCRIPT_WRITE = vocab.mapping("script_file_write_functions")
_SCRIPT_COPY = vocab.mapping("script_file_copy_functions")
_SCRIPT_DELETE = vocab.mapping("script_file_delete_functions")
_SCRIPT_PERMISSION = vocab.mapping("script_permission_functions")
_SCRIPT_NET = vocab.mapping("script_network_functions")
_SCRIPT_DECODERS = frozenset({"base64_decode", "decode_base64", "MIME::Base64::decode_base64", "Base64.decode64",
                              "Base64.strict_decode64", "Base64.urlsafe_decode64", "gzinflate", "str_rot13",
                              "hex2bin", "pack"})  # fmt: skip
_SCRIPT_EVAL = frozenset({"eval", "assert", "create_function", "instance_eval", "class_eval", "module_eval",
                          "Kernel.eval", "load", "loadstring", "dofile", "preg_replace"})  # fmt: skip
_POST_METHODS = frozenset({"post", "put", "patch", "post_form", "request_post"})
_GET_METHODS = frozenset({"get", "get_response", "getstore", "mirror", "getprint", "request", "open", "urlopen"})
_URL_PREFIXES = ("http://", "https://", "ftp://", "ftps://")
#: Every callee some table above names, and the method names judged by their arguments wherever they are called.
_SCRIPT_KNOWN = frozenset().union(
    _SCRIPT_SPAWN, _SCRIPT_OPEN, _SCRIPT_READ, _SCRIPT_WRITE, _SCRIPT_COPY, _SCRIPT_DELETE, _SCRIPT_PERMISSION,
    _SCRIPT_NET, _SCRIPT_EVAL, {"curl_init", "curl_setopt", "curl_exec"},
)  # fmt: skip
_SCRIPT_METHODS = _POST_METHODS | _GET_METHODS | {"connect"}


def _script_calls(toks: list[_Tok]) -> list[_Call]:
    """Calls of a Perl, Ruby, Lua or PHP program: ``name(...)`` as the shared splitter finds them, with paren-less
    calls (``system "rm -rf x"``, ``open my $f, "<", $p``, Lua's ``require"socket"``) given the parentheses they
    leave out, closed at the end of the statement. One pass; every inserted parenthesis is closed once."""
    out: list[_Tok] = []
    depth = 0
    pending: list[int] = []  # the parenthesis depth at which each inserted ``(`` was opened
    n = len(toks)
    for i, t in enumerate(toks):
        ends = t.kind == "nl" and not (out and out[-1].kind == "op" and out[-1].text == ",")
        ends = ends or (t.kind == "op" and t.text in ";{}") or (t.kind == "id" and t.text in _SCRIPT_ENDERS)
        if t.kind == "op" and t.text == ")":
            while pending and pending[-1] == depth:
                pending.pop()
                out.append(_Tok("op", ")"))
            depth = max(depth - 1, 0)
        elif ends:
            while pending and pending[-1] == depth:
                pending.pop()
                out.append(_Tok("op", ")"))
        elif t.kind == "op" and t.text == "(":
            depth += 1
        out.append(t)
        nxt = toks[i + 1] if i + 1 < n else None
        if (
            t.kind == "id"
            and nxt is not None
            and nxt.kind in ("str", "id", "bt")
            and t.text not in _SCRIPT_KEYWORDS
            and t.text[:1] not in "$@"
            and not t.text[:1].isdigit()
            and not (nxt.kind == "id" and nxt.text in _SCRIPT_ENDERS)
        ):
            out.append(_Tok("op", "("))
            pending.append(depth)
    out.extend(_Tok("op", ")") for _ in pending)
    return _calls(out, False)


def _script_requires(toks: list[_Tok]) -> list[_Tok]:
    """The tokens with newlines dropped and Lua's ``require"socket"`` spelt ``require("socket")``, for
    ``_js_aliases`` (``local s = require("socket")`` binds ``s`` to ``socket``)."""
    out: list[_Tok] = []
    for i, t in enumerate(toks):
        if t.kind == "nl":
            continue
        out.append(t)
        if t.kind == "id" and t.text == "require" and i + 1 < len(toks) and toks[i + 1].kind == "str":
            out.append(_Tok("op", "("))
    return out


def _in(table: Mapping[str, str], name: str, lang: str) -> str | None:
    """The table's category for ``name`` when ``lang`` has it (a category lists languages, then other marks)."""
    cat = table.get(name)
    if cat is not None and lang in cat.split():
        return cat
    return None


def _script_name(name: str, lang: str, aliases: dict[str, str]) -> tuple[str, str]:
    """The qualified callee and the name it is looked up by: aliases of ``require`` replaced, constructors
    (``TCPSocket.new``, ``IO::Socket::INET->new``) read as their class, PHP's functions case-folded."""
    name = _resolve(name.lstrip("."), aliases) if aliases else name.lstrip(".")
    if lang == "php":
        name = name.lower() if "." not in name else name
    key = name
    for suffix in (".new", ".open"):
        if key.endswith(suffix) and key[: -len(suffix)] in _SCRIPT_NET:
            key = key[: -len(suffix)]
    if key.startswith("Kernel.") and key[7:] in _SCRIPT_SPAWN:
        key = key[7:]
    return name, key


def _script_mode(words: Sequence[str]) -> int | None:
    """The literal mode among a call's words: ``0755`` and ``0o755`` are octal, ``493`` decimal."""
    for w in words:
        if w[:2] in ("0o", "0O") and w[2:].isdigit() and not set(w[2:]) & {"8", "9"}:
            return int(w[2:], 8)
        if w.isdigit():
            return int(w, 8) if w.startswith("0") and not set(w) & {"8", "9"} else int(w)
    return None


def _url(text: str | None) -> bool:
    return bool(text) and text.lower().startswith(_URL_PREFIXES)  # type: ignore[union-attr]


def _open_mode(lang: str, args: tuple[str, ...]) -> tuple[str | None, str, str | None]:
    """``(path, mode, command)`` of an open call: mode ``r``, ``w`` or ``|`` (a pipe to or from ``command``)."""
    if lang == "perl":
        modes = ("<", ">", ">>", "+<", "+>", "+>>", "|-", "-|")
        if len(args) >= 2 and args[0].split(":", 1)[0].strip() in modes:
            mode = args[0].split(":", 1)[0].strip()
            if mode in ("|-", "-|"):
                return None, "|", " ".join(_quote(w) for w in args[1:]) if len(args) > 2 else args[1]
            return args[1], "r" if mode == "<" else "w", None
        if args:
            spec = args[0].strip()
            if spec.endswith("|") or spec.startswith("|"):
                return None, "|", spec.strip("|").strip()
            if spec.startswith((">", "+")):
                return spec.lstrip("+>").strip() or None, "w", None
            return spec.lstrip("<").strip() or None, "r", None
        return None, "r", None
    path = args[0] if args else None
    mode = args[1] if len(args) > 1 else "r"
    if lang == "ruby" and path and path.startswith("|"):
        return None, "|", path[1:].strip()
    return path, ("w" if mode[:1] in ("w", "a", "x", "c") or "+" in mode else "r"), None


def script_facts(language: str, source: str) -> CodeFacts:
    """Facts of a Perl, Ruby, Lua or PHP program (``perl -e``, ``ruby -e``, ``lua -e``, ``php -r``): calls with
    their string arguments, as JavaScript's are read; processes started, files read, written and removed, mode
    changes, downloads, sends and raw connections, and each file read paired with each payload-carrying send."""
    key = (language, source)
    found = _CACHE.get(key)
    if found is not None:
        return found
    if not source.strip():
        return CodeFacts(language, False)
    col = _Collector(language)
    _script_facts(language, source, 0, col)
    facts = col.freeze()
    _CACHE.put(key, facts)
    return facts


def _script_spawn(col: _Collector, api: str, args: tuple[str, ...], whole: bool) -> None:
    """A process a script starts: one argument is a shell command line; several are an argument vector."""
    if not args:
        col.add("spawns", Spawn(api, None, (), True))
        return
    multi = whole and len(args) > 1
    cmd = " ".join(_quote(w) for w in args) if multi else args[0]
    col.add("spawns", Spawn(api, cmd[:4096], tuple(args) if multi else (), not multi))
    if _is_shell_program(args[0]):
        col.shell_spawned = True


def _script_facts(lang: str, source: str, depth: int, col: _Collector) -> None:
    text, cut = _bounded(source)
    col.truncated = col.truncated or cut
    budget = [col.budget]
    toks = _tokens(text, lang, budget)
    col.budget = budget[0]
    if toks and toks[-1].kind == "cut":
        col.truncated = True
    for t in toks:
        if t.kind == "bt":
            _script_spawn(col, "backticks", (t.text,), False)
    calls = _script_calls(toks)
    aliases = _js_aliases(_script_requires(toks)) if "require" in text else {}
    payload: list[NetworkSend] = []
    curl_urls: list[str] = []
    curl_post = False
    curl_run = False
    lwp = "LWP" in text or "HTTP::" in text
    for call in calls:
        name, key = _script_name(call.name, lang, aliases)
        last = key.replace("::", ".").rsplit(".", 1)[-1]
        if key not in _SCRIPT_KNOWN and last not in _SCRIPT_METHODS and key.rsplit("::", 1)[-1] not in _SCRIPT_KNOWN:
            continue  # a call no table names (``print``, ``map``, a function of the program's own)
        args = call.args
        a0 = args[0] if args else None
        words = call.words
        decoded = any(w in _SCRIPT_DECODERS for w in words)
        fetched = any(_url(a) for a in args[1:]) and any(
            w in _SCRIPT_NET or w.rsplit(".", 1)[-1] in _GET_METHODS or w in _SCRIPT_READ for w in words
        )
        net = _SCRIPT_NET.get(key) or _SCRIPT_NET.get(key.rsplit("::", 1)[-1] if lang == "perl" else "")
        if net in ("fetch", "fetch-save") and (lwp or "::" in key or lang != "perl" or net == "fetch-save"):
            col.add("sends", NetworkSend(name, a0, ()))
            col.add("downloads", Download(name, a0))
            if net == "fetch-save" and len(args) > 1:
                col.add("writes", FileWrite(name, args[1], "downloaded"))
            elif net == "fetch" and len(args) > 1 and lang == "lua":  # http.request(url, body) posts the body
                payload.append(NetworkSend(name, a0, ()))
        elif net == "post":
            send = NetworkSend(name, a0, ())
            col.add("sends", send)
            payload.append(send)
        elif net == "socket" or (lang == "lua" and last == "connect" and "socket" in text):
            host = next((a for a in args if a and not a.isdigit() and a.lower() not in ("tcp", "udp")), None)
            api = name if name.startswith("socket") else "socket.connect" if lang == "lua" else f"socket.{name}"
            send = NetworkSend(api, host, ())
            col.add("sends", send)
            payload.append(send)
            col.connects.append((host, None))
        elif _in(_SCRIPT_SPAWN, key, lang):
            _script_spawn(col, name, args, lang in ("perl", "ruby"))
        elif _in(_SCRIPT_OPEN, key, lang):
            path, mode, cmd = _open_mode(lang, args)
            if mode == "|":
                _script_spawn(col, name, (cmd,) if cmd else (), False)
            elif path and path.startswith("&"):  # open(STDIN, ">&S"): a handle duplicated onto another
                col.dup2 = True
            elif _url(path):
                col.add("sends", NetworkSend(name, path, ()))
                col.add("downloads", Download(name, path))
            elif mode == "w":
                col.add("writes", FileWrite(name, path, ""))
            else:
                col.add("reads", FileRead(name, path))
        elif _in(_SCRIPT_READ, key, lang):
            if _url(a0):
                col.add("sends", NetworkSend(name, a0, ()))
                col.add("downloads", Download(name, a0))
            else:
                col.add("reads", FileRead(name, a0))
        elif _in(_SCRIPT_WRITE, key, lang):
            content = "downloaded" if fetched else "decoded" if decoded else "data"
            col.add("writes", FileWrite(name, a0, content))
        elif _in(_SCRIPT_COPY, key, lang) and len(args) > 1:
            if _url(a0):
                col.add("sends", NetworkSend(name, a0, ()))
                col.add("downloads", Download(name, a0))
                col.add("writes", FileWrite(name, args[1], "downloaded"))
            else:
                col.add("reads", FileRead(name, a0))
                col.add("writes", FileWrite(name, args[1], "copy"))
        elif _in(_SCRIPT_DELETE, key, lang):
            tree = "tree" in (_SCRIPT_DELETE.get(key) or "").split()
            for path in args[:16] or (None,):
                col.add("deletions", Deletion(name, path, tree))
        elif key in _SCRIPT_PERMISSION:
            which = (_SCRIPT_PERMISSION.get(f"php:{key}") if lang == "php" else None) or _SCRIPT_PERMISSION[key]
            bits = None if key.endswith("chown") else _script_mode(words)
            if key.endswith("chown"):  # chown(owner, group, files...) / chown(file, owner)
                owner = a0 if which == "first" else (args[1] if len(args) > 1 else None)
                targets: list[str | None] = list(args[1:] if which == "first" else args[:1])
            else:
                owner = None
                targets = list(args)
            for path in targets[:16] or [None]:
                setid = bits is not None and bool(bits & 0o6000)
                world = bits is not None and bool(bits & 0o002)
                col.add("permissions", PermissionChange(name, path, bits, setid, world, owner))
        elif key in _SCRIPT_EVAL and (lang != "lua" or key in ("load", "loadstring", "dofile")):
            if key == "preg_replace" and not (a0 and a0.rstrip().endswith("e") and a0[:1] in "/#~"):
                continue
            sources: tuple[str, ...] = ("decoded",) if decoded else ()
            col.add("dynamic", DynamicCode(name, a0 is not None and not decoded and len(args) == 1, sources))
            if a0 is not None and depth < MAX_CODE_DEPTH and not decoded and key != "dofile":
                _script_facts(lang, a0, depth + 1, col)
        elif key == "curl_init" and _url(a0):
            curl_urls.append(a0)  # type: ignore[arg-type]
        elif key == "curl_setopt":
            if "CURLOPT_POSTFIELDS" in words or "CURLOPT_UPLOAD" in words:
                curl_post = True
            if "CURLOPT_URL" in words:
                curl_urls.extend(a for a in args if _url(a))
        elif key == "curl_exec":
            curl_run = True
        elif last in _POST_METHODS and _url(a0):
            send = NetworkSend(name, a0, ())
            col.add("sends", send)
            payload.append(send)
        elif last in _GET_METHODS and _url(a0) and lang != "lua":
            col.add("sends", NetworkSend(name, a0, ()))
            col.add("downloads", Download(name, a0))
    if curl_run:
        for url in curl_urls[:16] or [None]:  # type: ignore[list-item]
            send = NetworkSend("curl_exec", url, ())
            col.add("sends", send)
            if curl_post:
                payload.append(send)
            else:
                col.add("downloads", Download("curl_exec", url))
    reads = [r for r in col.lists["reads"] if isinstance(r, FileRead)]
    for send in payload[:16]:
        for r in reads[:16]:
            col.add("flows", Exfiltration(f"file:{r.path or '?'}", send.destination, send.api))


# PowerShell: commands are lines of words; the first word of a statement names the cmdlet.
_PS_ALIASES = vocab.mapping("powershell_aliases")
_PS_KIND = vocab.mapping("powershell_cmdlets")
_PS_TAMPER = {
    "set-mppreference": ("-disablerealtimemonitoring", "-disableioavprotection", "-disablebehaviormonitoring",
                         "-disablescriptscanning", "-disableblockatfirstseen", "-disableintrusionpreventionsystem"),
    "add-mppreference": ("-exclusionpath", "-exclusionprocess", "-exclusionextension"),
    "set-netfirewallprofile": ("-enabled",),
    "clear-eventlog": ("",),
    "remove-eventlog": ("",),
    "wevtutil": ("cl", "clear-log"),
    "netsh": ("off", "disable"),
    "auditpol": ("/clear", "/remove"),
}  # fmt: skip


def _ps_statements(toks: list[_Tok]) -> list[list[_Tok]]:
    """Split tokens into simple commands at newlines, ``;``, ``|``, ``{``/``}`` and around ``(...)``."""
    out: list[list[_Tok]] = []
    cur: list[_Tok] = []
    for t in toks:
        if t.kind == "nl" or (t.kind == "op" and t.text in ";|{}()"):
            if cur:
                out.append(cur)
            cur = []
            continue
        cur.append(t)
    if cur:
        out.append(cur)
    return out


def _ps_param(words: list[_Tok], *names: str) -> str | None:
    for i, t in enumerate(words):
        if t.kind == "id" and t.text.lower() in names and i + 1 < len(words):
            nxt = words[i + 1]
            return nxt.text if nxt.kind in ("str", "id") else ("$" + nxt.text if nxt.kind == "var" else None)
    return None


def _ps_list(words: list[_Tok], *names: str) -> list[str] | None:
    """The values of a list parameter (``-ArgumentList '/c','del x'`` or ``-ArgumentList @('/c', 'del x')``)."""
    for i, t in enumerate(words):
        if t.kind == "id" and t.text.lower() in names:
            out: list[str] = []
            for nxt in words[i + 1 : i + 65]:
                if nxt.kind in ("str", "id") and not (nxt.kind == "id" and nxt.text.startswith("-") and out):
                    out.append(nxt.text)
                elif nxt.kind == "var":
                    out.append("$" + nxt.text)
                elif not (nxt.kind == "op" and nxt.text in ",@"):
                    break
            return out
    return None


def _ps_spawn(col: _Collector, api: str, exe: str | None, arglist: Sequence[str], depth: int) -> None:
    """A process PowerShell starts (``Start-Process``, ``[Diagnostics.Process]::Start``, ``cmd /c``): one command
    line for the shell analyser; a PowerShell it starts has its own script analysed too."""
    if exe is None:
        col.add("spawns", Spawn(api, None, (), True))
        return
    words = (exe, *arglist)
    line = " ".join(words)[:4096]
    col.add("spawns", Spawn(api, line, tuple(words), True))
    if _program(exe) in ("powershell", "pwsh") and depth < MAX_CODE_DEPTH:
        inner = code_of_argv([exe, *" ".join(arglist).split()]) if arglist else None
        if inner is not None:
            script = inner[1].strip()
            if len(script) > 1 and script[0] == script[-1] and script[0] in "'\"":
                script = script[1:-1]  # the script quoted as one argument: -c "Stop-Process ..."
            _ps_facts(script, depth + 1, col)


def powershell_facts(source: str) -> CodeFacts:
    """Facts of a PowerShell script: cmdlets with their parameters, .NET download/read calls, encoded commands."""
    key = ("powershell", source)
    found = _CACHE.get(key)
    if found is not None:
        return found
    col = _Collector("powershell")
    _ps_facts(source, 0, col)
    facts = col.freeze()
    _CACHE.put(key, facts)
    return facts


def _ps_facts(source: str, depth: int, col: _Collector) -> None:
    text, cut = _bounded(source)
    col.truncated = col.truncated or cut
    budget = [col.budget]
    toks = _tokens(text, "powershell", budget)
    col.budget = budget[0]
    if toks and toks[-1].kind == "cut":
        col.truncated = True
    tainted: set[str] = set()
    sources: list[str] = []
    payload_sends: list[NetworkSend] = []
    for stmt in _ps_statements(toks):
        assigned = None
        if len(stmt) >= 2 and stmt[0].kind == "var" and stmt[1].text == "=":
            assigned = stmt[0].text
            stmt = stmt[2:]
        if not stmt:
            continue
        head = stmt[0]
        cmd = head.text.lower() if head.kind in ("id", "str") else ""
        if cmd == "&" or (head.kind == "op" and head.text in "&." and len(stmt) > 1):
            stmt = stmt[1:]
            head = stmt[0]
            cmd = head.text.lower()
        cmd = _PS_ALIASES.get(cmd, cmd)
        if cmd.endswith(".exe"):
            cmd = cmd[:-4]
        args = stmt[1:]
        lowered = [t.text.lower() for t in args]
        strs = [t.text for t in args if t.kind in ("str", "id") and not t.text.startswith("-")]
        refs_tainted = any(t.kind == "var" and t.text in tainted for t in args)
        kind = _PS_KIND.get(cmd, "")
        if kind == "download":
            url = _ps_param(args, "-uri", "-source") or (strs[0] if strs else None)
            body = _ps_param(args, "-body", "-infile")
            method = (_ps_param(args, "-method") or "get").lower()
            srcs: list[str] = []
            if body is not None:
                if (body.startswith("$") and body[1:] in tainted) or refs_tainted:
                    srcs = sources[:]
                elif _ps_param(args, "-infile") is not None:
                    srcs = [f"file:{_ps_param(args, '-infile')}"]
            send = NetworkSend(cmd, url, tuple(srcs))
            col.add("sends", send)
            if body is not None or method in ("post", "put"):
                payload_sends.append(send)
            else:
                col.add("downloads", Download(cmd, url))
            out_file = _ps_param(args, "-outfile", "-destination")
            if out_file is not None:
                col.add("writes", FileWrite(cmd, out_file, "downloaded"))
            if assigned:
                tainted.discard(assigned)
        elif kind == "eval":
            lit = next((t.text for t in args if t.kind == "str"), None)
            col.add("dynamic", DynamicCode(cmd, lit is not None and len(args) == 1))
            if lit is not None and depth < MAX_CODE_DEPTH:
                _ps_facts(lit, depth + 1, col)
        elif kind == "spawn":
            exe = _ps_param(args, "-filepath") or (strs[0] if strs else None)
            arglist = _ps_list(args, "-argumentlist", "-args")
            if arglist is None:
                arglist = [w for w in strs[1:] if w != exe][:1] if _ps_param(args, "-filepath") is None else []
            _ps_spawn(col, cmd, exe, arglist, depth)
        elif kind == "read":
            path = _ps_param(args, "-path", "-literalpath") or (strs[0] if strs else None)
            col.add("reads", FileRead(cmd, path))
            sources.append(f"file:{path or '?'}")
            if assigned:
                tainted.add(assigned)
        elif kind == "write":
            path = _ps_param(args, "-path", "-filepath", "-literalpath") or (strs[0] if strs else None)
            if path is not None:
                col.add("writes", FileWrite(cmd, path, "data"))
        elif kind == "copy":
            src = _ps_param(args, "-path", "-literalpath") or (strs[0] if strs else None)
            dst = _ps_param(args, "-destination") or (strs[1] if len(strs) > 1 else None)
            col.add("reads", FileRead(cmd, src))
            col.add("writes", FileWrite(cmd, dst, "copy"))
        elif kind == "delete":
            path = _ps_param(args, "-path", "-literalpath") or (strs[0] if strs else None)
            col.add("deletions", Deletion(cmd, path, "-recurse" in lowered))
        elif cmd == "stop-process":
            name = _ps_param(args, "-name", "-processname")
            pid_s = _ps_param(args, "-id")
            pid = int(pid_s) if pid_s and pid_s.isdigit() else None
            col.add("kills", ProcessKill(cmd, pid, name, name is not None and name.lower() in _SYSTEM_PROCS))
        elif cmd in ("new-itemproperty", "set-itemproperty"):
            path = _ps_param(args, "-path", "-literalpath") or (strs[0] if strs else "")
            if registry_autorun(path):
                col.add("persistence", Persistence("registry-run", path))
        elif cmd in ("register-scheduledtask", "new-scheduledtask", "schtasks") and (
            cmd != "schtasks" or "/create" in lowered
        ):
            col.add("persistence", Persistence("scheduled-task", " ".join(strs)[:200]))
        elif cmd == "new-service":
            col.add("persistence", Persistence("service", " ".join(strs)[:200]))
        elif cmd in _PS_TAMPER:
            flags = _PS_TAMPER[cmd]
            if any(f == "" or f in lowered for f in flags):
                col.add("tampering", Tamper(cmd, " ".join(t.text for t in args)[:200]))
        elif cmd in ("powershell", "pwsh") and depth < MAX_CODE_DEPTH:
            words = tuple(t.text for t in stmt)
            inner = code_of_argv(words)
            if inner is not None:
                col.add("spawns", Spawn(cmd, " ".join(_quote(w) for w in words)[:4096], words, False))
                _ps_facts(inner[1], depth + 1, col)
        elif cmd in ("cmd", "cmd.exe") and strs:
            _ps_spawn(col, "cmd", "cmd", strs, depth)
        for t in args:
            if t.kind == "var" and t.text.startswith("env:") and secret_env_name(t.text[4:]):
                sources.append(f"env:{t.text[4:]}")
                if assigned:
                    tainted.add(assigned)
    # .NET calls: WebClient, File, Convert
    for call in _calls(toks, True):
        name = call.name.lower()
        last = name.replace("::", ".").rsplit(".", 1)[-1]
        a0 = call.args[0] if call.args else None
        if last in ("downloadstring", "downloadfile", "downloaddata", "openread"):
            col.add("sends", NetworkSend("WebClient." + last, a0, ()))
            col.add("downloads", Download("WebClient." + last, a0))
            if last == "downloadfile" and len(call.args) > 1:
                col.add("writes", FileWrite("WebClient.DownloadFile", call.args[1], "downloaded"))
        elif last in ("uploadfile", "uploadstring", "uploaddata", "uploadvalues"):
            up = (f"file:{call.args[1]}",) if last == "uploadfile" and len(call.args) > 1 else ()
            send = NetworkSend("WebClient." + last, a0, up)
            col.add("sends", send)
            payload_sends.append(send)
        elif last in ("readalltext", "readallbytes", "readalllines"):
            col.add("reads", FileRead("File." + last, a0))
            sources.append(f"file:{a0 or '?'}")
        elif last in ("writealltext", "writeallbytes"):
            col.add("writes", FileWrite("File." + last, a0, "decoded" if "frombase64string" in call.words else "data"))
        elif last == "frombase64string" and a0 is not None:
            raw = _decode_literal("base64.b64decode", a0, None)
            if raw is not None:
                dec = decode_encoded_command(a0)
                col.decoded[(dec or raw)[:4096]] = None
                if depth < MAX_CODE_DEPTH:
                    _ps_facts(dec or raw, depth + 1, col)
        elif last in ("start",) and "process" in name:
            _ps_spawn(col, "Process.Start", a0, call.args[1:2], depth)
    for send in payload_sends:
        if send.sources:
            continue
        for src in sources:
            col.add("flows", Exfiltration(src, send.destination, send.api))


_SYSTEM_PROCS = vocab.words("system_daemons")


# --- entry points for the checks -------------------------------------------------------------------------------
def code_facts(language: str, source: str) -> CodeFacts:
    """Facts of ``source`` in ``language`` (``python``, ``javascript``, ``powershell``)."""
    if language == "python":
        return python_facts(source)
    if language == "javascript":
        return javascript_facts(source)
    if language == "powershell":
        return powershell_facts(source)
    if language in SCRIPT_LANGUAGES:
        return script_facts(language, source)
    raise ValueError(f"no code analysis for language {language!r}")


_PYTHONS = frozenset({"python", "python2", "python3", "pypy", "pypy3", "ipython"})
_NODES = frozenset({"node", "nodejs", "bun", "deno"})
_PWSH = frozenset({"powershell", "pwsh", "powershell.exe", "pwsh.exe"})


def _program(word: str) -> str:
    base = word.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.endswith(".exe"):
        base = base[:-4]
    if base.startswith("python") and base[6:].replace(".", "").isdigit():
        return "python"
    return base


def code_of_argv(argv: Sequence[str], redirects: Sequence[tuple[str, str]] = ()) -> tuple[str, str] | None:
    """``(language, source)`` when ``argv`` runs an interpreter on inline code: ``python -c CODE``, ``python -``
    or ``python`` with a here-document/here-string in ``redirects`` (as ``_shell.Command.redirects`` holds them:
    ``("<<", body)``), ``node -e CODE``, ``pwsh -Command ...``, ``powershell -EncodedCommand B64``."""
    if not argv:
        return None
    prog = _program(argv[0])
    here = next((t for op, t in reversed(list(redirects)) if op.endswith(("<<", "<<-", "<<<"))), None)
    if prog in _PYTHONS or prog == "python":
        for j, w in enumerate(argv[1:], 1):
            if w == "-c" or (w.startswith("-") and not w.startswith("--") and w.endswith("c") and len(w) > 2):
                return ("python", argv[j + 1]) if j + 1 < len(argv) else None
            if w.startswith("-c") and len(w) > 2:
                return "python", w[2:]
            if w in ("-m",):
                return None
            if w == "-" or not w.startswith("-"):
                return ("python", here) if w == "-" and here is not None else None
        return ("python", here) if here is not None else None
    if prog in _NODES:
        for j, w in enumerate(argv[1:], 1):
            if w in ("-e", "--eval", "-p", "--print", "eval"):
                return ("javascript", argv[j + 1]) if j + 1 < len(argv) else None
            if not w.startswith("-"):
                return None
        return ("javascript", here) if here is not None else None
    if prog in ("powershell", "pwsh"):
        j = 1
        while j < len(argv):
            lw = argv[j].lower()
            if lw.startswith("/"):
                lw = "-" + lw[1:]
            if lw in ("-e", "-ec", "-en", "-enc") or (len(lw) > 3 and "-encodedcommand".startswith(lw)):
                if j + 1 < len(argv):
                    dec = decode_encoded_command(argv[j + 1])
                    return ("powershell", dec) if dec is not None else None
                return None
            if lw in ("-c", "-co", "-com") or (len(lw) > 2 and "-command".startswith(lw)):
                rest = " ".join(argv[j + 1 :])
                return ("powershell", here if rest == "-" and here is not None else rest) if rest else None
            if lw in ("-file", "-f"):
                return None
            if lw in ("-executionpolicy", "-ep", "-ex", "-windowstyle", "-w", "-version", "-v"):
                j += 2
                continue
            if lw.startswith("-"):
                j += 1
                continue
            return "powershell", " ".join(argv[j:])
        return ("powershell", here) if here is not None else None
    if prog in _SCRIPT_CODE_FLAGS:
        return _script_of_argv(prog, argv)
    return None


#: The option that takes inline code, per script interpreter (perlrun, ruby(1), lua(1), php-cli).
_SCRIPT_CODE_FLAGS = {"perl": "e", "ruby": "e", "lua": "e", "php": "r"}
#: Options whose value follows in the next word (the code option excepted).
_SCRIPT_VALUE_OPTIONS = {"perl": ("-I", "-M", "-m", "-x"), "ruby": ("-I", "-r", "-C", "-E", "-F"),
                         "lua": ("-l",), "php": ("-c", "-d", "-z")}  # fmt: skip


def _script_of_argv(prog: str, argv: Sequence[str]) -> tuple[str, str] | None:
    """``(language, source)`` of ``perl -e CODE`` (also ``-ne``/``-pe``/``-lane`` clusters and several ``-e``),
    ``ruby -e``, ``lua -e``, ``php -r``; modules the command line loads (``perl -MLWP::Simple``, ``ruby -rjson``)
    are written as the ``use``/``require`` lines they stand for, ahead of the code."""
    flag = _SCRIPT_CODE_FLAGS[prog]
    lang = "perl" if prog == "perl" else prog
    pieces: list[str] = []
    loads: list[str] = []
    j = 1
    while j < len(argv):
        w = argv[j]
        if w == "--" or not w.startswith("-") or w == "-":
            break
        if prog == "perl" and w.startswith(("-M", "-m")) and len(w) > 2:
            loads.append(f"use {w[2:].split('=', 1)[0].lstrip('-')};")
        elif prog == "ruby" and w.startswith("-r") and len(w) > 2:
            loads.append(f'require "{w[2:]}"')
        elif w in _SCRIPT_VALUE_OPTIONS.get(prog, ()):
            if prog == "perl" and w in ("-M", "-m") and j + 1 < len(argv):
                loads.append(f"use {argv[j + 1]};")
            elif prog == "ruby" and w == "-r" and j + 1 < len(argv):
                loads.append(f'require "{argv[j + 1]}"')
            j += 2
            continue
        elif w[1:] == flag or (prog == "perl" and w == "-E") or (
            prog in ("perl", "ruby") and w[-1:] in (flag, "E" if prog == "perl" else flag) and w[1:].isalpha()
            and not w.startswith(("-M", "-I", "-r"))
        ):  # fmt: skip
            if j + 1 < len(argv):
                pieces.append(argv[j + 1])
            j += 2
            continue
        elif w.startswith("-" + flag) and len(w) > 2 and prog != "php":
            pieces.append(w[2:])
        j += 1
    if not pieces:
        return None
    return lang, "\n".join([*loads, *pieces])


_CODE_TOOLS = {
    "python": "python",
    "ipython": "python",
    "jupyter": "python",
    "notebook": "python",
    "code_interpreter": "python",
    "interpreter": "python",
    "execute_code": "python",
    "run_code": "python",
    "run_python": "python",
    "execute_python": "python",
    "javascript": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "js": "javascript",
    "powershell": "powershell",
    "pwsh": "powershell",
}
CODE_ARG_KEYS = frozenset({"code", "source", "program", "snippet", "python", "python_code", "source_code", "cell",
                           "script", "input", "javascript", "js", "powershell"})  # fmt: skip


def language_of_tool(tool_key: str, arg_key: str = "") -> str | None:
    """The language an interpreter tool runs (``run_python`` -> python, ``execute_code`` -> python, ``node`` ->
    javascript, ``pwsh`` -> powershell), or None for a tool that does not run code. ``arg_key`` (``language``
    argument values are passed here too: ``"javascript"``) refines a generic code tool."""
    key = tool_key.lower().replace("-", "_")
    if key in _CODE_TOOLS:
        return _CODE_TOOLS[key]
    words = [w for w in key.replace(".", "_").replace("/", "_").split("_") if w]
    hint = arg_key.lower()
    if hint in ("js", "javascript", "node", "nodejs"):
        return "javascript"
    if hint in ("powershell", "pwsh", "ps1"):
        return "powershell"
    for w in words:
        if w in _CODE_TOOLS and w not in ("interpreter",):
            return _CODE_TOOLS[w]
    if "code" in words and ({"run", "execute", "exec", "eval", "interpreter"} & set(words)):
        return "python"
    if "interpreter" in words or "cell" in words:
        return "python"
    return None


# --- the code view of one call ------------------------------------------------------------------------------------
class CodeText(NamedTuple):
    """One piece of code in a call, analysed: the ``Text`` it came from, its language, the source analysed (the
    text itself, or the inline code of a shell command), where it was found (``key``: a code argument,
    ``tool``: an argument of an interpreter tool, ``command``: ``python -c`` and the like) and its facts."""

    text: Text
    language: str
    source: str
    origin: str
    facts: CodeFacts


MAX_CODE_TEXTS = 64  # pieces of code analysed per call; the rest are read as text
MAX_CODE_CHARS = 4 * MAX_SOURCE  # characters analysed per call, all pieces together

#: Keys whose value is code in a known language, whatever the tool.
_LANGUAGE_KEYS = {"python": "python", "python_code": "python", "javascript": "javascript", "js": "javascript",
                  "powershell": "powershell"}  # fmt: skip
#: Keys whose value is code of the tool's language (Python when the tool does not say).
_GENERIC_CODE_KEYS = frozenset({"code", "source", "program", "snippet", "source_code", "cell"})
#: Keys of an interpreter tool's arguments that are not the code it runs.
_NOT_CODE_KEYS = vocab.words("non_command_keys") | vocab.words("prose_keys") | {"language", "lang", "kernel"}


_HINTED = {"python": "python", "python3": "python", "py": "python", "ipython": "python", "javascript": "javascript",
           "js": "javascript", "node": "javascript", "nodejs": "javascript", "powershell": "powershell",
           "pwsh": "powershell", "ps1": "powershell", "perl": "perl", "pl": "perl", "ruby": "ruby", "rb": "ruby",
           "lua": "lua", "php": "php"}  # fmt: skip


def _language_hint(a: Analysis) -> str:
    """The ``language``/``lang`` argument of a generic code tool (``{"language": "javascript", "code": ...}``)."""
    for key in ("language", "lang"):
        value = a.args.get(key)
        if isinstance(value, str) and len(value) <= 32:
            return value.strip().lower()
    return ""


def code_texts_of(a: Analysis) -> list[CodeText]:
    """Every piece of code the call runs, analysed once: code arguments, the arguments of an interpreter tool,
    and inline code of shell commands (``python -c``, here-documents, ``node -e``, ``pwsh -EncodedCommand``).
    Only code-bearing texts are parsed; at most ``MAX_CODE_TEXTS`` pieces and ``MAX_CODE_CHARS`` characters (a
    piece cut short has ``facts.truncated`` set, so the checks fail closed on it)."""
    hint = _language_hint(a)
    # a ``language`` argument names the language; one this module does not analyse (bash, r) means not Python
    tool_lang = _HINTED.get(hint, "") if hint else language_of_tool(a.tool_key)
    if tool_lang == "" and not hint:
        tool_lang = None
    out: list[CodeText] = []
    seen: set[str] = set()  # sources analysed (the shell view reads a code argument as ``python -c`` too)
    budget = MAX_CODE_CHARS

    def add(t: Text, language: str, source: str, origin: str) -> None:
        nonlocal budget
        if len(source) < 4 or source in seen or len(out) >= MAX_CODE_TEXTS or budget <= 0:
            return
        seen.add(source)
        piece = source if len(source) <= budget else source[:budget]
        budget -= len(piece)
        facts = code_facts(language, piece)
        if piece is not source and not facts.truncated:
            facts = replace(facts, truncated=True)
        if facts.parsed or facts.truncated:  # code that does not parse is read as text by the checks
            out.append(CodeText(t, language, source, origin, facts))

    for t in a.texts:
        if t.is_key:
            continue
        key = t.key
        lang = _LANGUAGE_KEYS.get(key)
        origin = "key"
        if lang is None and key in _GENERIC_CODE_KEYS:
            lang = tool_lang if tool_lang is not None else "python"
        elif lang is None and tool_lang and key not in _NOT_CODE_KEYS:
            lang, origin = tool_lang, "tool"
        if lang:
            add(t, lang, t.norm, origin)
    for cmd in a.parsed_commands:
        found = code_of_argv(cmd.argv, cmd.redirects)
        if found is not None:
            add(cmd.text, found[0], found[1], "command")
    return out
