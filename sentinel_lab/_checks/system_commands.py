"""The ``system_commands`` check: destructive, hijacking and anti-forensic shell commands, however spelt.

It reads the parsed commands (``Analysis.commands``: quoting, variables, substitutions, wrappers and interpreters
already resolved) and judges what each one does and to what: ``rm -rf`` of ``/``, a home or a system directory
(not of ``node_modules`` or ``/tmp/build``), disk wiping, fork bombs, reverse shells, download-and-execute,
persistence (cron, systemd, shell rc files, SSH keys, launchd), history and log wiping, killing every process,
shutdown, kernel modules, firewall flushing, switching off security tools, and shell escapes (an interactive
shell started from inside another program: ``find -exec /bin/sh``, ``gdb -ex '!sh'``, ``system("/bin/sh")``).
Words that merely appear inside arguments (``grep -r "rm -rf" docs/``, ``echo "never run rm -rf /"``) are data,
not commands, and do not count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import pairwise

from sentinel_lab import _vocab as vocab
from sentinel_lab._analysis import Analysis
from sentinel_lab._analysis._code import CodeFacts, DynamicCode, code_facts, code_of_argv, registry_autorun
from sentinel_lab._analysis._paths import is_under
from sentinel_lab._analysis._shell import (
    DOWNLOADERS,
    NETWORK_TOOLS,
    POWERSHELLS,
    PYTHONS,
    SCRIPTERS,
    SHELLS,
    Command,
    home_relative,
    only_help,
    posix_norm,
    program_name,
    reads_stdin,
    socat_addresses,
    split_options,
    write_targets,
)
from sentinel_lab._analysis._urls import classify_host, parse_ip, split_url
from sentinel_lab._checks import WRITE_PATH_KEYS, WRITE_TOOL_WORDS, Findings, Settings
from sentinel_lab._checks.privilege_escalation import ELEVATORS
from sentinel_lab._core.verdict import Violation

__all__ = ["check"]

POLICY = "system_commands"

_EXECUTORS = SHELLS | PYTHONS | SCRIPTERS | POWERSHELLS | {"eval", "source", ".", "iex", "invoke-expression", "cmd"}
_TOP_DIRS = vocab.words("top_dirs")
_SYSTEM_TREES = (
    "/etc/",
    "/boot/",
    "/bin/",
    "/sbin/",
    "/lib/",
    "/lib64/",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/local/bin",
    "/usr/share",
    "/var/lib/dpkg",
    "/var/lib/rpm",
    "/system/",
    "/library/",
)
_DEVICE_PREFIXES = (
    "sd",
    "hd",
    "vd",
    "xvd",
    "nvme",
    "mmcblk",
    "disk",
    "rdisk",
    "md",
    "dm-",
    "mapper/",
    "mem",
    "kmem",
    "port",
    "loop",
    "sr",
    "fd0",
    "nbd",
    "zd",
    "root",
)
# Service data under /var/lib whose deletion destroys data (``/var/lib/apt/lists`` is only a cache).
_DATA_DIRS = vocab.words("service_data_dirs")
_HISTORY_FILES = frozenset(
    [
        ".bash_history",
        ".zsh_history",
        ".history",
        ".sh_history",
        ".python_history",
        ".mysql_history",
        ".psql_history",
        ".node_repl_history",
        ".lesshst",
        ".viminfo",
        ".zhistory",
        "fish_history",
        "consolehost_history.txt",
        ".rediscli_history",
        ".sqlite_history",
    ]
)
_RC_FILES = frozenset(
    [
        ".bashrc",
        ".bash_profile",
        ".bash_login",
        ".bash_logout",
        ".profile",
        ".zshrc",
        ".zprofile",
        ".zshenv",
        ".zlogin",
        ".zlogout",
        ".cshrc",
        ".tcshrc",
        ".kshrc",
        ".mkshrc",
        "config.fish",
        ".xprofile",
        ".xinitrc",
        ".xsessionrc",
    ]
)
_SECURITY_SERVICES = vocab.words("security_services")
_SHORT_VALUE = {
    "rm": frozenset(),
    "chmod": frozenset({"--reference"}),
    "chown": frozenset({"--reference", "--from"}),
    "kill": frozenset({"-s", "-n", "--signal"}),
}


# --- path classes ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _is_device(path: str) -> bool:
    p = path.lower()
    if p.startswith("\\\\.\\physicaldrive") or p.startswith("//./physicaldrive"):
        return True
    if not p.startswith("/dev/"):
        return False
    rest = p[5:]
    return rest.startswith(_DEVICE_PREFIXES) and not rest.startswith(("random", "stdout", "stderr"))


def _windows_root(path: str) -> str | None:
    """``C:\\``, ``C:\\*``, ``C:\\Windows``, ``C:\\Users`` -> a description; None otherwise."""
    p = path.replace("\\", "/").strip().lower()
    if len(p) >= 2 and p[1] == ":" and p[0].isalpha():
        rest = p[2:].strip("/")
        if rest in ("", "*", "*.*"):
            return "a whole drive"
        first = rest.split("/", 1)[0]
        if "/" not in rest.rstrip("/*") and first in (
            "windows",
            "users",
            "program files",
            "program files (x86)",
            "programdata",
            "system32",
        ):
            return f"C:\\{first}"
        if rest.startswith("windows/system32"):
            return "the Windows system directory"
    if p in (
        "%systemroot%",
        "%windir%",
        "%userprofile%",
        "$env:userprofile",
        "$env:systemroot",
        "%systemdrive%",
        "$env:systemdrive",
        "%homedrive%",
    ):
        return p
    return None


@lru_cache(maxsize=4096)
def _classify(path: str) -> tuple[str, str] | None:
    """What deleting ``path`` recursively would hit: ``(severity, description)`` or None when harmless."""
    p = path.strip()
    if not p:
        return None
    win = _windows_root(p)
    if win:
        return "critical", win
    home = home_relative(p)
    if home is not None:
        h = home.rstrip("/")
        if h in ("", "*", ".*", "."):
            return "critical", "a home directory"
        if h.split("/", 1)[0] in (
            ".ssh",
            ".gnupg",
            "documents",
            "Documents",
            "Desktop",
            ".config",
            ".local",
            "Library",
        ) and "/" not in h.rstrip("/*"):
            return "high", f"~/{h}"
        return None
    if p.startswith("/"):
        n = posix_norm(p)
        base = n
        while base.endswith(("/*", "/.*", "/.")):
            base = base.rsplit("/", 1)[0] or "/"
        if base == "/" or base in ("/*", "/."):
            return "critical", "the root file system"
        low = base.lower()
        first = "/" + low.split("/")[1]
        if any(c in first for c in "*?["):
            return "critical", "top-level directories (glob)"
        if low in _TOP_DIRS:
            return "critical", base
        if low.startswith(_SYSTEM_TREES) or low == "/var/log" or low.startswith("/var/log/"):
            return "high", base
        parts = low.split("/")
        if (
            len(parts) >= 3
            and parts[1] == "var"
            and (
                (len(parts) == 3 and parts[2] in ("lib", "www", "mail", "backups", "opt", "spool", "cache", "db"))
                or (parts[2] == "lib" and len(parts) >= 4 and parts[3] in _DATA_DIRS)
                or (parts[2] in ("www", "backups", "mail") and len(parts) == 4)
            )
        ):
            return "high", base
        return None
    if p in ("..", "../", "../*") or (p.startswith("../..") and p.replace("../", "").replace("..", "") in ("", "*")):
        return "high", "the parent of the working directory"
    return None


def _norm_target(path: str) -> str:
    """A path in a comparable form: home-relative paths as ``~/x``, others collapsed and lower-case."""
    home = home_relative(path)
    if home is not None:
        return "~/" + home
    p = path.replace("\\", "/")
    return posix_norm(p).lower() if p.startswith("/") else p.lower()


@lru_cache(maxsize=4096)
def _persistence(path: str) -> tuple[str, str] | None:
    """Writing here survives a reboot or a new login: ``(severity, what)`` or None."""
    t = _norm_target(path)
    low = t.lower()
    base = low.rstrip("/").rsplit("/", 1)[-1]
    if low.startswith(("/etc/cron", "/var/spool/cron", "/etc/anacrontab", "/var/spool/anacron", "/etc/periodic")):
        return "high", "a cron table"
    if low.startswith(
        (
            "/etc/systemd/",
            "/lib/systemd/",
            "/usr/lib/systemd/",
            "~/.config/systemd/",
            "/run/systemd/system",
            "/etc/init.d/",
            "/etc/rc.local",
            "/etc/rc.d/",
            "/etc/init/",
            "/etc/update-motd.d/",
            "/etc/xdg/autostart",
            "~/.config/autostart",
        )
    ):
        return "high", "a boot or login service"
    if low.startswith(
        ("/etc/profile", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zshrc", "/etc/zsh/", "/etc/environment")
    ) or (low.startswith("~/") and base in _RC_FILES):
        return "high", "a shell start-up file"
    if base in ("authorized_keys", "authorized_keys2"):
        return "high", "SSH authorized_keys"
    if "launchagents" in low or "launchdaemons" in low:
        return "high", "a launchd job"
    if low == "/etc/ld.so.preload":
        return "critical", "/etc/ld.so.preload"
    if "start menu/programs/startup" in low:
        return "high", "the Windows Startup folder"
    if low.startswith("~/.ssh/rc") or low == "/etc/ssh/sshrc":
        return "high", "an SSH login script"
    if low.startswith(".git/hooks/") or "/.git/hooks/" in low:
        return "high", "a git hook (run by the next git command)"
    return None


@lru_cache(maxsize=4096)
def _history_file(path: str) -> bool:
    return _norm_target(path).rstrip("/").rsplit("/", 1)[-1] in _HISTORY_FILES


@lru_cache(maxsize=4096)
def _log_file(path: str) -> bool:
    low = _norm_target(path)
    return low.startswith(("/var/log/", "/var/adm/", "/var/run/utmp", "/run/utmp", "/var/log")) or low.endswith(
        ("/wtmp", "/btmp", "/lastlog")
    )


def _deleted_or_truncated(c: Command) -> list[str]:
    """Files a command deletes or empties (rm/shred/truncate/unlink, ``> f``, ``ln -sf /dev/null f``, ...)."""
    name, argv = c.name, c.argv
    out: list[str] = []
    if name in ("rm", "shred", "unlink", "srm", "wipe", "del", "erase", "remove-item", "ri", "truncate"):
        _opts, ops = split_options(argv, frozenset({"-s", "--size", "-n", "--iterations"}))
        out.extend(w for w in ops if not w.startswith("/") or name not in ("del", "erase") or "/" in w[1:])
    if name == "ln" and "/dev/null" in argv:
        _opts, ops = split_options(argv)
        if ops:
            out.append(ops[-1])
    if name in ("cp", "cat", "mv") and "/dev/null" in argv[1:]:
        _opts, ops = split_options(argv)
        if len(ops) >= 2 and ops[0] == "/dev/null":
            out.append(ops[-1])
    for op, target in c.redirects:
        bare = op.lstrip("0123456789")
        if bare in (">", ">|", "&>") and (name in ("", ":", "true", "echo", "cat", "printf") and len(argv) <= 2):
            out.append(target)
    return out


# --- rules on single commands ---------------------------------------------------------------------------------
def _rm(c: Command, out: Findings) -> None:
    opts, ops = split_options(c.argv)
    low_opts = {o.lower() for o in opts}
    recursive = bool({"r", "R", "--recursive", "-recurse", "-rec", "s", "/s"} & opts) or any(
        o.startswith("-rec") for o in low_opts
    )
    if c.name in ("del", "erase", "rd", "rmdir"):
        recursive = any(w.lower() == "/s" for w in c.argv[1:])
        ops = [w for w in ops if w.lower() not in ("/s", "/q", "/f")]
        ops += [w for w in c.argv[1:] if w.startswith("/") and w.lower() not in ("/s", "/q", "/f", "/a")]
    if "--no-preserve-root" in opts:
        out.add("rm with --no-preserve-root", "critical", c.raw)
    if c.name == "rmdir" and not recursive:
        return
    for target in ops:
        cls = _classify(target)
        if cls is None:
            if target.startswith("/") and posix_norm(target).lower().startswith(
                ("/etc/", "/boot/", "/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/lib/")
            ):
                out.add(f"deletes system file {posix_norm(target)}", "high", c.raw)
            continue
        sev, what = cls
        if recursive:
            out.add(f"recursive delete of {what}", sev, c.raw)
        elif sev == "critical" and what not in ("the root file system", "a home directory") and "*" in target:
            out.add(f"deletes files in {what}", "high", c.raw)
        elif target.startswith("/") and not target.rstrip("/*").count("/") <= 1:
            out.add(f"deletes system file {posix_norm(target)}", "high", c.raw)


def _find(c: Command, out: Findings) -> None:
    argv = c.argv
    starts: list[str] = []
    for w in argv[1:]:
        if w.startswith("-") or w in ("(", "!", "\\("):
            if w in ("-H", "-L", "-P"):
                continue
            break
        starts.append(w)
    destructive = "-delete" in argv
    for j, w in enumerate(argv):
        if w in ("-exec", "-execdir", "-ok", "-okdir") and j + 1 < len(argv):
            prog = argv[j + 1].replace("\\", "/").rsplit("/", 1)[-1].lower()
            if prog in ("rm", "shred", "unlink", "dd", "truncate", "mv", "chmod", "chown", "srm", "wipe") or (
                prog in SHELLS and any("rm " in x or "shred" in x for x in argv[j + 1 :])
            ):
                destructive = True
    if not destructive:
        return
    for sp in starts or ["."]:
        cls = _classify(sp)
        if cls is not None:
            out.add(f"find deleting across {cls[1]}", cls[0], c.raw)


def _disk(c: Command, out: Findings) -> None:
    name, argv = c.name, c.argv
    if name == "dd":
        for w in argv[1:]:
            if w.startswith("of=") and _is_device(w[3:]):
                out.add(f"dd overwrites disk device {w[3:]}", "critical", c.raw)
    elif name.startswith("mkfs") or name in ("mke2fs", "mkswap", "wipefs", "mkdosfs", "mkntfs"):
        # formatting an image file (``mkfs.ext4 disk.img``) is ordinary work; a device is not
        if any(_is_device(w) for w in argv[1:]):
            out.add(f"{name} formats a disk device", "critical", c.raw)
    elif name in ("fdisk", "sfdisk", "parted", "gdisk", "sgdisk", "cfdisk", "blkdiscard", "hdparm"):
        devices = [j for j, w in enumerate(argv[1:], 1) if _is_device(w)]
        if not devices or (name in ("fdisk", "gdisk", "parted") and ("-l" in argv or "--list" in argv)):
            return
        after = [w for w in argv[devices[-1] + 1 :] if not w.startswith("-")]
        fed = c.stage > 0 or bool(c.redirects)
        if name == "parted" and after and not fed and {w.lower() for w in after} <= _PARTED_READS:
            return  # ``parted /dev/sda print``
        if name in ("fdisk", "parted", "gdisk", "cfdisk") and not after and not fed:
            # an interactive session on the table: it changes what the operator then types, nothing by itself
            out.administration(f"{name} opens a disk's partition table for editing", "high", c.raw)
        else:
            out.add(f"{name} modifies a disk's partitions", "high", c.raw)
    elif name == "cryptsetup":
        sub = next((w for w in argv[1:] if not w.startswith("-")), "")
        if sub.lower() in ("luksformat", "erase", "lukserase") and any(_is_device(w) for w in argv[1:]):
            out.add(f"cryptsetup {sub} formats a disk device (its data is lost)", "critical", c.raw)
    elif name in ("shred", "srm", "wipe"):
        for w in argv[1:]:
            if _is_device(w):
                out.add(f"{name} destroys disk device {w}", "critical", c.raw)
            elif not w.startswith("-") and _classify(w) is not None:
                out.add(f"{name} irrecoverably destroys {_classify(w)[1]}", "high", c.raw)  # type: ignore[index]
    elif name == "format" and any(len(w) == 2 and w[1] == ":" for w in argv[1:]):
        out.add("formats a drive", "critical", c.raw)
    elif name in ("diskpart", "cipher") and (name == "diskpart" or any(w.lower().startswith("/w") for w in argv)):
        out.add(f"{name} wipes disk data", "high", c.raw)
    elif (name in ("vssadmin", "wbadmin") and any(w.lower() in ("delete", "resize") for w in argv[1:])) or (
        name == "wmic" and "shadowcopy" in " ".join(argv).lower() and "delete" in " ".join(argv).lower()
    ):
        out.add("deletes shadow copies or backups", "high", c.raw)
    elif name == "bcdedit" and any(w.lower() in ("recoveryenabled", "bootstatuspolicy") for w in argv):
        out.add("disables Windows recovery", "high", c.raw)
    for t in write_targets(c):
        if _is_device(t):
            out.add(f"writes directly to disk device {t}", "critical", c.raw)
    if name == "tee" or name == "cp":
        pass


def _permissions(c: Command, out: Findings) -> None:
    opts, ops = split_options(c.argv, _SHORT_VALUE.get(c.name, frozenset()))
    recursive = "R" in opts or "--recursive" in opts
    targets = ops[1:] if ops else []
    for t in targets:
        cls = _classify(t)
        if cls is None:
            continue
        sev, what = cls
        if recursive:
            out.add(f"recursive {c.name} on {what}", sev if sev == "critical" else "high", c.raw)
        elif what in ("the root file system", "a home directory") or (
            c.name == "chmod"
            and ops
            and ops[0] in ("777", "0777", "666", "0666", "a+rwx", "o+w", "a+w", "ugo+rwx", "000", "0000")
        ):
            out.add(f"{c.name} {ops[0]} on {what}", "high", c.raw)


def _fork_bomb_text(text: str) -> bool:
    """``name(){ name|name& };name`` in any spacing, and the Windows ``%0|%0``."""
    if "%0|%0" in text.replace(" ", ""):
        return True
    compact = "".join(text.split())
    start = 0
    for _ in range(16):
        j = compact.find("(){", start)
        if j <= 0:
            return False
        k = j
        while k > 0 and j - k < 32 and compact[k - 1] not in ";&|{}()\n":
            k -= 1
        name = compact[k:j]
        end = compact.find("}", j + 3)
        body = compact[j + 3 : end if end > 0 else len(compact)]
        if name and (name + "|" + name in body or body.count(name) >= 2) and ("&" in body or "|" in body):
            return True
        start = j + 3
    return False


def _remote_display(argv: Sequence[str]) -> bool:
    """Whether the X display after ``-display`` (``host:display``) is on another machine: ``:1``, ``unix:0`` and
    a local name are this machine's own (``localhost:10`` is what SSH forwards back); no value counts as remote."""
    at = argv.index("-display") + 1
    host = argv[at].rpartition(":")[0].strip("[]").lower() if at < len(argv) else "?"
    return host not in ("", "unix", "localhost", "127.0.0.1", "::1")


