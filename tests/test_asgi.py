"""The ASGI middleware in front of a real Starlette app, driven by a real ASGI client (httpx)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sentinel_lab import SentinelMiddleware, Verifier

reached: list[dict] = []


async def tools(request: Request) -> JSONResponse:
    verdict = request.state.sentinel_verdict
    body = await request.json()
    reached.append(body)
    return JSONResponse({"status": "executed", "allowed": verdict.allowed, "echo": body})


async def other(request: Request) -> JSONResponse:
    return JSONResponse({"raw": (await request.body()).decode()})


def make_app(**kwargs) -> Starlette:
    app = Starlette(routes=[Route("/api/tools", tools, methods=["POST"]), Route("/other", other, methods=["POST"])])
    app.add_middleware(SentinelMiddleware, verifier=Verifier(rate_limit=False, **kwargs), max_body=4096)
    return app


async def _post(app: Starlette, path: str, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post(path, **kwargs)


def post(app: Starlette, path: str, **kwargs) -> httpx.Response:
    return asyncio.run(_post(app, path, **kwargs))


def test_allowed_call_reaches_the_app_with_its_verdict_and_body() -> None:
    reached.clear()
    action = {"tool": "read_file", "args": {"path": "src/main.py"}}
    response = post(make_app(), "/api/tools", json=action)
    assert response.status_code == 200
    assert response.json() == {"status": "executed", "allowed": True, "echo": action}
    assert reached == [action]


def test_blocked_call_gets_403_with_the_verdict_and_never_reaches_the_app() -> None:
    reached.clear()
    app = make_app(scope={"blocked_tools": ["exec"]})
    response = post(app, "/api/tools", json={"tool": "exec", "args": {"command": "ls"}})
    assert response.status_code == 403
    body = response.json()
    assert body["verdict"]["allowed"] is False
    assert body["verdict"]["violations"][0]["policy"] == "scope_enforcement"
    assert reached == []


def test_bad_bodies_get_400_and_oversize_413() -> None:
    app = make_app()
    assert post(app, "/api/tools", content=b"{not json").status_code == 400
    assert post(app, "/api/tools", json={"command": "ls"}).status_code == 400
    assert post(app, "/api/tools", content=b"x" * 5000).status_code == 413


def test_other_routes_pass_untouched() -> None:
    response = post(make_app(scope={"blocked_tools": ["*"]}), "/other", content=b"rm -rf /")
    assert response.status_code == 200 and response.json() == {"raw": "rm -rf /"}


def test_policy_sessions_taint_through_the_middleware() -> None:
    """With a Policy, a source the app executed taints the session named by the header; the sink is then 403."""
    from sentinel_lab import Policy

    policy = Policy.from_yaml(
        """
static_rules: {get_user_profile: ALLOW, send_email: ALLOW}
taint_rules:
  - {tool: get_user_profile, action: ADD_TAINT, taint_tags: [PII]}
  - {tool: send_email, action: CHECK_TAINT, forbidden_taints: [PII], message: "no email after PII"}
