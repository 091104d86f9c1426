"""Containment of the tool server: no descendant (a ``setsid`` double-fork daemon included) outlives the proxy.

Real processes throughout: the proxy CLI in front of a server whose child detaches a grandchild, killed with
``kill -9``, shut down by closing its stdin, or left by a crashing server; and ``spawn_server`` / ``Watchdog`` /
``Cgroup`` used directly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sentinel_lab._core.errors import ProxyError
from sentinel_lab._mcp.demo import pid_alive
from sentinel_lab._mcp.process import TRACK_INTERVAL, Cgroup, Watchdog, _Tracker, _unescape_mount, spawn_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="containment guarantees are Linux's")

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "demo.yaml"

# The server starts a child that calls setsid and double-forks a daemon (stdio on /dev/null) that writes its pid.
SERVER = textwrap.dedent(
    """
    import os, sys, time
    pidfile, mode = sys.argv[1], sys.argv[2]
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            fd = os.open(os.devnull, os.O_RDWR)
            for i in (0, 1, 2):
                os.dup2(fd, i)
            with open(pidfile + ".tmp", "w") as fh:
                fh.write(str(os.getpid()))
            os.replace(pidfile + ".tmp", pidfile)
            time.sleep(600)
        os._exit(0)
    os.waitpid(child, 0)
    while not os.path.exists(pidfile):
        time.sleep(0.01)
    if mode == "crash":
        os._exit(3)
    for line in sys.stdin:
        pass
    """
)

# A stand-in for the proxy: the spawning and watchdog half of Proxy.run, then it waits to be killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from sentinel_lab._mcp.process import Watchdog, spawn_server
    watchdog = Watchdog()
    proc = spawn_server(sys.argv[1:], adopt_orphans=True)
    watchdog.arm(proc)
    print(proc.pid, watchdog.pid, proc.cgroup.path if proc.cgroup else "", flush=True)
    time.sleep(600)
    """
)

# A parent that forks 300 sleeping children as fast as it can.
FORKER = "import os, time\nfor _ in range(300):\n    if os.fork() == 0:\n        time.sleep(600)\n        break\n"

MODES = ["cgroup", "process"]