def _reverse_shell(c: Command, out: Findings, pipe_names: set[str]) -> None:
    name, argv = c.name, c.argv
    targets = [t for _op, t in c.redirects] + list(argv[1:])
    for t in targets:
        tl = t.lower()
        if tl.startswith(("/dev/tcp/", "/dev/udp/")):
            shellish = (
                name in SHELLS
                or name in ("exec", "")
                or any(op.endswith(">&") or op.endswith("<&") for op, _t in c.redirects)
            )
            reason = "reverse shell over /dev/tcp" if shellish else "raw network socket from the shell"
            out.add(reason, "critical", c.raw)
            return
    if name in ("nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "pwncat"):
        for w in argv[1:]:
            lw = w.lower()
            if lw in ("-e", "-c", "--exec", "--sh-exec", "--lua-exec") or lw.startswith(("--exec=", "--sh-exec=")):
                out.add(f"{name} executing a program for a network peer (reverse/bind shell)", "critical", c.raw)
                return
            if len(lw) > 2 and lw[0] == "-" and lw[1] != "-" and lw[-1] in "ec":
                out.add(f"{name} executing a program for a network peer (reverse/bind shell)", "critical", c.raw)
                return
            base = lw.replace("\\", "/").rsplit("/", 1)[-1]
            if base in SHELLS or base in ("cmd.exe", "powershell.exe", "cmd", "powershell"):
                out.add(f"{name} handing a shell to a network peer", "critical", c.raw)
                return
    if name == "socat":
        joined = " ".join(argv[1:]).lower()
        if ("exec:" in joined or "system:" in joined) and any(
            x in joined for x in ("tcp", "udp", "openssl", "ssl:", "sctp")
        ):
            out.add("socat connecting a shell to the network", "critical", c.raw)
    if name in PYTHONS or name in SCRIPTERS or name in POWERSHELLS or c.consumer in PYTHONS:
        f = c.features
        if "socket" in f and ({"pty", "dup2", "exec", "shell"} & f):
            out.add(f"{name} one-liner connecting a shell to a socket (reverse shell)", "critical", c.raw)
    if name == "xterm" and "-display" in argv and _remote_display(argv):
        out.add("xterm session sent to a remote display", "high", c.raw)
    if name == "ztcp" or (name in ("zmodload",) and "zsh/net/tcp" in argv):
        out.add("zsh TCP socket (reverse shell)", "critical", c.raw)


def _network_shell_pipeline(stages: list[Command], fifo: bool, out: Findings) -> None:
    names = {c.name for c in stages}
    net = names & (NETWORK_TOOLS | {"pwncat"})
    if "openssl" in net and not any(c.name == "openssl" and "s_client" in c.argv for c in stages):
        net.discard("openssl")
    if "socat" in net:
        net.discard("socat")
    if net and (names & (SHELLS | POWERSHELLS | {"cmd"})):
        out.add("network tool piped into a shell (reverse shell)", "critical", stages[0].raw)
    elif net and fifo and any(c.name in ("nc", "ncat", "netcat", "telnet", "openssl") for c in stages):
        out.add("named pipe wired to a network tool (reverse shell)", "critical", stages[0].raw)


_DECODERS = frozenset({"base64", "base32", "xxd", "openssl", "rev", "gunzip", "zcat", "uudecode", "tr", "certutil"})


def _is_decoder(c: Command) -> bool:
    if c.name in ("base64", "base32"):
        return any(a in ("-d", "--decode", "-D", "-di", "-id") for a in c.argv[1:])
    if c.name == "xxd":
        return any(a.startswith("-r") for a in c.argv[1:])
    if c.name == "openssl":
        return "-d" in c.argv and any("base64" in a or a.startswith("-a") for a in c.argv[1:])
    if c.name == "tr":
        return len(c.argv) >= 3 and c.argv[2].lower().startswith("n-z")
    return c.name in ("rev", "uudecode", "gunzip", "zcat")


def _download_exec_pipeline(stages: list[Command], out: Findings) -> None:
    seen_dl: Command | None = None
    seen_dec: Command | None = None
    for c in stages:
        if c.name in DOWNLOADERS or (c.name in ("nc", "ncat", "netcat") and c.stage == 0):
            seen_dl = seen_dl or c
        elif _is_decoder(c):
            seen_dec = seen_dec or c
        elif (seen_dl or seen_dec) and (reads_stdin(c) or c.name in ("iex", "invoke-expression")):
            if seen_dl is not None:
                out.add(f"downloads code and pipes it into {c.name} (download-and-execute)", "critical", seen_dl.raw)
            elif seen_dec is not None:
                out.add(f"decodes a hidden payload and runs it with {c.name}", "high", seen_dec.raw)
            return


def _download_exec_subst(c: Command, out: Findings) -> None:
    if c.via.endswith(("$()", "`", "<()", "()")) and c.consumer in _EXECUTORS:
        if c.name in DOWNLOADERS:
            out.add(f"runs downloaded code with {c.consumer} (download-and-execute)", "critical", c.raw)
        elif _is_decoder(c) and c.stage > 0:
            out.add(f"runs a decoded payload with {c.consumer}", "high", c.raw)
    if c.name in ("iex", "invoke-expression"):
        low = c.raw.lower()
        if any(
            x in low
            for x in (
                "downloadstring",
                "iwr",
                "invoke-webrequest",
                "irm ",
                "invoke-restmethod",
                "net.webclient",
                "downloadfile",
                "http://",
                "https://",
                "downloaddata",
            )
        ):
            out.add("PowerShell Invoke-Expression of downloaded code", "critical", c.raw)
    if c.name in PYTHONS or c.name in SCRIPTERS:
        f = c.features
        if "download" in f and ({"eval", "exec"} & f):
            out.add(f"{c.name} one-liner downloads and runs code", "critical", c.raw)
        elif "decode" in f and "eval" in f:
            out.add(f"{c.name} one-liner decodes and runs a hidden payload", "high", c.raw)
        if "fork_loop" in f:
            out.add("fork bomb", "critical", c.raw)


_FETCH_PROGRAMS = ("curl", "wget", "iwr", "invoke-webrequest", "invoke-restmethod", "irm", "certutil", "bitsadmin",
                   "aria2c", "fetch", "start-bitstransfer", "tftp")  # fmt: skip
_EXECUTABLE_EXTENSIONS = tuple(vocab.words("executable_extensions"))
_EXECUTABLE_DIRS = tuple(vocab.words("executable_dirs"))
_STAGING_DIRS = tuple(vocab.words("staging_dirs"))


def _download_files(c: Command) -> list[str]:
    """The files a downloader writes: ``curl -o F``/``-O``, ``wget -O F``/its default name, ``-OutFile F``,
    ``certutil -urlcache -f URL F``, ``bitsadmin /transfer J URL F``, and its output redirected to a file."""
    files: list[str] = []
    argv = c.argv
    for j, w in enumerate(argv):
        lw = w.lower()
        if lw in ("-o", "--output", "-outfile", "--output-document", "-destination") and j + 1 < len(argv):
            files.append(argv[j + 1])
        elif lw.startswith(("--output=", "--output-document=")):
            files.append(w.split("=", 1)[1])
        elif c.name == "curl" and len(w) > 2 and w[0] == "-" and w[1] != "-":
            out = _curl_cluster_output(w, argv[j + 1] if j + 1 < len(argv) else "")
            if out:
                files.append(out)
    remote_name = any(w == "--remote-name" or (w.startswith("-") and not w.startswith("--") and "O" in w) for w in argv)
    if c.name == "curl" and remote_name:
        files.extend(w.split("?", 1)[0] for w in argv[1:] if "://" in w)
    if c.name == "wget" and not any(w.lower() in ("-o", "--output-document") or w == "-O" for w in argv):
        prefix = _wget_prefix(argv)
        for w in argv[1:]:
            if "://" in w:
                name = w.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] if w.count("/") > 2 else ""
                if name:
                    files.append(f"{prefix.rstrip('/')}/{name}" if prefix else name)
    if c.name in ("certutil", "bitsadmin") and len(argv) > 2 and "://" in argv[-2]:
        files.append(argv[-1])
    files.extend(_stdout_files(c))
    return [f for f in files if f and f not in ("-", "/dev/null", "null", "nul")]


