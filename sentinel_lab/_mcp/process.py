"""The tool server's process: started in its own session and contained, so that no descendant outlives the proxy.

Why: a tool server may start helpers, and a helper that calls ``setsid`` and double-forks (a daemon) leaves the
server's process group and session; killing the group alone leaves it running with the server's privileges after
the proxy is gone. What holds, by platform and mechanism (the first available one is used):

- **Linux, cgroup v2** (``cgroup.kill``, kernel 5.14+; else ``cgroup.freeze`` then SIGKILL each member): the server
  is moved into a fresh child cgroup of the proxy's own cgroup in the forked child before ``exec``, so it and every
  later descendant are in it and cannot leave without write access to a cgroup outside it. The proxy's watchdog
  kills the whole cgroup and removes the directory when the proxy's pipe closes: on normal shutdown, after the
  server crashes and after ``kill -9`` of the proxy. Nothing escapes, ``setsid`` included.
- **Linux, cgroup v1 freezer** (no writable cgroup v2): the same with the freezer cgroup (freeze, SIGKILL every
  member, thaw, until empty), so a member cannot fork while it is being killed.
- **Linux without a writable cgroup** (unprivileged, no delegation): the proxy becomes a child subreaper
  (``PR_SET_CHILD_SUBREAPER``), so orphaned descendants, daemons included, are re-parented to it instead of to
  init, and the watchdog tracks the server's process tree, its session and the proxy's adopted orphans by scanning
  ``/proc`` every :data:`TRACK_INTERVAL` seconds (pid and start time, so a reused pid is never hit). On shutdown
  and after a server crash the tree is intact and everything is stopped (SIGSTOP until no new member appears) and
  then SIGKILLed. Remaining gap: after ``kill -9`` of the proxy its orphans are re-parented to init, so a daemon
  that detached within the last tracking interval before the proxy died can survive.
- **Every POSIX platform** (macOS, BSD): the server runs in its own session and process group, which the proxy and
  the watchdog SIGKILL; a descendant that calls ``setsid`` or ``setpgid`` escapes. ``PR_SET_PDEATHSIG`` is
  Linux-only; elsewhere the server learns of the proxy's death from its stdin closing.
- **Windows**: only the server process itself is terminated (no group, no watchdog); a Job Object would be needed.

``SENTINEL_LAB_CONTAINMENT=process`` skips the cgroup mechanisms (the subreaper and tracking fallback is used).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import select
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sentinel_lab._core.errors import ProxyError

__all__ = [
    "TRACK_INTERVAL",
    "Cgroup",
    "ServerProcess",
    "Watchdog",
    "signal_group",
    "spawn_server",
    "stop_server",
    "unchanged_environment",
    "wait_exit",
]

TRACK_INTERVAL = 0.2
"""Seconds between two scans of ``/proc`` by the watchdog when no cgroup contains the server."""

_CONTAINMENT_ENV = "SENTINEL_LAB_CONTAINMENT"
_PREFIX = "sentinel-lab-"
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A pre-exec hook that makes the child receive SIGKILL when the process that spawned it dies (Linux)."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the proxy died before prctl took effect
            os._exit(137)

    return preexec


# ---------------------------------------------------------------------------------------------------- cgroups


def _unescape_mount(field: str) -> str:
    """Decode the octal escapes (``\\040`` for a space) of a ``/proc/self/mountinfo`` field."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(root, mount point, fstype, super options) of every mount, from ``/proc/self/mountinfo``."""
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        found.append((_unescape_mount(fields[3]), _unescape_mount(fields[4]), tail[0], set(tail[2].split(","))))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per hierarchy: key ``""`` for cgroup v2, else the v1 controller names."""
    own: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return own
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                own[name] = parts[2]
    return own


def _write(path: str, data: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as fh:
        return fh.read()


@dataclass(frozen=True)
class Cgroup:
    """A cgroup directory created for one tool server: ``kind`` is ``"v2"`` or ``"freezer"`` (cgroup v1)."""

    path: str
    kind: str

    @classmethod
    def create(cls, kinds: Sequence[str] = ("v2", "freezer")) -> Cgroup | None:
        """A new empty child of this process's own cgroup (of the first of ``kinds`` allowed), or None."""
        if not sys.platform.startswith("linux") or os.environ.get(_CONTAINMENT_ENV, "").strip() == "process":
            return None
        own = _own_cgroups()
        mounts = _mounts()
        candidates: list[tuple[str, str]] = []
        for root, point, fstype, _opts in mounts:
            if fstype == "cgroup2" and "" in own:
                candidates.append((cls._join(root, point, own[""]), "v2"))
        for root, point, fstype, opts in mounts:
            if fstype == "cgroup" and "freezer" in opts and "freezer" in own:
                candidates.append((cls._join(root, point, own["freezer"]), "freezer"))
        for parent, kind in candidates:
            if kind not in kinds or not os.path.isdir(parent):
                continue
            _remove_stale(parent, kind)
            path = os.path.join(parent, f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.mkdir(path)
            except OSError:
                continue
            group = cls(path, kind)
            if os.access(os.path.join(path, "cgroup.procs"), os.W_OK):
                return group
            group.remove()
        return None

    @staticmethod
    def _join(root: str, point: str, own: str) -> str:
        """The directory of cgroup ``own`` under a mount of hierarchy subtree ``root`` at ``point``."""
        rel = own
        if root != "/" and (own == root or own.startswith(root.rstrip("/") + "/")):
            rel = own[len(root) :]
        return os.path.normpath(point + "/" + rel.lstrip("/"))

    def join(self) -> None:
        """Move the calling process into this cgroup (called in the forked child before ``exec``)."""
        _write(os.path.join(self.path, "cgroup.procs"), str(os.getpid()))

    def pids(self) -> list[int]:
        """The pids of the member processes (empty if the directory is gone)."""
        try:
            return [int(p) for p in _read(os.path.join(self.path, "cgroup.procs")).split()]
        except (OSError, ValueError):
            return []

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every member, fork races included; True once the cgroup is empty."""
        deadline = time.monotonic() + timeout
        kill_file = os.path.join(self.path, "cgroup.kill")
        while self.pids():
            if self.kind == "v2" and os.path.exists(kill_file):
                with contextlib.suppress(OSError):
                    _write(kill_file, "1")
            else:
                frozen = self._freeze(True, deadline)
                for pid in self.pids():
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                if frozen:
                    self._freeze(False, deadline)
            if time.monotonic() >= deadline:
                return not self.pids()
            time.sleep(0.005)
        return True

    def _freeze(self, on: bool, deadline: float) -> bool:
        """Freeze (or thaw) the members so none can fork while they are killed; False if freezing is unavailable."""
        if self.kind == "v2":
            control, value, state_file, want = "cgroup.freeze", "1" if on else "0", "cgroup.events", "frozen 1"
        else:
            control, value, state_file, want = "freezer.state", "FROZEN" if on else "THAWED", "freezer.state", "FROZEN"
        try:
            _write(os.path.join(self.path, control), value)
        except OSError:
            return False
        while on and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if want in _read(os.path.join(self.path, state_file)):
                    break
            time.sleep(0.002)
        return True

    def remove(self) -> None:
        """Delete the (empty) cgroup directory; members still alive are killed first."""
        for _ in range(200):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    return
            if self.kind == "freezer":
                self._freeze(False, time.monotonic() + 0.1)
            self.kill(0.5)
            time.sleep(0.005)


def _remove_stale(parent: str, kind: str) -> None:
    """Kill and remove cgroups this module left under ``parent`` whose proxy is gone (its watchdog died too)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        owner = name[len(_PREFIX) :].split("-", 1)[0]
        if not owner.isdigit():
            continue
        try:
            os.kill(int(owner), 0)
            continue
        except ProcessLookupError:
            pass
        except OSError:
            continue
        Cgroup(os.path.join(parent, name), kind).remove()


# ---------------------------------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class _Stat:
    ppid: int
    pgid: int
    sid: int
    start: int
    alive: bool


def _proc_table() -> dict[int, _Stat]:
    """Every visible process's parent, group, session, start time and liveness, read from ``/proc``."""
    table: dict[int, _Stat] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) < 20:
            continue
        try:
            table[int(name)] = _Stat(
                int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), fields[0] not in (b"Z", b"X")
            )
        except ValueError:
            continue
    return table


