"""The balance shown is fresh after a 402 and after buying credits (issue 18, item 4), with
Redis shared by two processes of one app: what one process drops reaches the other.

Process A is a Starlette app (AsyncResolver, httpx's ASGITransport), process B a WSGI app
(Resolver, Werkzeug's test client); each has its own first level, both share a real
redis-server and the fake clock. B's first-level copy is let run out (``l1_ttl``) before it
reads again, so what it shows comes from Redis: without the drop it would be the balance
cached before the purchase (``wallet_ttl``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

from focus_middleware import FocusConfig, FocusMiddleware, require_credits
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import FocusWSGIMiddleware

from tests.asgi.conftest import client_for

from .conftest import ORIGIN, WALLET, RedisServer

pytestmark = pytest.mark.anyio

NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
API = {"accept": "application/json"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def femu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock) as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator
        emulator.check_books()


@pytest.fixture
def config(femu: FocusEmulator, clock: FakeClock, redis_server: RedisServer, rds: redis.Redis) -> FocusConfig:
    return FocusConfig(api_url=femu.url, issuer=femu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0, cache_url=redis_server.url)


@require_credits(5)
async def gated(request: Request) -> JSONResponse:
    return JSONResponse({"credits": request.state.focus_account.credits})


async def shown(request: Request) -> JSONResponse:
    account = request.state.focus_account
    return JSONResponse({"credits": account.credits if account else None})


def process_a(config: FocusConfig) -> Starlette:
    app = Starlette(routes=[Route("/gated", gated), Route("/", shown)])
    app.add_middleware(FocusMiddleware, config=config)
    return app


def wsgi_shown(environ: dict[str, Any], start_response: Any) -> Any:
    account = WRequest(environ).environ["focus.account"]
    return WResponse(json.dumps({"credits": account.credits if account else None}),
                     mimetype="application/json")(environ, start_response)


@pytest.fixture
def process_b(config: FocusConfig) -> Iterator[Client]:
    app = FocusWSGIMiddleware(wsgi_shown, config=config)
    yield Client(app)
    app.close()


def wallet_keys(rds: redis.Redis, user: EmulatedUser) -> list[str]:
    keys = (k.decode() if isinstance(k, bytes) else k for k in rds.keys("*"))
    return [k for k in keys if "wallet" in k and user.clerk_id in k]


async def until_gone(rds: redis.Redis, user: EmulatedUser) -> None:
    """A's shared delete runs as a task on its loop, after the 402 went out: let it run."""
    deadline = time.monotonic() + 5
    while wallet_keys(rds, user):
        assert time.monotonic() < deadline, "the shared wallet entry was never deleted"
        await anyio.sleep(0.01)


def credits_in_b(b: Client, headers: dict[str, str] = API) -> Any:
    return json.loads(b.get("/", headers=headers).get_data())["credits"]


async def test_a_402_in_one_process_drops_the_wallet_for_all(config: FocusConfig, femu: FocusEmulator,
                                                             process_b: Client, rds: redis.Redis,
                                                             clock: FakeClock) -> None:
    user = femu.create_user(credits=3)
    token = user.session_jwt(azp=ORIGIN)
    process_b.set_cookie("focus_session", token)
    async with client_for(process_a(config)) as a:
        a.cookies.set("focus_session", token)
        assert credits_in_b(process_b) == 3
        assert wallet_keys(rds, user)  # B's wallet is in Redis: A reads it there
        assert (await a.get("/gated", headers=API)).status_code == 402
        assert femu.calls(WALLET) == 1
        await until_gone(rds, user)
        femu.add_credits(user, 10)  # what the billing page does
        clock.advance(config.l1_ttl + 1)  # B's own copy ran out; Redis would still have had 3
        assert credits_in_b(process_b) == 13
        assert femu.calls(WALLET) == 2


async def test_back_from_billing_in_one_process_drops_it_for_all(config: FocusConfig, femu: FocusEmulator,
                                                                 process_b: Client, rds: redis.Redis,
                                                                 clock: FakeClock) -> None:
    user = femu.create_user(credits=3)
    token = user.session_jwt(azp=ORIGIN)
    process_b.set_cookie("focus_session", token)
    async with client_for(process_a(config)) as a:
        a.cookies.set("focus_session", token)
        assert (await a.get("/", headers=API)).json()["credits"] == 3
        assert credits_in_b(process_b) == 3  # from Redis
        femu.add_credits(user, 10)
        landed = await a.get("/?focus_billed=1", headers=NAV)
        assert landed.status_code == 303 and landed.headers["location"] == f"{ORIGIN}/"
        assert not wallet_keys(rds, user)  # awaited by the marked request itself
        clock.advance(config.l1_ttl + 1)
        assert credits_in_b(process_b) == 13
        assert (await a.get("/", headers=API)).json()["credits"] == 13
        assert femu.calls(WALLET) == 2  # one fetch shared through Redis