def _env(mode: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SENTINEL_LAB_CONTAINMENT", None)
    if mode == "process":
        env["SENTINEL_LAB_CONTAINMENT"] = "process"
    return env


def _cgroup_parents() -> list[str]:
    """Directories where this machine's proxies create their cgroups (empty when none can be made)."""
    parents = []
    for kinds in (("v2",), ("freezer",)):
        group = Cgroup.create(kinds)
        if group is not None:
            parents.append(os.path.dirname(group.path))
            group.remove()
    return parents


def _need(mode: str) -> None:
    if mode == "cgroup" and not _cgroup_parents():
        pytest.skip("no writable cgroup on this machine")


def _poll(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``check`` until true or ``timeout`` passes (a bound for a hung machine, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def _read_pid(path: Path) -> int:
    assert _poll(path.exists), "the daemon never started"
    return int(path.read_text())


def _parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _leftover_cgroups(owner: int) -> list[str]:
    return [
        os.path.join(parent, name)
        for parent in _cgroup_parents()
        for name in os.listdir(parent)
        if name.startswith(f"sentinel-lab-{owner}-")
    ]


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids to SIGKILL at teardown whatever the outcome, so a failing test leaves nothing running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def server(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


def _start_proxy(server: Path, pidfile: Path, mode: str, server_mode: str = "serve") -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "sentinel_lab._cli", "proxy", "--policy", str(POLICY), "--"]
    argv += [sys.executable, str(server), str(pidfile), server_mode]
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(mode), cwd=ROOT
    )


def _await_tracked(daemon: int, proxy: int, mode: str) -> None:
    """Without a cgroup the watchdog learns of the daemon from /proc: wait until it is the proxy's adopted child."""
    if mode == "process":
        assert _poll(lambda: _parent_of(daemon) == proxy), "the proxy did not adopt the orphaned daemon"
        time.sleep(3 * TRACK_INTERVAL)


# ---------------------------------------------------------------------------------------------------- the proxy


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_of_the_proxy_kills_the_setsid_daemon(
    server: Path, tmp_path: Path, mode: str, reaper: list[int]
) -> None:
    _need(mode)
    proxy = _start_proxy(server, tmp_path / "daemon.pid", mode)
    reaper.append(proxy.pid)
    daemon = _read_pid(tmp_path / "daemon.pid")
    reaper.append(daemon)
    assert pid_alive(daemon)
    assert os.getsid(daemon) != os.getsid(proxy.pid)  # it really left the server's session
    _await_tracked(daemon, proxy.pid, mode)
    proxy.kill()
    proxy.wait()
    assert _poll(lambda: not pid_alive(daemon)), "the setsid daemon survived kill -9 of the proxy"
    assert _poll(lambda: not _leftover_cgroups(proxy.pid))
    assert proxy.stdin is not None and proxy.stdout is not None
    proxy.stdin.close()
    proxy.stdout.close()


@pytest.mark.parametrize("mode", MODES)
def test_normal_shutdown_kills_the_setsid_daemon(server: Path, tmp_path: Path, mode: str, reaper: list[int]) -> None:
    _need(mode)
    proxy = _start_proxy(server, tmp_path / "daemon.pid", mode)
    reaper.append(proxy.pid)
    daemon = _read_pid(tmp_path / "daemon.pid")
    reaper.append(daemon)
    assert pid_alive(daemon)
    _, _ = proxy.communicate(b"", timeout=60)  # the client closes stdin
    assert proxy.returncode == 0
    assert not pid_alive(daemon), "the setsid daemon survived the proxy's shutdown"
    assert not _leftover_cgroups(proxy.pid)


@pytest.mark.parametrize("mode", MODES)
def test_a_crashing_server_takes_its_daemon_along(server: Path, tmp_path: Path, mode: str, reaper: list[int]) -> None:
    _need(mode)
    proxy = _start_proxy(server, tmp_path / "daemon.pid", mode, server_mode="crash")
    reaper.append(proxy.pid)
    daemon = _read_pid(tmp_path / "daemon.pid")
    reaper.append(daemon)
    assert proxy.wait(timeout=60) == 1  # the client keeps stdin open: the proxy ends because its server died
    assert proxy.stdin is not None and proxy.stdout is not None
    proxy.stdin.close()
    proxy.stdout.close()
    assert not pid_alive(daemon), "the daemon of a crashed server survived the proxy"
    assert not _leftover_cgroups(proxy.pid)


# ---------------------------------------------------------------------------------------------------- the parts


def test_spawn_server_puts_the_server_in_its_cgroup_before_it_runs(tmp_path: Path, reaper: list[int]) -> None:
    _need("cgroup")
    # the server reports its own cgroup as its first act: it was moved in between fork and exec
    script = "import sys; sys.stdout.write(open('/proc/self/cgroup').read()); sys.stdout.flush(); sys.stdin.read()"
    watchdog = Watchdog()
    proc = spawn_server([sys.executable, "-c", script])
    reaper.append(proc.pid)
    watchdog.arm(proc.pid)  # a bare pid finds its process (and so its cgroup) too
    assert proc.cgroup is not None
    assert proc.stdout is not None and proc.stdin is not None
    first = proc.stdout.read(4096).decode()
    name = os.path.basename(proc.cgroup.path)
    assert name.startswith(f"sentinel-lab-{os.getpid()}-")
    assert name in first
    assert proc.cgroup.pids() == [proc.pid]
    assert os.getsid(proc.pid) == proc.pid  # its own session and group as well
    proc.stdin.close()
    proc.wait(30)
    proc.stdout.close()
    watchdog.disarm()
    assert not os.path.exists(proc.cgroup.path)


def test_disarm_kills_the_detached_tree_and_removes_the_cgroup(server: Path, tmp_path: Path, reaper: list[int]) -> None:
    _need("cgroup")
    watchdog = Watchdog()
    proc = spawn_server([sys.executable, str(server), str(tmp_path / "daemon.pid"), "serve"])
    reaper.append(proc.pid)
    watchdog.arm(proc)
    daemon = _read_pid(tmp_path / "daemon.pid")
    reaper.append(daemon)
    assert proc.cgroup is not None and daemon in proc.cgroup.pids()
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.wait(30)
    proc.stdout.close()
    assert pid_alive(daemon)  # the server exited normally; its daemon is still there ...
    watchdog.disarm()  # ... until the watchdog is told the server was reaped
    assert not pid_alive(daemon)
    assert not os.path.exists(proc.cgroup.path)
    assert not pid_alive(watchdog.pid)


@pytest.mark.parametrize("mode", MODES)
def test_watchdog_acts_when_its_proxy_is_killed(server: Path, tmp_path: Path, mode: str, reaper: list[int]) -> None:
    _need(mode)
    holder_py = tmp_path / "holder.py"
    holder_py.write_text(HOLDER)
    argv = [sys.executable, str(holder_py), sys.executable, str(server), str(tmp_path / "daemon.pid"), "serve"]
    holder = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(mode), cwd=ROOT)
    reaper.append(holder.pid)
    assert holder.stdout is not None and holder.stdin is not None
    fields = holder.stdout.readline().decode().split()
    server_pid, watchdog_pid = int(fields[0]), int(fields[1])
    reaper += [server_pid, watchdog_pid]
    assert (len(fields) == 3) == (mode == "cgroup")
    daemon = _read_pid(tmp_path / "daemon.pid")
    reaper.append(daemon)
    _await_tracked(daemon, holder.pid, mode)
    holder.kill()
    holder.wait()
    for pid in (daemon, server_pid, watchdog_pid):
        assert _poll(lambda pid=pid: not pid_alive(pid)), f"process {pid} survived"  # type: ignore[misc]
    if mode == "cgroup":
        assert not os.path.exists(fields[2])
    holder.stdin.close()
    holder.stdout.close()


def test_arm_with_a_bare_group_id_still_kills_the_group(reaper: list[int]) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    reaper.append(proc.pid)
    # the watchdog must belong to a process that dies: a forked child arms it and exits without disarming
    child = os.fork()
    if child == 0:
        try:
            Watchdog().arm(proc.pid)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert _poll(lambda: proc.poll() is not None)
    assert proc.returncode == -signal.SIGKILL


def test_cgroup_kill_wins_a_fork_race(reaper: list[int]) -> None:
    for kinds in (("v2",), ("freezer",)):
        group = Cgroup.create(kinds)
        if group is None:
            continue
        try:
            # the parent keeps forking while it is killed: a kill by a list of pids alone would miss the newest
            proc = subprocess.Popen([sys.executable, "-c", FORKER], preexec_fn=group.join)
            reaper.append(proc.pid)
            assert _poll(lambda group=group: len(group.pids()) > 5)  # type: ignore[misc]
            assert group.kill()
            assert group.pids() == []
            proc.wait(30)
        finally:
            group.remove()
        assert not os.path.exists(group.path)


def test_stale_cgroups_of_dead_proxies_are_emptied_and_removed(reaper: list[int]) -> None:
    _need("cgroup")
    dead = subprocess.Popen(["true"])
    dead.wait()
    probe = Cgroup.create()
    assert probe is not None
    stale = Cgroup(os.path.join(os.path.dirname(probe.path), f"sentinel-lab-{dead.pid}-0000"), probe.kind)
    probe.remove()
    os.mkdir(stale.path)
    try:
        orphan = subprocess.Popen(["sleep", "600"], preexec_fn=stale.join)
        reaper.append(orphan.pid)
        assert stale.pids() == [orphan.pid]
        fresh = Cgroup.create()  # the next proxy to start cleans up after one whose watchdog died too
        assert fresh is not None
        fresh.remove()
        orphan.wait(30)
        assert orphan.returncode == -signal.SIGKILL
        assert not os.path.exists(stale.path)
    finally:
        stale.remove()


def test_tracker_follows_orphans_by_session_and_ignores_other_processes(reaper: list[int]) -> None:
    bystander = subprocess.Popen(["sleep", "600"])
    reaper.append(bystander.pid)
    leader = subprocess.Popen(["sleep", "600"], start_new_session=True)
    reaper.append(leader.pid)
    tracker = _Tracker(os.getpid(), leader.pid, adopting=False, exclude=())
    tracker.scan()
    assert tracker.known == {leader.pid: tracker.server_start}
    tracker.kill()
    assert leader.wait(30) == -signal.SIGKILL
    assert bystander.poll() is None


def test_unsupported_containment_degrades_to_a_plain_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_LAB_CONTAINMENT", "process")
    assert Cgroup.create() is None
    proc = spawn_server([sys.executable, "-c", "import sys; sys.stdin.read()"])
    assert proc.cgroup is None and not proc.adopting
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    assert proc.wait(30) == 0
    proc.stdout.close()


def test_mountinfo_fields_and_paths() -> None:
    assert _unescape_mount("/sys/fs/cgroup/my\\040dir") == "/sys/fs/cgroup/my dir"
    assert _unescape_mount("plain") == "plain"
    assert _unescape_mount("end\\04") == "end\\04"
    assert Cgroup._join("/", "/sys/fs/cgroup", "/a/b") == "/sys/fs/cgroup/a/b"
    assert Cgroup._join("/docker/x", "/sys/fs/cgroup", "/docker/x/y") == "/sys/fs/cgroup/y"
    assert Cgroup._join("/", "/sys/fs/cgroup/unified", "/") == "/sys/fs/cgroup/unified"


def test_a_server_that_cannot_start_leaves_no_cgroup(tmp_path: Path) -> None:
    before = {name for parent in _cgroup_parents() for name in os.listdir(parent)}
    with pytest.raises(ProxyError, match="cannot start tool server"):
        spawn_server([str(tmp_path / "missing-server")])
    with pytest.raises(ProxyError, match="no tool server command"):
        spawn_server([])
    after = {name for parent in _cgroup_parents() for name in os.listdir(parent)}
    assert not {name for name in after - before if name.startswith(f"sentinel-lab-{os.getpid()}-")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/environ")
@pytest.mark.parametrize("given", [{}, {"LC_CTYPE": "C"}, {"LC_CTYPE": "C.UTF-8"}, {"LANG": "C.UTF-8"}])
def test_the_tool_server_gets_the_environment_unchanged(given: dict[str, str]) -> None:
    """Started in the C locale, Python adds LC_CTYPE to its own environment (PEP 538): the server must not see it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SENTINEL_TEST_MARK": "a b=c", **given}
    code = (
        "import sys\n"
        "from sentinel_lab._mcp.process import spawn_server\n"
        "p = spawn_server(['env', '-0'])\n"
        "out = p.stdout.read(); p.wait(); sys.stdout.buffer.write(out)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True, timeout=60).stdout
    seen = dict(entry.split("=", 1) for entry in out.decode().split("\0") if entry)
    assert seen == env