def _stdout_files(c: Command) -> list[str]:
    """The files a command's standard output is redirected to (``> F``, ``>> F``, ``1> F``, ``&> F``)."""
    return [t for op, t in c.redirects if op.lstrip("1&").startswith(">") and not t.lstrip("&").isdigit()]


def _raw_received(c: Command) -> list[str] | None:
    """The files a raw-connection program (``NETWORK_TOOLS``) writes what it receives into: its redirected output
    (``nc HOST PORT > F``, ``nc -l -p PORT > F``, ``openssl s_client -connect H:P > F``), or socat's file address
    receiving from a network address; None when the command opens no connection (``openssl enc``)."""
    argv = c.argv
    if c.name == "openssl":
        return _stdout_files(c) if any(w in ("s_client", "s_server") for w in argv[1:3]) else None
    if c.name != "socat":
        return _stdout_files(c) if len(argv) > 1 else None
    addresses = socat_addresses(argv)
    if not any(a.kind == "network" for a in addresses):
        return None
    files: list[str] = []
    for a in addresses:
        if a.receives and a.kind == "file" and a.target:
            files.append(a.target)
        elif a.receives and a.kind == "stdio":
            files.extend(_stdout_files(c))
    return files


def _wget_prefix(argv: Sequence[str]) -> str:
    """The directory wget saves into: ``-P DIR``, ``-PDIR``, ``--directory-prefix DIR`` or ``=DIR``; else ``""``."""
    for j, w in enumerate(argv):
        if w in ("-P", "--directory-prefix") and j + 1 < len(argv):
            return argv[j + 1]
        if w.startswith("--directory-prefix="):
            return w.split("=", 1)[1]
        if w.startswith("-P") and len(w) > 2:
            return w[2:]
    return ""


#: Interpreters whose inline code (``-c``, ``-e``) may download a file a later command runs.
_INLINE_CODE = ("python", "node", "pwsh", "powershell", "perl", "ruby", "lua", "php")
# curl's short options that take a value: in a cluster ('-sSLo FILE', '-o/tmp/x'), the first of them takes the rest
# of the word, or the next word when it ends the cluster.
_CURL_VALUE_LETTERS = frozenset("oAbcCdDeEFHKmPQrTuUwxXyYz")


def _curl_cluster_output(word: str, following: str) -> str:
    """The file a cluster of curl's short options writes to (``-sSLo F``, ``-Lo F``, ``-o/tmp/x``), else ``""``."""
    for k in range(1, len(word)):
        letter = word[k]
        if letter in _CURL_VALUE_LETTERS:
            if letter != "o":
                return ""
            return word[k + 1 :] or following
    return ""


def _ingress_target(path: str) -> str:
    """Why a downloaded file is a tool brought onto the machine: a program by its name, a file saved where
    programs are run by name, or a persistence location; ``""`` for data (``data/cities.csv``, a tarball)."""
    low = path.strip().strip("'\"").replace("\\", "/").lower()
    if low.endswith(_EXECUTABLE_EXTENSIONS):
        return "a program"
    norm = _norm_target(low)
    if norm.startswith(_EXECUTABLE_DIRS) or norm.replace("$home/", "~/").startswith(_EXECUTABLE_DIRS):
        return "a program directory"
    hit = _persistence(path)
    if hit:
        return hit[1]
    if low.endswith(_PROGRAM_EXTENSIONS) and _staged(low, norm):
        return "a writable staging directory"  # 'curl -o /tmp/x.sh URL': a script put aside to run later
    return ""


def _staged(low: str, norm: str) -> bool:
    """The path lies in a world-writable directory where tools are staged (``/tmp``, ``/dev/shm``, ``%TEMP%``)."""
    return (
        norm.startswith(_STAGING_DIRS)
        or low.startswith(_STAGING_DIRS)
        or norm.replace("$home/", "~/").startswith(_STAGING_DIRS)
    )


def _ingress(downloads: list[tuple[str, str]], out: Findings) -> None:
    """Ingress tool transfer: a download saved as a program or where programs and autostart entries live."""
    for path, evidence in downloads:
        why = _ingress_target(path)
        if why:
            name = _basename_of(path) or path
            out.add(f"downloads {name} into {why} (ingress tool transfer)" if why != "a program" else
                    f"downloads the program {name} to disk (ingress tool transfer)", "high", evidence)  # fmt: skip


def _download_then_run(cmds: list[Command], out: Findings) -> None:
    """``curl -o /tmp/x URL; chmod +x /tmp/x; /tmp/x``, ``wget URL -O a.sh && bash a.sh``, a download written by
    inline code and run by a later command, and downloads saved as programs or into program and autostart
    locations (``_ingress``)."""
    files: dict[str, Command] = {}
    saved: list[tuple[str, str]] = []
    fetched: set[int] = set()  # pipelines a downloader writes into
    cwd = ""  # where the 'cd'/'pushd' commands before moved to, once one of them names a directory absolutely
    for c in cmds:
        if c.name in ("cd", "pushd", "set-location", "sl", "chdir"):
            target = c.argv[1] if len(c.argv) > 1 else ""
            absolute = target.startswith(("/", "~", "$", "%")) or target[1:3] in (":\\", ":/")
            cwd = target if absolute else f"{cwd.rstrip('/')}/{target}" if cwd and target else ""
            continue
        received = (
            _download_files(c) if c.name in _FETCH_PROGRAMS else _raw_received(c) if c.name in NETWORK_TOOLS else None
        )
        if received is not None:
            fetched.add(c.pipeline)
            for f in received:
                files[_basename_of(f)] = c
                # 'cd /tmp && wget URL/x.sh': a relative name is saved where the command moved to
                relative = cwd and not f.startswith(("/", "~", "$", "%", "\\")) and f[1:3] not in (":\\", ":/")
                saved.append((f"{cwd.rstrip('/')}/{f}" if relative else f, c.raw))
            continue
        inline = code_of_argv(c.argv, c.redirects)  # 'python3 -c "urlretrieve(URL, '/tmp/x.sh')"' then 'bash /tmp/x.sh'
        if inline is not None:
            for w in code_facts(*inline).writes:
                if w.path and w.content == "downloaded":
                    files[_basename_of(w.path)] = c
            continue
        if c.name in ("tar", "bsdtar") and c.pipeline in fetched:  # a download unpacked into a program directory
            argv = c.argv
            dest = next((argv[j + 1] for j, w in enumerate(argv[:-1]) if w in ("-C", "--directory", "-d")), "")
            if dest and _ingress_target(dest.rstrip("/") + "/x") == "a program directory":
                out.add(f"unpacks a download into {dest} (ingress tool transfer)", "high", c.raw)
        if not files:
            continue
        argv0 = c.argv[0] if c.argv else ""
        runs = None
        made_executable = False
        if ("/" in argv0 or "\\" in argv0) and _basename_of(argv0) in files:
            runs = _basename_of(argv0)
        elif c.name in _EXECUTORS and c.name not in ("cmd",):
            _opts, ops = split_options(c.argv)
            if ops and _basename_of(ops[0]) in files:
                runs = _basename_of(ops[0])
        elif c.name in ("start-process", "start", "saps") and len(c.argv) > 1 and _basename_of(c.argv[1]) in files:
            runs = _basename_of(c.argv[1])
        elif c.name == "chmod" and len(c.argv) > 2 and _adds_exec(c.argv[1:-1]):
            runs = next((_basename_of(w) for w in c.argv[2:] if _basename_of(w) in files), None)
            made_executable = True
        if runs and runs not in ("", "-", "/dev/null", "null"):
            if made_executable:
                out.add(f"downloads {runs} and makes it executable (ingress tool transfer)", "high", files[runs].raw)
            else:
                out.add(f"downloads {runs} and then runs it (download-and-execute)", "high", files[runs].raw)
    _ingress(saved, out)


def _adds_exec(modes: Sequence[str]) -> bool:
    """``chmod`` mode words that make a file executable: ``+x``, ``u+x``, ``a+rx``, ``755``, ``0700``."""
    for m in modes:
        if m.startswith("-") and not m[1:2].isdigit() and "x" not in m:
            continue
        if m.isdigit() and len(m) <= 4 and all(ch in "01234567" for ch in m):
            if int(m, 8) & 0o111:
                return True
        elif ("+" in m and "x" in m.split("+", 1)[1]) or ("=" in m and "x" in m.split("=", 1)[1]):
            return True
    return False


