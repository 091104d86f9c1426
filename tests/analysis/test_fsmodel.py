"""The filesystem model: the zone a resolved path lies in, by the longest matching prefix of one table."""

from __future__ import annotations

import pytest

from sentinel_lab._analysis._fsmodel import ZONES, holds_zone, zone_of
from sentinel_lab._analysis._paths import canonical


def zone(path: str, write: bool = False, home: str = "/home/agent") -> str | None:
    c = canonical(path)
    return zone_of(c.parts, c.root, write, home)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/etc/group", "system_config"),
        ("/etc/nginx/nginx.conf", "system_config"),
        ("/boot/grub/grub.cfg", "system_config"),
        ("/usr/lib/systemd/system/sshd.service", "system_config"),
        ("/var/log/auth.log", "system_logs"),
        ("/proc/1/status", "kernel"),
        ("/sys/kernel/debug", "kernel"),
        ("/dev/sda", "device"),
        ("/dev/mem", "device"),
        ("/root/.bashrc", "user_home"),
        ("/home/bob/.bashrc", "user_home"),
        ("C:\\Windows\\win.ini", "windows_system"),
        ("c:/Program Files/App/app.exe", "windows_system"),
        ("\\\\localhost\\c$\\Windows\\win.ini", "windows_system"),
        ("C:\\Users\\bob\\Desktop\\notes.txt", "user_home"),
        ("/usr/bin/python3", "system_binaries"),
        ("/ETC/group", "system_config"),
    ],
)
def test_protected_zones(path: str, expected: str) -> None:
    assert zone(path) == expected
    assert expected in ZONES


@pytest.mark.parametrize(
    "path",
    [
        "/tmp/out.txt",
        "/opt/app/config.yaml",
        "/usr/share/dict/words",
        "/dev/null",
        "/dev/stdout",
        "/dev/urandom",
        "/dev/shm/cache",
        "/etc/os-release",
        "/proc/cpuinfo",
        "/home/agent/notes.txt",  # the agent's own home
        "/home",  # the directory of homes itself
        "/var/tmp/x",
        "relative/path",
        "//fileserver/share/doc.txt",
    ],
)
def test_ordinary_paths(path: str) -> None:
    assert zone(path) is None


def test_readable_exceptions_are_not_writable() -> None:
    assert zone("/etc/hostname") is None
    assert zone("/etc/hostname", write=True) == "system_config"
    assert zone("/proc/meminfo", write=True) == "kernel"
    assert zone("/dev/null", write=True) is None


def test_root_is_never_ones_own_home() -> None:
    assert zone("/root/notes.txt", home="/root") == "user_home"
    assert zone("/home/agent/x", home="/home/agent") is None
    assert zone("/home/agent-old/x", home="/home/agent") == "user_home"  # whole components, not a prefix


@pytest.mark.parametrize(
    ("path", "holds"),
    [("/", True), ("/var", True), ("/usr", True), ("/workspace", False), ("/tmp", False), ("/etc", False)],
)
def test_holds_zone_names_the_directories_above_a_protected_zone(path: str, holds: bool) -> None:
    # /etc is itself a zone (judged by zone_of); what lies above one is what a directory change must not reach
    assert holds_zone(tuple(p for p in path.split("/") if p)) is holds
