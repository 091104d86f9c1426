"""Real hosts are the judge: the official Python client, the official TypeScript client and the Inspector CLI each
talk to the reference MCP servers directly and through ``sentinel-lab proxy`` (stdio) and ``sentinel-lab gateway``
(Streamable HTTP, hosts named ``*-http``), and must see the same thing, feature by feature, except where the proxy
differs on purpose (spotlight wrapping of text a model reads, the session id in
the ``initialize`` result's ``_meta``, a policy-blocked call answered by the proxy).

One session per host, server and connection (direct / proxy) runs every step of a plan and records what the host
saw; the tests compare the two records. The npm packages are pinned in ``tests/hosts/package.json``.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from _http_servers import free_port, serving

from sentinel_lab._core.wire import BLOCK_CODE, BLOCK_PREFIX, SESSION_META_KEY
from sentinel_lab._mcp.spotlight import unwrap

# server-everything still offers logging/setLevel, which the 2026-07-28 revision deprecates; the SDK warns on use.
pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")

HOSTS_DIR = Path(__file__).resolve().parent.parent / "hosts"
BIN = Path(sys.executable).parent
SAMPLING_REPLY = "four, said the test model"
ELICITATION_REPLY: dict[str, Any] = {"name": "Ada Lovelace"}
HOST_TIMEOUT = 180.0  # seconds for a whole host session: generous on a busy 2-core machine

POLICY = """
name: reference-hosts
default_action: ALLOW
static_rules:
  get-env: DENY
  write_file: DENY
verifier: {enabled: false}
spotlight: {enabled: true, scan_output: flag}
proxy: {deny_style: error, hide_denied_tools: false, pin_tools: warn}
"""

# Between the proxy and server-everything in the SDK hosts' proxied sessions: a transparent tap that copies every
# line the server receives to a log, so the tests can see what reached the server (and what never did).
WIRE_TAP = """
import subprocess, sys
log = open(sys.argv[1], "ab", buffering=0)
child = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE)
for line in sys.stdin.buffer:
    log.write(line)
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
sys.exit(child.wait())
"""

PAGE = (
    "<html><head><title>Local page</title></head><body><p>Served on 127.0.0.1 for the fetch server.</p></body></html>"
)

EVERYTHING_STEPS: list[dict[str, Any]] = [
    {"id": "initialize", "kind": "initialize"},
    {"id": "tools/list", "kind": "request", "method": "tools/list"},
    {"id": "tools/call", "kind": "call", "name": "echo", "arguments": {"message": "hello from the host"}},
    {"id": "prompts/list", "kind": "request", "method": "prompts/list"},
    {
        "id": "prompts/get",
        "kind": "request",
        "method": "prompts/get",
        "params": {"name": "args-prompt", "arguments": {"city": "Paris", "state": "Texas"}},
    },
    {"id": "resources/list", "kind": "request", "method": "resources/list"},
    {
        "id": "resources/read",
        "kind": "request",
        "method": "resources/read",
        "params": {"uri": "demo://resource/static/document/architecture.md"},
    },
    {"id": "resources/templates/list", "kind": "request", "method": "resources/templates/list"},
    {
        "id": "completion/complete",
        "kind": "request",
        "method": "completion/complete",
        "params": {
            "ref": {"type": "ref/prompt", "name": "completable-prompt"},
            "argument": {"name": "department", "value": "E"},
        },
    },
    {"id": "logging/setLevel", "kind": "request", "method": "logging/setLevel", "params": {"level": "debug"}},
    {"id": "notifications/message", "kind": "logging", "name": "toggle-simulated-logging"},
    {
        "id": "progress",
        "kind": "call",
        "progress": True,
        "name": "trigger-long-running-operation",
        "arguments": {"duration": 0.6, "steps": 3},
    },
    {"id": "sampling", "kind": "call", "name": "trigger-sampling-request", "arguments": {"prompt": "2+2?"}},
    {"id": "elicitation", "kind": "call", "name": "trigger-elicitation-request", "arguments": {}},
    {
        "id": "cancellation",
        "kind": "cancel",
        "name": "trigger-long-running-operation",
        "arguments": {"duration": 60, "steps": 120},
        "after": {"name": "echo", "arguments": {"message": "still here"}},
    },
    {"id": "blocked", "kind": "call", "name": "get-env", "arguments": {}},
]


@dataclass(frozen=True)
class Lab:
    """Where the module's servers live and how to start each one directly or behind the proxy."""

    root: Path
    bin: Path
    web: str

    @property
    def policy(self) -> Path:
        return self.root / "policy.yaml"

    def server(self, name: str) -> list[str]:
        """The reference server's command line (absolute paths)."""
        commands = {
            "everything": [str(self.bin / "mcp-server-everything")],
            "filesystem": [str(self.bin / "mcp-server-filesystem"), str(self.root / "files")],
            "time": [str(BIN / "mcp-server-time"), "--local-timezone", "UTC"],
            "fetch": [str(BIN / "mcp-server-fetch"), "--allow-private-ips"],  # it fetches only the local page
        }
        return commands[name]

    def command(self, name: str, proxied: bool, host: str = "inspector", listen: int | None = None) -> list[str]:
        """The host's server command: the server itself, or the README's proxy configuration in front of it (or,
        with ``listen``, the gateway in front of it serving Streamable HTTP on that port)."""
        if not proxied:
            return self.server(name)
        audit = f"audit-{host}-{name}.jsonl"  # relative: beside the policy file
        server = self.server(name)
        if name == "everything" and not host.startswith("inspector"):
            server = [sys.executable, str(self.root / "wire_tap.py"), str(self.wire(host)), *server]
        front = ["proxy"] if listen is None else ["gateway", "--listen", f"127.0.0.1:{listen}"]
        proxy = [sys.executable, "-m", "sentinel_lab", *front, "--policy", str(self.policy), "--audit", audit]
        return [*proxy, *server]

    def wire(self, host: str) -> Path:
        """The log of every line server-everything received in this host's proxied session."""
        return self.root / f"wire-{host}-everything.jsonl"