def _basename_of(p: str) -> str:
    return p.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()


_DB_CLIENTS = frozenset({"psql", "mysql", "mariadb", "sqlite3", "mongo", "mongosh", "redis-cli", "cqlsh", "sqlcmd",
                         "clickhouse-client"})  # fmt: skip
_DB_DESTROY = ("drop database", "drop schema", "flushall", "flushdb", "dropdatabase(", "drop keyspace")


def _databases(c: Command, out: Findings) -> None:
    """A database client told to drop a whole database (or to flush every key)."""
    if c.name in ("dropdb", "mysqladmin") and (c.name == "dropdb" or "drop" in c.argv):
        out.add(f"{c.name} drops a database", "high", c.raw)
        return
    joined = " ".join(" ".join(c.argv[1:]).lower().split())
    if any(x in joined for x in _DB_DESTROY):
        out.add(f"{c.name} drops a whole database", "high", c.raw)


#: Package managers: what they install runs its install scripts (``setup.py``, ``postinstall``) on this machine.
_INSTALLERS = frozenset({"pip", "pip3", "pipx", "uv", "npm", "pnpm", "yarn", "gem", "bun"})
#: Their options that name where packages come from (pip, uv, npm, yarn, gem).
_SOURCE_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "--index", "--default-index", "-f", "--find-links", "--registry",
     "--source", "--clear-sources"}
)  # fmt: skip


def _package_sources(argv: Sequence[str]) -> list[str]:
    """The URLs an install command takes packages from: its source options' values and URL operands."""
    found: list[str] = []
    for j, w in enumerate(argv):
        opt, eq, value = w.partition("=")
        if opt in _SOURCE_OPTIONS:
            found.append(value if eq else argv[j + 1] if j + 1 < len(argv) else "")
        elif "://" in w and not w.startswith("-"):
            found.append(w)
    return [u for u in found if "://" in u]


def _untrusted_install(c: Command, out: Findings) -> None:
    """A package installed from a source nothing authenticates (plain ``http``, or a bare IP address that no
    certificate names): whoever answers chooses the code its install scripts run (``pip install -i
    http://203.0.113.5/simple x``, ``npm install http://host/x.tgz``)."""
    argv = c.argv
    if c.name in PYTHONS:
        if tuple(argv[1:3]) not in (("-m", "pip"), ("-m", "pip3")):
            return
        argv = argv[2:]
    if not any(w in ("install", "add", "i") for w in argv[1:4]):
        return
    for url in _package_sources(argv):
        for parts in split_url(url.removeprefix("git+")):
            if not parts.host or classify_host(parts.host).loopback:
                continue  # the agent's own machine: no one on the network answers in its place
            if parts.scheme == "http" or parse_ip(parts.host) is not None:
                what = "plain http" if parts.scheme == "http" else "a bare IP address"
                out.add(f"{c.name} installs packages from {parts.host} over {what} (their install scripts run here)",
                        "high", c.raw)  # fmt: skip
                return


def _lolbins(c: Command, out: Findings) -> None:
    name = c.name
    joined = " ".join(c.argv[1:]).lower()
    if name == "certutil" and ("-urlcache" in joined or "-decode" in joined or "-verifyctl" in joined):
        out.add("certutil used to download or decode a payload", "high", c.raw)
    elif name == "mshta" and any(not w.startswith(("-", "/")) or "://" in w for w in c.argv[1:]):
        # an HTML application runs its script with the user's full rights, outside any browser sandbox
        out.add("mshta runs an HTML application's script (remote, inline or from a file)", "high", c.raw)
    elif name == "regsvr32" and ("/i:http" in joined or "scrobj" in joined):
        out.add("regsvr32 running a remote scriptlet", "high", c.raw)
    elif name == "rundll32" and ("javascript:" in joined or "http" in joined):
        out.add("rundll32 running script", "high", c.raw)
    elif name == "bitsadmin" and "/transfer" in joined:
        out.add("bitsadmin downloading a file", "high", c.raw)


_ATTACK_TOOLS = vocab.mapping("attack_tools")


def _attack_tool(c: Command) -> str | None:
    """The offensive tool ``c`` runs, directly (``evil-winrm``, ``impacket-secretsdump``) or as a script given to
    Python (``python3 wmiexec.py``), or None."""
    name = c.name
    if name in _ATTACK_TOOLS:
        return name
    script = f"{name.removeprefix('impacket-')}.py"  # Impacket's packaged scripts: impacket-psexec is psexec.py
    if name.startswith("impacket-") and script in _ATTACK_TOOLS:
        return script
    if name in PYTHONS:
        script = next((w for w in c.argv[1:] if not w.startswith("-")), "")
        base = program_name(script)
        return base if base.endswith(".py") and base in _ATTACK_TOOLS else None
    return None


def _attack_tools(c: Command, out: Findings) -> None:
    tool = _attack_tool(c)
    if tool is not None and not only_help(c):
        out.add(f"runs {tool}, an attack tool: {_ATTACK_TOOLS[tool]}", "critical", c.raw)


def _remote_host(host: str) -> bool:
    """Whether ``host`` names another machine (not this one: loopback, ``.``, ``localhost``, an empty name)."""
    h = host.strip().strip("[]").lower()
    if h in ("", ".", "localhost", "$env:computername", "%computername%"):
        return False
    return not classify_host(h).loopback


#: PowerShell parameters naming where a command runs (a unique prefix of four letters or more suffices): a
#: computer by name (``-ComputerName``, alias ``-cn``), judged by whether it is this machine, or somewhere else by
#: construction (a session, a URI, a VM, a container, an SSH ``-HostName`` as ``user@host``)
_PS_COMPUTER_PARAMETER = "computername"
_PS_ELSEWHERE_PARAMETERS = ("connectionuri", "hostname", "session", "vmname", "vmid", "containerid")


def _ps_remote_target(argv: Sequence[str]) -> str | None:
    """The remote target a PowerShell command is given (``-ComputerName dc01``, ``-cn:dc01``), or None."""
    for j, w in enumerate(argv[1:], 1):
        if not w.startswith("-") or len(w) < 3:
            continue
        param, colon, value = w[1:].lower().partition(":")
        if not colon:
            value = argv[j + 1] if j + 1 < len(argv) else ""
        if param == "cn" or (len(param) >= 4 and _PS_COMPUTER_PARAMETER.startswith(param)):
            if _remote_host(value.strip("'\"")):
                return value
        elif len(param) >= 4 and any(p.startswith(param) for p in _PS_ELSEWHERE_PARAMETERS):
            return value or param
    return None


def _admin_share(word: str) -> bool:
    """Whether ``word`` is a UNC path to another host's administrative share (``C$``, ``ADMIN$``; not ``IPC$``)."""
    host, _sep, rest = word.lstrip("\\").partition("\\")
    share = rest.split("\\", 1)[0]
    return word.startswith("\\") and share.endswith("$") and share != "ipc$" and _remote_host(host)


_LATERAL_REASON = "runs a command on another host with Windows remote administration (lateral movement)"
_SHADOW_REASON = "creates a volume shadow copy (reads locked files: NTDS.dit, the SAM and SYSTEM hives)"
_WMI_PROCESS_REASON = "starts a process through WMI (outside the caller's process tree)"


def _windows_remote(c: Command, out: Findings) -> None:
    """Remote execution, remoting set-up and shadow copies with Windows' own administration tools: the work of
    an administering agent (allowed in the admin profile) except where it opens the machine to every host."""
    if only_help(c):
        return
    name, argv = _PS_ALIASES.get(c.name, c.name), c.argv
    lows = [w.lower() for w in argv[1:]]
    if name in ("psexec", "psexec64", "paexec", "csexec"):
        if any(w.startswith("\\") and _remote_host(w.lstrip("\\").split("\\", 1)[0]) for w in argv[1:]):
            out.administration(_LATERAL_REASON, "high", c.raw)
        if any(w in ("-s", "/s") for w in lows):
            out.add(f"{name} -s runs the program as SYSTEM", "high", c.raw)
    elif name == "winrs":
        if any(w.startswith(("-r:", "/r:", "-remote:", "/remote:")) and _remote_host(w.split(":", 1)[1]) for w in lows):
            out.administration(_LATERAL_REASON, "high", c.raw)
    elif name == "wmic":
        joined = " ".join(lows)
        node = next((w.split(":", 1)[1] for w in lows if w.startswith(("/node:", "-node:"))), "")
        if "process" in lows and "call" in lows and "create" in lows:
            if any(_remote_host(h) for h in node.strip('"').split(",")):
                out.administration(_LATERAL_REASON, "high", c.raw)
            else:
                out.add(_WMI_PROCESS_REASON, "high", c.raw)
        elif "shadowcopy" in joined and "create" in lows:
            out.administration(_SHADOW_REASON, "high", c.raw)
        if any(w.startswith(("/format:", "-format:")) and (".xsl" in w or "://" in w) for w in lows):
            out.add("wmic /format runs the script of an XSL stylesheet (XSL script processing)", "high", c.raw)
    elif name in ("invoke-wmimethod", "invoke-cimmethod"):
        joined = " ".join(lows)
        if "win32_process" in joined and "create" in lows:
            if _ps_remote_target(argv) is not None:
                out.administration(_LATERAL_REASON, "high", c.raw)
            else:
                out.add(_WMI_PROCESS_REASON, "high", c.raw)
        elif "win32_shadowcopy" in joined and "create" in lows:
            out.administration(_SHADOW_REASON, "high", c.raw)
    elif name in ("invoke-command", "enter-pssession", "new-pssession"):
        if _ps_remote_target(argv) is not None:
            out.administration(_LATERAL_REASON, "high", c.raw)
    elif name in ("vssadmin", "diskshadow") and (name == "diskshadow" or "create" in lows):
        out.administration(_SHADOW_REASON, "high", c.raw)
    elif name == "ntdsutil" and any("ifm" in w or "create full" in w or "snapshot" in w for w in lows):
        out.add("ntdsutil copies the Active Directory database (every domain password hash)", "critical", c.raw)
    elif name == "net" and lows[:1] == ["use"] and any(_admin_share(w) for w in lows[1:]):
        out.administration("connects to another host's administrative share (C$, ADMIN$: lateral movement)", "high",
                           c.raw)  # fmt: skip
    elif name == "enable-psremoting" or (name == "winrm" and any(w in ("quickconfig", "qc") for w in lows)):
        out.administration("enables remote command execution on this machine (WinRM)", "high", c.raw)
    if (
        name in ("set-item", "winrm", "set-wsmaninstance")
        and any("trustedhosts" in w for w in lows)
        and any(w.strip("'\"@{}=") in ("*", "trustedhosts=*") or '"*"' in w for w in lows)
    ):
        out.add("trusts every host for WinRM authentication", "high", c.raw)


#: Registry hives that hold local password hashes and secrets (``reg save HKLM\SAM``)
_CREDENTIAL_HIVES = ("sam", "security", "system")
#: Programs that write a process's memory to a file (given ``lsass``, its credentials)
_MEMORY_DUMPERS = frozenset({"procdump", "procdump64", "sqldumper", "createdump", "rdrleakdiag", "dumpert",
                             "nanodump", "minidump", "dumpit"})  # fmt: skip
#: mimikatz-style command modules (``sekurlsa::logonpasswords``), named so in every tool that copies them
_CREDENTIAL_MODULES = ("sekurlsa::", "lsadump::", "dpapi::", "vault::", "privilege::debug", "token::elevate",
                       "kerberos::golden", "kerberos::ptt")  # fmt: skip


