"""The filesystem model: what a path outside the workspace is, judged by the zone it lies in.

One table (``_vocab/fs_zones.tsv``: path prefix -> zone) and one function, ``zone_of``. The longest matching
prefix wins, so an exception (``/dev/null`` in ``/dev``, ``/etc/os-release`` in ``/etc``) sits beside its zone.
What each zone allows is decided by ``file_traversal`` (and by the verifier's profile):

==================  ====================================================  =============================  ==========
zone                what                                                  read (workspace / admin)       write
==================  ====================================================  =============================  ==========
system_config       ``/etc``, ``/boot``, ``/usr/lib/systemd``, cron spool  blocked / allowed              blocked
system_logs         ``/var/log``                                           blocked / allowed              blocked
kernel              ``/proc``, ``/sys``                                    blocked / allowed              blocked
device              ``/dev`` (not ``/dev/null``, ``/dev/std*``...)         blocked / disk admin only      blocked
user_home           ``/root``, ``/home/<other>``, ``c:/users/<other>``    blocked / blocked              blocked
windows_system      ``c:/windows``, ``c:/program files``, ``c:/programdata`` blocked / allowed            blocked
system_binaries     ``/bin``, ``/usr/bin``, ``/lib``, ``/usr/lib``          allowed                        blocked
(none)              everything else: ``/tmp``, ``/opt``, ``/usr/share``     allowed                        allowed
==================  ====================================================  =============================  ==========

Credentials and keys are judged by ``_paths.sensitive_kind`` before any zone, in every profile. The agent's own
home (``~``, ``$HOME``) is not another user's home: outside the workspace it is ordinary, except its sensitive
files; ``/root`` is always a protected home, whoever runs the agent.
"""

from __future__ import annotations

import os
from functools import lru_cache

from sentinel_lab import _vocab as vocab

__all__ = ["ZONES", "holds_zone", "zone_of"]

_TABLE = vocab.mapping("fs_zones")
#: Every protected zone (the table's categories without the two exception labels).
ZONES: frozenset[str] = frozenset(_TABLE.values()) - {"readable", "ordinary"}
_DEPTH = max(k.rstrip("/").count("/") for k in _TABLE)
_HOME = os.path.expanduser("~") if os.path.expanduser("~").startswith("/") else "/root"
# Home directories whose next component is a user name: ``/home/<user>`` is that user's home.
_HOME_PARENTS = frozenset({"/home", "/users", "c:/users"})
# Every directory that holds a protected zone below it (``/`` holds ``/etc``, ``/var`` holds ``/var/log``).
_ZONE_ANCESTORS = frozenset(
    key.rsplit("/", k)[0] or "/"
    for key, zone in _TABLE.items()
    if zone in ZONES
    for k in range(1, key.rstrip("/").count("/") + 1)
)


def _own_home(parts: tuple[str, ...], home: str) -> bool:
    """``parts`` lie in ``home`` (compared component by component); ``/root`` is never counted as one's own."""
    hparts = tuple(p for p in home.split("/") if p)
    return bool(hparts) and hparts != ("root",) and parts[: len(hparts)] == hparts


@lru_cache(maxsize=4096)
def zone_of(parts: tuple[str, ...], root: str = "/", write: bool = False, home: str | None = None) -> str | None:
    """The protected zone resolved components ``parts`` (under ``root``: ``/``, ``c:/``) lie in, or None for an
    ordinary path. ``write`` skips the ``readable`` exceptions (``/etc/hostname`` is readable, not writable).
    ``home`` is the agent's own home (default: this process's), which is not another user's home."""
    if root.startswith("//") and parts and len(parts[0]) == 2 and parts[0][1] == "$" and parts[0][0].isalpha():
        root, parts = parts[0][0].lower() + ":/", parts[1:]  # \\\\host\\c$\\windows: a drive's administrative share
    if not parts or root.startswith("//"):
        return None
    low = tuple(p.lower() for p in parts[:_DEPTH])
    base = root.lower()
    for k in range(len(low), 0, -1):
        key = base + "/".join(low[:k])
        zone = _TABLE.get(key)
        if zone is None or (zone == "readable" and write):
            continue
        if zone in ("readable", "ordinary"):
            return None
        if zone == "user_home" and key in _HOME_PARENTS:
            if len(parts) == 1:
                return None  # the directory of homes itself: listing it names users, reads no one's files
            if root == "/" and _own_home(parts, home if home is not None else _HOME):
                return None
        return zone
    return None


def holds_zone(parts: tuple[str, ...], root: str = "/") -> bool:
    """Whether a protected zone lies below the directory ``parts`` (under ``root``): relative paths from there
    can reach it without a ``..`` (``cd /`` then ``cat etc/shadow``)."""
    key = root.lower() + "/".join(p.lower() for p in parts)
    return key in _ZONE_ANCESTORS or (key.endswith("/") and key.rstrip("/") in _ZONE_ANCESTORS)