verifier: {enabled: false}
"""
    )
    app = Starlette(routes=[Route("/api/tools", tools, methods=["POST"])])
    app.add_middleware(SentinelMiddleware, verifier=policy)
    mail = {"tool": "send_email", "args": {"to": "bob@example.com", "body": "hi"}}
    alice = {"x-sentinel-session": "alice"}

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            codes = [(await client.post("/api/tools", json=mail, headers=alice)).status_code]
            profile = {"tool": "get_user_profile", "args": {"id": 1}}
            codes.append((await client.post("/api/tools", json=profile, headers=alice)).status_code)
            codes.append((await client.post("/api/tools", json=mail, headers=alice)).status_code)
            codes.append(
                (await client.post("/api/tools", json=mail, headers={"x-sentinel-session": "bob"})).status_code
            )
            return codes

    assert asyncio.run(scenario()) == [200, 200, 403, 200]


# ------------------------------------------------------------------ one reading of every body, every method guarded
seen: list[tuple[str, bytes, str | None]] = []


async def record_raw(request: Request) -> JSONResponse:
    """The app downstream: remembers the exact bytes and content-length it was given."""
    body = await request.body()
    seen.append((request.method, body, request.headers.get("content-length")))
    return JSONResponse({"status": "executed"})


ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def strict_app(guard: Any = None) -> Starlette:
    routes = [Route("/api/tools", record_raw, methods=ALL), Route("/api/tools/{rest:path}", record_raw, methods=ALL)]
    app = Starlette(routes=routes)
    guard = guard if guard is not None else Verifier(rate_limit=False, scope={"blocked_tools": ["exec"]})
    app.add_middleware(SentinelMiddleware, verifier=guard)
    return app


async def _send(app: Starlette, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, **kwargs)


def send(app: Starlette, method: str, path: str = "/api/tools", **kwargs: Any) -> httpx.Response:
    return asyncio.run(_send(app, method, path, **kwargs))


AMBIGUOUS = [
    {"tool": "read_file", "args": {"path": "a"}, "name": "exec", "arguments": {"command": "rm -rf /"}},
    {"name": "read_file", "arguments": {}, "tool": "exec"},
    {"tool": "read_file", "args": {"path": "a"}, "arguments": {"command": "rm -rf /"}},
    {"type": "tool_use", "name": "read_file", "input": {}, "arguments": {"command": "x"}},
    {"type": "tool_use", "name": "read_file", "input": {}, "tool": "exec"},
    {"type": "function", "function": {"name": "read_file", "arguments": "{}"}, "name": "exec"},
    {"type": "function", "function": {"name": "read_file", "arguments": "{}", "input": {"command": "x"}}},
    {"type": "function", "function": {"name": "read_file"}, "tool": "exec", "args": {}},
    {"name": "read_file", "input": {"path": "a"}, "arguments": {}},
]


@pytest.mark.parametrize("body", AMBIGUOUS)
def test_a_body_with_two_call_shapes_is_400_and_never_reaches_the_app(body: dict[str, Any]) -> None:
    seen.clear()
    response = send(strict_app(), "POST", json=body)
    assert response.status_code == 400, body
    assert "error" in response.json() and "not exactly one tool call" in response.json()["error"]
    assert seen == []


UNREADABLE = [
    b'{"tool": "read_file", "tool": "exec", "args": {}}',  # duplicate keys: first-wins and last-wins readers
    b'{"tool": "read_file", "args": {"path": "a", "path": "b"}}',
    b'{"type": "function", "function": {"name": "read_file", "arguments": "{\\"p\\": 1, \\"p\\": 2}"}}',
    b'[{"tool": "read_file", "args": {}}]',
    b'"read_file"',
    b"5",
    b"null",
    b"",
    b"   ",
    b'{"tool": "read_file", "args": {"n": NaN}}',
    b'{"tool": "read_file", "args": {"n": 1e999}}',
    b'{"tool": "read_file", "args": {"p": "\xff"}}',
    b'\xef\xbb\xbf{"tool": "read_file", "args": {}}',
    '{"tool": "read_file", "args": {}}'.encode("utf-16"),
    '{"tool": "read_file", "args": {}}'.encode("utf-32-le"),
    b'{"tool": "read_file", "args": {"p": "\\ud800"}}',
    b'{"tool": "read_file", "args": ' + b"[" * 100 + b"]" * 100 + b"}",
    b'{"tool": "read_file", "args": {"n": ' + b"9" * 1000 + b"}}",
    b'{"tool": "read_file", "args": "[1, 2]"}',
    b'{"tool": "read_file" "args": {}}',
]


@pytest.mark.parametrize("raw", UNREADABLE)
def test_unreadable_bodies_are_400_with_a_clear_error_and_never_passed_on(raw: bytes) -> None:
    seen.clear()
    response = send(strict_app(), "POST", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, raw[:60]
    error = response.json()["error"]
    assert error.startswith("not exactly one tool call: ") and len(error) > 30
    assert seen == []


def test_the_app_receives_exactly_the_bytes_that_were_judged() -> None:
    seen.clear()
    raw = b'{ "tool" : "read_file",\n  "args": {"path": "caf\\u00e9.txt", "n": 1.50, "l": [1, {"a": true}]}, "id": 7 }'
    response = send(strict_app(), "POST", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    judged = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode()
    assert seen == [("POST", judged, str(len(judged)))]
    assert seen[0][1] != raw


def test_arguments_sent_as_a_json_string_stay_a_string_re_serialised() -> None:
    seen.clear()
    body = {"type": "function", "function": {"name": "read_file", "arguments": ' {"path" :  "a.txt"} '}}
    assert send(strict_app(), "POST", json=body).status_code == 200
    passed = json.loads(seen[0][1])
    assert passed["function"]["arguments"] == '{"path":"a.txt"}'


def test_every_method_on_the_guarded_path_is_guarded() -> None:
    seen.clear()
    app = strict_app()
    blocked = {"tool": "exec", "args": {"command": "ls"}}
    for method in ("POST", "PUT", "PATCH"):
        assert send(app, method, json=blocked).status_code == 403, method
        assert send(app, method, json={"tool": "read_file", "args": {"path": "a"}}).status_code == 200, method
        assert send(app, method).status_code == 400, method  # no body: not a tool call
    assert [m for m, _, _ in seen] == ["POST", "PUT", "PATCH"]
    seen.clear()
    for method in ("GET", "DELETE", "OPTIONS", "HEAD"):  # no call can be judged: refused, with or without a body
        plain = send(app, method, "/api/tools?tool=exec&command=ls")
        assert plain.status_code == 405 and plain.headers["allow"] == "POST, PUT, PATCH", method
        if method != "HEAD":
            assert send(app, method, content=json.dumps(blocked).encode()).status_code == 405, method
    assert seen == []


@pytest.mark.parametrize("path", ["/api/tools/", "/api/tools/run", "/api//tools", "/API/Tools"])
def test_path_spellings_of_the_guarded_route_are_guarded(path: str) -> None:
    seen.clear()
    response = send(strict_app(), "POST", path, json={"tool": "exec", "args": {"command": "ls"}})
    assert response.status_code == 403, path
    assert send(strict_app(), "GET", path).status_code == 405
    assert seen == []


def test_a_websocket_on_the_guarded_path_is_closed_before_accept() -> None:
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    with TestClient(strict_app()) as client, pytest.raises(WebSocketDisconnect) as closed:
        client.websocket_connect("/api/tools").__enter__()
    assert closed.value.code == 1008


def test_policy_rules_see_coerced_arguments_through_the_middleware() -> None:
    from sentinel_lab import Policy

    policy = Policy.from_yaml(
        """