def _credential_dumps(c: Command, out: Findings) -> None:
    """Copies of the machine's credential stores: registry hives, lsass's memory, mimikatz modules."""
    name, argv = c.name, c.argv
    lows = [w.lower() for w in argv[1:]]
    if name == "reg" and lows and lows[0] in ("save", "export") and len(lows) > 1:
        key = lows[1].replace("hkey_local_machine", "hklm").strip("\\/")
        hive = key.removeprefix("hklm\\").removeprefix("hklm/")
        if key != hive and hive in _CREDENTIAL_HIVES:
            out.add(f"saves the {hive.upper()} registry hive (password hashes and secrets)", "critical", c.raw)
    mentions_lsass = any("lsass" in w for w in lows)
    if mentions_lsass and (name in _MEMORY_DUMPERS or (name == "rundll32" and any("minidump" in w for w in lows))):
        out.add("dumps the memory of lsass (the credentials of logged-on users)", "critical", c.raw)
    elif name == "rundll32" and any("comsvcs" in w for w in lows) and any("minidump" in w for w in lows):
        out.add("dumps a process's memory with comsvcs MiniDump (lsass credentials)", "critical", c.raw)
    if any(m in w for w in lows for m in _CREDENTIAL_MODULES if "::" in w):
        out.add("runs mimikatz credential modules (sekurlsa, lsadump ...)", "critical", c.raw)


#: Cloud and infrastructure command-line tools whose subcommands can delete what lives beyond this machine
_CLOUD_TOOLS = frozenset({"aws", "gcloud", "gsutil", "az", "kubectl", "oc", "terraform", "tofu", "pulumi", "doctl",
                          "oci", "heroku", "flyctl", "vercel"})  # fmt: skip
_CLOUD_REASON = "deletes cloud or cluster resources (their data and services are lost beyond this machine)"


def _cloud_deletes(c: Command, out: Findings) -> None:
    """Deleting cloud resources, clusters' namespaces and whole infrastructure stacks: the work of an agent that
    administers them (allowed in the admin profile), never of one confined to its workspace."""
    if only_help(c):
        return
    name, lows = c.name, [w.lower() for w in c.argv[1:]]
    words = [w for w in lows if not w.startswith("-")]
    if _azure_cmdlet(c):
        out.administration(_CLOUD_REASON, "high", c.raw)
    elif name in ("terraform", "tofu", "pulumi") and (
        words[:1] == ["destroy"] or (words[:1] == ["apply"] and "-destroy" in lows)
    ):
        out.administration(f"{name} destroys the infrastructure it manages", "high", c.raw)
    elif name in ("kubectl", "oc") and words[:1] == ["delete"]:
        kinds = {w.split("/", 1)[0] for w in words[1:3]}
        if kinds & {"namespace", "namespaces", "ns", "pv", "persistentvolume", "node", "nodes"} or "--all" in lows:
            out.administration(_CLOUD_REASON, "high", c.raw)
    elif name == "aws" and len(words) > 1:
        verb = words[1]
        if (
            verb.startswith("delete-")
            or verb in ("rb", "terminate-instances")
            or (verb == "rm" and "--recursive" in lows)
        ):
            out.administration(_CLOUD_REASON, "high", c.raw)
    elif _cloud_cli_deletes(name, words, lows):
        out.administration(_CLOUD_REASON, "high", c.raw)


def _cloud_cli_deletes(name: str, words: Sequence[str], lows: Sequence[str]) -> bool:
    """Whether a gsutil, gcloud, az, doctl, oci, heroku, flyctl or vercel command deletes resources."""
    if name == "gsutil":
        return words[:1] == ["rb"] or (words[:1] == ["rm"] and bool({"-r", "-ra"} & set(lows)))
    if name in ("gcloud", "az", "doctl", "oci", "heroku", "flyctl", "vercel"):
        return "delete" in words or "destroy" in words or (name == "gcloud" and "rm" in words and "-r" in lows)
    return False


def _azure_cmdlet(c: Command) -> bool:
    """Azure PowerShell's and AzureAD's removal cmdlets (``Remove-AzResourceGroup``, ``Remove-AzureADUser``)."""
    return c.name.startswith("remove-az")


def _credential_module_words(c: Command) -> bool:
    return any("::" in w for w in c.argv[1:])


_EDITOR_VARS = frozenset({"EDITOR", "VISUAL"})


def _sets_editor(c: Command) -> bool:
    """``export EDITOR=...`` (or an assignment before a command): the editor later commands will run."""
    if any(nm in _EDITOR_VARS for nm, _v in c.assigns):
        return True
    return c.name in ("export", "declare", "typeset", "setenv") and any(
        w.partition("=")[0] in _EDITOR_VARS for w in c.argv[1:]
    )


_AUTORUN_REASON = "registry key that runs a program at boot, log-on or start (persistence)"


def _persistence_rules(c: Command, out: Findings) -> None:
    name, argv = c.name, c.argv
    for t in write_targets(c):
        hit = _persistence(t)
        if hit:
            out.add(f"writes to {hit[1]} (persistence)", hit[0], c.raw)
    if name == "crontab":
        rest = [w for w in argv[1:] if w not in ("-u",)]
        if "-r" in rest:
            out.add("crontab -r removes all cron jobs", "medium", c.raw)
        elif not ("-l" in rest or "-e" in rest) or "-" in rest or (c.stage > 0 and "-l" not in rest):
            user_ops = [w for w in argv[1:] if not w.startswith("-")]
            if len(argv) == 1 and c.stage == 0 and not c.redirects:
                return
            if user_ops or c.stage > 0 or "-" in rest or c.redirects or len(argv) == 1:
                out.add("installs a cron table (persistence)", "high", c.raw)
        elif "-e" in rest and (c.stage > 0 or c.redirects):
            # a plain ``crontab -e`` opens an editor on the table and writes nothing itself; fed input it installs
            # what the call says (so does an editor the call sets: ``EDITOR=... crontab -e``, judged in ``check``)
            out.add("edits the cron table (persistence)", "high", c.raw)
    elif name == "systemctl":
        sub = [w.lower() for w in argv[1:] if not w.startswith("-")]
        if sub and sub[0] in ("enable", "link", "reenable", "preset", "set-default", "add-wants", "add-requires"):
            out.administration(f"systemctl {sub[0]} makes a service start at boot (persistence)", "high", c.raw)
    elif name == "systemd-run" and any(
        w.startswith(("--on-calendar", "--on-boot", "--on-startup", "--on-unit-active", "--timer-property"))
        for w in argv[1:]
    ):
        out.add("systemd-run schedules a recurring job (persistence)", "high", c.raw)
    elif name in ("update-rc.d", "chkconfig", "rc-update"):
        if any(w in ("defaults", "enable", "on", "add") for w in argv[1:]):
            out.administration(f"{name} registers a boot service (persistence)", "high", c.raw)
    elif name == "launchctl":
        if any(w in ("load", "bootstrap", "submit", "enable", "kickstart") for w in argv[1:]):
            out.add("launchctl loads a launchd job (persistence)", "high", c.raw)
    elif name == "schtasks" and any(w.lower() == "/create" for w in argv):
        out.add("schtasks /create schedules a task (persistence)", "high", c.raw)
    elif name in ("register-scheduledtask", "new-scheduledtask", "new-service") or (
        name == "sc" and any(w.lower() == "create" for w in argv)
    ):
        out.add(f"{name} installs a task or service (persistence)", "high", c.raw)
    elif name == "reg" and any(w.lower() == "add" for w in argv):
        joined = " ".join(argv)
        if registry_autorun(joined):
            out.add(_AUTORUN_REASON, "high", c.raw)
        if "disableantispyware" in joined.lower() or "disablerealtimemonitoring" in joined.lower():
            out.add("registry change disabling Windows Defender", "high", c.raw)
    elif name == "at" and len(argv) > 1 and not any(w in ("-l", "-r", "-d", "-c") for w in argv[1:]):
        out.add("at schedules a job", "medium", c.raw)


def _history_rules(c: Command, out: Findings) -> None:
    name, argv = c.name, c.argv
    if name == "history":
        opts, _ops = split_options(argv)
        if "c" in opts or ("w" in opts and "/dev/null" in argv):
            out.add("clears the shell history", "high", c.raw)
        elif "d" in opts:
            out.add("deletes shell history entries", "medium", c.raw)
    elif name == "unset" and any(w.upper().startswith("HIST") for w in argv[1:]):
        out.add("unset HISTFILE disables the shell history", "high", c.raw)
    elif name == "set" and "+o" in argv and "history" in argv:
        out.add("set +o history disables the shell history", "high", c.raw)
    elif name in ("clear-history",):
        out.add("clears the PowerShell history", "high", c.raw)
    assigns = list(c.assigns)
    if name in ("export", "declare", "typeset", "local", "setenv"):
        for w in argv[1:]:
            nm, eq, val = w.partition("=")
            if eq:
                assigns.append((nm, val))
    for nm, val in assigns:
        up = nm.upper()
        if (up == "HISTFILE" and val in ("", "/dev/null")) or (
            up in ("HISTSIZE", "HISTFILESIZE", "SAVEHIST") and val in ("0", "")
        ):
            shown = val or "''"
            out.add(f"{up}={shown} disables the shell history", "high", c.raw or f"{nm}={val}")
    for t in _deleted_or_truncated(c) + [w for w in write_targets(c) if not c.redirects or name]:
        if _history_file(t):
            out.add("wipes a shell history file", "high", c.raw)
    if "historysavepath" in c.raw.lower() and name in ("remove-item", "rm", "del", "clear-content", "ri"):
        out.add("deletes the PowerShell history file", "high", c.raw)


def _log_rules(c: Command, out: Findings) -> None:
    name, argv = c.name, c.argv
    for t in _deleted_or_truncated(c):
        if _log_file(t):
            out.add("deletes or empties system logs", "high", c.raw)
    if name == "journalctl" and any(w.startswith("--vacuum") for w in argv[1:]):
        out.administration("journalctl --vacuum deletes system journal entries", "medium", c.raw)
    elif name == "wevtutil" and any(w.lower() in ("cl", "clear-log") for w in argv[1:]):
        out.add("wevtutil clears Windows event logs", "high", c.raw)
    elif name in ("clear-eventlog", "remove-eventlog", "limit-eventlog"):
        out.add(f"{name} clears Windows event logs", "high", c.raw)
    elif name == "auditctl" and ("-D" in argv or ("-e" in argv and "0" in argv)):
        out.add("auditctl removes audit rules", "high", c.raw)


def _process_rules(c: Command, out: Findings) -> None:
    name, argv = c.name, c.argv
    if name == "kill":
        rest = list(argv[1:])
        if rest and rest[0] in ("-s", "-n", "--signal") and len(rest) > 1:
            rest = rest[2:]
        elif rest and rest[0].startswith("-") and rest[0] != "--" and rest[0] != "-1":
            rest = rest[1:]
        elif rest and rest[0] == "-1" and len(rest) > 1:
            rest = rest[1:]  # ``kill -1 -1``: the first is the signal
        if rest and rest[0] == "--":
            rest = rest[1:]
        if "-1" in rest:
            out.add("kill -1 signals every process", "critical", c.raw)
        elif "1" in rest:
            out.add("kills init (PID 1)", "high", c.raw)
    elif name in ("killall5",):
        out.add("killall5 kills every process", "critical", c.raw)
    elif name == "pkill" and any(w in (".", ".*", "-u root") for w in argv[1:]):
        out.add("pkill matching every process", "high", c.raw)
    elif name in ("pkill", "killall") and (daemon := next((w for w in argv[1:] if w in _DAEMONS), None)):
        out.add(f"kills system daemon {daemon}", "high", c.raw)
    elif name == "taskkill":
        joined = " ".join(argv).lower()
        if any(x in joined for x in ("csrss", "lsass", "wininit", "svchost", "winlogon", "smss", "/im *")):
            out.add("taskkill of critical system processes", "high", c.raw)
    elif name in ("shutdown", "reboot", "halt", "poweroff", "stop-computer", "restart-computer"):
        if not any(w in ("-c", "/a", "-k") for w in argv[1:]):
            out.add(f"{name} stops or restarts the machine", "high", c.raw)
    elif name in ("init", "telinit") and any(w in ("0", "6", "1", "s", "S") for w in argv[1:]):
        out.add(f"{name} changes the run level (shutdown/reboot)", "high", c.raw)
    elif name == "systemctl" and any(
        w in ("poweroff", "reboot", "halt", "kexec", "rescue", "emergency", "soft-reboot") for w in argv[1:]
    ):
        out.add("systemctl stops or restarts the machine", "high", c.raw)
    elif name in ("insmod", "rmmod", "modprobe", "kldload", "kextload", "kmutil") and not (
        name == "modprobe" and any(w in ("-n", "--dry-run", "-c", "--showconfig") for w in argv[1:])
    ):
        # modprobe loads by name from the system's own module tree (administration); insmod and the others take
        # any file, and a module from elsewhere is kernel code the agent brought
        foreign = any("/" in w or w.endswith((".ko", ".ko.xz", ".ko.zst")) for w in argv[1:])
        if name in ("modprobe", "rmmod") and not foreign:
            out.administration(f"{name} loads or removes a kernel module", "high", c.raw)
        else:
            out.add(f"{name} loads or removes a kernel module", "high", c.raw)


