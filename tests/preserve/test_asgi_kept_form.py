"""A form is never lost to an expired session token (issue 24): Starlette and FastAPI
behind FocusMiddleware, driven by httpx's ASGITransport against the real emulator on the
fake clock. FastAPI parses ``Form`` parameters before any dependency runs (see FastAPI's
``fastapi/routing.py``, ``get_request_handler``), so these also show the middleware keeps
the body it read up front for the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Form
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from focus_middleware import FocusConfig, FocusMiddleware, require_account
from focus_middleware.clock import FakeClock
from focus_middleware.fastapi import FocusJob, PaidJob
from focus_middleware.preserve import KEEP_LIMIT, no_form_keeping
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .common import CROSS_SITE_POST, FORM_POST, ORIGIN, TYPED, assert_interstitial, assert_not_kept_page, kept

pytestmark = pytest.mark.anyio


@pytest.fixture
def config(emu: FocusEmulator, clock: FakeClock) -> FocusConfig:
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0)


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


def fastapi_app(config: FocusConfig) -> FastAPI:
    app = FastAPI()

    @app.post("/render")
    async def render(job: Annotated[FocusJob, Depends(PaidJob(action="render", cost_estimate=5))],
                     title: Annotated[str, Form()] = "") -> Response:
        return PlainTextResponse(f"rendered {title}")

    @app.post("/private")
    @no_form_keeping
    async def private(job: Annotated[FocusJob, Depends(PaidJob(action="private", cost_estimate=1))],
                      title: Annotated[str, Form()] = "") -> Response:
        return PlainTextResponse("private")

    app.add_middleware(FocusMiddleware, config=config)
    return app


def starlette_app(config: FocusConfig) -> Starlette:
    @require_account
    async def render(request: Request) -> Response:
        form = await request.form()
        return PlainTextResponse(f"rendered {form.get('title')}")

    @no_form_keeping
    @require_account
    async def private(request: Request) -> Response:
        return PlainTextResponse("private")

    app = Starlette(routes=[Route("/render", render, methods=["POST"]), Route("/private", private, methods=["POST"])])
    app.add_middleware(FocusMiddleware, config=config)
    return app


@pytest.fixture(params=["fastapi", "starlette"])
async def client(request: pytest.FixtureRequest, config: FocusConfig, user: EmulatedUser,
                 clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = fastapi_app(config) if request.param == "fastapi" else starlette_app(config)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        c.cookies.set("focus_session", user.session_jwt(azp=ORIGIN))
        clock.advance(600)  # the token in the app's cookie is past its exp; the cookie is not
        yield c


async def test_an_expired_form_post_is_kept_on_the_way_to_sign_in(client: httpx.AsyncClient, emu: FocusEmulator,
                                                                  user: EmulatedUser) -> None:
    r = await client.post("/render?x=1", data=TYPED, headers=FORM_POST)
    assert_interstitial(r.status_code, r.text, f"{ORIGIN}/render?x=1")
    assert r.headers["cache-control"] == "no-store"
    assert "focus_state=" in r.headers["set-cookie"]  # the sign-in is bound to this browser
    assert emu.jobs(user) == []  # nothing reserved, nothing charged


async def test_multipart_without_files_is_kept(client: httpx.AsyncClient) -> None:
    r = await client.post("/render", files={"title": (None, TYPED["title"]), "notes": (None, TYPED["notes"]),
                                            "password": (None, "hunter2")}, headers=FORM_POST)
    data = kept(r.text)
    assert r.status_code == 200 and dict(data["fields"]) == {"title": TYPED["title"], "notes": TYPED["notes"]}


async def test_a_cross_site_post_is_not_kept(client: httpx.AsyncClient) -> None:
    r = await client.post("/render", data=TYPED, headers=CROSS_SITE_POST)
    assert r.status_code == 303 and "focus-kept-form" not in r.text and "My" not in r.text


async def test_an_oversize_body_gets_the_page_that_says_send_it_again(client: httpx.AsyncClient) -> None:
    r = await client.post("/render", data={**TYPED, "notes": "x" * (KEEP_LIMIT + 1)}, headers=FORM_POST)
    assert_not_kept_page(r.status_code, r.text)
    assert "focus_state=" in r.headers["set-cookie"]
    assert "redirect_to=http%3A%2F%2Fapp.example.test%2Fstudio%3Ftab%3D1" in r.text


async def test_a_file_upload_gets_the_page_that_says_send_it_again(client: httpx.AsyncClient) -> None:
    r = await client.post("/render", data={"title": "t"}, files={"clip": ("clip.mp4", b"\x00data", "video/mp4")},
                          headers=FORM_POST)
    assert_not_kept_page(r.status_code, r.text)


async def test_a_route_can_turn_it_off(client: httpx.AsyncClient) -> None:
    r = await client.post("/private", data=TYPED, headers=FORM_POST)
    assert r.status_code == 303 and "/signin?" in r.headers["location"]
    assert "redirect_to=http%3A%2F%2Fapp.example.test%2Fprivate%3Ffocus_state" in r.headers["location"]


async def test_a_script_post_gets_401_as_before(client: httpx.AsyncClient) -> None:
    r = await client.post("/render", data=TYPED, headers={"accept": "application/json"})
    assert r.status_code == 401


async def test_a_live_session_runs_the_form_as_before(config: FocusConfig, user: EmulatedUser) -> None:
    transport = httpx.ASGITransport(app=fastapi_app(config), client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        c.cookies.set("focus_session", user.session_jwt(azp=ORIGIN))
        r = await c.post("/render", data={"title": "fresh"}, headers=FORM_POST)
        assert r.status_code == 200 and r.text == "rendered fresh"


async def test_the_scripts_are_served(client: httpx.AsyncClient) -> None:
    script = await client.get("/_focus/preserve.js")
    assert script.status_code == 200 and "focus:kept-form" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    refresh = await client.get("/_focus/refresh.js")
    assert "focus:kept-form" in refresh.text  # pages that keep the session fresh restore forms too
