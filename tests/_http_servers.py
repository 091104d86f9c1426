"""Real processes for the Streamable HTTP tests: an official-SDK tool server that records every call it receives,
the gateway and the proxy started as a host would, free ports, and waits on conditions (never on time)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The tool server: ``server.py stdio LOG`` or ``server.py http LOG PORT``. Every call is appended to LOG (with the
#: server's pid) before the tool does anything, so a test knows exactly what reached the server.
SERVER = '''
import json, os, sys, time
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import BaseModel

mode, log = sys.argv[1], sys.argv[2]
app = MCPServer("recorder")


def note(name: str, text: str) -> None:
    with open(log, "a") as f:
        f.write(json.dumps({"tool": name, "text": text, "pid": os.getpid()}) + "\\n")


@app.tool()
def echo(text: str) -> str:
    """Echo the text."""
    note("echo", text)
    return f"echo: {text}"


@app.tool()
def source(text: str) -> str:
    """Read something secret."""
    note("source", text)
    return f"secret: {text}"


@app.tool()
def sink(text: str) -> str:
    """Send text outside."""
    note("sink", text)
    return "sent"


@app.tool()
def forbidden(text: str) -> str:
    """Never allowed by the policy."""
    note("forbidden", text)
    return "ran"


class Answer(BaseModel):
    word: str


@app.tool()
async def confirm(text: str, ctx: Context) -> str:
    """Asks the client (a server-to-client request) after a log notification."""
    note("confirm", text)
    await ctx.info(f"asking about {text}")
    answer = await ctx.elicit(f"Say a word about {text}", Answer)
    return f"{answer.action}: {answer.data.word if answer.data is not None else ''}"


@app.tool()
def slow(text: str) -> str:
    """Blocks (until the test kills the server)."""
    note("slow", text)
    time.sleep(600)
    return "late"


if mode == "stdio":
    app.run()
else:
    app.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
'''

POLICY = """
static_rules:
  echo: ALLOW
  source: ALLOW
  sink: ALLOW
  slow: ALLOW
  confirm: ALLOW
  forbidden: DENY
taint_rules:
  - {tool: source, action: ADD_TAINT, taint_tags: [secret]}
  - {tool: sink, action: CHECK_TAINT, forbidden_taints: [secret], message: "no sink after source"}
verifier: {enabled: false}
"""

#: A fixed session key for the gateway in tests, so a test can mint a well-signed id of no live session.
SESSION_KEY = "ab" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``condition`` until it is truthy (a generous deadline: a guard against hangs, not an assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def rpc(resp: Any) -> dict[str, Any]:
    """The one JSON-RPC message of a gateway's answer, sent as JSON or as a single-event SSE stream."""
    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        datas = [line[6:] for line in resp.text.splitlines() if line.startswith("data: ")]
        assert len(datas) == 1, resp.text
        return dict(json.loads(datas[0]))
    return dict(resp.json())


def calls(log: Path) -> list[dict[str, Any]]:
    """What the tool server received, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def serving(args: list[str], port: int, errlog: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """Start a process that listens on ``port``; yield it once it accepts connections; stop it afterwards."""
    with open(errlog, "w") as err:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is not None or _port_open(port), f"{args[1:3]} to listen on {port}")
        assert proc.poll() is None, errlog.read_text()
        yield proc
    finally:
        stop(proc)


def stop(proc: Any) -> None:
    """SIGTERM the process group, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def write_files(tmp: Path) -> tuple[Path, Path]:
    """The tool server script and the policy in ``tmp``."""
    server = tmp / "server.py"
    server.write_text(SERVER)
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    return server, policy


def gateway_env() -> dict[str, str]:
    return {**os.environ, "SENTINEL_SESSION_KEY": SESSION_KEY}


def sentinel(*args: str) -> list[str]:
    return [sys.executable, "-m", "sentinel_lab", *args]