@pytest.fixture(scope="module")
def lab(hosts_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The module's folder (policy, files, tap) and a local web server for the fetch server (no external URL)."""
    root = tmp_path_factory.mktemp("reference-hosts")
    (root / "policy.yaml").write_text(POLICY)
    (root / "wire_tap.py").write_text(WIRE_TAP)
    (root / "files").mkdir()
    (root / "files" / "hello.txt").write_text("hello, file\n")
    (root / "www").mkdir()
    (root / "www" / "page.html").write_text(PAGE)
    handler = functools.partial(QuietHandler, directory=str(root / "www"))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as web:
        thread = threading.Thread(target=web.serve_forever, daemon=True)
        thread.start()
        yield Lab(root, hosts_bin, f"http://127.0.0.1:{web.server_address[1]}")
        web.shutdown()
        thread.join()


class QuietHandler(SimpleHTTPRequestHandler):
    """The local page server, without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


# ---------------------------------------------------------------------------------------------------------------- hosts


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def python_session(command: list[str] | str, steps: list[dict[str, Any]], errlog: Path) -> dict[str, Any]:
    """Run the plan with the official Python client (``mcp`` SDK, over stdio with a server command, or over
    Streamable HTTP with a URL); returns the record of every step."""
    import mcp_types as types
    from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client

    seen: dict[str, list[Any]] = {"sampling": [], "elicitation": [], "logging": []}
    record: dict[str, Any] = {"seen": seen}

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        seen["logging"].append(_dump(params))

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        seen["sampling"].append(_dump(params))
        content = types.TextContent(type="text", text=SAMPLING_REPLY)
        return types.CreateMessageResult(role="assistant", model="test-model", content=content)

    async def elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        seen["elicitation"].append(_dump(params))
        return types.ElicitResult(action="accept", content=ELICITATION_REPLY)

    async def step(session: ClientSession, init: Any, s: dict[str, Any]) -> Any:
        kind, params = s["kind"], s.get("params", {})
        if kind == "initialize":
            return _dump(init)
        if kind == "call":
            updates: list[dict[str, Any]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                updates.append({"progress": progress, "total": total})

            result = _dump(await session.call_tool(s["name"], s["arguments"], progress_callback=on_progress))
            return {"result": result, "progress": updates} if s.get("progress") else result
        if kind == "logging":
            # Start the server's simulated logging (it sends one message at once), wait for it, stop it again.
            await session.call_tool(s["name"], {})
            with anyio.fail_after(60):
                while not seen["logging"]:
                    await anyio.sleep(0.05)
            await session.call_tool(s["name"], {})
            return {"first": seen["logging"][0]}
        if kind == "cancel":
            started = anyio.Event()

            async def first(progress: float, total: float | None, message: str | None) -> None:
                started.set()

            outcome = "completed"
            async with anyio.create_task_group() as tg:

                async def long_call() -> None:
                    await session.call_tool(s["name"], s["arguments"], progress_callback=first)

                tg.start_soon(long_call)
                await started.wait()
                tg.cancel_scope.cancel()  # the client sends notifications/cancelled for the abandoned request
                outcome = "aborted"
            after = s["after"]
            return {"outcome": outcome, "after": _dump(await session.call_tool(after["name"], after["arguments"]))}
        method = s["method"]
        if method == "tools/list":
            return _dump(await session.list_tools())
        if method == "prompts/list":
            return _dump(await session.list_prompts())
        if method == "prompts/get":
            return _dump(await session.get_prompt(params["name"], params.get("arguments")))
        if method == "resources/list":
            return _dump(await session.list_resources())
        if method == "resources/read":
            return _dump(await session.read_resource(params["uri"]))
        if method == "resources/templates/list":
            return _dump(await session.list_resource_templates())
        if method == "completion/complete":
            ref = types.PromptReference(type="ref/prompt", name=params["ref"]["name"])
            return _dump(await session.complete(ref, params["argument"]))
        if method == "logging/setLevel":
            return _dump(await session.set_logging_level(params["level"]))
        raise AssertionError(f"unknown step {s}")

    async def main() -> None:
        with open(errlog, "w") as err, anyio.fail_after(HOST_TIMEOUT):
            if isinstance(command, str):
                transport = streamable_http_client(command)
            else:
                transport = stdio_client(StdioServerParameters(command=command[0], args=command[1:]), errlog=err)
            async with (
                transport as (read, write),
                ClientSession(
                    read,
                    write,
                    read_timeout_seconds=120,
                    sampling_callback=sampling,
                    elicitation_callback=elicitation,
                    logging_callback=on_log,
                ) as session,
            ):
                init = await session.initialize()
                for s in steps:
                    try:
                        record[s["id"]] = {"ok": await step(session, init, s)}
                    except MCPError as exc:
                        record[s["id"]] = {"error": {"code": exc.error.code, "message": exc.error.message}}
                    except Exception as exc:  # recorded, so one broken feature does not hide the others
                        record[s["id"]] = {"error": {"code": None, "message": f"{type(exc).__name__}: {exc}"}}

    anyio.run(main)
    return record


def typescript_session(command: list[str] | str, steps: list[dict[str, Any]], errlog: Path) -> dict[str, Any]:
    """Run the plan with the official TypeScript client (``tests/hosts/host_session.mjs``), over stdio with a
    server command or over Streamable HTTP with a URL."""
    where = {"url": command} if isinstance(command, str) else {"command": command[0], "args": command[1:]}
    plan = {
        **where,
        "steps": steps,
        "samplingReply": SAMPLING_REPLY,
        "elicitationReply": ELICITATION_REPLY,
    }
    with open(errlog, "w") as err:
        done = subprocess.run(
            ["node", str(HOSTS_DIR / "host_session.mjs"), json.dumps(plan)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=HOST_TIMEOUT,
            check=False,
        )
    assert done.returncode == 0, f"the TypeScript host failed ({done.returncode}): {errlog.read_text()[-2000:]}"
    record: dict[str, Any] = json.loads(done.stdout)
    return record


HostSession = Callable[[list[str] | str, list[dict[str, Any]], Path], dict[str, Any]]
HOST_SESSIONS: dict[str, HostSession] = {"python": python_session, "typescript": typescript_session}


def _session(lab: Lab, host: str, server: str, mode: str) -> dict[str, Any]:
    """One session of the host: direct (the server over stdio) or through sentinel-lab; a host named ``*-http``
    reaches sentinel-lab's gateway over Streamable HTTP instead of the stdio proxy."""
    base, _, transport = host.partition("-")
    run, steps, errlog = (
        HOST_SESSIONS[base],
        PLANS[server](lab, f"{host}-{mode}"),
        lab.root / f"{host}-{server}-{mode}.err",
    )
    if mode == "direct" or transport != "http":
        return run(lab.command(server, mode == "proxy", host), steps, errlog)
    port = free_port()
    with serving(lab.command(server, True, host, listen=port), port, errlog.with_suffix(".gateway.err")):
        return run(f"http://127.0.0.1:{port}/mcp", steps, errlog)


def _both(lab: Lab, host: str, server: str) -> dict[str, dict[str, Any]]:
    """The host's records of one direct and one proxied session, run side by side."""
    with ThreadPoolExecutor(2) as pool:
        futures = {mode: pool.submit(_session, lab, host, server, mode) for mode in ("direct", "proxy")}
        return {mode: future.result() for mode, future in futures.items()}


_RECORDS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}


