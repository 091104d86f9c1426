"""The tool server's process: started in its own group and bound to the proxy's life (Linux ``PR_SET_PDEATHSIG``
and a watchdog that kills the group when the proxy's pipe closes, even after ``kill -9`` of the proxy).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sentinel_lab._exceptions import ProxyError

__all__ = ["Watchdog", "spawn_server"]


def _pdeathsig_preexec() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the proxy died before prctl took effect
            os._exit(137)

    return preexec


class Watchdog:
    """A forked process that SIGKILLs the tool server's process group as soon as the proxy's pipe closes."""

    def __init__(self) -> None:
        self.write_fd = -1
        self.pid = 0
        if not hasattr(os, "fork"):  # pragma: no cover - non-POSIX
            return
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the watchdog
            try:
                os.close(write_fd)
                with contextlib.suppress(OSError):
                    os.closerange(0, read_fd)
                    os.closerange(read_fd + 1, 65536)
                with contextlib.suppress(OSError):
                    os.setsid()  # survive a signal to the proxy's process group long enough to act
                data = b""
                while True:
                    try:
                        chunk = os.read(read_fd, 64)
                    except InterruptedError:
                        continue
                    if not chunk:
                        break
                    data += chunk
                fields = data.split()
                if fields and b"done" not in fields[1:]:
                    with contextlib.suppress(OSError, ValueError):
                        os.killpg(int(fields[0]), signal.SIGKILL)
            finally:
                os._exit(0)
        os.close(read_fd)
        os.set_inheritable(write_fd, False)
        self.write_fd, self.pid = write_fd, pid

    def arm(self, pgid: int) -> None:
        if self.write_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.write_fd, f"{pgid}\n".encode())

    def disarm(self) -> None:
        if self.write_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.write_fd, b"done\n")
                os.close(self.write_fd)
            self.write_fd = -1
            with contextlib.suppress(OSError):
                os.waitpid(self.pid, 0)


def spawn_server(command: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start the tool server in its own process group, bound to this process by ``PR_SET_PDEATHSIG``."""
    if not command:
        raise ProxyError("no tool server command given (put it after '--')")
    kwargs: dict[str, Any] = {}
    if os.name == "posix":
        kwargs["start_new_session"] = True
        pre = _pdeathsig_preexec()
        if pre is not None:
            kwargs["preexec_fn"] = pre
    try:
        return subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env, bufsize=0, **kwargs
        )
    except OSError as exc:
        raise ProxyError(f"cannot start tool server {command[0]!r}: {exc}") from exc