class _Tracker:
    """The server's descendants by pid and start time, kept while the proxy lives (no cgroup available)."""

    def __init__(self, proxy: int, server: int, adopting: bool, exclude: Iterable[int]) -> None:
        self.proxy, self.server, self.adopting = proxy, server, adopting
        self.exclude = set(exclude)
        table = _proc_table()
        self.server_start = table[server].start if server in table else -1
        # children the proxy had before the server: never adopted orphans
        self.exclude |= {pid for pid, st in table.items() if st.ppid == proxy and pid != server}
        self.known: dict[int, int] = {}

    def scan(self, table: dict[int, _Stat] | None = None) -> dict[int, _Stat]:
        """Add every live descendant of the server (and adopted orphan, and member of its session) to ``known``."""
        table = _proc_table() if table is None else table
        known = {pid: start for pid, start in self.known.items() if pid in table and table[pid].start == start}
        server_alive = self.server in table and table[self.server].start == self.server_start
        if server_alive:
            known[self.server] = self.server_start
        children: dict[int, list[int]] = {}
        for pid, st in table.items():
            children.setdefault(st.ppid, []).append(pid)
            if server_alive and st.sid == self.server and pid not in self.exclude:
                known[pid] = st.start  # the server's session, even once re-parented
        if self.adopting:
            for pid in children.get(self.proxy, ()):
                if pid not in self.exclude and table[pid].start >= self.server_start:
                    known[pid] = table[pid].start
        todo = list(known)
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in known and child not in self.exclude:
                    known[child] = table[child].start
                    todo.append(child)
        self.known = known
        return table

    def kill(self, rounds: int = 100) -> None:
        """Stop every tracked process until no new one appears (none can fork meanwhile), then SIGKILL them all."""
        stopped: set[int] = set()
        for _ in range(rounds):
            table = self.scan()
            fresh = [pid for pid in self.known if pid not in stopped and table[pid].alive and pid != os.getpid()]
            if not fresh:
                break
            for pid in fresh:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)
                stopped.add(pid)
        table = _proc_table()
        for pid, start in self.known.items():
            if pid in table and table[pid].start == start and pid != os.getpid():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------------- spawn