@pytest.fixture(scope="module")
def records(lab: Lab) -> Callable[[str, str], dict[str, dict[str, Any]]]:
    """Records per (host, server), each session run once per module and shared by the feature tests."""
    cache: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def get(host: str, server: str) -> dict[str, dict[str, Any]]:
        if (host, server) not in cache:
            cache[(host, server)] = _both(lab, host, server)
        return cache[(host, server)]

    return get


def _basic_plan(call: tuple[str, dict[str, Any]] | None) -> Callable[[Lab, str], list[dict[str, Any]]]:
    """initialize, tools/list and the given tool call (an argument "@x" is the path lab.root / x)."""

    def plan(lab: Lab, tag: str) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = [
            {"id": "initialize", "kind": "initialize"},
            {"id": "tools/list", "kind": "request", "method": "tools/list"},
        ]
        if call is not None:
            name, arguments = call
            args = {
                k: str(lab.root / v[1:]) if isinstance(v, str) and v[:1] == "@" else v for k, v in arguments.items()
            }
            steps.append({"id": "tools/call", "kind": "call", "name": name, "arguments": args})
        return steps

    return plan


def _filesystem_plan(lab: Lab, tag: str) -> list[dict[str, Any]]:
    """The basic plan, then a write_file the policy denies (to a file of this session's own)."""
    steps = _basic_plan(("read_text_file", {"path": "@files/hello.txt"}))(lab, tag)
    write = {"path": str(lab.root / "files" / f"written-{tag}.txt"), "content": "written"}
    return [*steps, {"id": "blocked", "kind": "call", "name": "write_file", "arguments": write}]


