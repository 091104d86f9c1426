"""The ASGI middleware in front of a real Starlette app, driven by a real ASGI client (httpx)."""

from __future__ import annotations

import asyncio

import httpx
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