class ServerProcess(subprocess.Popen[bytes]):
    """The tool server's ``Popen``, with what contains it: its cgroup, if any, and whether orphans are adopted."""

    cgroup: Cgroup | None = None
    adopting: bool = False
    by_pid: ClassVar[weakref.WeakValueDictionary[int, ServerProcess]] = weakref.WeakValueDictionary()


def _become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux 3.4+); True on success."""
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def spawn_server(
    command: Sequence[str], env: dict[str, str] | None = None, *, adopt_orphans: bool = False, cwd: str | None = None
) -> ServerProcess:
    """Start the tool server in its own session, in a fresh cgroup when one can be made, bound to this process.

    ``adopt_orphans`` (used by the proxy, whose only children are the server and its watchdog): when no cgroup is
    available, make this process a subreaper so the server's detached descendants stay within reach. ``cwd``: the
    server's working directory (default: this process's).
    """
    if not command:
        raise ProxyError("no tool server command given (put it after '--')")
    if os.name != "posix":  # pragma: no cover - Windows
        return _popen(command, env, {})
    group = Cgroup.create()
    death = _pdeathsig_preexec()

    def preexec() -> None:  # in the child, between fork and exec: nothing has been forked from it yet
        if group is not None:
            group.join()  # raises on failure: Popen then reports SubprocessError and we retry without it
        if death is not None:
            death()

    kwargs: dict[str, Any] = {"start_new_session": True, "preexec_fn": preexec}
    if cwd is not None:
        kwargs["cwd"] = cwd
    try:
        proc = _popen(command, env, kwargs)
    except subprocess.SubprocessError:
        if group is None:
            raise ProxyError(f"cannot start tool server {command[0]!r}") from None
        group.remove()
        group = None  # the pre-exec hook reads it late: the retry runs without the cgroup
        proc = _popen(command, env, kwargs)
    except ProxyError:
        if group is not None:
            group.remove()
        raise
    proc.cgroup = group
    if group is None and adopt_orphans:
        proc.adopting = _become_subreaper()
    ServerProcess.by_pid[proc.pid] = proc
    return proc


def unchanged_environment() -> dict[str, str] | None:
    """The environment this process was started with, for the tool server (None: inherit ``os.environ`` as is).

    Python itself adds ``LC_CTYPE`` to its environment at start-up when the locale is C or POSIX (PEP 538 locale
    coercion), so a server started with the inherited environment would see a variable its host never set. On
    Linux ``/proc/self/environ`` still holds the environment as it was at ``exec``: a ``LC_CTYPE`` missing there
    was added by the interpreter and is removed again (one the interpreter rewrote, ``C`` to ``C.UTF-8``, gets its
    value back); every other variable is passed exactly as inherited.
    """
    if "LC_CTYPE" not in os.environ or not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/environ", "rb") as handle:
            initial = handle.read()
    except OSError:
        return None
    given = [entry[9:] for entry in initial.split(b"\0") if entry.startswith(b"LC_CTYPE=")]
    value = os.fsdecode(given[-1]) if given else None
    if value == os.environ["LC_CTYPE"]:
        return None
    env = dict(os.environ)
    if value is None:
        del env["LC_CTYPE"]
    else:  # LC_CTYPE=C or POSIX coerced to a UTF-8 locale: the server gets what the host set
        env["LC_CTYPE"] = value
    return env


def _popen(command: Sequence[str], env: dict[str, str] | None, kwargs: dict[str, Any]) -> ServerProcess:
    if env is None:
        env = unchanged_environment()
    try:
        return ServerProcess(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env, bufsize=0, **kwargs
        )
    except OSError as exc:
        raise ProxyError(f"cannot start tool server {command[0]!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------- watchdog


class Watchdog:
    """A forked process that kills everything the tool server started as soon as the proxy's pipe closes.

    The proxy holds the only write end of a pipe; the watchdog (in its own session, so a signal to the proxy's
    group spares it) blocks on the read end. ``arm`` tells it the server's pid, group and cgroup; ``disarm`` (the
    proxy reaped the server) or the proxy's death (``kill -9`` included) closes the pipe. It then kills the cgroup
    and removes it, or, without one, kills the tracked process tree; the server's group is SIGKILLed too unless
    the proxy disarmed it (the server was reaped, so the group id may already belong to someone else).
    """

    def __init__(self) -> None:
        self.write_fd = -1
        self.pid = 0
        if not hasattr(os, "fork"):  # pragma: no cover - non-POSIX
            return
        proxy = os.getpid()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the watchdog
            try:
                os.close(write_fd)
                with contextlib.suppress(OSError):
                    os.closerange(0, read_fd)
                    os.closerange(read_fd + 1, 65536)
                with contextlib.suppress(OSError):
                    os.setsid()
                self._watch(read_fd, proxy)
            finally:
                os._exit(0)
        os.close(read_fd)
        os.set_inheritable(write_fd, False)
        self.write_fd, self.pid = write_fd, pid

    @staticmethod
    def _watch(read_fd: int, proxy: int) -> None:
        """The watchdog's body: read orders until the pipe closes, tracking the server's tree if it has no cgroup."""
        data = b""
        tracker: _Tracker | None = None
        while True:
            timeout = TRACK_INTERVAL if tracker is not None else None
            try:
                ready, _, _ = select.select([read_fd], [], [], timeout)
                chunk = os.read(read_fd, 4096) if ready else None
            except InterruptedError:
                continue
            if chunk == b"":
                break
            if chunk:
                data += chunk
                lines = data.split(b"\n")
                if tracker is None and len(lines) > 1:
                    tracker = Watchdog._tracker(lines[0], proxy)
            if tracker is not None:
                tracker.scan()
        lines = data.split(b"\n")
        fields = lines[0].decode("utf-8", "replace").split("\t")
        done = b"done" in lines[1:]
        if len(fields) >= 4 and fields[2]:
            Cgroup(fields[3], fields[2]).remove()  # every descendant, whatever its group: the group kill is moot
            return
        if fields[0].isdigit() and not done:
            with contextlib.suppress(OSError):
                os.killpg(int(fields[0]), signal.SIGKILL)
        if tracker is not None:
            tracker.kill()

    @staticmethod
    def _tracker(line: bytes, proxy: int) -> _Tracker | None:
        """A tracker for an arm order without a cgroup (``pid\\tadopting\\t\\t``), else None."""
        fields = line.decode("utf-8", "replace").split("\t")
        if len(fields) < 4 or fields[2] or not fields[0].isdigit() or not os.path.isdir("/proc"):
            return None
        return _Tracker(proxy, int(fields[0]), fields[1] == "1", (os.getpid(),))

    def arm(self, server: int | ServerProcess) -> None:
        """Bind the watchdog to the server (a ``ServerProcess``, or its pid, which is its process group id)."""
        if self.write_fd < 0:
            return
        if isinstance(server, int):
            server = ServerProcess.by_pid.get(server, server)
        if isinstance(server, ServerProcess):
            group = server.cgroup
            line = f"{server.pid}\t{int(server.adopting)}\t{group.kind if group else ''}\t{group.path if group else ''}"
        else:
            line = f"{server}\t0\t\t"
        with contextlib.suppress(OSError):
            os.write(self.write_fd, line.encode() + b"\n")

    def disarm(self) -> None:
        """The server was reaped: let the watchdog kill what is left of its tree, and wait until it has."""
        if self.write_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.write_fd, b"done\n")
            with contextlib.suppress(OSError):
                os.close(self.write_fd)
            self.write_fd = -1
            with contextlib.suppress(OSError):
                os.waitpid(self.pid, 0)


def signal_group(proc: ServerProcess, sig: int) -> None:
    """Send ``sig`` to the server's process group (the server and what it started); off POSIX, to the server."""
    with contextlib.suppress(OSError):
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover
            proc.send_signal(sig)


async def wait_exit(proc: ServerProcess, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the server to exit, without blocking the loop; True once it has."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def stop_server(
    proc: ServerProcess, close_stdin: Callable[[], None], grace: float, output_done: Callable[[], bool]
) -> None:
    """Close the server's stdin, give it ``grace`` seconds, then SIGTERM and SIGKILL its group; then give its last
    output up to half a second to be read (``output_done``), so what it wrote before exiting reaches the client."""
    close_stdin()
    if not await wait_exit(proc, grace):
        signal_group(proc, signal.SIGTERM)
        if not await wait_exit(proc, grace):
            signal_group(proc, signal.SIGKILL)
            await wait_exit(proc, grace)
    deadline = time.monotonic() + 0.5
    while not output_done() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