PLANS: dict[str, Callable[[Lab, str], list[dict[str, Any]]]] = {
    "everything": lambda lab, tag: EVERYTHING_STEPS,
    "filesystem": _filesystem_plan,
    "time": _basic_plan(("convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})),
    "fetch": lambda lab, tag: _basic_plan(("fetch", {"url": f"{lab.web}/page.html", "raw": True}))(lab, tag),
}


# ----------------------------------------------------------------------------------------------------------- comparison


def unwrapped(value: Any, found: list[str] | None = None) -> Any:
    """``value`` with every spotlight-wrapped string replaced by its inner text (the wrapped ones listed in found)."""
    if isinstance(value, str):
        inner = unwrap(value)
        if inner is None:
            return value
        if found is not None:
            found.append(inner[1])
        return inner[1]
    if isinstance(value, list):
        return [unwrapped(v, found) for v in value]
    if isinstance(value, dict):
        return {k: unwrapped(v, found) for k, v in value.items()}
    return value


def _ok(record: dict[str, Any], step: str) -> Any:
    entry = record[step]
    assert "ok" in entry, f"{step} failed: {entry}"
    return entry["ok"]


def assert_same(recs: dict[str, dict[str, Any]], step: str) -> None:
    """Scan-only data: the host sees exactly the same result through the proxy."""
    assert _ok(recs["proxy"], step) == _ok(recs["direct"], step)


def assert_same_wrapped(recs: dict[str, dict[str, Any]], step: str, texts: Callable[[Any], list[str]]) -> None:
    """Output a model reads: each text the server sent arrives wrapped, and unwrapping gives back the direct result."""
    direct, proxied = _ok(recs["direct"], step), _ok(recs["proxy"], step)
    found: list[str] = []
    assert unwrapped(proxied, found) == direct
    expected = texts(direct)
    assert expected and sorted(found) == sorted(expected), "every text a model reads is wrapped, nothing else"


def _content_texts(result: Any) -> list[str]:
    return [block["text"] for block in result["content"] if block.get("type") == "text"]


def _message_texts(result: Any) -> list[str]:
    return [m["content"]["text"] for m in result["messages"] if m["content"]["type"] == "text"]


def _resource_texts(result: Any) -> list[str]:
    return [c["text"] for c in result["contents"] if "text" in c]


SERVERS = ("everything", "filesystem", "time", "fetch")
#: The official clients, each through the stdio proxy and (``-http``) through the gateway over Streamable HTTP.
SDK_HOSTS = ("python", "typescript", "python-http", "typescript-http")


# ---------------------------------------------------------------------------------------------- SDK hosts (python, ts)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("host", SDK_HOSTS)
def test_initialize_result(records: Any, host: str, server: str) -> None:
    """Capabilities, serverInfo, instructions and protocol version are the server's; the proxy adds its session id."""
    recs = records(host, server)
    direct, proxied = _ok(recs["direct"], "initialize"), _ok(recs["proxy"], "initialize")
    assert direct["serverInfo"]["name"]
    if host.startswith("python"):  # the TypeScript client does not expose the result's _meta
        meta = proxied.pop("_meta")
        assert set(meta) == {SESSION_META_KEY} and meta[SESSION_META_KEY].startswith("1.")
        assert SESSION_META_KEY not in direct.get("_meta", {})
    assert proxied == direct


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("host", SDK_HOSTS)
def test_tools_list_identical(records: Any, host: str, server: str) -> None:
    recs = records(host, server)
    assert _ok(recs["direct"], "tools/list")["tools"]
    assert_same(recs, "tools/list")


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("host", SDK_HOSTS)
def test_allowed_tool_call(records: Any, host: str, server: str) -> None:
    """Same result; text content wrapped (structuredContent, when there is one, untouched)."""
    assert_same_wrapped(records(host, server), "tools/call", _content_texts)


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_tool_call_content(records: Any, host: str) -> None:
    """The comparisons above compare real data: the servers' own answers."""
    assert _content_texts(_ok(records(host, "everything")["direct"], "tools/call")) == ["Echo: hello from the host"]
    assert _content_texts(_ok(records(host, "filesystem")["direct"], "tools/call")) == ["hello, file\n"]
    assert PAGE in _content_texts(_ok(records(host, "fetch")["direct"], "tools/call"))[0]
    assert "Asia/Tokyo" in json.dumps(_ok(records(host, "time")["direct"], "tools/call"))


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_prompts(records: Any, host: str) -> None:
    recs = records(host, "everything")
    assert_same(recs, "prompts/list")
    assert_same_wrapped(recs, "prompts/get", _message_texts)
    assert any("Paris" in text for text in _message_texts(_ok(recs["direct"], "prompts/get")))


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_resources(records: Any, host: str) -> None:
    recs = records(host, "everything")
    assert_same(recs, "resources/list")
    assert_same(recs, "resources/templates/list")
    assert_same_wrapped(recs, "resources/read", _resource_texts)


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_completion(records: Any, host: str) -> None:
    recs = records(host, "everything")
    assert _ok(recs["direct"], "completion/complete")["completion"]["values"]
    assert_same(recs, "completion/complete")


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_logging_set_level(records: Any, host: str) -> None:
    assert_same(records(host, "everything"), "logging/setLevel")


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_logging_notifications(records: Any, host: str) -> None:
    """The server's notifications/message reach the host unchanged (scan only): a random level, its own text."""
    recs = records(host, "everything")
    for mode in ("direct", "proxy"):
        first = _ok(recs[mode], "notifications/message")["first"]
        level, data = first["level"], first["data"]
        assert data.lower().startswith(level) and "message" in data, first


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_progress_notifications(records: Any, host: str) -> None:
    """Progress notifications reach the host's callback for their request (the proxy translates the tokens back).

    The TypeScript client handles a notification a tick later than the response that follows it on the wire, so the
    last one can miss its callback (directly as well); that host is held to an in-order prefix of the three steps.
    """
    recs = records(host, "everything")
    direct, proxied = _ok(recs["direct"], "progress"), _ok(recs["proxy"], "progress")
    for got in (direct, proxied):
        seen = [(p["progress"], p["total"]) for p in got["progress"]]
        if host.startswith("python"):
            assert seen == [(1, 3), (2, 3), (3, 3)]
        else:
            assert seen and seen == [(1, 3), (2, 3), (3, 3)][: len(seen)]
    assert unwrapped(proxied["result"]) == direct["result"] and proxied["result"] != direct["result"]


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_sampling_round_trip(records: Any, host: str) -> None:
    """The server's sampling request reaches the host unchanged (scan only) and the host's answer reaches the server."""
    recs = records(host, "everything")
    assert recs["proxy"]["seen"]["sampling"] == recs["direct"]["seen"]["sampling"]
    assert len(recs["direct"]["seen"]["sampling"]) == 1
    assert_same_wrapped(recs, "sampling", _content_texts)
    assert SAMPLING_REPLY in _content_texts(_ok(recs["proxy"], "sampling"))[0]


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_elicitation_round_trip(records: Any, host: str) -> None:
    recs = records(host, "everything")
    assert recs["proxy"]["seen"]["elicitation"] == recs["direct"]["seen"]["elicitation"]
    assert len(recs["direct"]["seen"]["elicitation"]) == 1
    assert_same_wrapped(recs, "elicitation", _content_texts)
    assert any(ELICITATION_REPLY["name"] in t for t in _content_texts(unwrapped(_ok(recs["proxy"], "elicitation"))))


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_cancellation(records: Any, host: str) -> None:
    """A cancelled call ends on the host's side and the session keeps answering."""
    recs = records(host, "everything")
    for mode in ("direct", "proxy"):
        got = _ok(recs[mode], "cancellation")
        assert got["outcome"] == "aborted"
        assert _content_texts(unwrapped(got["after"])) == ["Echo: still here"]


def _wire(lab: Lab, host: str) -> list[dict[str, Any]]:
    """Every message server-everything received in the host's proxied session, as the tap logged it."""
    return [json.loads(line) for line in lab.wire(host).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_cancellation_reaches_the_server(lab: Lab, records: Any, host: str) -> None:
    """The host's notifications/cancelled reaches the server with the proxy's id of the call it cancels."""
    records(host, "everything")
    wire = _wire(lab, host)
    calls = [m for m in wire if m.get("method") == "tools/call"]
    long = [m for m in calls if m["params"]["arguments"] == {"duration": 60, "steps": 120}]
    assert len(long) == 1
    cancels = [m["params"]["requestId"] for m in wire if m.get("method") == "notifications/cancelled"]
    assert cancels == [long[0]["id"]]


@pytest.mark.parametrize("server", ["everything", "filesystem"])
@pytest.mark.parametrize("host", SDK_HOSTS)
def test_policy_blocked_call(lab: Lab, records: Any, host: str, server: str) -> None:
    """Denied by the proxy with the block code; directly the server runs it."""
    recs = records(host, server)
    assert "ok" in recs["direct"]["blocked"]
    error = recs["proxy"]["blocked"].get("error")
    assert error is not None and error["code"] == BLOCK_CODE and BLOCK_PREFIX in error["message"]


@pytest.mark.parametrize("host", SDK_HOSTS)
def test_blocked_call_never_reaches_the_server(lab: Lab, records: Any, host: str) -> None:
    """The denied write_file never ran behind the proxy (no file), while directly the same call writes its file; the
    denied get-env never reached server-everything (the tap between proxy and server saw no such call)."""
    recs = records(host, "filesystem")
    assert "error" in recs["proxy"]["blocked"]
    assert (lab.root / "files" / f"written-{host}-direct.txt").read_text() == "written"
    assert not (lab.root / "files" / f"written-{host}-proxy.txt").exists()
    audit = (lab.root / f"audit-{host}-filesystem.jsonl").read_text()
    assert "write_file" in audit and "read_text_file" in audit
    records(host, "everything")
    names = [m["params"]["name"] for m in _wire(lab, host) if m.get("method") == "tools/call"]
    assert "echo" in names and "get-env" not in names


# -------------------------------------------------------------------------------------------------- Inspector CLI


INSPECTOR_CALLS: dict[str, list[str]] = {
    "tools/list": ["--method", "tools/list"],
    "tools/call": ["--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=hello from the inspector"],
    "prompts/list": ["--method", "prompts/list"],
    "prompts/get": ["--method", "prompts/get", "--prompt-name", "args-prompt", "--prompt-args", "city=Paris"],
    "resources/list": ["--method", "resources/list"],
    "resources/read": ["--method", "resources/read", "--uri", "demo://resource/static/document/architecture.md"],
    "resources/templates/list": ["--method", "resources/templates/list"],
    "logging/setLevel": ["--method", "logging/setLevel", "--log-level", "debug"],
    "blocked": ["--method", "tools/call", "--tool-name", "get-env"],
}


def _inspector(lab: Lab, args: list[str], target: list[str] | str) -> tuple[int, Any]:
    """One Inspector CLI run against a server command (stdio) or a URL (Streamable HTTP): its exit code and its
    JSON output (stdout, or its error report on stderr)."""
    where = [target, "--transport", "http", *args] if isinstance(target, str) else [*args, "--", *target]
    done = subprocess.run(
        [str(lab.bin / "mcp-inspector"), "--cli", *where],
        capture_output=True,
        text=True,
        timeout=HOST_TIMEOUT,
        check=False,
        cwd=lab.root,
    )
    if done.returncode != 0:
        return done.returncode, done.stderr[-4000:]
    try:
        return done.returncode, json.loads(done.stdout)
    except json.JSONDecodeError:
        return done.returncode, done.stdout


@pytest.fixture(scope="module")
def inspector(lab: Lab) -> Iterator[dict[str, dict[str, tuple[int, Any]]]]:
    """Every Inspector CLI call against server-everything: direct, through the stdio proxy, and over Streamable HTTP
    through one gateway in front of it (four at a time: each run mostly waits for start-up and shutdown); the
    blocked call only through sentinel-lab (the SDK hosts show it runs directly)."""
    jobs = [
        (step, mode)
        for step in INSPECTOR_CALLS
        for mode in ("direct", "proxy", "gateway")
        if (step, mode) != ("blocked", "direct")
    ]
    port = free_port()
    gateway = lab.command("everything", True, "inspector-http", listen=port)
    targets: dict[str, list[str] | str] = {
        "direct": lab.command("everything", False),
        "proxy": lab.command("everything", True),
        "gateway": f"http://127.0.0.1:{port}/mcp",
    }
    with serving(gateway, port, lab.root / "inspector-gateway.err"), ThreadPoolExecutor(4) as pool:
        futures = {job: pool.submit(_inspector, lab, INSPECTOR_CALLS[job[0]], targets[job[1]]) for job in jobs}
        out: dict[str, dict[str, tuple[int, Any]]] = {}
        for (step, mode), future in futures.items():
            out.setdefault(mode, {})[step] = future.result()
    yield out


#: How the Inspector reaches server-everything through sentinel-lab: the stdio proxy, or the gateway over HTTP.
VIAS = ("proxy", "gateway")


def _inspector_ok(results: dict[str, dict[str, tuple[int, Any]]], mode: str, step: str) -> Any:
    code, body = results[mode][step]
    assert code == 0 and isinstance(body, dict), f"inspector {step} ({mode}) failed: {code} {body!r}"
    return body


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("step", ["tools/list", "prompts/list", "resources/list", "resources/templates/list"])
def test_inspector_lists_identical(inspector: Any, step: str, via: str) -> None:
    direct = _inspector_ok(inspector, "direct", step)
    assert direct and _inspector_ok(inspector, via, step) == direct


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(
    ("step", "texts"),
    [
        ("tools/call", _content_texts),
        ("prompts/get", _message_texts),
        ("resources/read", _resource_texts),
    ],
)
def test_inspector_output_wrapped(inspector: Any, step: str, texts: Callable[[Any], list[str]], via: str) -> None:
    recs = {
        mode: {step: {"ok": _inspector_ok(inspector, src, step)}}
        for mode, src in (("direct", "direct"), ("proxy", via))
    }
    assert_same_wrapped(recs, step, texts)


@pytest.mark.parametrize("via", VIAS)
def test_inspector_logging_set_level(inspector: Any, via: str) -> None:
    assert _inspector_ok(inspector, via, "logging/setLevel") == _inspector_ok(inspector, "direct", "logging/setLevel")


@pytest.mark.parametrize("via", VIAS)
def test_inspector_policy_blocked_call(inspector: Any, via: str) -> None:
    code, report = inspector[via]["blocked"]
    assert code != 0 and f"{BLOCK_PREFIX}tool 'get-env' is denied" in report
