"""Real Starlette and FastAPI apps behind FocusMiddleware, against a real emulator.

Every test gets its own emulator (tests/conftest.py) on a fake clock shared with the app's
config, so token expiry and cache ages move together and nothing sleeps.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from focus_middleware import FocusConfig, FocusMiddleware, require_account, require_credits
from focus_middleware.testing import EmulatedUser, FocusEmulator

ORIGIN = "http://app.example.test"
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
SAME_ORIGIN_API = {"sec-fetch-mode": "cors", "sec-fetch-site": "same-origin", "accept": "application/json"}
API = {"accept": "application/json"}
XSS_ACTION = '<script>alert("x")</script> & co'


@pytest.fixture
def config(emu: FocusEmulator, clock: FakeClock) -> FocusConfig:
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0)


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


def who(request: Request) -> dict[str, Any]:
    account = request.state.focus_account
    return {
        "authenticated": request.user.is_authenticated,
        "clerk_id": account.clerk_id if account else None,
        "credits": account.credits if account else None,
        "reason": getattr(request.user, "reason", None),
        "scopes": request.auth.scopes,
    }


async def public(request: Request) -> Response:
    return JSONResponse(who(request))


@require_account
async def private(request: Request) -> Response:
    return JSONResponse(who(request))


@require_account
def private_sync(request: Request) -> Response:
    return JSONResponse(who(request))


@require_credits(5)
async def credits(request: Request) -> Response:
    return JSONResponse(who(request))


@require_credits(5, action=XSS_ACTION)
def credits_sync(request: Request) -> Response:
    return JSONResponse(who(request))


class Page(HTTPEndpoint):
    @require_account
    async def get(self, request: Request) -> Response:
        return JSONResponse(who(request))

    @require_credits(3)
    def post(self, request: Request) -> Response:
        return JSONResponse(who(request))


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), headers={"cache-control": "public, max-age=60", "vary": "Accept-Encoding"})


async def echo(request: Request) -> Response:
    body = await request.body()
    return PlainTextResponse(body, headers={"cache-control": "no-store"})


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    user = websocket.scope["user"]
    await websocket.send_json({"authenticated": user.is_authenticated, "reason": getattr(user, "reason", None)})
    await websocket.close()


ROUTES = [
    Route("/", public, methods=["GET", "POST"]),
    Route("/private", private, methods=["GET", "POST", "DELETE"]),
    Route("/private-sync", private_sync, methods=["GET", "POST"]),
    Route("/credits", credits, methods=["GET", "POST"]),
    Route("/credits-sync", credits_sync),
    Route("/page", Page),
    Route("/stream", stream),
    Route("/echo", echo, methods=["POST"]),
    WebSocketRoute("/ws", ws),
]


def starlette_app(config: FocusConfig, **options: Any) -> Starlette:
    app = Starlette(routes=list(ROUTES))
    app.add_middleware(FocusMiddleware, config=config, **options)
    return app


def fastapi_app(config: FocusConfig, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        return who(request)

    @app.get("/private")
    @require_account
    async def fa_private(request: Request) -> dict[str, Any]:
        return who(request)

    @app.post("/private")
    @require_account
    def fa_private_post(item: dict[str, Any]) -> dict[str, Any]:  # no Request parameter at all
        return {"item": item}

    @app.get("/credits")
    @require_credits(5, action=XSS_ACTION)
    async def fa_credits(n: int = 1) -> dict[str, Any]:
        return {"n": n}

    @app.get("/credits-sync")
    @require_credits(5)
    def fa_credits_sync(request: Request) -> dict[str, Any]:
        return who(request)

    app.add_middleware(FocusMiddleware, config=config, **options)
    return app


AppFactory = Callable[..., Any]


@pytest.fixture(params=["starlette", "fastapi"])
def make_app(request: pytest.FixtureRequest) -> AppFactory:
    return starlette_app if request.param == "starlette" else fastapi_app


def client_for(app: Any, *, client: tuple[str, int] = ("203.0.113.9", 50000), base_url: str = ORIGIN,
               root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=client, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def test_client(app: Any, **options: Any) -> Any:
    """Starlette's TestClient (for WebSockets and lifespan), imported without its notice
    that it prefers another HTTP client."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app, base_url=ORIGIN, **options)


test_client.__test__ = False  # type: ignore[attr-defined]