_SERVICE_MANAGERS = frozenset(
    {"systemctl", "service", "sc", "net", "stop-service", "set-service", "chkconfig", "update-rc.d", "start-service",
     "restart-service", "suspend-service", "launchctl"}
)  # fmt: skip
#: What each service manager is told to do that changes a system service (``systemctl --user`` manages the user's
#: own; status and list queries change nothing). ``enable`` and ``create`` are persistence, judged as such.
_SERVICE_VERBS = frozenset({"start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "disable",
                            "mask", "unmask", "kill", "config", "delete", "pause", "continue", "off", "on",
                            "isolate", "bootout", "unload", "kickstart"})  # fmt: skip


def _manages_services(name: str, lows: Sequence[str]) -> bool:
    """Whether a service manager's words change a system service (not the user's own, not a query)."""
    if name in ("stop-service", "start-service", "restart-service", "suspend-service", "set-service"):
        return any(not w.startswith("-") for w in lows)
    if "--user" in lows or (name == "launchctl" and any(w.startswith("gui/") for w in lows)):
        return False
    if name == "net":
        return lows[:1] in (["stop"], ["start"], ["pause"], ["continue"]) and len(lows) > 1
    if name == "service":
        return len(lows) > 1 and lows[1] in _SERVICE_VERBS
    return bool(set(lows) & _SERVICE_VERBS)


def _security_rules(c: Command, out: Findings) -> None:
    if only_help(c):
        return
    name, argv = c.name, c.argv
    lows = [w.lower() for w in argv[1:]]
    if name in ("iptables", "ip6tables", "iptables-legacy", "iptables-nft", "ip6tables-legacy", "ebtables"):
        # options are case-sensitive here: -F flushes, -f matches fragments; -P sets a policy, -p a protocol
        if any(w in ("-F", "--flush", "-X", "--delete-chain") or (w.startswith("-") and w[1:2] != "-" and "F" in w)
               for w in argv[1:]):  # fmt: skip
            out.add(f"{name} flushes the firewall rules", "high", c.raw)
        elif any(w in ("-P", "--policy") for w in argv[1:]) and "accept" in lows:
            out.add(f"{name} sets a default ACCEPT policy", "high", c.raw)
    elif name == "nft" and ("flush" in lows or ("delete" in lows and "table" in lows)):
        out.add("nft flushes the firewall rules", "high", c.raw)
    elif name == "ufw" and ("disable" in lows or "reset" in lows or ("default" in lows and "allow" in lows)):
        out.add("ufw turns the firewall off", "high", c.raw)
    elif name == "pfctl" and "-d" in lows:
        out.add("pfctl disables the packet filter", "high", c.raw)
    elif name == "netsh" and "firewall" in " ".join(lows) and ("off" in lows or "disable" in lows):
        out.add("netsh turns the Windows firewall off", "high", c.raw)
    elif name == "set-netfirewallprofile" and any("false" in w for w in lows):
        out.add("turns the Windows firewall off", "high", c.raw)
    elif name == "setenforce" and any(w in ("0", "permissive") for w in lows):
        out.add("setenforce 0 switches SELinux off", "high", c.raw)
    elif name in ("aa-teardown", "aa-disable", "aa-complain"):
        out.add(f"{name} switches AppArmor protection off", "high", c.raw)
    elif name in ("spctl", "csrutil") and ("--master-disable" in lows or "disable" in lows):
        out.add(f"{name} disables macOS protections", "high", c.raw)
    elif name in ("set-mppreference", "add-mppreference"):
        joined = " ".join(lows)
        if "-disable" in joined or "exclusion" in joined:
            out.add("changes Windows Defender to stop protecting", "high", c.raw)
    elif name in _SERVICE_MANAGERS:
        verbs = {"stop", "disable", "mask", "kill", "config", "delete", "off", "remove"}
        if set(lows) & verbs or name == "stop-service":
            for w in lows:
                svc = w.removesuffix(".service")
                if svc in _SECURITY_SERVICES:
                    out.add(f"stops security or logging service {svc}", "high", c.raw)
                    return
        if _manages_services(name, lows) and c.via != "ssh":  # over ssh: the other host's service, judged there
            out.administration(f"{name} starts, stops or reconfigures a system service (service management)", "high",
                               c.raw)  # fmt: skip
    elif name.startswith("/etc/init.d/") or (c.argv and c.argv[0].startswith("/etc/init.d/")):
        svc = c.argv[0].rsplit("/", 1)[-1]
        if svc in _SECURITY_SERVICES and "stop" in lows:
            out.add(f"stops security service {svc}", "high", c.raw)
    elif name == "sysctl":
        joined = " ".join(lows).replace(" = ", "=")
        for key in (
            "kernel.randomize_va_space=0",
            "kernel.kptr_restrict=0",
            "kernel.yama.ptrace_scope=0",
            "kernel.dmesg_restrict=0",
            "kernel.unprivileged_bpf_disabled=0",
        ):
            if key in joined:
                out.add(f"sysctl weakens kernel protection ({key})", "high", c.raw)
    for t in write_targets(c):
        tl = posix_norm(t).lower() if t.startswith("/") else t.lower()
        if tl == "/proc/sysrq-trigger":
            out.add("writes to /proc/sysrq-trigger (crash or reboot)", "critical", c.raw)
        elif tl.startswith("/proc/sys/"):
            out.add(f"changes a kernel setting ({tl})", "high", c.raw)
        elif tl.startswith("/etc/selinux/") or tl.startswith("/etc/apparmor"):
            out.add("edits the SELinux/AppArmor configuration", "high", c.raw)
        elif tl.startswith("/boot/") or tl.startswith(("/etc/hosts", "/etc/resolv.conf", "/etc/ld.so")):
            out.add(f"modifies system file {tl}", "high", c.raw)
        elif tl.startswith(("/etc/sysctl", "/etc/modules", "/etc/modprobe.d", "/usr/lib/sysctl.d")):
            out.add(f"changes kernel settings or modules at boot ({tl})", "high", c.raw)


# Which programs each rule reads (a rule also runs for any command that redirects output).
_WRITERS = vocab.words("writer_programs")
_DELETERS = frozenset(
    {"rm", "shred", "unlink", "srm", "wipe", "del", "erase", "remove-item", "ri", "truncate", "ln", "cp", "cat", "mv"}
)  # fmt: skip
_DISK_NAMES = frozenset(
    {
        "dd", "mke2fs", "mkswap", "wipefs", "mkdosfs", "mkntfs", "fdisk", "sfdisk", "parted", "gdisk", "sgdisk",
        "cfdisk", "blkdiscard", "hdparm", "shred", "srm", "wipe", "format", "diskpart", "cipher", "vssadmin",
        "wbadmin", "wmic", "bcdedit", "cryptsetup",
    }
)  # fmt: skip
#: parted commands that only show the table (``parted /dev/sda print``)
_PARTED_READS = frozenset({"print", "p", "help", "unit", "quit", "s", "b", "kb", "mb", "gb", "mib", "gib", "%"})
_PERSIST_NAMES = frozenset(
    {
        "crontab", "systemctl", "update-rc.d", "chkconfig", "rc-update", "launchctl", "schtasks",
        "register-scheduledtask", "new-scheduledtask", "new-service", "sc", "reg", "at", "systemd-run",
    }
)  # fmt: skip
_HISTORY_NAMES = frozenset(
    {"history", "unset", "set", "clear-history", "export", "declare", "typeset", "local", "setenv", "remove-item",
     "clear-content"}
)  # fmt: skip
_LOG_NAMES = frozenset({"journalctl", "wevtutil", "clear-eventlog", "remove-eventlog", "limit-eventlog", "auditctl"})
_PROCESS_NAMES = frozenset(
    {
        "kill", "killall", "killall5", "pkill", "taskkill", "shutdown", "reboot", "halt", "poweroff", "stop-computer",
        "restart-computer", "init", "telinit", "systemctl", "insmod", "rmmod", "modprobe", "kldload", "kextload",
        "kmutil",
    }
)  # fmt: skip
_SECURITY_NAMES = frozenset(
    {
        "iptables", "ip6tables", "iptables-legacy", "iptables-nft", "ip6tables-legacy", "ebtables", "nft", "ufw",
        "pfctl", "netsh", "set-netfirewallprofile", "setenforce", "aa-teardown", "aa-disable", "aa-complain",
        "spctl", "csrutil", "set-mppreference", "add-mppreference", "sysctl",
    }
) | _SERVICE_MANAGERS  # fmt: skip
_LOLBIN_NAMES = frozenset({"certutil", "mshta", "regsvr32", "rundll32", "bitsadmin"})
_WINDOWS_REMOTE_PROGRAMS = frozenset(
    {"psexec", "psexec64", "paexec", "csexec", "winrs", "wmic", "invoke-wmimethod", "invoke-cimmethod",
     "invoke-command", "enter-pssession", "new-pssession", "vssadmin", "diskshadow", "ntdsutil", "enable-psremoting",
     "winrm", "set-item", "set-wsmaninstance", "net"}
)  # fmt: skip
#: PowerShell aliases of those cmdlets (``icm`` is ``Invoke-Command``), read as the cmdlet they name
_PS_ALIASES = {a: c for a, c in vocab.mapping("powershell_aliases").items() if c in _WINDOWS_REMOTE_PROGRAMS}
_WINDOWS_REMOTE_NAMES = _WINDOWS_REMOTE_PROGRAMS | frozenset(_PS_ALIASES)
_DUMP_NAMES = _MEMORY_DUMPERS | {"reg", "rundll32"}
_REVSHELL_NAMES = (
    frozenset({"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "pwncat", "socat", "xterm", "ztcp",
               "zmodload"})
    | PYTHONS
    | SCRIPTERS
    | POWERSHELLS
)  # fmt: skip
_RM_NAMES = frozenset({"rm", "del", "erase", "rd", "rmdir", "remove-item", "ri", "unlink", "srm"})


# Findings per distinct command (a command's findings depend only on the command itself), bounded.
_FINDINGS: dict[tuple[object, ...], tuple[Violation, ...]] = {}
_FINDINGS_MAX = 4096


def _moves(c: Command, out: Findings) -> None:
    """``mv`` of a critical tree (``mv /etc /tmp``) takes it away as surely as deleting it."""
    _opts, ops = split_options(c.argv)
    for src in ops[:-1]:
        cls = _classify(src)
        if cls and cls[0] == "critical":
            out.add(f"moves away {cls[1]}", "critical", c.raw)


def _redirects(c: Command) -> bool:
    return bool(c.redirects)


