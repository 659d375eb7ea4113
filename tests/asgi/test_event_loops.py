"""One app, many event loops: the way people test ASGI apps.

A module-level Starlette or FastAPI app is imported once and driven by tests that each run
in their own event loop: pytest-asyncio's default (function-scoped loops), or
``asyncio.run`` per call. Everything the middleware binds to a loop (the HTTP client to
Focus first) must follow the running loop; before, every request after the first loop
answered 500 (``RuntimeError: Event loop is closed``).

pytest-asyncio's loop scope: https://pytest-asyncio.readthedocs.io/en/stable/concepts.html
("each test runs in a new event loop by default"); httpx's ASGITransport:
https://www.python-httpx.org/advanced/transports/#asgi-transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import trio
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from focus_middleware import FocusConfig, FocusMiddleware, require_account
from focus_middleware.fastapi import current_account
from focus_middleware.models import FocusAccount
from focus_middleware.testing import FocusEmulator

ORIGIN = "http://testserver"


@pytest.fixture(scope="module")
def focus() -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:") as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator


@pytest.fixture(scope="module")
def apps(focus: FocusEmulator) -> dict[str, object]:
    """Built once per module, as a module-level ``app = ...`` is."""
    config = FocusConfig(api_url=focus.url, issuer=focus.issuer, app="video", public_origin=ORIGIN)

    @require_account
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"credits": request.state.focus_account.credits})

    starlette = Starlette(routes=[Route("/me", me)])
    starlette.add_middleware(FocusMiddleware, config=config)

    fastapi = FastAPI()

    @fastapi.get("/me")
    async def fastapi_me(account: FocusAccount = Depends(current_account)) -> dict[str, int]:
        return {"credits": account.credits}

    fastapi.add_middleware(FocusMiddleware, config=config)
    return {"starlette": starlette, "fastapi": fastapi}


async def ask(app: object, focus: FocusEmulator) -> httpx.Response:
    # A new user each time: the wallet is not cached, so the request goes to Focus.
    user = focus.create_user(credits=4)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        return await client.get("/me", headers={"authorization": f"Bearer {user.session_jwt(azp=ORIGIN)}"})


@pytest.mark.parametrize("loop_round", range(3))
@pytest.mark.parametrize("name", ["starlette", "fastapi"])
@pytest.mark.asyncio
async def test_each_test_in_its_own_loop(apps: dict[str, object], focus: FocusEmulator, name: str, loop_round: int) -> None:
    r = await ask(apps[name], focus)
    assert r.status_code == 200 and r.json() == {"credits": 4}


@pytest.mark.parametrize("name", ["starlette", "fastapi"])
def test_asyncio_run_per_call(apps: dict[str, object], focus: FocusEmulator, name: str) -> None:
    for _ in range(3):
        r = asyncio.run(ask(apps[name], focus))
        assert r.status_code == 200


def test_trio_after_asyncio(apps: dict[str, object], focus: FocusEmulator) -> None:
    """anyio's other backend: the same app answers under trio, between asyncio runs."""
    assert asyncio.run(ask(apps["starlette"], focus)).status_code == 200
    answers: list[int] = []

    async def under_trio() -> None:
        answers.append((await ask(apps["starlette"], focus)).status_code)

    trio.run(under_trio)
    trio.run(under_trio)
    assert answers == [200, 200]
    assert asyncio.run(ask(apps["starlette"], focus)).status_code == 200
