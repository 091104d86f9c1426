"""The ``file_traversal`` check: paths that leave the workspace, name sensitive files, or hide a null byte.

Rules (paths come canonicalised from ``_analysis._paths``):

- ``..`` that stays inside the workspace is fine (``src/../README.md``; ``../README.md`` with a ``cwd`` argument
  inside the project). ``..`` that ends outside the workspace is traversal, however it is spelt (encoded,
  double-encoded, overlong UTF-8, backslashes, ``....//``, ``..;``).
- Without a workspace, a relative path is traversal when its ``..`` climbs more than one level above where it
  starts (``../README.md`` is a sibling project file; ``../../etc/passwd`` is not), or climbs at all and lands on
  a sensitive file or a system directory; an absolute path is traversal when its ``..`` climbs to the root.
- A tool that only changes directory (``cd(folder='..')``, ``change_directory``; the names in
  ``_vocab/directory_change_tools.txt``) opens nothing: a plain ``..`` in its path is judged by where it lands,
  as a read of that zone, not as traversal; an encoded or disguised ``..`` still is, and so is one that lands
  above a protected zone (``cd('../..')`` to ``/``), from where later relative paths (``etc/shadow``) would reach
  the zone without a ``..`` the stateless check could see.
- A ``..`` inside the path of an http(s) URL that climbs above the URL's root is traversal (server-side).
- Sensitive files are violations named by kind (``ssh_key``, ``shadow``, ``cloud_credentials``,
  ``proc_environ``, ``docker_socket``, ``browser_cookies``...), wherever they are and however the path is
  spelt. ``.env`` files, generic credential files and private keys inside the workspace belong to the project
  and are not flagged here (data exfiltration judges where their contents go); a relative ``.env`` without a
  workspace is assumed to be the project's.
- A credential directory (``~/.ssh``, ``~/.aws``) is flagged when a command copies, packs or prints it
  (``tar``, ``cp -r``, ``cat``, ``curl``...), not when it is merely listed (``ls ~/.ssh``).
- The identity file of an SSH client (``ssh -i ~/.ssh/deploy_key``, ``scp -i``) is a key it signs with, not
  one it prints or sends: it is not flagged as access (copying or printing the key still is).
- A null byte in a path is a violation (it truncates the path the tool really opens).
- Paths come from path-like keys (``path``, ``file``, ``cwd``, ``*_path``...) and from path-looking words in
  other non-prose values (commands, URLs, lists); message bodies and file contents are not paths.
- With a workspace set, a path outside it (and outside ``allowed_roots``) is judged by the zone it lies in
  (``_analysis._fsmodel``): a write to a protected zone is always a violation; a read of one is a violation in the
  ``workspace`` profile, while the ``admin`` profile reads system configuration, logs, ``/proc`` and ``/sys`` and
  Windows system directories, and lets disk-administration programs (``fsck``, ``cryptsetup``, ``losetup``,
  ``mount``: ``_vocab/disk_admin_programs.txt``) name devices; system binaries are readable in both; other users'
  homes, and devices opened for their data (``cat /dev/sda``, ``read_file``), in neither. A path is written when it
  is the value of a write key of a writing tool (``write_file(path=...)``), a command's write target (``>``,
  ``tee``, ``cp`` destination, ``dd of=``, ``sed -i``) or an operand of a program that changes what it is given
  (``rm``, ``chmod``, ``touch``...). In a command only the words the command really receives are judged (not a path
  inside a commit message), and ``echo``/``printf`` open nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from sentinel_lab import _vocab as vocab
from sentinel_lab._analysis import Analysis, Text
from sentinel_lab._analysis._fsmodel import holds_zone, zone_of
from sentinel_lab._analysis._paths import COMMAND_KEYS, PathRef, is_under, paths_of, sensitive_dir_kind
from sentinel_lab._analysis._shell import socat_addresses, write_targets
from sentinel_lab._checks import WRITE_PATH_KEYS, WRITE_TOOL_WORDS, Settings
from sentinel_lab._core.verdict import Violation

__all__ = ["check", "paths_for"]

_CRITICAL_KINDS = frozenset(
    {
        "ssh_key",
        "shadow",
        "private_key",
        "cloud_credentials",
        "proc_environ",
        "process_memory",
        "docker_socket",
        "browser_cookies",
        "browser_credentials",
        "windows_hive",
        "container_secret",
        "kube_config",
        "docker_credentials",
        "gpg_keyring",
        "keyring",
        "sudoers",
        "ssh_authorized_keys",
    }
)
# Kinds that belong to the project when they sit inside the workspace.
_PROJECT_KINDS = frozenset({"env_file", "credentials", "private_key"})
# Commands that copy, pack or print a directory's content: with a credential directory, that is the keys.
_COPY_VERBS = vocab.words("copy_programs")
_LABELS = {
    "ssh_key": "an SSH private key",
    "ssh_authorized_keys": "SSH authorized_keys",
    "shadow": "the password hashes",
    "passwd": "the system account list",
    "sudoers": "the sudoers file",
    "credentials": "a credentials file",
    "cloud_credentials": "cloud credentials",
    "env_file": "an environment (.env) file",
    "proc_environ": "a process environment (/proc/*/environ)",
    "process_memory": "process or kernel memory",
    "docker_socket": "the container runtime socket",
    "browser_cookies": "a browser cookie store",
    "browser_credentials": "a browser password store",
    "private_key": "a private key",
    "kube_config": "a Kubernetes config",
    "docker_credentials": "Docker registry credentials",
    "shell_history": "a shell history file",
    "windows_hive": "a Windows credential hive",
    "container_secret": "a mounted container secret",
    "gpg_keyring": "a GPG keyring",
    "keyring": "a keyring",
}


def paths_for(a: Analysis, s: Settings) -> list[PathRef]:
    """The analysis's paths judged against ``s.workspace``: its own ``a.paths`` when it was built for that
    workspace (the verifier always builds it so), else a fresh reading that leaves the analysis untouched."""
    if s.workspace == a.workspace:
        return a.paths
    return paths_of(a, s.workspace)


def _copied_dir(ref: PathRef) -> str | None:
    """The kind of a credential directory that a command copies, packs or prints (``cp -r ~/.aws``)."""
    kind = sensitive_dir_kind(ref.canon.parts)
    if kind is None:
        return None
    words = ref.text.norm.lower().replace("/", " ").split()
    return kind if not _COPY_VERBS.isdisjoint(words) else None


# --- the filesystem model ---------------------------------------------------------------------------------------

#: Programs that change or remove every file they are given: each operand is written.
_MUTATORS = vocab.words("file_mutating_programs")
#: Programs that print their words: a path among them is text, not a file opened.
_PRINTERS = frozenset({"echo", "printf", "print", "write-host", "write-output"})
#: Programs whose path operands are names (``basename``, a package-ownership query ``rpm -qf``), by the options that
#: make them so (empty: always); ``_vocab/path_name_programs.tsv``.
_NAMERS = {
    name: frozenset(() if options == "*" else options.split())
    for name, options in vocab.mapping("path_name_programs").items()
}
#: Programs that administer block devices (``fsck``, ``losetup``...): in the admin profile they may name devices.
_DISK_ADMIN = vocab.words("disk_admin_programs")
# Spellings of the agent's own home (``~user`` names another user's).
_OWN_HOME = ("~/", "$HOME", "${HOME}", "%USERPROFILE%", "%HOMEPATH%", "$env:USERPROFILE", "$env:HOME", "$home")
_ZONE_LABELS = {
    "system_config": "system configuration",
    "system_logs": "system logs",
    "kernel": "kernel state (/proc, /sys)",
    "device": "a device file",
    "user_home": "another user's home directory",
    "windows_system": "a Windows system directory",
    "system_binaries": "system programs",
}
#: Zones each profile may read (writes to any zone are violations in every profile).
_READABLE = {
    "workspace": frozenset({"system_binaries"}),
    "admin": frozenset({"system_binaries", "system_config", "system_logs", "kernel", "windows_system"}),
}


#: A run of characters for which ``str.isalnum()`` holds (``\w`` is those and ``_``).
_ALNUM_RUN = re.compile(r"[^\W_]+")


@lru_cache(maxsize=1024)
def _tool_words(tool_key: str) -> frozenset[str]:
    """``write_file`` / ``fs.writeFile`` -> {write, file}: the words of a tool's name (runs of letters and
    digits), lower-case; one pattern pass, not a loop over characters."""
    return frozenset(run.lower() for run in _ALNUM_RUN.findall(tool_key))


# Tools that only change the working directory (``cd(folder='..')``, ``change_directory``), by the words of their
# name: such a call opens nothing, so its ``..`` is judged by where it lands, like a read (see ``check``).
_DIRECTORY_CHANGES = tuple(frozenset(line.split()) for line in vocab.words("directory_change_tools"))


def _changes_directory(tool_key: str) -> bool:
    words = _tool_words(tool_key)
    return any(entry <= words for entry in _DIRECTORY_CHANGES)


_SSH_CLIENTS = frozenset({"ssh", "scp", "sftp", "autossh", "sshfs"})


def _names_paths(name: str, argv: Sequence[str]) -> bool:
    """Whether this command takes its path operands as names (see ``_NAMERS``): it opens none of them."""
    options = _NAMERS.get(name)
    return options is not None and (not options or not options.isdisjoint(argv[1:]))


class _Uses:
    """How each command text uses its words: which it passes to commands (read or written), which it writes."""

    __slots__ = ("coded", "identities", "managed", "passed", "written")

    def __init__(self, a: Analysis) -> None:
        self.passed: set[tuple[int, str]] = set()
        self.written: set[tuple[int, str]] = set()
        self.identities: set[tuple[int, str]] = set()  # ``ssh -i KEY``: a key the client signs with, never shows
        self.managed: set[tuple[int, str]] = set()  # words given to a disk-administration program (``fsck DEV``)
        self.coded: set[tuple[int, str]] = set()  # files code opens (``open('/etc/group')``, ``os.walk('/root')``)
        for ct in a.code:
            tid = id(ct.text)
            self.coded.update((tid, r.path) for r in ct.facts.reads if r.path)
            for write in ct.facts.writes:
                if write.path:
                    self.coded.add((tid, write.path))
                    self.written.add((tid, write.path))
        if not any(t.key in COMMAND_KEYS for t in a.texts):
            return
        for c in a.commands:
            tid = id(c.text)
            printer = c.name in _PRINTERS or _names_paths(c.name, c.argv)
            mutator = c.name in _MUTATORS
            if c.name in _SSH_CLIENTS:
                self.identities.update((tid, w) for o, w in zip(c.argv, c.argv[1:], strict=False) if o == "-i")
            elif c.name in _DISK_ADMIN:
                self.managed.update((tid, w) for w in c.argv[1:])
            elif c.name == "socat":  # 'OPEN:/etc/cron.d/x,creat': the file an address names is opened
                for address in socat_addresses(c.argv):
                    if address.kind == "file" and address.target:
                        self.passed.add((tid, address.target))
                        if address.receives:
                            self.written.add((tid, address.target))
            for w in c.argv:
                if not printer:
                    self.passed.add((tid, w))
                    if "=" in w:  # dd if=/dev/sda, --file=/etc/x
                        self.passed.add((tid, w.partition("=")[2]))
                if mutator and not w.startswith("-"):
                    self.written.add((tid, w))
            for _op, target in c.redirects:
                self.passed.add((tid, target))
            for target in write_targets(c):
                self.written.add((tid, target))

    def judged(self, ref: PathRef) -> bool:
        """Whether ``ref`` is opened as a file: a path-key value, a file code opens, a word a command receives, or a
        whole text."""
        t: Text = ref.text
        if ref.explicit or (id(t), ref.raw) in self.coded:
            return True
        if t.key in COMMAND_KEYS:
            # a backslash is a Windows separator to cmd.exe and PowerShell, an escape to a POSIX shell's parse
            return (id(t), ref.raw) in self.passed or "\\" in ref.raw
        return ref.raw.strip() == t.norm.strip()

    def writes(self, ref: PathRef, writer_tool: bool) -> bool:
        """Whether ``ref`` is written (see the module docstring)."""
        t = ref.text
        if ref.explicit and writer_tool and t.key in WRITE_PATH_KEYS:
            return True
        return (id(t), ref.raw) in self.written


def _zone_violation(ref: PathRef, s: Settings, uses: _Uses, writer_tool: bool) -> tuple[str, str] | None:
    """(reason, severity) when ``ref`` lies outside the workspace in a zone this profile may not use."""
    if ref.url or ref.resolved is None or ref.inside_workspace is not False or not uses.judged(ref):
        return None
    if any(is_under(ref.resolved, r) for r in s.allowed_roots):
        return None
    write = uses.writes(ref, writer_tool)
    canon = ref.canon
    zone = zone_of(canon.parts, canon.root, write)
    if zone is None or (zone == "user_home" and (ref.raw == "~" or ref.raw.startswith(_OWN_HOME))):
        return None  # ``~/notes`` is the agent's own home, whoever it runs as
    label = _ZONE_LABELS.get(zone, zone)
    if write:
        return f"writes to {label} outside the workspace ({zone}): {ref.resolved}", "high"
    if zone in _READABLE.get(s.profile, _READABLE["workspace"]):
        return None
    if zone == "device" and s.profile == "admin" and (id(ref.text), ref.raw) in uses.managed:
        return None  # ``fsck /dev/sdb1``: administering the device; what destroys its data is system_commands'
    return f"reads {label} outside the workspace ({zone}): {ref.resolved}", "high"


def _evidence(ref: PathRef) -> str:
    raw = ref.raw.replace("\x00", "\\0")
    return raw if len(raw) <= 200 else raw[:197] + "..."


def check(a: Analysis, s: Settings) -> list[Violation]:
    """Violations for traversal out of the workspace, sensitive files and null bytes in paths."""
    refs = paths_for(a, s)
    if not refs:
        return []
    out: list[Violation] = []
    seen: set[tuple[str, str]] = set()
    uses = _Uses(a) if s.workspace else None
    writer_tool = uses is not None and not _tool_words(a.tool_key).isdisjoint(WRITE_TOOL_WORDS)
    moves = uses is not None and not writer_tool and _changes_directory(a.tool_key)

    def add(kind: str, reason: str, severity: str, ref: PathRef) -> None:
        if (kind, ref.resolved or ref.relative) in seen:
            return
        seen.add((kind, ref.resolved or ref.relative))
        out.append(Violation("file_traversal", reason, severity, _evidence(ref)))

    for ref in refs:
        where = ref.resolved or ref.relative or ref.raw
        sens = ref.sensitive
        if ref.null_byte:
            add("nul", f"null byte in path (truncates to {where!r})", "high", ref)
        traversal = ref.escapes
        if (
            traversal
            and moves
            and ref.explicit
            and sens is None
            and not (ref.encoded or ref.disguised)
            and not holds_zone(ref.canon.parts, ref.canon.root)
        ):
            # a directory change opens nothing: where it lands is judged as a read below; but from a directory
            # above a protected zone (``/``, ``/var``) later relative paths reach it unseen, so that stays traversal
            traversal = False
        if traversal:
            how = []
            if ref.encoded:
                how.append("encoded")
            if ref.disguised:
                how.append("disguised")
            detail = f" ({', '.join(how)} '..')" if how else ""
            if ref.url:
                target = "the URL's root"
            elif s.workspace and ref.resolved is not None:
                target = "the workspace"
            else:
                target = "its starting directory"
            sev = "critical" if sens in _CRITICAL_KINDS or ref.encoded or ref.disguised else "high"
            add("traversal", f"path traversal out of {target}{detail}: resolves to {where}", sev, ref)
        if sens is None and not ref.explicit and ref.canon.parts:
            sens = _copied_dir(ref)
        if sens is None and uses is not None and not traversal:
            zoned = _zone_violation(ref, s, uses, writer_tool)
            if zoned is not None:
                add("zone", zoned[0], zoned[1], ref)
        if sens == "ssh_key" and uses is not None and (id(ref.text), ref.raw) in uses.identities:
            continue  # the client authenticates with the key; its contents go nowhere
        if sens is not None:
            if sens in _PROJECT_KINDS and (ref.inside_workspace or (ref.resolved is None and not ref.dotdot)):
                continue
            if ref.url and not traversal:
                continue
            if sens in ("env_file", "credentials") and not ref.explicit and ref.resolved is None and not ref.dotdot:
                continue
            label = _LABELS.get(sens, sens)
            sev = "critical" if sens in _CRITICAL_KINDS else "high"
            add("sensitive:" + sens, f"access to {label} ({sens}): {where}", sev, ref)
    return out