def _redirects_or_assigns(c: Command) -> bool:
    return bool(c.redirects or c.assigns)


def _mkfs(c: Command) -> bool:
    return bool(c.redirects) or c.name.startswith("mkfs")


def _init_script(c: Command) -> bool:
    return (
        bool(c.redirects) or c.name.startswith("/etc/init.d/") or bool(c.argv and c.argv[0].startswith("/etc/init.d/"))
    )


def _reverse_shell_rule(c: Command, out: Findings) -> None:
    _reverse_shell(c, out, set())


def _shell_features(c: Command) -> bool:
    return bool(c.redirects or c.features or any(w.startswith("/dev/") for w in c.argv))


def _substituted(c: Command) -> bool:
    return bool(c.via or c.consumer or c.features)


def _fork_bomb_rule(c: Command, out: Findings) -> None:
    if c.function and c.name == c.function and (c.stage > 0 or c.background):
        out.add("fork bomb", "critical", c.raw)


def _has_function(c: Command) -> bool:
    return bool(c.function)


def _encoded_powershell(c: Command, out: Findings) -> None:
    if (c.via.startswith("powershell -enc") or "encoded" in c.features) and c.name in POWERSHELLS:
        out.add("encoded PowerShell command", "medium", c.raw)


# --- shell escapes: an interactive shell started from inside another program -----------------------------------
# GTFOBins' "shell" class: ``find . -exec /bin/sh \;``, ``env /bin/sh``, ``gdb -ex '!/bin/sh'``, ``tar
# --checkpoint-action=exec=/bin/sh``, ``awk 'BEGIN {system("/bin/sh")}'``, ``PAGER='sh -c "exec sh 0<&1"'``. A
# shell given nothing to run (no ``-c``, no script) is interactive: a tool call gains nothing from one but the
# identity of the program that started it (set-uid, sudo rules, capabilities), so it is an escape.
_ESCAPE_SHELLS = "|".join(sorted(SHELLS - {"busybox"}, key=len, reverse=True))
_INTERACTIVE_END = r"(?=$|[,'\")#;&|]|\s+(?:-(?!c\b)[a-zA-Z]|[0-9]?[<>]|#|$))"  # flags, fd redirections, a comment
_EMBEDDED_SHELL = re.compile(
    rf"(?<!#!)(?:^|(?<=['\"=:!;(,|&%`]))(?:/usr)?(?:/local)?/s?bin/(?:{_ESCAPE_SHELLS}){_INTERACTIVE_END}"
    rf"|(?:^|(?<=[\s'\";(]))exec\s+(?:{_ESCAPE_SHELLS}){_INTERACTIVE_END}"
)
# Programs whose words are not run: printed text, login-shell settings, shells inside containers or VMs.
_ESCAPE_EXEMPT = frozenset({"echo", "printf", "print", "chsh", "useradd", "usermod", "adduser", "docker", "podman",
                            "kubectl", "nerdctl", "lxc", "lxc-attach", "ctr", "crictl", "vagrant", "multipass",
                            "incus", "which", "type", "file", "stat", "ls", "readlink", "realpath"})  # fmt: skip
_ESCAPE_OPTION_WORDS = ("exec", "command", "cmd", "hook", "wrapper", "askpass")
#: One-letter options that hand over a program to run: -e, -x (exec: ``start-stop-daemon -x``), -c (command)
_ESCAPE_OPTION_LETTERS = frozenset({"e", "x", "c"})


def _interactive_shell(c: Command) -> bool:
    """A shell given nothing to run: only options (no ``-c``, no script operand), no input but its terminal
    (``</dev/tty`` re-attaches it to the terminal, the usual end of an escape)."""
    for w in c.argv[1:]:
        if not w.startswith(("-", "+")) or (not w.startswith("--") and "c" in w[1:]) or w == "--command":
            return False
    return c.stage == 0 and not any(
        op.lstrip("0123456789") in ("<", "<<", "<<<") and target != "/dev/tty" for op, target in c.redirects
    )


def _shell_escape(c: Command, out: Findings) -> None:
    """An interactive shell reached through another program, and a shell in privileged mode (``-p``)."""
    if c.argv and c.argv[0].startswith("!") and c.name.lstrip("!") in SHELLS and _interactive_shell(c):
        # ``!/bin/sh`` is no shell syntax (``!`` negates only as a word of its own): it is typed at a pager's or
        # a program's prompt, the escape of ``less``, ``man``, ``git help``, ``nmap --interactive``
        out.add("a shell escape typed at a pager or program prompt (!sh)", "high", c.raw)
        return
    if c.name in SHELLS:
        if "-p" in c.argv[1:]:  # with a script too: ``sh -p x`` runs it with the set-uid identity kept
            out.add(f"{c.name} -p keeps a set-uid identity (privileged mode)", "high", c.raw)
        if not _interactive_shell(c):
            return
        starters = [w for w in c.wrappers if w not in ELEVATORS]  # sudo, su ...: judged as elevation
        if c.via or starters:
            how = c.via or starters[-1]
            out.add(f"an interactive shell started from inside {how} (a shell escape)", "high", c.raw)
        return
    if c.name in _ESCAPE_EXEMPT:
        return
    argv = c.argv
    words = [(argv[i - 1], w, argv[i + 1] if i + 1 < len(argv) else "") for i, w in enumerate(argv) if i and "sh" in w]
    words += [("", v, "") for name, v in c.assigns if name != "SHELL" and "sh" in v]
    for before, w, after in words:
        if before in ("-s", "--shell") or w.startswith("--shell=") or len(w) > 4096:
            continue  # a login shell named, not run
        m = _EMBEDDED_SHELL.search(w)
        if m is None:
            continue
        if m.start() == 0 and m.end() == len(w) and after == "-p":
            # a program that runs its operands (``taskset 1 /bin/sh -p``, ``ip netns exec x /bin/sh -p``): the
            # privileged-mode option only matters to a shell that a set-uid program starts
            out.add(f"{c.name} starts a shell in privileged mode (a shell escape)", "high", c.raw)
            return
        if m.start() == 0 and m.end() == len(w):
            # the whole word is an operand, unless an option runs it with nothing to run (``-exec /bin/sh \;``)
            opt = before.lstrip("-").lower()
            if not before.startswith("-") or not (
                opt in _ESCAPE_OPTION_LETTERS or any(x in opt for x in _ESCAPE_OPTION_WORDS)
            ):
                continue
            if after and not (after in (";", "+") or (after.startswith("-") and "c" not in after[1:])):
                continue
        out.add(f"{c.name} starts an interactive shell (a shell escape)", "high", c.raw)
        return


def _mentions_sh(c: Command) -> bool:
    return "sh" in c.raw


# --- renamed shells: a copy of a shell or interpreter binary under another program's name -----------------------
# ATT&CK T1036.003 (rename system utilities): ``cp /bin/sh /tmp/crond``, ``copy %SystemRoot%\System32\cmd.exe
# %TEMP%\lsass.exe``: what runs is a shell, what process lists and rules see is another name; the same copy,
# made set-uid, is GTFOBins' kept root shell. A copy under a shell's own name (``python3`` to ``python``) is not.
_COPIERS = frozenset({"cp", "copy", "copy-item", "cpi", "xcopy", "install", "ditto"})
_SHELL_BINARIES = (SHELLS - {"busybox"}) | PYTHONS | POWERSHELLS | {"cmd", "cscript", "wscript", "mshta"}


def _program_file(word: str) -> bool:
    """Whether ``word`` names an installed program: a ``.exe``, or a file in a program directory (``/bin/sh``,
    ``%SystemRoot%\\System32\\cmd.exe``), not a directory of the same name (``/usr/share/zsh``)."""
    low = word.replace("\\", "/").lower()
    return low.endswith(".exe") or "/system32/" in low or low.rsplit("/", 1)[0].rstrip("/") + "/" in _EXECUTABLE_DIRS


def _shell_copy(c: Command, out: Findings) -> None:
    operands = [w for w in c.argv[1:] if not w.startswith("-") and not (w.startswith("/") and len(w) <= 3)]
    if len(operands) < 2:
        return
    if operands[-1].endswith(("/", "\\")):
        return  # into a directory: the copy keeps its name
    target = program_name(operands[-1])
    if target in ("", ".", "..") or target in _SHELL_BINARIES:
        return
    for source in operands[:-1]:
        name = program_name(source)
        if name in _SHELL_BINARIES and name != target and _program_file(source):
            out.add(f"copies the {name} binary as {target} (a renamed shell: masquerading)", "high", c.raw)
            return


def _never(c: Command) -> bool:
    return False


def _impacket(c: Command) -> bool:
    return c.name.startswith("impacket-")


Rule = Callable[[Command, Findings], None]
#: Every rule on one command, in the order it runs: the programs it reads, and what else makes it run for any
#: program (a redirection, an assignment, a substitution ...). The gate in ``check`` and the dispatch in
#: ``_command_findings`` are both read from this table, so a program a rule handles cannot be skipped.
_RULES: tuple[tuple[frozenset[str], Rule, Callable[[Command], bool]], ...] = (
    (_RM_NAMES, _rm, _never),
    (frozenset({"find"}), _find, _never),
    (frozenset({"chmod", "chown", "chgrp"}), _permissions, _never),
    (frozenset({"mv"}), _moves, _never),
    (_COPIERS, _shell_copy, _never),
    (_WRITERS | _DISK_NAMES, _disk, _mkfs),
    (_WRITERS | _PERSIST_NAMES, _persistence_rules, _redirects),
    (_WRITERS | _DELETERS | _HISTORY_NAMES, _history_rules, _redirects_or_assigns),
    (_WRITERS | _DELETERS | _LOG_NAMES, _log_rules, _redirects),
    (_PROCESS_NAMES, _process_rules, _never),
    (_WRITERS | _SECURITY_NAMES, _security_rules, _init_script),
    (_LOLBIN_NAMES, _lolbins, _never),
    (frozenset(_ATTACK_TOOLS) | PYTHONS, _attack_tools, _impacket),
    (_WINDOWS_REMOTE_NAMES, _windows_remote, _never),
    (_DUMP_NAMES, _credential_dumps, _credential_module_words),
    (_CLOUD_TOOLS, _cloud_deletes, _azure_cmdlet),
    (_INSTALLERS | PYTHONS, _untrusted_install, _never),
    (_DB_CLIENTS | {"dropdb", "mysqladmin"}, _databases, _never),
    (_REVSHELL_NAMES, _reverse_shell_rule, _shell_features),
    (frozenset({"iex", "invoke-expression"}), _download_exec_subst, _substituted),
    (frozenset(), _fork_bomb_rule, _has_function),
    (POWERSHELLS, _encoded_powershell, _never),
    (SHELLS, _shell_escape, _mentions_sh),
)
#: Programs read by ``check`` itself rather than by a rule above: a named pipe makes a reverse shell possible.
_PIPE_MAKERS = frozenset({"mkfifo", "mknod"})
#: Every program some rule looks at; any other command matters only through what the rules' triggers see.
_NAMED: frozenset[str] = frozenset().union(*(names for names, _rule, _extra in _RULES)) | _PIPE_MAKERS


_TRIGGERS = tuple(dict.fromkeys(extra for _names, _rule, extra in _RULES if extra is not _never))


def _triggered(c: Command) -> bool:
    """Whether any rule's trigger other than the program's name fires for ``c``."""
    return any(extra(c) for extra in _TRIGGERS)


def _command_findings(c: Command, admin: bool) -> tuple[Violation, ...]:
    """Every rule that reads one command, run only for the programs (or triggers) it concerns (``admin``: the
    admin profile, see ``Findings.administration``)."""
    out = Findings(POLICY, admin=admin)
    name = c.name
    for names, rule, extra in _RULES:
        if name in names or extra(c):
            rule(c, out)
    return tuple(out.items)