static_rules: {pay: ALLOW}
argument_rules:
  - {tool: pay, arg: amount, deny_if: {min: 1000.01}}
  - {tool: pay, arg: 'cc[*]', deny_if: {in: [admin@example.com]}}
verifier: {enabled: false}
"""
    )
    seen.clear()
    app = strict_app(policy)
    for args in ({"amount": "5_000"}, {"amount": 10, "cc": '["ADMIN@Example.com"]'}, {"amount": " 1e4 "}):
        assert send(app, "POST", json={"name": "pay", "arguments": args}).status_code == 403, args
    assert send(app, "POST", json={"name": "pay", "arguments": {"amount": "1_000"}}).status_code == 200
    assert len(seen) == 1


@pytest.mark.parametrize("path", ["//api//tools", "/api/x/../tools", "/./api/tools/.", "/api\\tools", "/Api/TOOLS/"])
def test_raw_asgi_path_spellings_are_guarded(path: str) -> None:
    """Paths as a server may hand them over, without a client normalising them first."""
    reached_app: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached_app.append(scope["path"])

    sent: list[dict[str, Any]] = []

    async def scenario() -> None:
        mw = SentinelMiddleware(app, Verifier(rate_limit=False))

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "headers": []}
        await mw(scope, receive, send)

    asyncio.run(scenario())
    assert reached_app == [] and sent[0]["status"] == 405
