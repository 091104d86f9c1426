"""A POSIX-shell parser for the checks: it turns command-like arguments into ``Command`` records.

It understands what attackers use to hide a command: quoting (``r''m``, ``"r"m``, ``r\\m``, ``$'\\x72m'``),
``$IFS`` separators, variables and simple indirection (``a=rm; $a -rf /``), command and process substitution
(parsed recursively), pipelines, lists, groups, redirections, here-strings and here-documents, light brace
expansion, wrappers (``sudo``, ``env``, ``xargs`` ...), and code handed to interpreters (``bash -c``, ``eval``,
``python -c``, ``perl -e``, ``powershell -enc``, ``cmd /c``, ``echo <base64> | base64 -d | sh``).

The lexer is linear: runs of ordinary characters are taken with single character-class patterns (which cannot
backtrack), quotes are found with ``str.find``, nesting depth is capped, and every text has a step budget; a
text that exhausts it is reported as ``truncated`` so a check can fail closed.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from sentinel_lab import _vocab as vocab
from sentinel_lab._analysis._texts import Text
from sentinel_lab._text.glob import Glob, is_glob
from sentinel_lab._text.normalize import decode_encoded_command

if TYPE_CHECKING:
    from sentinel_lab._analysis import Analysis
    from sentinel_lab._analysis._code import CodeText

__all__ = [
    "DOWNLOADERS",
    "HELP_OPTIONS",
    "INTERPRETERS",
    "NETWORK_TOOLS",
    "SHELLS",
    "Command",
    "SocatAddress",
    "code_commands",
    "commands_of",
    "home_relative",
    "is_shell_tool",
    "only_help",
    "parse",
    "parse_commands",
    "posix_norm",
    "program_name",
    "reads_stdin",
    "socat_addresses",
    "split_options",
    "write_targets",
]

MAX_DEPTH = 10  # nesting of substitutions, groups and interpreters
MAX_STEPS = 40_000  # lexer steps per text; beyond it the text is reported as truncated
MAX_SOURCE = 256 * 1024  # characters of one text that are parsed
MAX_RECORDS = 2_000  # commands per text

SHELLS = vocab.words("shells")
PYTHONS = frozenset({"python", "python2", "python3", "pypy", "pypy3", "ipython"})
SCRIPTERS = frozenset({"perl", "ruby", "node", "nodejs", "php", "lua", "deno", "bun", "osascript", "awk", "gawk"})
POWERSHELLS = frozenset({"powershell", "pwsh"})
INTERPRETERS = SHELLS | PYTHONS | SCRIPTERS | POWERSHELLS | {"cmd", "eval", "source", ".", "iex", "invoke-expression"}
DOWNLOADERS = frozenset(
    {
        "curl",
        "wget",
        "fetch",
        "aria2c",
        "lwp-download",
        "lwp-request",
        "get",
        "http",
        "https",
        "iwr",
        "irm",
        "invoke-webrequest",
        "invoke-restmethod",
        "wget2",
        "curlie",
        "xh",
    }
)
#: Programs that carry bare bytes over a connection (``_vocab/raw_stream_programs.txt``).
NETWORK_TOOLS = vocab.words("raw_stream_programs")

_WRAPPERS = frozenset(
    {
        "sudo",
        "doas",
        "env",
        "nohup",
        "timeout",
        "nice",
        "xargs",
        "busybox",
        "command",
        "exec",
        "time",
        "stdbuf",
        "setsid",
        "ionice",
        "pkexec",
        "chroot",
        "builtin",
        "torsocks",
        "proxychains",
        "proxychains4",
        "unbuffer",
        "wsl",
        "runas",
        "gsudo",
        "caffeinate",
        "noglob",
        "nocorrect",
        "start",
        "call",
        "run0",
        "flock",
        "distcc",
        "aoss",
        "strace",
        "ltrace",
        "unshare",
        "watch",
        # run their operand with a CPU, scheduling, architecture, limit or session setting (util-linux,
        # numactl, xvfb, dbus, valgrind, rlwrap, fakeroot manual pages)
        "taskset",
        "chrt",
        "setarch",
        "linux32",
        "linux64",
        "prlimit",
        "numactl",
        "xvfb-run",
        "dbus-run-session",
        "valgrind",
        "rlwrap",
        "fakeroot",
    }
)
#: Package and environment managers whose subcommand runs the rest of the line as a command in the project's
#: environment (``bundle exec rake``, ``uv run pytest``, ``ip netns exec blue cmd``): the pair is a wrapper.
_SUBCOMMAND_WRAPPERS = frozenset(
    {
        "bundle exec",
        "cabal exec",
        "stack exec",
        "opam exec",
        "poetry run",
        "pipenv run",
        "pdm run",
        "uv run",
        "conda run",
        "mamba run",
        "direnv exec",
        "ip netns",
    }
)
# Options of wrappers that take a value (the value is skipped with the option).
_WRAPPER_OPTS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-c", "-d", "-h", "-p", "-r", "-t", "-C", "-D", "-U", "-T", "-R"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "xargs": frozenset({"-I", "-n", "-L", "-P", "-s", "-d", "-E", "-a", "--max-args", "--max-procs", "--arg-file"}),
    "exec": frozenset({"-a"}),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "pkexec": frozenset({"--user"}),
    "runas": frozenset(),
    "chroot": frozenset({"--userspec", "--groups"}),
    "flock": frozenset({"-w", "--timeout", "-E", "--conflict-exit-code"}),
    "strace": frozenset({"-o", "-e", "-p", "-s", "-u", "-E", "-P", "-a", "-b", "-I", "-S", "-X"}),
    "ltrace": frozenset({"-o", "-e", "-p", "-s", "-u", "-a", "-n", "-A", "-D", "-F", "-l", "-x"}),
    "watch": frozenset({"-n", "--interval", "-d", "-q"}),
    "unshare": frozenset({"-S", "-G", "--setuid", "--setgid", "-R", "--root", "-w", "--wd"}),
    "chrt": frozenset({"-T", "-P", "-D", "--sched-runtime", "--sched-period", "--sched-deadline"}),
    "prlimit": frozenset({"-p", "--pid", "-o", "--output"}),
    "numactl": frozenset(
        {"-N", "-m", "-C", "-i", "-p", "--cpunodebind", "--membind", "--physcpubind", "--interleave", "--preferred"}
    ),
    "xvfb-run": frozenset(
        {
            "-n",
            "-s",
            "-f",
            "-e",
            "-p",
            "-w",
            "--server-num",
            "--server-args",
            "--auth-file",
            "--error-file",
            "--xauth-protocol",
            "--wait",
        }
    ),
    "rlwrap": frozenset({"-f", "-H", "-l", "-s", "-S", "-C"}),
    "fakeroot": frozenset({"-l", "--lib", "--faked", "-s", "-i"}),
    "uv run": frozenset(
        {
            "--with",
            "--python",
            "-p",
            "--env-file",
            "--extra",
            "--group",
            "--package",
            "--directory",
            "--project",
            "--with-requirements",
        }
    ),
    "conda run": frozenset({"-n", "--name", "-p", "--prefix", "--cwd"}),
    "mamba run": frozenset({"-n", "--name", "-p", "--prefix", "--cwd"}),
    "bundle exec": frozenset({"--gemfile"}),
}
#: Leading operands that are not the command: a duration, a new root, a lock file, a CPU mask, a priority, an
#: architecture, a directory, a namespace (``ip netns exec NAME``: the subcommand ``exec`` itself counts).
_WRAPPER_POSITIONAL = {"timeout": 1, "chroot": 1, "flock": 1, "taskset": 1, "chrt": 1, "setarch": 1,
                       "direnv exec": 1, "ip netns": 2}  # fmt: skip
_KEYWORDS_SKIP = frozenset(
    {"if", "then", "else", "elif", "do", "while", "until", "!", "fi", "done", "esac", "}", "coproc", "{"}
)
_KEYWORDS_DROP = frozenset({"for", "case", "select", "in", ";;"})
_ASSIGNERS = frozenset({"export", "declare", "local", "readonly", "typeset"})

_DEFAULT_ENV = {
    "IFS": " \t\n",
    "HOME": "/home/user",
    "PWD": ".",
    "USER": "user",
    "SHELL": "/bin/bash",
    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    "TMPDIR": "/tmp",
}

# Single character classes only: each match is a greedy run that cannot backtrack.
_RUN_SH = re.compile(r"[^\s'\"\\$`|&;()<>]+")
_RUN_WIN = re.compile(r"[^\s'\"$`^|&;()<>]+")
_DQ_RUN = re.compile(r'[^"\\$`]+')
_DQ_RUN_WIN = re.compile(r'[^"$`]+')
_WS = re.compile(r"[ \t\r\f\v]+")
_OP_RUN = re.compile(r"[|&;\n \t\r]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BACKSLASHES = re.compile(r"\\+")
_REDIR_OPS = ("<<<", "<<-", "&>>", "<<", "<>", "<&", ">>", ">|", ">&", "&>", "<", ">")


class Command(NamedTuple):
    """One simple command found in an argument, after quoting, variables and wrappers are resolved (an immutable
    record, built positionally from a parsed row).

    ``name`` is the lower-case basename of the program (``/usr/bin/RM`` -> ``rm``; wrappers such as ``sudo`` are
    unwrapped and listed in ``wrappers``); ``argv`` holds the unquoted words with ``argv[0]`` the program;
    commands in one pipeline share ``pipeline`` and are numbered by ``stage``; ``redirects`` are ``(op,
    target)`` pairs where ``op`` keeps a leading fd (``2>&``, ``>``, ``<<<``; for ``<<`` the target is the
    here-document body); ``via`` says how the command was reached (``''`` top level, ``'$()'``, ``'<()'``,
    ``'bash -c'``, ``'python -c'``, ``'base64'``, ``'decoded'`` ...) and ``consumer`` names the command that
    receives its output or code (``bash`` for ``bash <(curl ..)``).
    """

    text: Text
    raw: str
    name: str
    argv: tuple[str, ...]
    pipeline: int = 0
    stage: int = 0
    redirects: tuple[tuple[str, str], ...] = ()
    via: str = ""
    wrappers: tuple[str, ...] = ()
    assigns: tuple[tuple[str, str], ...] = ()
    consumer: str = ""
    features: frozenset[str] = frozenset()
    function: str = ""
    background: bool = False

    @property
    def args(self) -> tuple[str, ...]:
        """The arguments without the program name."""
        return self.argv[1:]


@dataclass(slots=True, eq=False)
class _Rec:
    """A command record while parsing (mutable: its consumer is filled in when the outer command ends)."""

    raw: str
    name: str
    argv: tuple[str, ...]
    pipeline: int
    stage: int
    redirects: tuple[tuple[str, str], ...]
    via: str
    wrappers: tuple[str, ...] = ()
    assigns: tuple[tuple[str, str], ...] = ()
    consumer: str = ""
    features: frozenset[str] = frozenset()
    function: str = ""
    background: bool = False


class _State:
    """Shared by every lexer working on one text: output records, budget, pipeline numbering, variables."""

    __slots__ = ("aliases", "env", "file_budget", "files", "pipelines", "recs", "steps", "stop", "truncated")

    def __init__(self) -> None:
        self.recs: list[_Rec] = []
        #: what the text wrote to files with literal content (``echo CODE > f``, ``cat > f <<EOF``), by path word,
        #: as the pieces each write added
        self.files: dict[str, list[str]] = {}
        #: characters of written files left to parse when commands run them (running one file many times re-reads it)
        self.file_budget = 4 * MAX_SOURCE
        self.steps = 0
        self.pipelines = 0
        self.truncated = False
        self.stop = False
        self.env: dict[str, str] = dict(_DEFAULT_ENV)
        self.aliases: dict[str, str] = {}

    def new_pipeline(self) -> int:
        self.pipelines += 1
        return self.pipelines - 1


class _Builder:
    """The words and redirections of the simple command being read."""

    __slots__ = ("buf", "children", "lexer", "pend", "quoted", "redirs", "start", "words")

    def __init__(self, start: int, lexer: _Lexer | None = None) -> None:
        self.lexer = lexer
        self.words: list[str] = []
        self.buf: list[str] = []
        self.quoted = False
        self.redirs: list[tuple[str, str]] = []
        self.pend = ""
        self.start = start
        self.children: list[int] = []

    def has_word(self) -> bool:
        return self.quoted or any(self.buf)

    def end_word(self) -> None:
        if not self.has_word():
            self.buf.clear()
            return
        w = "".join(self.buf)
        quoted = self.quoted
        self.buf.clear()
        self.quoted = False
        if self.pend:
            op = self.pend
            self.pend = ""
            if op.endswith(("<<", "<<-")) and not op.endswith("<<<") and self.lexer is not None:
                w = self.lexer.heredoc_body(w)
            self.redirs.append((op, w))
            return
        if not quoted and "{" in w and "," in w and "}" in w:
            self.words.extend(_brace_expand(w))
        else:
            self.words.append(w)

    def add_expansion(self, value: str, ifs: str) -> None:
        """Append an unquoted expansion: its value is split into fields on ``IFS`` whitespace."""
        if not value:
            return
        seps = ifs if ifs else ""
        if not seps or not any(c in seps for c in value):
            self.buf.append(value)
            return
        parts = value.translate({ord(c): " " for c in seps}).split(" ")
        self.buf.append(parts[0])
        for p in parts[1:]:
            self.end_word()
            self.buf.append(p)


def _brace_expand(word: str) -> list[str]:
    """Expand one ``pre{a,b,c}post`` group (no nesting); anything else is returned unchanged."""
    i = word.find("{")
    j = word.find("}", i + 1)
    if i < 0 or j < 0:
        return [word]
    inner = word[i + 1 : j]
    if "," not in inner or "{" in inner or len(inner) > 4096:
        return [word]
    pre, post = word[:i], word[j + 1 :]
    return [pre + p + post for p in inner.split(",")][:256]


_ANSI_SIMPLE = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "e": "\x1b",
    "E": "\x1b",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def _ansi_c(body: str) -> str:
    """Decode the escapes of a ``$'...'`` string (also used by ``echo -e`` and ``printf``)."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        j = body.find("\\", i)
        if j < 0 or j + 1 >= n:
            out.append(body[i:])
            break
        out.append(body[i:j])
        c = body[j + 1]
        i = j + 2
        if c in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[c])
        elif c in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[c]
            k = i
            while k < n and k - i < width and body[k] in "0123456789abcdefABCDEF":
                k += 1
            if k > i:
                code = int(body[i:k], 16)
                if code <= 0x10FFFF:
                    out.append(chr(code))
                i = k
            else:
                out.append("\\" + c)
        elif c in "01234567":
            k = j + 1
            if c == "0":
                k += 1
            start = k
            while k < n and k - start < 3 and body[k] in "01234567":
                k += 1
            digits = body[j + 1 : k]
            out.append(chr(int(digits, 8) & 0xFF) if digits else "\0")
            i = k
        elif c == "c" and i < n:
            out.append(chr(ord(body[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + c)
    return "".join(out)


def program_name(word: str) -> str:
    """The program a word names, as commands are named: its last path component, lower-cased, without a Windows
    program extension (``C:\\Windows\\System32\\cmd.exe`` is ``cmd``)."""
    w = word.replace("\\", "/").rstrip("/")
    name = w.rsplit("/", 1)[-1].lower()
    for ext in (".exe", ".com", ".bat", ".cmd", ".ps1"):
        if name.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return name


_GLOB_NAMES = (
    "rm",
    "nc",
    "ncat",
    "bash",
    "sh",
    "zsh",
    "dash",
    "curl",
    "wget",
    "python",
    "python3",
    "perl",
    "chmod",
    "dd",
    "cat",
    "sudo",
    "mkfs",
    "shred",
    "socat",
    "base64",
    "find",
    "kill",
    "crontab",
    "passwd",
    "useradd",
)


def _resolve_name(word: str) -> str:
    name = program_name(word)
    if name and len(name) <= 32 and is_glob(name):  # a program name spelt as a glob (``/bin/c?t``)
        glob = Glob(name)
        for cand in _GLOB_NAMES:
            if glob.match(cand):
                return cand
    return name


class _Lexer:
    """Reads one source string (a command line, a ``-c`` script, a substitution body) into records."""

    __slots__ = ("depth", "heredoc_end", "i", "mode", "pending_fn", "s", "st")

    def __init__(self, s: str, st: _State, depth: int, mode: str) -> None:
        self.s = s
        self.st = st
        self.depth = depth
        self.mode = mode
        self.i = 0
        self.pending_fn = ""
        self.heredoc_end = 0

    # -- the main loop -------------------------------------------------------------------------------------
    def parse_list(self, closer: str, via: str, function: str) -> None:
        """Read commands until ``closer`` (``)`` or ``}``) or the end; records go to the shared state."""
        s, st = self.s, self.st
        n = len(s)
        win = self.mode == "win"
        run_re = _RUN_WIN if win else _RUN_SH
        b = _Builder(self.i, self)
        pipeline = st.new_pipeline()
        stage = 0
        while self.i < n:
            st.steps += 1
            if st.stop or st.steps > MAX_STEPS or len(st.recs) > MAX_RECORDS:
                # out of budget or too deep: keep what was read, stop (the check fails closed on ``truncated``)
                if not st.stop and len(st.recs) <= MAX_RECORDS:
                    st.stop = True
                    self._finish(b, pipeline, stage, via, function, False, self.i)
                st.truncated = st.stop = True
                self.i = n
                return
            i = self.i
            c = s[i]
            if c in " \t\r\f\v":
                b.end_word()
                m = _WS.match(s, i)
                self.i = m.end() if m else i + 1
                continue
            if c in "|;\n" or (c == "&" and s[i + 1 : i + 2] != ">"):
                b.end_word()
                m = _OP_RUN.match(s, i)
                end = m.end() if m else i + 1
                if s[end - 1 : end] == "&" and s[end : end + 1] == ">":
                    end -= 1
                op = s[i:end].replace(" ", "").replace("\t", "").replace("\r", "")
                self.i = end
                if not op:
                    continue
                bg = op[0] == "&" and op[:2] != "&&"
                self._finish(b, pipeline, stage, via, function, bg, i)
                b = _Builder(self.i, self)
                if "\n" in op and self.heredoc_end > i:
                    self.i = max(self.i, self.heredoc_end)
                    b.start = self.i
                if op in ("|", "|&") or (op.strip("|") == "" and len(op) > 2):
                    stage += 1
                else:
                    pipeline = st.new_pipeline()
                    stage = 0
                continue
            if c == ")" and _in_script_url(b):
                b.buf.append(c)
                self.i = i + 1
                continue
            if c == ")":
                b.end_word()
                self.i = i + 1
                self._finish(b, pipeline, stage, via, function, False, i)
                if closer == ")":
                    return
                # a stray ``)`` ends a ``case`` pattern (``case x in x) rm -rf /;; esac``): a new command follows
                b = _Builder(self.i, self)
                continue
            if c == "(":
                self._open_paren(b, via, function, pipeline, stage)
                continue
            if c in "<>" or c == "&":
                if c in "<>" and s[i + 1 : i + 2] == "(":
                    self._nested(i + 2, ")", c + "()", function, b)
                    b.buf.append("/dev/fd/63")
                    continue
                w = "".join(b.buf)
                if w.isdigit() and not b.quoted and not b.pend:
                    b.buf.clear()
                    fd = w
                else:
                    b.end_word()
                    fd = ""
                for op in _REDIR_OPS:
                    if s.startswith(op, i):
                        break
                b.pend = fd + op
                self.i = i + len(op)
                continue
            if c == "#" and not b.has_word() and not b.pend:
                j = s.find("\n", i)
                self.i = n if j < 0 else j
                continue
            if c in "{}" and not b.has_word() and not b.pend:
                nxt = s[i + 1 : i + 2]
                if c == "{" and (nxt == "" or nxt in " \t\n") and (not b.words or b.words[0] == "function"):
                    if b.words:
                        self.pending_fn = b.words[-1]
                        b.words.clear()
                    fn = self.pending_fn or function
                    self.pending_fn = ""
                    self.i = i + 1
                    self._group("}", via, fn, function, pipeline, stage)
                    continue
                if c == "}" and (nxt == "" or nxt in " \t\n;&|)") and closer == "}":
                    self._finish(b, pipeline, stage, via, function, False, i)
                    self.i = i + 1
                    return
            if c == "'":
                j = s.find("'", i + 1)
                j = n if j < 0 else j
                b.buf.append(s[i + 1 : j])
                b.quoted = True
                self.i = j + 1
            elif c == '"':
                b.quoted = True
                self._read_dq(b)
            elif c == "\\" and not win:
                m = _BACKSLASHES.match(s, i)
                k = (m.end() if m else i + 1) - i
                b.buf.append("\\" * (k // 2))
                self.i = i + k
                if k % 2:
                    nc = s[self.i : self.i + 1]
                    if nc and nc != "\n":
                        b.buf.append(nc)
                    self.i += 1
            elif (c == "^" or c == "`") and win:
                b.buf.append(s[i + 1 : i + 2])
                self.i = i + 2
            elif c == "$":
                self._dollar(b, quoted=False)
            elif c == "`":
                self._backtick(b)
            else:
                m = run_re.match(s, i)
                if m:
                    b.buf.append(m.group())
                    self.i = m.end()
                else:
                    b.buf.append(c)
                    self.i = i + 1
        b.end_word()
        self._finish(b, pipeline, stage, via, function, False, n)

    def _group(self, closer: str, via: str, fn: str, function: str, pipeline: int, stage: int) -> None:
        """A ``( ... )`` subshell or ``{ ...; }`` group: its commands stand where the group stands in a pipeline
        (``(curl x) | sh``), unless it is a function body, which only runs when called."""
        mark = len(self.st.recs)
        self.parse_list_nested(closer, via, fn)
        if fn == function:
            for r in self.st.recs[mark:]:
                if r.via == via:
                    r.pipeline, r.stage = pipeline, stage

    def _open_paren(self, b: _Builder, via: str, function: str, pipeline: int, stage: int) -> None:
        s, i = self.s, self.i
        w = "".join(b.buf)
        if _SCRIPT_URL.match(w):  # ``mshta javascript:a=(GetObject(..))``: script in a URL, one word to the shell
            b.buf.append("(")
            self.i = i + 1
            return
        rest = s[i + 1 : i + 64].lstrip(" \t")
        if rest.startswith(")") and (w or (len(b.words) == 1 and not b.has_word())):
            # a function definition: name() { body; }
            b.end_word()
            name = b.words[-1] if b.words else w
            b.words.clear()
            self.pending_fn = name
            self.i = s.find(")", i + 1) + 1
            return
        if not b.words and not b.has_word():
            self.i = i + 1
            self._group(")", via, function, function, pipeline, stage)
            return
        # '(' inside a command: PowerShell grouping such as ``iex (iwr ...)``
        b.end_word()
        self._nested(i + 1, ")", "()", function, b)

    def parse_list_nested(self, closer: str, via: str, function: str) -> None:
        if self.depth >= MAX_DEPTH:
            self.st.truncated = self.st.stop = True
            return
        self.depth += 1
        try:
            self.parse_list(closer, via, function)
        finally:
            self.depth -= 1

    def _nested(self, start: int, closer: str, via: str, function: str, b: _Builder) -> int:
        """Parse a nested list in place (substitution, process substitution); return its first record index."""
        mark = len(self.st.recs)
        self.i = start
        self.parse_list_nested(closer, via, function)
        b.children.extend(range(mark, len(self.st.recs)))
        return mark

    def _sub(self, src: str, via: str, consumer_b: _Builder | None, mode: str | None = None) -> int:
        """Parse ``src`` with a fresh lexer one level deeper; return the index of its first record."""
        mark = len(self.st.recs)
        if self.depth >= MAX_DEPTH or not src:
            if src:
                self.st.truncated = True
            return mark
        lx = _Lexer(src[:MAX_SOURCE], self.st, self.depth + 1, mode or self.mode)
        lx.parse_list("", via, "")
        if consumer_b is not None:
            consumer_b.children.extend(range(mark, len(self.st.recs)))
        return mark

    # -- words ---------------------------------------------------------------------------------------------
    def _read_dq(self, b: _Builder) -> None:
        s, st = self.s, self.st
        n = len(s)
        win = self.mode == "win"
        run_re = _DQ_RUN_WIN if win else _DQ_RUN
        i = self.i + 1
        while i < n:
            st.steps += 1
            if st.steps > MAX_STEPS:
                st.truncated = True
                break
            m = run_re.match(s, i)
            if m:
                b.buf.append(m.group())
                i = m.end()
                continue
            c = s[i]
            if c == '"':
                self.i = i + 1
                return
            if c == "\\":
                nc = s[i + 1 : i + 2]
                if nc in ("$", "`", '"', "\\"):
                    b.buf.append(nc)
                elif nc != "\n":
                    b.buf.append("\\" + nc)
                i += 2
            elif c == "`" and win:
                b.buf.append(s[i + 1 : i + 2])
                i += 2
            elif c == "$":
                self.i = i
                b.buf.append(self._dollar(b, quoted=True))
                i = self.i
            elif c == "`":
                self.i = i
                b.buf.append(self._backtick(b, quoted=True))
                i = self.i
            else:
                b.buf.append(c)
                i += 1
        self.i = n

    def _dollar(self, b: _Builder, quoted: bool) -> str:
        """Read an expansion at ``$``; unquoted values are added to the builder (split), quoted ones returned."""
        s, st = self.s, self.st
        i = self.i
        nc = s[i + 1 : i + 2]
        value: str
        if nc == "'" and not quoted:
            j = i + 2
            while True:
                j = s.find("'", j)
                if j < 0:
                    j = len(s)
                    break
                k = j
                while k > i + 2 and s[k - 1] == "\\":
                    k -= 1
                if (j - k) % 2 == 0:
                    break
                j += 1
            b.buf.append(_ansi_c(s[i + 2 : j]))
            b.quoted = True
            self.i = j + 1
            return ""
        if nc == '"' and not quoted:
            self.i = i + 1
            b.quoted = True
            self._read_dq(b)
            return ""
        if nc == "(":
            if s[i + 2 : i + 3] == "(":
                j = s.find("))", i + 3)
                self.i = len(s) if j < 0 else j + 2
                value = ""
            else:
                mark = self._nested(i + 2, ")", "$()", "", b)
                value = _static_output(self.st.recs[mark:]) or ""
        elif nc == "{":
            j = s.find("}", i + 2)
            if j < 0:
                self.i = i + 1
                return self._literal(b, "$", quoted)
            value = self._param(s[i + 2 : j])
            self.i = j + 1
        elif nc and (nc.isalpha() or nc == "_"):
            m = _NAME.match(s, i + 1)
            name = m.group() if m else nc
            self.i = i + 1 + len(name)
            if name in st.env:
                value = st.env[name]
            elif self.mode == "win":
                # PowerShell: ``$true``, ``$env:X`` and friends stay as written
                value = "$" + name
                if s[self.i : self.i + 1] == ":":
                    m2 = _NAME.match(s, self.i + 1)
                    if m2:
                        value += ":" + m2.group()
                        self.i = m2.end()
            else:
                value = ""
        elif nc and nc in "@*#?$!-0123456789":
            self.i = i + 2
            value = "sh" if nc == "0" else ""
        else:
            self.i = i + 1
            return self._literal(b, "$", quoted)
        if quoted:
            return value
        b.add_expansion(value, st.env.get("IFS", " \t\n"))
        return ""

    @staticmethod
    def _literal(b: _Builder, text: str, quoted: bool) -> str:
        if quoted:
            return text
        b.buf.append(text)
        return ""

    def _param(self, expr: str) -> str:
        """``${...}``: NAME, defaults, ``!NAME`` indirection, ``#NAME``, substrings, case and replacement."""
        env = self.st.env
        if expr.startswith("!"):
            target = env.get(expr[1:], "")
            return env.get(target, "")
        if expr.startswith("#"):
            return str(len(env.get(expr[1:], "")))
        m = _NAME.match(expr)
        if not m:
            return "sh" if expr == "0" else ""
        name = m.group()
        rest = expr[m.end() :]
        val = env.get(name)
        if not rest:
            return val or ""
        if rest[:2] in (":-", ":=") or rest[:1] in ("-", "="):
            default = rest[2:] if rest[:1] == ":" else rest[1:]
            if val is None or (rest[:1] == ":" and not val):
                val = _ansi_c(default) if default.startswith("$'") else default.strip("'\"")
                if rest[1:2] == "=" or rest[:1] == "=":
                    env[name] = val
            return val
        if rest[:2] == ":+" or rest[:1] == "+":
            return (rest[2:] if rest[:1] == ":" else rest[1:]) if val else ""
        val = val or ""
        if rest in ("^^", "^"):
            return val.upper()
        if rest in (",,", ","):
            return val.lower()
        if rest.startswith(":"):
            parts = rest[1:].split(":", 1)
            try:
                off = int(parts[0].strip() or "0")
                ln = int(parts[1].strip()) if len(parts) > 1 else None
            except ValueError:
                return val
            sub = val[off:]
            return sub[:ln] if ln is not None and ln >= 0 else sub
        if rest.startswith("/"):
            every = rest.startswith("//")
            pat, _, rep = rest[2 if every else 1 :].partition("/")
            if pat and not any(ch in pat for ch in "*?["):
                return val.replace(pat, rep) if every else val.replace(pat, rep, 1)
            return val
        if rest[:1] in "#%":
            pat = rest.lstrip("#%")
            if pat and not any(ch in pat for ch in "*?["):
                if rest[0] == "#" and val.startswith(pat):
                    return val[len(pat) :]
                if rest[0] == "%" and val.endswith(pat):
                    return val[: -len(pat)]
            return val
        return val

    def _backtick(self, b: _Builder, quoted: bool = False) -> str:
        s = self.s
        i = self.i
        j = i + 1
        while True:
            j = s.find("`", j)
            if j < 0:
                j = len(s)
                break
            k = j
            while k > i + 1 and s[k - 1] == "\\":
                k -= 1
            if (j - k) % 2 == 0:
                break
            j += 1
        inner = s[i + 1 : j].replace("\\`", "`").replace("\\$", "$").replace("\\\\", "\\")
        self.i = j + 1
        mark = self._sub(inner, "`", b)
        value = _static_output(self.st.recs[mark:]) or ""
        if quoted:
            return value
        b.add_expansion(value, self.st.env.get("IFS", " \t\n"))
        return ""

    def heredoc_body(self, delim: str) -> str:
        """Take the body of a here-document whose ``<<delim`` was just read; the lexer later skips it."""
        s = self.s
        nl = s.find("\n", self.i)
        if nl < 0:
            return ""
        pos = max(nl + 1, self.heredoc_end)
        start = pos
        end = nxt = len(s)
        while pos < len(s):
            e = s.find("\n", pos)
            line_end = len(s) if e < 0 else e
            if s[pos:line_end].strip(" \t") == delim:
                end, nxt = pos, line_end + 1
                break
            pos = line_end + 1
        self.heredoc_end = nxt
        return s[start:end]

    # -- the end of a simple command -----------------------------------------------------------------------
    def _finish(self, b: _Builder, pipeline: int, stage: int, via: str, function: str, bg: bool, end: int) -> None:
        b.end_word()
        words = b.words
        if not words and not b.redirs:
            return
        raw = self.s[b.start : end].strip()
        st = self.st
        k = 0
        while k < len(words) and words[k] in _KEYWORDS_SKIP:
            k += 1
        if k < len(words) and words[k] in _KEYWORDS_DROP:
            return
        words = words[k:]
        if not words and not b.redirs:
            return
        assigns: list[tuple[str, str]] = []
        while words and "=" in words[0]:
            nm, _, val = words[0].partition("=")
            if not nm.isidentifier():
                break
            assigns.append((nm, val))
            words = words[1:]
        if not words:
            for nm, val in assigns:
                st.env[nm] = val
        elif words[0] in st.aliases and len(st.recs) < MAX_RECORDS:
            alias = st.aliases[words[0]]
            self._sub(alias + " " + " ".join(_requote(w) for w in words[1:]), "alias", b)
            return
        rec = _build(self, raw, words, tuple(b.redirs), pipeline, stage, via, tuple(assigns), function, bg)
        st.recs.append(rec)
        if rec.redirects or rec.name == "tee":
            _record_writes(st, rec, [r for r in st.recs[:-1] if r.pipeline == pipeline and r.stage < stage])
        for idx in b.children:
            child = st.recs[idx]
            if not child.consumer:
                child.consumer = rec.name
        if stage > 0 and "xargs" in rec.wrappers:
            # ``echo / | xargs rm -rf``: xargs appends what it reads to the command line
            feed = _static_output([r for r in st.recs[:-1] if r.pipeline == pipeline and r.stage < stage])
            if feed:
                rec.argv = rec.argv + tuple(feed.split()[:256])
        if _reads_stdin(rec):
            mates = [r for r in st.recs[:-1] if r.pipeline == pipeline and r.stage < stage] if stage else []
            content = _here_input(rec) if _here_input(rec) is not None else _static_output(mates)
            if content:
                decoded = any(m.name in ("base64", "xxd", "openssl", "base32") for m in mates)
                mark = len(st.recs)
                if rec.name in PYTHONS or rec.name in SCRIPTERS:
                    _interpret_code(self, rec, rec.name, content, "base64" if decoded else "pipe")
                else:
                    sub_mode = "win" if rec.name in POWERSHELLS or rec.name in ("iex", "invoke-expression") else None
                    self._sub(content, "base64" if decoded else "pipe", None, sub_mode)
                for r in st.recs[mark:]:
                    r.consumer = r.consumer or rec.name


#: A word that is a script URL (``javascript:``, ``vbscript:``, ``about:``): its parentheses are the script's
_SCRIPT_URL = re.compile(r"(?:javascript|vbscript|jscript|about):", re.IGNORECASE)


def _in_script_url(b: _Builder) -> bool:
    """Whether the word being read is a script URL with a parenthesis still open."""
    w = "".join(b.buf)
    return bool(_SCRIPT_URL.match(w)) and w.count("(") > w.count(")")


def _here_input(rec: _Rec) -> str | None:
    for op, target in reversed(rec.redirects):
        if op.endswith(("<<", "<<-", "<<<")):
            return target
    return None


def _requote(w: str) -> str:
    return "'" + w.replace("'", "'\\''") + "'"


def _shell_has_script(argv: tuple[str, ...]) -> bool:
    """True when a shell gets its script from ``-c`` or a file (not from stdin: ``-s``, ``-``, none)."""
    for w in argv[1:]:
        if w == "--":
            return False
        if w.startswith("-") and not w.startswith("--") and len(w) > 1:
            if "c" in w[1:]:
                return True
            if "s" in w[1:]:
                return False
            continue
        if not w.startswith(("-", "+")):
            return w != "-"
    return False


_STDIN_FILES = frozenset({"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0", "-"})
#: Programs that run a script read from one of ``_STDIN_FILES`` (``sh /dev/stdin``, ``source /dev/stdin``).
_STDIN_FILE_RUNNERS = frozenset({*SHELLS, *PYTHONS, "source", ".", "perl", "ruby", "node", "php"})


def _reads_stdin(rec: _Rec | Command) -> bool:
    """True for a stage that runs what it reads on stdin (``sh``, ``python -``, ``iex``, ``source /dev/stdin``);
    reads only ``name`` and ``argv``, so a parsing record and a finished command both do."""
    name = rec.name
    if name in ("iex", "invoke-expression"):
        return True
    if any(w in _STDIN_FILES for w in rec.argv[1:3]) and name in _STDIN_FILE_RUNNERS:
        return True
    if name in SHELLS or name in POWERSHELLS:
        return not _shell_has_script(rec.argv) and not any(
            w.lower() in ("-c", "-command", "-enc", "-encodedcommand", "-file") for w in rec.argv[1:]
        )
    if name in PYTHONS or name in ("perl", "ruby", "node", "php", "lua"):
        rest = [w for w in rec.argv[1:] if w != "-"]
        return not any(not w.startswith("-") or w in ("-c", "-e", "-r", "-E", "-m") for w in rest)
    return False


def _decode_b64(text: str) -> str | None:
    t = "".join(text.split())
    if not t:
        return None
    t += "=" * (-len(t) % 4)
    try:
        raw = base64.b64decode(t, altchars=b"-_" if ("-" in t or "_" in t) else None)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "replace")


_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)


def _printf(fmt: str, args: list[str]) -> str:
    out: list[str] = []
    i, n, k = 0, len(fmt), 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0 or j + 1 >= n:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        c = fmt[j + 1]
        if c == "%":
            out.append("%")
        elif c in "sbdc":
            arg = args[k] if k < len(args) else ""
            k += 1
            out.append(_ansi_c(arg) if c == "b" else arg)
        else:
            out.append(fmt[j : j + 2])
        i = j + 2
    return _ansi_c("".join(out))


def _mktemp_path(argv: Sequence[str]) -> str:
    """The kind of path ``mktemp`` prints: its template, in ``-p DIR`` when given, else a name in ``/tmp`` (the
    X's stand for the random part, so later words naming ``$TF`` name the same file)."""
    words = list(argv[1:])
    folder = ""
    template = ""
    j = 0
    while j < len(words):
        w = words[j]
        if w in ("-p", "--tmpdir") and j + 1 < len(words):
            folder, j = words[j + 1], j + 2
            continue
        if w.startswith("--tmpdir="):
            folder = w.partition("=")[2]
        elif not w.startswith("-"):
            template = w
        j += 1
    if not template:
        return posixpath.join(folder or "/tmp", "tmp.XXXXXXXXXX")
    return posixpath.join(folder, template) if folder or "/" in template else posixpath.join("/tmp", template)


def _written_content(rec: _Rec, mates: list[_Rec]) -> tuple[list[str], str] | None:
    """The files one command writes with literal content and that content (``echo CODE > f``, ``printf .. >> f``,
    ``cat > f <<EOF``, ``echo CODE | tee f``), or None when it writes none or what it writes is not literal."""
    targets = [t for op, t in rec.redirects if op in (">", ">>", ">|", "1>", "1>>") and t]
    if rec.name == "tee":
        targets += [w for w in rec.argv[1:] if not w.startswith("-")]
        content = _static_output(mates) if mates else None
    elif targets:
        content = _static_output([*mates, rec])
    else:
        return None
    return (targets, content) if targets and content is not None else None


#: pieces kept per written file (``echo line >> f`` repeated): past it, later appends are not kept
_MAX_FILE_PIECES = 256


def _record_writes(st: _State, rec: _Rec, mates: list[_Rec]) -> None:
    written = _written_content(rec, mates)
    if written is None:
        return
    targets, content = written
    appends = any(op.endswith(">>") for op, _t in rec.redirects) or (rec.name == "tee" and "-a" in rec.argv)
    for t in targets[:8]:
        key = t.removeprefix("./")
        pieces = st.files.get(key) if appends else None
        if pieces is None:
            st.files[key] = [content]
        elif len(pieces) < _MAX_FILE_PIECES:
            pieces.append(content)


def _read_file(st: _State, key: str) -> str:
    """The content of a written file a command runs, charged to the text's budget; once the budget is spent the
    text is reported as truncated (checks fail closed) and the file reads as empty."""
    code = "\n".join(st.files[key])[:MAX_SOURCE]
    if len(code) > st.file_budget:
        st.truncated = True
        return ""
    st.file_budget -= len(code)
    return code


def _static_output(recs: Iterable[_Rec]) -> str | None:
    """The output of a pipeline made only of ``echo``/``printf``/decoders over literal text, else None."""
    recs = list(recs)
    if not recs:
        return None
    pipeline = recs[0].pipeline
    via = recs[0].via
    stages = sorted((r for r in recs if r.pipeline == pipeline and r.via == via), key=lambda r: r.stage)
    if not stages or len(stages) > 8:
        return None
    out: str | None = None
    for r in stages:
        for op, target in r.redirects:
            if op.endswith("<<<"):
                out = target + "\n"
            elif op.endswith(("<<", "<<-")):
                out = target
        argv, name = r.argv, r.name
        if name == "echo":
            args = list(argv[1:])
            esc = False
            while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
                esc = esc or "e" in args[0]
                args.pop(0)
            out = " ".join(args)
            out = _ansi_c(out) if esc else out
        elif name in ("which", "whereis") or (name == "command" and "-v" in argv) or (name == "type" and "-p" in argv):
            progs = [w for w in argv[1:] if not w.startswith("-")]
            out = "\n".join("/usr/bin/" + w.rsplit("/", 1)[-1] for w in progs) if progs else None
        elif name == "printf":
            out = _printf(argv[1], list(argv[2:])) if len(argv) > 1 else ""
        elif name == "mktemp":
            out = _mktemp_path(argv)
        elif name == "cat" and len(argv) == 1:
            pass
        elif name in ("base64", "base32") and any(a in ("-d", "--decode", "-D", "-di", "-id") for a in argv[1:]):
            out = _decode_b64(out) if out is not None and name == "base64" else None
        elif name == "openssl" and any("base64" in a for a in argv[1:]) and "-d" in argv:
            out = _decode_b64(out) if out is not None else None
        elif name == "xxd" and any(a.startswith("-r") for a in argv[1:]):
            hx = "".join((out or "").split())
            try:
                out = bytes.fromhex(hx).decode("utf-8", "replace") if out is not None else None
            except ValueError:
                out = None
        elif name == "rev":
            out = "\n".join(line[::-1] for line in out.split("\n")) if out is not None else None
        elif name == "tr" and len(argv) >= 3:
            a1, a2 = argv[1].lower(), argv[2].lower()
            if out is not None and a1.startswith("a-z") and a2.startswith("n-za-m"):
                out = out.translate(_ROT13)
            else:
                out = None
        elif name == "" and r.redirects:
            pass
        else:
            return None
        if out is None:
            return None
    return out.rstrip("\n") if out is not None else None


# --- building a record: wrappers, names, interpreters ------------------------------------------------------
def _strip_wrappers(words: list[str]) -> tuple[list[str], list[str], list[tuple[str, str]], str | None]:
    """Peel ``sudo``/``env``/``xargs``/... off the front; return (words, wrappers, env assigns, su -c script)."""
    wrappers: list[str] = []
    assigns: list[tuple[str, str]] = []
    su_script: str | None = None
    guard = 0
    while words and guard < 16:
        guard += 1
        name = program_name(words[0])
        if name in ("su", "runuser"):
            rest = words[1:]
            for j, w in enumerate(rest):
                if w in ("-c", "--command") and j + 1 < len(rest):
                    su_script = rest[j + 1]
                    break
                if w.startswith("--command="):
                    su_script = w.split("=", 1)[1]
                    break
            if su_script is not None:
                wrappers.append(name)
                return [], wrappers, assigns, su_script
            return words, wrappers, assigns, None
        j = 1
        if len(words) > 1 and f"{name} {words[1]}" in _SUBCOMMAND_WRAPPERS:
            name, j = f"{name} {words[1]}", 2
        elif name not in _WRAPPERS:
            break
        if name == "command" and len(words) > 1 and words[1] in ("-v", "-V"):
            break  # a lookup, not a run
        if name == "ip netns" and (len(words) < 3 or words[2] != "exec"):
            break  # ``ip netns add``/``list``: no command to run
        opts = _WRAPPER_OPTS.get(name, frozenset())
        positional = _WRAPPER_POSITIONAL.get(name, 0)
        while j < len(words):
            w = words[j]
            if w == "--":
                j += 1
                break
            if name == "env" and "=" in w and w.split("=", 1)[0].isidentifier():
                nm, _, val = w.partition("=")
                assigns.append((nm, val))
                j += 1
                continue
            if w.startswith("-") and len(w) > 1:
                if w in opts or (w[:2] in opts and len(w) == 2):
                    j += 2
                else:
                    j += 1
                continue
            if name == "runas" and w.startswith("/"):
                j += 1
                continue
            if positional:
                positional -= 1
                j += 1
                continue
            break
        if j >= len(words):
            break  # a wrapper alone (``sudo -i``): the wrapper is the command
        wrappers.append(name)
        words = words[j:]
    return words, wrappers, assigns, su_script


def _build(
    lx: _Lexer,
    raw: str,
    words: list[str],
    redirs: tuple[tuple[str, str], ...],
    pipeline: int,
    stage: int,
    via: str,
    assigns: tuple[tuple[str, str], ...],
    function: str,
    bg: bool,
) -> _Rec:
    st = lx.st
    words, wrappers, env_assigns, su_script = _strip_wrappers(words)
    if env_assigns:
        assigns = assigns + tuple(env_assigns)
    if su_script is not None:
        rec = _Rec(
            raw,
            wrappers[-1],
            ("su", "-c", su_script),
            pipeline,
            stage,
            redirs,
            via,
            tuple(wrappers),
            assigns,
            "",
            frozenset(),
            function,
            bg,
        )
        mark = len(st.recs)
        lx._sub(su_script, "su -c", None)
        for r in st.recs[mark:]:
            r.wrappers = tuple(wrappers) + r.wrappers
        return rec
    name = _resolve_name(words[0]) if words else ""
    argv = tuple(words)
    rec = _Rec(raw, name, argv, pipeline, stage, redirs, via, tuple(wrappers), assigns, "", frozenset(), function, bg)
    if not words:
        return rec
    if name in _ASSIGNERS:
        for w in argv[1:]:
            nm, eq, val = w.partition("=")
            if eq and nm.isidentifier():
                st.env[nm] = val
    elif name == "unset":
        for w in argv[1:]:
            st.env.pop(w, None)
    elif name == "alias":
        for w in argv[1:]:
            nm, eq, val = w.partition("=")
            if eq and nm:
                st.aliases[nm] = val
    mark = len(st.recs)
    _unwrap_interpreter(lx, rec)
    if len(st.recs) > mark:
        for r in st.recs[mark:]:
            if not r.consumer:
                r.consumer = name
            if wrappers and not r.wrappers:
                r.wrappers = tuple(wrappers)
    return rec


def _shebang_program(code: str) -> str:
    """The interpreter a script's ``#!`` line names (``#!/usr/bin/env python3`` -> ``python3``), else ``sh``."""
    if not code.startswith("#!"):
        return "sh"  # a shell runs a text file without one itself
    words = code[2:].split("\n", 1)[0].split()
    if words and program_name(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return program_name(words[0]) if words else "sh"


#: Command words of a program's own language whose rest is code in another language (``:py``, gdb's ``python``)
_LANGUAGE_COMMANDS = {"py": "python3", "py3": "python3", "pyx": "python3", "python": "python3", "python3": "python3",
                      "pi": "python3", "lua": "lua", "perl": "perl", "ruby": "ruby"}  # fmt: skip


def _program_commands_table() -> dict[str, tuple[frozenset[str], int, frozenset[str]]]:
    """``_vocab/program_shell_commands.tsv`` read once: program -> (command options, first command operand, words)."""
    table: dict[str, tuple[frozenset[str], int, frozenset[str]]] = {}
    for program, spec in vocab.mapping("program_shell_commands").items():
        options, _bar, words = spec.partition(" | ")
        opts = options.split()
        nth = next((int(o) for o in opts if o.isdigit()), 0)
        table[program] = (frozenset(o for o in opts if not o.isdigit()), nth, frozenset(words.split()))
    return table


_PROGRAM_COMMANDS = _program_commands_table()


def _command_values(argv: Sequence[str], options: frozenset[str], nth: int) -> list[str]:
    """The words ``argv`` hands its program as commands: option values (``-c CMD``, ``--execute=CMD``, ``+CMD``)
    and, with ``nth``, every operand from the ``nth`` on (sqlite3's SQL after the database)."""
    out: list[str] = []
    operands = 0
    j = 1
    while j < len(argv):
        w = argv[j]
        opt, eq, val = w.partition("=")
        if w in options and j + 1 < len(argv):
            out.append(argv[j + 1])
            j += 2
            continue
        if eq and opt in options:
            out.append(val)
        elif w.startswith("+") and len(w) > 1 and "+" in options:
            out.append(w[1:])
        elif not w.startswith("-"):
            operands += 1
            if nth and operands >= nth:
                out.append(w)
        j += 1
    return out


def _program_commands(lx: _Lexer, rec: _Rec) -> None:
    """Parse the commands a program with a command language is given (``vi -c ':!sh'``, ``mysql -e '\\! sh'``,
    ``sqlite3 db '.shell sh'``, ``gdb -ex 'python ...'``): what a shell-running command runs is a shell command
    reached through the program (a shell alone when nothing follows), a language command's rest is code."""
    options, nth, words = _PROGRAM_COMMANDS[rec.name]
    for value in _command_values(rec.argv, options, nth)[:16]:
        for piece in value.split("\n")[:64]:
            rest = piece
            for _ in range(16):  # commands separated by | or ; until one that runs something
                rest = rest.strip().lstrip(":").lstrip()
                if rest.startswith("\\!"):
                    word, tail = "\\!", rest[2:]
                elif rest.startswith("!"):
                    word, tail = "!", rest[1:]
                else:
                    word, _sp, tail = rest.partition(" ")
                if word in words:
                    via = f"{rec.name} {word}"
                    if word in _LANGUAGE_COMMANDS:
                        _interpret_code(lx, rec, _LANGUAGE_COMMANDS[word], tail, via)
                    else:
                        lx._sub(tail.strip() or "sh", via, None)
                    break
                cut = min((k for k in (rest.find("|"), rest.find(";")) if k >= 0), default=-1)
                if cut < 0:
                    break
                rest = rest[cut + 1 :]


def _option_values(argv: Sequence[str]) -> list[str]:
    """The words given as option values (``--script=F``, ``-x F``), without a leading ``./``."""
    out: list[str] = []
    for j, w in enumerate(argv[1:], 1):
        if w.startswith("-") and "=" in w:
            out.append(w.partition("=")[2].removeprefix("./"))
        elif argv[j - 1].startswith("-") and j > 1 and not w.startswith("-"):
            out.append(w.removeprefix("./"))
    return out


def _build_files_table() -> dict[str, tuple[str, frozenset[str]]]:
    """``_vocab/build_files.tsv`` read once: program -> (language, the file names it runs as code)."""
    table: dict[str, tuple[str, frozenset[str]]] = {}
    for program, spec in vocab.mapping("build_files").items():
        language, *names = spec.split()
        table[program] = (language, frozenset(names))
    return table


_BUILD_FILES = _build_files_table()


def _build_file_commands(lx: _Lexer, rec: _Rec, language: str, file: str, code: str) -> None:
    """Parse a build file the text wrote as the program reads it: make's recipe lines and npm's scripts are shell
    commands, the others code in their language."""
    via = f"{rec.name} {file}"
    if language == "make":
        for line in code.split("\n")[:512]:
            if line.startswith("\t"):
                lx._sub(line.strip().lstrip("@-+"), via, None)
    elif language == "npm":
        try:
            scripts = json.loads(code).get("scripts")
        except (ValueError, AttributeError):
            scripts = None
        for value in list(scripts.values())[:64] if isinstance(scripts, dict) else []:
            if isinstance(value, str):
                lx._sub(value, via, None)
    else:
        _interpret_code(lx, rec, language, code, via)


def _run_written_file(lx: _Lexer, rec: _Rec) -> bool:
    """Parse a file this text wrote and now runs, as the program that runs it reads it: ``python3 x.py``,
    ``sh $TF``, ``./run.sh`` (by its ``#!`` line). True when ``rec`` ran one."""
    files = lx.st.files
    if not files:
        return False
    name, argv = rec.name, rec.argv
    if name in _BUILD_FILES:  # ``echo 'system("sh")' > Gemfile; bundle install``: a file the program runs by name
        language, wanted = _BUILD_FILES[name]
        written = [path for path in files if path.rsplit("/", 1)[-1] in wanted][:4]
        for path in written:
            _build_file_commands(lx, rec, language, path.rsplit("/", 1)[-1], _read_file(lx.st, path))
        if written:
            return True
    first = argv[0].removeprefix("./")
    if first in files:
        code = _read_file(lx.st, first)
        lang = _shebang_program(code)
    elif name in SHELLS or name in PYTHONS or name in SCRIPTERS:
        operand = next((w for w in argv[1:] if not w.startswith("-")), None)
        if operand is None or operand.removeprefix("./") not in files:
            return False
        lang, code = name, _read_file(lx.st, operand.removeprefix("./"))
    else:
        # a file given as an option's value is the program's script or start-up file (``nmap --script=$TF``,
        # ``gdb -x $TF``, ``vim -S $TF``): the calls it makes are read in any language
        scripts = [_read_file(lx.st, f) for f in dict.fromkeys(_option_values(argv)) if f in files][:4]
        for code in scripts:
            _interpret_code(lx, rec, "script", code, f"{name} script")
            for line in code.split("\n")[:256]:  # ``!cmd``: the shell escape of gdb, ed, ftp and pagers' scripts
                if line.startswith("!"):
                    lx._sub(line, f"{name} script", None)
        return bool(scripts)
    if lang in PYTHONS or lang in SCRIPTERS:
        _interpret_code(lx, rec, lang, code, f"{lang} script")
    else:
        lx._sub(code, f"{lang} script", None, "win" if lang in POWERSHELLS else None)
    return True


def _unwrap_interpreter(lx: _Lexer, rec: _Rec) -> None:
    """Parse the code handed to an interpreter (``bash -c``, ``eval``, ``python -c``, ``powershell -enc``), or a
    script the text wrote before running it."""
    if _run_written_file(lx, rec):
        return
    if rec.name in _PROGRAM_COMMANDS:
        _program_commands(lx, rec)
        return
    name, argv = rec.name, rec.argv
    if name in SHELLS:
        rest = argv[1:]
        if name == "busybox" and rest and rest[0] in SHELLS:
            rest = rest[1:]
        for j, w in enumerate(rest):
            if (w.startswith("-") and not w.startswith("--") and "c" in w[1:]) or w == "--command":
                script = next((x for x in rest[j + 1 :] if not x.startswith("-") or x == "-"), None)
                if script is not None:
                    lx._sub(script, f"{name} -c", None)
                return
            if not w.startswith("-") and not w.startswith("+"):
                return
        return
    if name == "eval":
        lx._sub(" ".join(argv[1:]), "eval", None)
        return
    if name in PYTHONS or name in SCRIPTERS:
        flags = {
            "perl": ("-e", "-E"),
            "ruby": ("-e",),
            "node": ("-e", "--eval", "-p", "--print"),
            "nodejs": ("-e", "--eval", "-p"),
            "php": ("-r",),
            "lua": ("-e",),
            "deno": ("eval",),
            "bun": ("-e", "--eval"),
            "osascript": ("-e",),
        }.get(name, ("-c",))
        if name in ("awk", "gawk"):
            code = next((w for w in argv[1:] if not w.startswith("-")), None)
            if code is not None:
                _interpret_code(lx, rec, name, code, f"{name}")
            return
        for j, w in enumerate(argv[1:], 1):
            if w in flags or (
                w.startswith("-")
                and not w.startswith("--")
                and w[-1:] == flags[0][-1:]
                and len(w) > 2
                and flags[0].startswith("-")
            ):
                if j + 1 < len(argv):
                    _interpret_code(lx, rec, name, argv[j + 1], f"{name} {flags[0]}")
                return
            if w.startswith(flags[0]) and len(w) > len(flags[0]) and flags[0].startswith("-"):
                _interpret_code(lx, rec, name, w[len(flags[0]) :], f"{name} {flags[0]}")
                return
        return
    if name in POWERSHELLS:
        _powershell(lx, rec)
        return
    if name == "cmd":
        for j, w in enumerate(argv[1:], 1):
            if w.lower() in ("/c", "/k", "/r"):
                lx._sub(" ".join(argv[j + 1 :]), "cmd /c", None, "win")
                return
            lw = w.lower()
            if lw.startswith(("/c", "/k")) and len(w) > 2 and not lw[2].isalpha():
                lx._sub(w[2:] + " " + " ".join(argv[j + 1 :]), "cmd /c", None, "win")
                return
        return
    if name in ("iex", "invoke-expression"):
        if len(argv) > 1:
            lx._sub(" ".join(argv[1:]), "iex", None, "win")
        return
    if name == "find":
        for j, w in enumerate(argv):
            if w in ("-exec", "-execdir", "-ok", "-okdir"):
                end = j + 1
                while end < len(argv) and argv[end] not in (";", "+", "\\;"):
                    end += 1
                if end > j + 1:
                    lx._sub(" ".join(_requote(x) for x in argv[j + 1 : end]), "find -exec", None)
        return
    if name == "ssh":
        with_value = set("bcDEeFIiJLlmOopQRSWw")
        j = 1
        while j < len(argv):
            w = argv[j]
            if w.startswith("-") and len(w) >= 2:
                j += 2 if (len(w) == 2 and w[1] in with_value) else 1
                continue
            break
        if j + 1 < len(argv):
            lx._sub(" ".join(argv[j + 1 :]), "ssh", None)
        return
    if name in ("watch", "nohup") and len(argv) > 1:
        operands = [w for w in argv[1:] if not w.startswith("-")]
        if len(operands) == 1 and " " in operands[0]:
            lx._sub(operands[0], name, None)


def _powershell(lx: _Lexer, rec: _Rec) -> None:
    argv = rec.argv
    j = 1
    value_opts = (
        "-w",
        "-windowstyle",
        "-ep",
        "-ex",
        "-exec",
        "-executionpolicy",
        "-file",
        "-f",
        "-v",
        "-version",
        "-psconsolefile",
        "-inputformat",
        "-outputformat",
        "-of",
        "-if",
        "-wd",
        "-workingdirectory",
        "-configurationname",
    )
    while j < len(argv):
        w = argv[j]
        lw = w.lower()
        if lw.startswith("/"):
            lw = "-" + lw[1:]
        if lw in ("-e", "-ec", "-en", "-enc") or (len(lw) > 3 and "-encodedcommand".startswith(lw)):
            if j + 1 < len(argv):
                script = decode_encoded_command(argv[j + 1])
                if script is not None:
                    mark = len(lx.st.recs)
                    lx._sub(script, "powershell -enc", None, "win")
                    rec.features = frozenset({"encoded"})
                    if len(lx.st.recs) == mark:
                        lx.st.recs.append(_Rec(script[:200], "", (), lx.st.new_pipeline(), 0, (), "powershell -enc"))
            return
        if lw in ("-c", "-co", "-com", "-comm") or (len(lw) > 2 and "-command".startswith(lw)):
            lx._sub(" ".join(argv[j + 1 :]), "powershell -c", None, "win")
            return
        if lw in value_opts:
            j += 2
            continue
        if lw.startswith("-"):
            j += 1
            continue
        lx._sub(" ".join(argv[j:]), "powershell -c", None, "win")
        return


# --- code inside interpreters --------------------------------------------------------------------------------
_PY_SHELL_CALLS = frozenset(
    {
        "system",
        "popen",
        "getoutput",
        "getstatusoutput",
        "check_output",
        "check_call",
        "call",
        "run",
        "Popen",
        "spawn",
        "popen2",
        "popen3",
    }
)
_PY_EXEC_CALLS = frozenset(
    {
        "execv",
        "execve",
        "execl",
        "execle",
        "execlp",
        "execvp",
        "execvpe",
        "execlpe",
        "spawnv",
        "spawnl",
        "spawnvp",
        "spawnlp",
        "posix_spawn",
        "posix_spawnp",
    }
)
_SCRIPT_FEATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "socket",
        (
            "socket",
            "fsockopen",
            "tcpsocket",
            "net.socket",
            "require('net')",
            'require("net")',
            "io::socket",
            "net.connect",
            "createconnection",
            "tcpclient",
            "pfsockopen",
            "stream_socket_client",
        ),
    ),
    ("pty", ("pty",)),
    ("dup2", ("dup2", "fdopen", "open(stdin", "open stdin", "reopen", ".pipe(", "$stdin.reopen")),
    (
        "exec",
        (
            "exec",
            "system(",
            "spawn",
            "popen",
            "proc_open",
            "passthru",
            "child_process",
            "shell_exec",
            "subprocess",
            "`",
            "%x(",
            "io.popen",
            "os.execute",
        ),
    ),
    ("shell", ("/bin/sh", "/bin/bash", "bin/sh", "sh -i", "bash -i", "cmd.exe", "/bin/zsh", "powershell")),
    (
        "download",
        (
            "urlopen",
            "urlretrieve",
            "requests.get",
            "lwp::simple",
            "getstore",
            "open-uri",
            "net::http",
            "http.get",
            "https.get",
            'file_get_contents("http',
            "file_get_contents('http",
            "fetch(",
            "urllib",
            "wget",
            "curl",
        ),
    ),
    (
        "decode",
        (
            "b64decode",
            "base64_decode",
            "decode_base64",
            "base64.decode",
            "atob(",
            'unpack("m',
            "unpack('m",
            "buffer.from(",
        ),
    ),
    ("eval", ("exec(", "eval(", "compile(", "create_function", "assert(")),
)
_SCRIPT_CALLS = (
    "system(",
    "exec(",
    "execsync(",
    "shell_exec(",
    "passthru(",
    "popen(",
    "spawn(",
    "spawnsync(",
    "proc_open(",
    "os.execute(",
    "io.popen(",
    "execute(",
    "do shell script ",
    "system ",
    "exec ",
)


def _scan_features(code: str) -> set[str]:
    low = code.lower()
    feats = {name for name, needles in _SCRIPT_FEATURES if any(x in low for x in needles)}
    if "fork" in low and ("while" in low or "loop" in low or "for(;;)" in low or "until" in low):
        feats.add("fork_loop")
    if "/inet/tcp/" in low or "/inet/udp/" in low:  # gawk network special files
        feats.add("socket")
        feats.add("shell")
    if "setuid(0)" in low or "setresuid(0" in low or "setreuid(0" in low:
        feats.add("setuid0")
    return feats


def _string_after(code: str, pos: int) -> str | None:
    """The string literal starting at or just after ``pos`` (skipping spaces, ``(`` and ``[``)."""
    n = len(code)
    while pos < n and code[pos] in " \t([":
        pos += 1
    if pos >= n:
        return None
    q = code[pos]
    if q not in "'\"`":
        if code.startswith(("q(", "q{", "qq(", "qq{", "%x(", "%q("), pos):
            start = code.find(code[code.find("(", pos) if "(" in code[pos : pos + 4] else pos], pos) + 1
            end = code.find(")" if "(" in code[pos : pos + 4] else "}", start)
            return code[start:end] if end > start else None
        return None
    out: list[str] = []
    i = pos + 1
    while i < n:
        c = code[i]
        if c == "\\" and i + 1 < n:
            out.append(code[i : i + 2])
            i += 2
            continue
        if c == q:
            return _ansi_c("".join(out)) if q == '"' else "".join(out).replace("\\'", "'")
        out.append(c)
        i += 1
    return None


def _script_strings(code: str, lang: str) -> list[str]:
    """Shell commands a script passes to ``system``/``exec``/backticks, found with a linear scan."""
    out: list[str] = []
    low = code.lower()
    for marker in _SCRIPT_CALLS:
        start = 0
        for _ in range(32):
            j = low.find(marker, start)
            if j < 0:
                break
            start = j + len(marker)
            lit = _string_after(code, start)
            if lit:
                out.append(lit)
    if lang in ("perl", "ruby", "php", "awk", "gawk"):
        start = 0
        for _ in range(32):
            j = code.find("`", start)
            if j < 0:
                break
            k = code.find("`", j + 1)
            if k < 0:
                break
            out.append(code[j + 1 : k])
            start = k + 1
    return out


def _py_str(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_py_str(v) or "" for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _py_str(node.left), _py_str(node.right)
        if left is not None or right is not None:
            return (left or "") + (right or "")
    return None


def _py_list(node: ast.AST) -> list[str] | None:
    if isinstance(node, (ast.List, ast.Tuple)):
        vals = [_py_str(e) for e in node.elts]
        return [v for v in vals if v is not None] or None
    return None


def _py_analyse(code: str) -> tuple[set[str], list[tuple[str, Any]]] | None:
    """Walk Python code: which capabilities it uses and which shell commands/argv it runs."""
    try:
        tree = ast.parse(code[:65536])
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    feats: set[str] = set()
    runs: list[tuple[str, Any]] = []
    loops: list[ast.AST] = []
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > 20_000:
            break
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] + (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            for m in mods:
                root = (m or "").split(".")[0]
                if root in ("socket", "pty", "subprocess", "requests", "urllib", "ctypes", "base64", "http"):
                    feats.add(
                        {
                            "urllib": "download",
                            "requests": "download",
                            "http": "download",
                            "base64": "decode",
                            "subprocess": "exec",
                        }.get(root, root)
                    )
        elif isinstance(node, (ast.While, ast.For)):
            loops.append(node)
        elif isinstance(node, ast.Call):
            f = node.func
            fname = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            args = node.args
            first = args[0] if args else None
            if fname in ("socket", "create_connection", "connect") and owner in ("socket", "s", ""):
                feats.add("socket")
            if fname == "dup2":
                feats.add("dup2")
            if fname == "spawn" and owner == "pty":
                feats.add("pty")
            if fname in ("exec", "eval", "compile") and not owner:
                feats.add("eval")
            if fname in ("b64decode", "decodebytes", "a85decode", "b32decode", "unhexlify", "fromhex"):
                feats.add("decode")
            if fname in ("urlopen", "urlretrieve") or (owner == "requests" and fname in ("get", "post")):
                feats.add("download")
            if fname == "fork":
                feats.add("fork")
            if fname in ("setuid", "seteuid", "setreuid", "setresuid") and any(
                isinstance(x, ast.Constant) and x.value == 0 for x in node.args
            ):
                feats.add("setuid0")
            if first is None:
                continue
            if fname in _PY_SHELL_CALLS or (fname == "spawn" and owner == "pty"):
                if fname != "spawn" or owner == "pty":
                    feats.add("exec")
                sval = _py_str(first)
                lval = _py_list(first)
                if sval is not None:
                    shell_kw = any(k.arg == "shell" for k in node.keywords)
                    if fname in ("system", "popen", "getoutput", "getstatusoutput") or shell_kw or " " in sval:
                        runs.append(("sh", sval))
                    else:
                        runs.append(("argv", [sval]))
                elif lval:
                    runs.append(("argv", lval))
            elif fname in _PY_EXEC_CALLS:
                feats.add("exec")
                lval = next((_py_list(a) for a in args[1:] if _py_list(a)), None)
                sval = _py_str(first)
                if fname.startswith(("execl", "spawnl")):  # varargs: execl(path, arg0, arg1, ...)
                    lval = [v for v in (_py_str(x) for x in args[1 + fname.startswith("spawn") :]) if v is not None]
                    lval = lval[:1] and [sval or lval[0], *lval[1:]]
                if lval:
                    runs.append(("argv", lval))
                elif sval:
                    runs.append(("argv", [sval]))
            elif fname in ("rmtree", "remove", "unlink", "rmdir", "removedirs") and owner in ("shutil", "os", ""):
                target = _py_str(first)
                if target is not None:
                    runs.append(("argv", ["rm", "-rf", target] if fname == "rmtree" else ["rm", target]))
            elif fname in ("chmod",) and owner == "os" and len(args) > 1:
                target = _py_str(first)
                mode = args[1]
                if target and isinstance(mode, ast.Constant) and isinstance(mode.value, int):
                    runs.append(("argv", ["chmod", oct(mode.value)[2:], target]))
            elif fname == "kill" and owner == "os" and len(args) > 1:
                pid = args[0]
                if isinstance(pid, ast.UnaryOp) and isinstance(pid.operand, ast.Constant):
                    runs.append(("argv", ["kill", "-9", "-" + str(pid.operand.value)]))
    for loop in loops:
        for sub in ast.walk(loop):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "fork":
                feats.add("fork_loop")
                break
    return feats, runs


def _interpret_code(lx: _Lexer, rec: _Rec, lang: str, code: str, via: str) -> None:
    """Record what a ``-c``/``-e`` script does: its features on ``rec`` and the commands it runs as records."""
    st = lx.st
    feats: set[str] = set()
    runs: list[tuple[str, Any]] = []
    py = _py_analyse(code) if lang in PYTHONS else None
    if py is not None:
        feats, runs = py
        feats |= {f for f in _scan_features(code) if f in ("shell", "fork_loop")}
    else:
        feats = _scan_features(code)
        runs = [("sh", s) for s in _script_strings(code, lang)]
    rec.features = rec.features | frozenset(feats)
    for kind, payload in runs[:64]:
        if kind == "sh":
            mark = len(st.recs)
            lx._sub(payload, via, None)
            for r in st.recs[mark:]:
                r.consumer = r.consumer or rec.name
        elif payload:
            words = [str(w) for w in payload]
            sub = _build(lx, " ".join(words), words, (), st.new_pipeline(), 0, via, (), "", False)
            sub.consumer = rec.name
            st.recs.append(sub)


# --- entry points -------------------------------------------------------------------------------------------
@lru_cache(maxsize=2048)
def _parse_cached(src: str, mode: str) -> tuple[tuple[_Rec, ...], bool]:
    st = _State()
    text = src
    if len(text) > MAX_SOURCE:
        text = text[:MAX_SOURCE]
        st.truncated = True
    try:
        _Lexer(text, st, 0, mode).parse_list("", "", "")
    except RecursionError:  # pragma: no cover - depth is capped; this is a last line of defence
        st.truncated = True
    return tuple(st.recs), st.truncated


def parse(src: str, mode: str = "sh") -> tuple[list[tuple[Any, ...]], bool]:
    """Parse one command line without an ``Analysis``: ``(records as tuples, truncated)`` (for tools/tests)."""
    recs, truncated = _parse_cached(src, mode) if len(src) <= 8192 else _parse_uncached(src, mode)
    return [(r.name, r.argv, r.via, r.pipeline, r.stage, r.redirects) for r in recs], truncated


def _parse_uncached(src: str, mode: str) -> tuple[tuple[_Rec, ...], bool]:
    return _parse_cached.__wrapped__(src, mode)


_SHELL_TOOL_WORDS = frozenset(
    {
        "shell",
        "exec",
        "execute",
        "bash",
        "terminal",
        "powershell",
        "pwsh",
        "subprocess",
        "system",
        "cmd",
        "command",
        "commands",
        "sh",
        "zsh",
        "console",
        "run_command",
        "runcommand",
        "ssh",
        "cli",
        "script",
        "process",
        "spawn",
        "os",
    }
)
_CODE_TOOL_WORDS = frozenset({"python", "ipython", "jupyter", "notebook", "code_interpreter", "interpreter"})
COMMAND_KEYS = vocab.words("command_keys")
CODE_KEYS = frozenset({"code", "source", "program", "snippet", "python", "python_code", "source_code"})
_NON_COMMAND_KEYS = vocab.words("non_command_keys")
# Free text meant for people, and search terms: never guessed to be a command (a key or tool that names a command
# still counts).
_PROSE_KEYS = vocab.words("prose_keys") | vocab.words("search_keys")
_LIST_KEYS = ("argv", "args", "arguments", "command", "cmd", "commandline", "command_line", "cmdline")
_LIST_KEYS_SET = frozenset(_LIST_KEYS)
_PROGRAM_KEYS = ("command", "cmd", "program", "executable", "binary", "bin", "exe", "path")
_KNOWN_PROGRAMS = frozenset(
    SHELLS
    | PYTHONS
    | SCRIPTERS
    | POWERSHELLS
    | DOWNLOADERS
    | NETWORK_TOOLS
    | _WRAPPERS
    | {
        "rm",
        "rmdir",
        "dd",
        "mkfs",
        "shred",
        "chmod",
        "chown",
        "chgrp",
        "find",
        "kill",
        "killall",
        "pkill",
        "crontab",
        "systemctl",
        "service",
        "shutdown",
        "reboot",
        "halt",
        "poweroff",
        "init",
        "insmod",
        "rmmod",
        "modprobe",
        "iptables",
        "ip6tables",
        "nft",
        "ufw",
        "setenforce",
        "history",
        "unset",
        "export",
        "echo",
        "printf",
        "cat",
        "tee",
        "cp",
        "mv",
        "ln",
        "truncate",
        "useradd",
        "usermod",
        "adduser",
        "groupadd",
        "passwd",
        "chpasswd",
        "visudo",
        "setcap",
        "docker",
        "podman",
        "kubectl",
        "nsenter",
        "su",
        "mkfifo",
        "cmd",
        "del",
        "rd",
        "format",
        "reg",
        "schtasks",
        "wevtutil",
        "certutil",
        "bitsadmin",
        "mshta",
        "regsvr32",
        "rundll32",
        "vssadmin",
        "bcdedit",
        "net",
        "sc",
        "launchctl",
        "base64",
        "xxd",
        "eval",
        "wipefs",
        "fdisk",
        "parted",
        "mkswap",
        "journalctl",
        "auditctl",
        "chattr",
        "mount",
        "sed",
        "ssh",
        "scp",
        "git",
        "npm",
        "pip",
        "pip3",
        "make",
        "sysctl",
        "gpasswd",
        "userdel",
        "ls",
        "iex",
        "invoke-expression",
        "remove-item",
        "set-mppreference",
        "new-object",
        "start-process",
        "at",
        "update-rc.d",
        "chkconfig",
        "telinit",
        "wall",
        "source",
        ".",
        "install",
        "tar",
        "unzip",
        "zip",
    }
)


def is_shell_tool(tool_key: str) -> bool:
    """True when a tool's name says it runs commands (``run_shell``, ``bash``, ``execute_command`` ...)."""
    return _tool_kind(tool_key) == "shell"


@lru_cache(maxsize=1024)
def _tool_kind(tool_key: str) -> str:
    key = tool_key.lower()
    if "run_command" in key or "runcommand" in key or "execute_command" in key:
        return "shell"
    parts: list[str] = []
    cur: list[str] = []
    for ch in tool_key:
        if ch.isalnum():
            if ch.isupper() and cur and cur[-1].islower():
                parts.append("".join(cur))
                cur = []
            cur.append(ch)
        else:
            if cur:
                parts.append("".join(cur))
            cur = []
    if cur:
        parts.append("".join(cur))
    words = {p.lower() for p in parts}
    if words & _CODE_TOOL_WORDS:
        return "code"
    if words & _SHELL_TOOL_WORDS:
        return "shell"
    return ""


#: Options that make a program print its usage or version and exit, whatever else it would do.
HELP_OPTIONS = frozenset({"-h", "--help", "-V", "--version", "--usage", "-?"})


def only_help(c: Command) -> bool:
    """Whether ``c`` asks only for its program's usage or version (``aa-teardown -h``): it changes nothing."""
    return len(c.argv) > 1 and HELP_OPTIONS.issuperset(c.argv[1:])


def looks_like_command(s: str) -> bool:
    """Cheap test for free text: the first word is a program we care about and shell structure follows."""
    if len(s) < 4:
        return False
    parts = s[:256].split(None, 1)
    if len(parts) < 2:
        return False
    low = parts[0].lower()
    if low not in _KNOWN_PROGRAMS:
        low = program_name(low.strip("'\"()"))
        if low not in _KNOWN_PROGRAMS:
            return False
    rest = s[:4096]
    if any(ch in rest for ch in "|;&$`<>"):
        return True
    return any(w[:1] == "-" or w[:1] == "/" or w[:2] == "~/" for w in rest.split()[1:16])


def posix_norm(path: str) -> str:
    """Collapse ``//``, ``/./`` and ``..`` in a POSIX path (``..`` stops at ``/``); keeps a leading ``~``."""
    if not path:
        return path
    absolute = path.startswith("/")
    parts: list[str] = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts and parts[-1] not in ("..", "~"):
                parts.pop()
            elif not absolute:
                parts.append("..")
            continue
        parts.append(p)
    out = "/".join(parts)
    return "/" + out if absolute else (out or ".")


# Programs that exist only on Windows: a line starting with one is read with Windows quoting (``\`` is literal).
_WIN_FIRST = vocab.words("windows_programs")


def _mode_for(text: str, tool_key: str) -> str:
    if "powershell" in tool_key or "pwsh" in tool_key or tool_key in ("cmd", "cmd_exe", "run_cmd"):
        return "win"
    head = text[:64].split(None, 1)
    if not head:
        return "sh"
    first = head[0]
    low = first.lower()
    if low in _WIN_FIRST or low.startswith(("invoke-", "iex(")):
        return "win"
    if first[:1].isupper() and "-" in first and first.replace("-", "").isalpha():
        return "win"  # a PowerShell Verb-Noun cmdlet such as Remove-Item or Set-MpPreference
    return "sh"


@lru_cache(maxsize=2048)
def _rows(recs: tuple[_Rec, ...], via_prefix: str) -> tuple[tuple[tuple[Any, ...], ...], int]:
    """The field values of each record's ``Command`` (all but ``text``) and the number of pipelines used."""
    rows = []
    top = 0
    for r in recs:
        via = r.via
        if via_prefix:
            via = via_prefix if not via else f"{via_prefix}+{via}"
        rows.append((r.raw, r.name, r.argv, r.pipeline, r.stage, r.redirects, via, r.wrappers, r.assigns,
                     r.consumer, r.features, r.function, r.background))  # fmt: skip
        top = max(top, r.pipeline + 1)
    return tuple(rows), top


def _records_for(src: str, mode: str) -> tuple[tuple[_Rec, ...], bool]:
    if len(src) <= 8192:
        return _parse_cached(src, mode)
    return _parse_uncached(src, mode)


def _python_records(code: str) -> tuple[tuple[_Rec, ...], bool] | None:
    if _py_analyse(code) is None:
        return None
    return _records_for_python(code)


@lru_cache(maxsize=512)
def _records_for_python(code: str) -> tuple[tuple[_Rec, ...], bool]:
    st = _State()
    lx = _Lexer("", st, 0, "sh")
    rec = _Rec(code[:200], "python", ("python", "-c", code), st.new_pipeline(), 0, (), "code")
    _interpret_code(lx, rec, "python", code, "python")
    st.recs.insert(0, rec)
    return tuple(st.recs), st.truncated


def _records_for_argv(words: list[str]) -> tuple[_Rec, ...]:
    st = _State()
    lx = _Lexer("", st, 0, "sh")
    rec = _build(lx, " ".join(words), words, (), st.new_pipeline(), 0, "", (), "", False)
    return (rec, *st.recs)


def commands_of(a: Analysis) -> list[Command]:
    """Every command in the call's command-like arguments (see ``parse_commands``)."""
    return parse_commands(a)[0]


def parse_commands(a: Analysis) -> tuple[list[Command], bool]:
    """Every command in the call's command-like arguments (see the module doc for how texts are chosen), and
    whether some text was too large or complex to parse completely.

    A text is parsed when its key names a command (``command``, ``cmd``, ``script`` ...), when the tool runs
    commands (``run_shell``, ``bash``, ``execute_command`` ...) or when it starts with a known program followed
    by shell structure. Decoded readings of those texts are parsed too (``via='decoded'``).
    """
    kind = _tool_kind(a.tool_key)
    out: list[Command] = []
    offset = 0
    skip_paths: set[str] = set()
    truncated = False

    def emit(text: Text, recs: tuple[_Rec, ...], via_prefix: str = "") -> None:
        nonlocal offset
        rows, count = _rows(recs, via_prefix)
        if offset:
            for r in rows:
                out.append(Command._make((text, *r[:3], r[3] + offset, *r[4:])))
        else:
            for r in rows:
                out.append(Command._make((text, *r)))
        offset += count

    # argv given as a list: {"command": "rm", "args": ["-rf", "/"]} or {"argv": ["rm", "-rf", "/"]}
    args = a.args
    list_keys = [k for k in _LIST_KEYS if k in args] if args and not _LIST_KEYS_SET.isdisjoint(args) else []
    for key in list_keys:
        val = args.get(key)
        if not isinstance(val, list) or not val or not all(isinstance(v, str) for v in val[:64]):
            continue
        words = [v for v in val[:256] if isinstance(v, str)]
        prefix = ""
        for pk in _PROGRAM_KEYS:
            pv = args.get(pk)
            if pk != key and isinstance(pv, str) and pv and " " not in pv.strip():
                prefix = pv.strip()
                skip_paths.add(pk)
                break
        if prefix:
            words = [prefix, *words]
        elif key in ("args", "arguments") and kind != "shell" and program_name(words[0]) not in _KNOWN_PROGRAMS:
            continue
        src_text = next((t for t in a.texts if t.path.startswith(key + "[")), None)
        if src_text is None:
            continue
        skip_paths.add(key)
        emit(src_text, _records_for_argv(words))
        break
    for t in a.texts:
        if t.is_key:
            continue
        if skip_paths:
            root = t.path.split("[", 1)[0].split(".", 1)[0]
            if root in skip_paths and (t.path == root or t.path.startswith(root + "[")):
                continue
        key = t.key
        strong = key in COMMAND_KEYS or (kind == "shell" and key not in _NON_COMMAND_KEYS)
        code = key in CODE_KEYS or (kind == "code" and key not in _NON_COMMAND_KEYS)
        norm = t.norm
        if code:
            py = _python_records(norm)
            if py is not None:
                emit(t, py[0])
                truncated = truncated or py[1]
                continue
            strong = True
        if strong or (key not in _PROSE_KEYS and looks_like_command(norm)):
            recs, cut = _records_for(norm, _mode_for(norm, a.tool_key))
            truncated = truncated or cut
            emit(t, recs)
        for v in t.variants[1:]:
            if (strong and len(v) < 65536) or (key not in _PROSE_KEYS and looks_like_command(v)):
                recs, cut = _records_for(v, _mode_for(v, a.tool_key))
                truncated = truncated or cut
                emit(t, recs, "decoded")
    return out, truncated


MAX_CODE_COMMANDS = 64  # command lines started by code that are parsed per call; the rest set ``truncated``


def code_commands(pieces: Iterable[CodeText], known: list[Command]) -> tuple[list[Command], bool]:
    """The command lines that JavaScript and PowerShell code starts (``child_process.exec``, ``spawn('rm', [...])``,
    ``Start-Process``, ``[Diagnostics.Process]::Start``, ``cmd /c``), parsed as shell commands so every shell rule
    judges them; ``via`` names the language and the call. Python is left out: the shell view reads the processes
    Python starts itself. Lines already parsed from the same text (``node -e`` scanned as shell) are not repeated.
    Returns the new commands (pipelines numbered after ``known``'s) and whether a bound cut the work short."""
    out: list[Command] = []
    offset = max((c.pipeline for c in known), default=-1) + 1
    seen = {(id(c.text), c.raw.strip()) for c in known}
    truncated = False
    count = 0
    for ct in pieces:
        if ct.language == "python":
            continue
        for sp in ct.facts.spawns:
            line = (sp.command or "").strip()
            if not line or (id(ct.text), line) in seen:
                continue
            seen.add((id(ct.text), line))
            count += 1
            if count > MAX_CODE_COMMANDS:
                return out, True
            mode = "win" if ct.language == "powershell" else _mode_for(line, "")
            recs, cut = _records_for(line, mode)
            truncated = truncated or cut
            rows, used = _rows(recs, f"{ct.language} {sp.api}")
            for r in rows:
                out.append(Command._make((ct.text, *r[:3], r[3] + offset, *r[4:])))
            offset += used
    return out, truncated


# --- helpers for the checks ---------------------------------------------------------------------------------
_WRITE_OPS = (">", ">>", ">|", "&>", "&>>", "<>")


def reads_stdin(cmd: Command) -> bool:
    """True when the command runs the code it reads on stdin (``sh``, ``bash -s``, ``python -``, ``iex``)."""
    return _reads_stdin(cmd)


def split_options(argv: tuple[str, ...], with_value: frozenset[str] = frozenset()) -> tuple[set[str], list[str]]:
    """Split ``argv[1:]`` into option names and operands: ``-rf`` gives ``r`` and ``f``; ``--force`` stays whole.

    Options named in ``with_value`` consume the next word; ``--`` ends the options.
    """
    opts: set[str] = set()
    operands: list[str] = []
    skip = False
    ended = False
    for w in argv[1:]:
        if skip:
            skip = False
            continue
        if ended or w == "-" or not w.startswith("-"):
            operands.append(w)
            continue
        if w == "--":
            ended = True
            continue
        if w.startswith("--"):
            name = w.split("=", 1)[0].lower()
            opts.add(name)
            if name in with_value and "=" not in w:
                skip = True
            continue
        if w in with_value:
            opts.add(w)
            skip = True
            continue
        opts.update(w[1:])
        opts.add(w)
    return opts, operands


def write_targets(cmd: Command) -> list[str]:
    """Files a command writes: write redirections, ``tee``, ``cp``/``mv``/``install``/``ln`` destinations,
    ``dd of=``, ``sed -i`` and ``truncate`` operands, PowerShell ``Set-Content``/``Out-File``."""
    out = [t for op, t in cmd.redirects if op.lstrip("0123456789").endswith(_WRITE_OPS) and not t.isdigit()]
    name, argv = cmd.name, cmd.argv
    if name == "tee":
        out.extend(w for w in argv[1:] if not w.startswith("-"))
    elif name in (
        "cp",
        "mv",
        "install",
        "ln",
        "rsync",
        "scp",
        "copy",
        "move",
        "xcopy",
        "robocopy",
        "copy-item",
        "move-item",
    ):
        _opts, ops = split_options(argv, frozenset({"-t", "--target-directory", "-m", "--mode", "-S", "-o", "-g"}))
        for j, w in enumerate(argv):
            if w in ("-t", "--target-directory") and j + 1 < len(argv):
                out.append(argv[j + 1])
            elif w.startswith("--target-directory="):
                out.append(w.split("=", 1)[1])
        if len(ops) >= 2 or (name == "ln" and ops):
            out.append(ops[-1])
    elif name == "dd":
        out.extend(w[3:] for w in argv[1:] if w.startswith("of="))
    elif name == "sed" and any(w.startswith("-i") or w.startswith("--in-place") for w in argv[1:]):
        _opts, ops = split_options(argv, frozenset({"-e", "-f", "--expression", "--file"}))
        has_script = any(w in ("-e", "--expression", "-f", "--file") for w in argv)
        out.extend(ops if has_script else ops[1:])
    elif name in ("truncate", "touch"):
        if name == "truncate":
            _opts, ops = split_options(argv, frozenset({"-s", "--size", "-r", "--reference"}))
            out.extend(ops)
    elif name in ("set-content", "add-content", "out-file", "sc", "ac", "new-item"):
        for j, w in enumerate(argv[1:], 1):
            lw = w.lower()
            if lw in ("-path", "-filepath", "-literalpath") and j + 1 < len(argv):
                out.append(argv[j + 1])
        if len(out) == 0 and len(argv) > 1 and not argv[1].startswith("-"):
            out.append(argv[1])
    return out


def home_relative(path: str) -> str | None:
    """``~/x``, ``$HOME/x`` (expanded to ``/home/user/x``), ``/home/<u>/x``, ``/root/x``, ``/Users/<u>/x``
    -> ``x`` (``""`` for the home directory itself); None when the path is not in a home directory."""
    p = path.replace("\\", "/")
    if p == "~" or p.startswith("~/"):
        return posix_norm("/" + p[2:]).lstrip("/") if len(p) > 2 else ""
    if p.startswith("~") and "/" in p:  # ~user/x
        return posix_norm("/" + p.split("/", 1)[1]).lstrip("/")
    if p.startswith("~"):
        return ""
    if not p.startswith("/"):
        return None
    n = posix_norm(p)
    parts = n.split("/")
    if len(parts) >= 2 and parts[1] == "root":
        return "/".join(parts[2:])
    if len(parts) >= 3 and parts[1] in ("home", "Users"):
        return "/".join(parts[3:])
    return None


# --- socat's addresses ----------------------------------------------------------------------------------------

_SOCAT_TYPES = vocab.mapping("socat_address_types")
#: socat options that take the next word as their value (``-lf LOGFILE``, ``-r DUMPFILE``): that word is no address.
_SOCAT_VALUE_OPTIONS = frozenset({"-lf", "-lp", "-b", "-t", "-T", "-L", "-W", "-r", "-R"})


class SocatAddress(NamedTuple):
    """One of socat's two addresses: what it reaches (``kind``: file, network, exec, stdio or other, as
    ``_vocab/socat_address_types.tsv`` names them), what it names (a path, ``host:port``, a command), and whether
    socat reads from it (``sends``: the data goes to the other address) and writes to it (``receives``)."""

    kind: str
    target: str
    sends: bool
    receives: bool


def _socat_address(word: str) -> tuple[str, str]:
    """(kind, target) of one socat address word: ``TYPE:PARAMS,OPTIONS``, a bare path, ``-`` or a file number."""
    head, _, rest = word.partition(":")
    kind = _SOCAT_TYPES.get(head.split(",", 1)[0].lower())
    if kind is not None:
        return kind, rest.split(",", 1)[0] if kind in ("file", "network", "other") else rest
    if word == "-" or word.split(",", 1)[0].isdigit():
        return "stdio", ""
    if "/" in word:
        return "file", word.split(",", 1)[0]
    return "other", word


def socat_addresses(argv: Sequence[str]) -> tuple[SocatAddress, ...]:
    """socat's two addresses with the direction of the data (``-u``: the first to the second only; ``-U``: the
    second to the first; else both ways); ``()`` when the words hold fewer than two."""
    words: list[str] = []
    skip = False
    for w in argv[1:]:
        if skip:
            skip = False
        elif w in _SOCAT_VALUE_OPTIONS:
            skip = True
        elif w == "-" or not w.startswith("-"):
            words.append(w)
            if len(words) == 2:
                break
    if len(words) < 2:
        return ()
    forward, backward = "-U" not in argv, "-u" not in argv  # data from the first to the second; the reverse
    first, second = _socat_address(words[0]), _socat_address(words[1])
    return (
        SocatAddress(first[0], first[1], forward, backward),
        SocatAddress(second[0], second[1], backward, forward),
    )