@lru_cache(maxsize=1024)
def _writes_files(tool_key: str) -> bool:
    return any(w in tool_key for w in WRITE_TOOL_WORDS)


def _file_tool_writes(a: Analysis, out: Findings) -> None:
    """A file-writing tool (not a shell) aimed at a persistence, history, log or device path."""
    if not _writes_files(a.tool_key):
        return
    for t in a.texts:
        if t.key not in WRITE_PATH_KEYS or t.is_key:
            continue
        p = t.norm.strip()
        if not p or len(p) > 4096:
            continue
        hit = _persistence(p)
        if hit:
            out.add(f"{a.tool} writes to {hit[1]} (persistence)", hit[0], p)
        elif _history_file(p):
            out.add(f"{a.tool} overwrites a shell history file", "high", p)
        elif _is_device(p):
            out.add(f"{a.tool} writes to disk device {p}", "critical", p)
        elif p.startswith("/proc/sysrq-trigger"):
            out.add("writes to /proc/sysrq-trigger", "critical", p)


# --- code analysed as a program (``Analysis.code``) -----------------------------------------------------------
_DAEMONS = vocab.words("system_daemons")
_PROGRAM_EXTENSIONS = tuple(vocab.words("program_extensions"))
_EXEC_APIS = frozenset({"eval", "exec", "compile", "execfile", "function", "new function", "invoke-expression", "iex",
                        "vm.runinthiscontext", "vm.runinnewcontext"})  # fmt: skip
_IMPORT_APIS = frozenset({"__import__", "importlib.import_module", "importlib.__import__"})
_LOADERS = ("pickle.", "cpickle.", "_pickle.", "dill.", "cloudpickle.", "joblib.", "marshal.", "shelve.", "jsonpickle.")
_EXEC_BITS = 0o111


def _deletion(path: str, recursive: bool, out: Findings, evidence: str) -> None:
    """A file or tree code removes, judged as ``rm`` (``-r`` when the call removes a tree) would be."""
    cls = _classify(path)
    norm = posix_norm(path) if path.startswith("/") else path
    if cls is not None and recursive:
        out.add(f"recursive delete of {cls[1]}", cls[0], evidence)
    elif (cls is not None or norm.lower().startswith(_SYSTEM_TREES)) and path.startswith("/") and norm.count("/") > 1:
        out.add(f"deletes system file {norm}", "high", evidence)
    elif _log_file(path):
        out.add("deletes or empties system logs", "high", evidence)
    elif _history_file(path):
        out.add("wipes a shell history file", "high", evidence)


# Where a program's own native libraries live: loading from there is ordinary (``ctypes.CDLL('libc.so.6')``).
_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/", "/opt/homebrew/lib/",
                 "/system/library/", "c:/windows/system32/", "c:/windows/syswow64/")  # fmt: skip


def _library_load(path: str, s: Settings, out: Findings, evidence: str) -> None:
    """A native library loaded from a file outside the workspace and the system's library directories (GTFOBins'
    library-load: ``enable -f /tmp/x.so``, ``cdll.LoadLibrary('/tmp/x.so')``): its code runs inside the program
    that loads it, with that program's privileges. A bare name (``libc.so.6``) is looked up by the loader."""
    p = path.strip().replace("\\", "/")
    if not p or ("/" not in p and not p.startswith("~")):
        return
    norm = posix_norm(p) if p.startswith("/") else p
    low = norm.lower()
    if low.startswith(_LIBRARY_DIRS):
        return
    if not (low.startswith(("/", "~")) or (len(low) > 2 and low[1] == ":")):
        if s.workspace and ".." not in low.split("/"):
            return  # relative, inside the project (``./build/libfast.so``)
    elif s.workspace and is_under(norm, s.workspace):
        return
    out.add(f"loads a native library from outside the workspace ({p[:120]})", "high", evidence)


# Shell ways to load a library into a running program, by program: the option whose value is the library.
_LIBRARY_OPTIONS = {"enable": "-f", "openssl": "-engine"}  # bash's ``enable -f LIB``, ``openssl req -engine LIB``


def _native_libraries(c: Command, option: str, out: Findings, s: Settings) -> None:
    """Judge each library ``c`` loads through ``option`` (see ``_LIBRARY_OPTIONS``)."""
    for opt, value in pairwise(c.argv):
        if opt == option:
            _library_load(value, s, out, c.raw)


def _dynamic(d: DynamicCode, out: Findings, evidence: str) -> None:
    """Code built or loaded at run time: downloaded or decoded code run by ``exec``/a deserialiser, ``marshal``,
    and ``exec``/``eval``/``__import__`` of code the analysis could not read (constructed)."""
    api, sources, literal = d.api.lower(), d.sources, d.literal
    runs = api in _EXEC_APIS or api in _IMPORT_APIS or api.startswith(_LOADERS)
    if not runs:
        return
    if any(src.startswith("net:") for src in sources):
        out.add(f"runs downloaded code with {api} (download-and-execute)", "critical", evidence)
    elif "decoded" in sources:
        out.add(f"runs a decoded payload with {api}", "high", evidence)
    elif api.startswith("marshal."):
        out.add(f"loads a code object with {api}", "high", evidence)
    elif not literal and not sources and (api in _EXEC_APIS or api in _IMPORT_APIS):
        out.add(f"{api} of code built at run time", "high", evidence)


def _written_then_run(facts: CodeFacts, out: Findings, evidence: str) -> None:
    """Downloaded or decoded data written to a file that is then run or made executable, or decoded data
    written as a program (``open('x.py', 'w').write(b64decode(...))``)."""
    payloads: dict[str, str] = {}
    for w in facts.writes:
        if w.path and w.content in ("downloaded", "decoded"):
            payloads[_basename_of(w.path)] = w.content
            if w.content == "decoded" and w.path.lower().endswith(_PROGRAM_EXTENSIONS):
                out.add(f"writes a decoded payload as a program ({w.path})", "high", evidence)
    if not payloads:
        return
    _ingress([(w.path, evidence) for w in facts.writes if w.path and w.content == "downloaded"], out)
    runs: list[str] = []
    for p in facts.permissions:
        if p.path and p.mode is not None and p.mode & _EXEC_BITS:
            runs.append(p.path)
    for sp in facts.spawns:
        runs.extend(sp.argv[:2] if sp.argv else (sp.command or "").split()[:2])
    for r in runs:
        name = _basename_of(r)
        if name in payloads:
            what = "downloads" if payloads[name] == "downloaded" else "decodes"
            out.add(f"{what} {name} and then runs it or makes it executable", "high", evidence)
            return


def _code_rules(a: Analysis, out: Findings, s: Settings) -> None:
    """Judge code sent to interpreters by what it does, with the severities of the shell rules for the same
    acts: deletions of system trees, persistence, killing system daemons, switching security off, dynamic code,
    payloads written to disk and run."""
    for ct in a.code:
        facts = ct.facts
        ev = ct.source
        if facts.truncated:
            out.add("code too large or too complex to analyse completely", "high", ev)
        for d in facts.deletions:
            if d.path:
                _deletion(d.path, d.recursive, out, ev)
        for p in facts.persistence:
            hit = _persistence(p.target) if p.target[:1] in "/~" else None
            if hit:
                out.add(f"writes to {hit[1]} (persistence)", hit[0], ev)
            elif p.mechanism == "registry-run":
                out.add(_AUTORUN_REASON, "high", ev)
            else:
                out.add(f"installs {p.mechanism} persistence from code", "high", ev)
        for k in facts.kills:
            if k.pid == -1:
                out.add("kill -1 signals every process", "critical", ev)
            elif k.pid == 1:
                out.add("kills init (PID 1)", "high", ev)
            elif k.name and k.name.lower().removesuffix(".exe") in _DAEMONS:
                out.add(f"kills system daemon {k.name.lower()}", "high", ev)
            elif k.system:
                out.add("signals a whole process group or every process", "high", ev)
        for t in facts.tampering:
            out.add(f"switches a security control off from code ({t.api})", "high", ev)
        for dyn in facts.dynamic:
            _dynamic(dyn, out, ev)
            for src in dyn.sources:
                if src.startswith("lib:"):
                    _library_load(src[4:], s, out, ev)
        for pc in facts.permissions:
            if pc.setuid and pc.path:
                out.add(f"sets the setuid/setgid bit on {pc.path} from code", "high", ev)
            elif pc.world_writable and pc.path and _classify(pc.path):
                out.add(f"makes {pc.path} writable by everyone", "high", ev)
        _written_then_run(facts, out, ev)


def check(a: Analysis, s: Settings) -> list[Violation]:
    """Find destructive or hijacking commands in the call; one violation per distinct finding."""
    out = Findings(POLICY)
    _file_tool_writes(a, out)
    _code_rules(a, out, s)
    cmds = a.commands
    if a.shell_truncated:
        out.add("command too large or too deeply nested to analyse completely", "high", cmds[0].raw if cmds else "")
    if not cmds:
        return out.items
    pipelines: dict[int, list[Command]] = {}
    fifo = False
    for c in cmds:
        pipelines.setdefault(c.pipeline, []).append(c)
        name = c.name
        if name not in _NAMED and not _triggered(c):
            continue  # an ordinary program (git, npm, ls ...) with nothing redirected: no rule applies
        if name in _PIPE_MAKERS and (name == "mkfifo" or "p" in c.argv):
            fifo = True
        key = (name, c.argv, c.redirects, c.assigns, c.via, c.consumer, c.features, c.function, c.background,
               c.stage, c.wrappers, c.raw, s.profile)  # fmt: skip
        found = _FINDINGS.get(key)
        if found is None:
            found = _command_findings(c, s.profile == "admin")
            if len(_FINDINGS) >= _FINDINGS_MAX:
                _FINDINGS.clear()
            _FINDINGS[key] = found
        for v in found:
            out.put(v)
    for stages in pipelines.values() if len(pipelines) < len(cmds) else ():
        if len(stages) > 1:
            stages.sort(key=lambda x: x.stage)
            _network_shell_pipeline(stages, fifo, out)
            _download_exec_pipeline(stages, out)
    cron_edit: Command | None = None  # ``crontab -e`` with an editor set anywhere in the call installs what it says
    editor_set = False
    for c in cmds:
        option = _LIBRARY_OPTIONS.get(c.name)
        if option is not None:
            _native_libraries(c, option, out, s)
        if cron_edit is None and c.name == "crontab" and "-e" in c.argv:
            cron_edit = c
        editor_set = editor_set or _sets_editor(c)
    if cron_edit is not None and editor_set:
        out.add("edits the cron table (persistence)", "high", cron_edit.raw)
    for c in cmds:
        if c.name in _FETCH_PROGRAMS or c.name in NETWORK_TOOLS or (len(cmds) > 1 and c.name.startswith(_INLINE_CODE)):
            _download_then_run(cmds, out)
            break
    first = cmds[0].text
    texts = [first] if all(c.text is first for c in cmds) else list({id(c.text): c.text for c in cmds}.values())
    for t in texts:
        for variant in t.variants:
            maybe = ("(" in variant and "{" in variant) or "%0" in variant
            squeezed = "".join(variant[:4096].split())
            if maybe and ("(){" in squeezed or "%0|%0" in variant) and _fork_bomb_text(variant[:65536]):
                out.add("fork bomb", "critical", variant)
                break
        low = t.folded
        if "sockets.tcpclient" in low and ("getstream" in low or "iex" in low or "invoke-expression" in low):
            out.add("PowerShell TCP client wired to a shell (reverse shell)", "critical", t.norm)
    if fifo:
        for c in cmds:
            if c.name in ("nc", "ncat", "netcat", "telnet") or (c.name == "openssl" and "s_client" in c.argv):
                for other in cmds:
                    if other.name in SHELLS and other.text is c.text:
                        out.add("named pipe wired to a network tool (reverse shell)", "critical", c.raw)
                        break
    return out.items
