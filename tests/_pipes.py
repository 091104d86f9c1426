"""A process spoken to one JSON line at a time over real pipes (the proxy, as a host's stdio client would)."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from typing import IO, Any


class LineProcess:
    """``argv`` started with piped stdin/stdout; each line it writes is queued by a reader thread."""

    def __init__(self, argv: list[str], *, stderr: IO[bytes] | int = subprocess.DEVNULL, env: Any = None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env)
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")  # end of output

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def recv(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next message it wrote (a generous safety net, not a timing assertion)."""
        line = self.lines.get(timeout=timeout)
        assert line, "the process closed its output"
        return dict(json.loads(line))

    def close(self, timeout: float = 30.0) -> None:
        """Close its stdin and wait for it to exit (killed if it does not)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
