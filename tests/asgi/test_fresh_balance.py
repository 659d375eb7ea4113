"""The balance shown is fresh after a 402 and after buying credits (issue 18, item 4).

Found from outside: a person runs out of credits, gets the 402 page, buys credits on Focus's
billing page, comes back, and the app showed the balance it had cached before the purchase
for ``wallet_ttl``. Two rules fix it, both in the core:

- a credits guard's 402 drops the user's cached wallet (the page after it reads Focus);
- the 402's purchase link returns with ``focus_billed=1``: a GET navigation carrying it has
  the wallet dropped (at most once per user per ``wallet_ttl``, since anyone can forge the
  marker) and is sent (303) to the same URL without it.

Starlette and FastAPI apps behind FocusMiddleware, driven by httpx's ASGITransport, against
the real emulator on the fake clock; Focus's wallet calls are counted by the emulator. The
emulator's ``add_credits`` is what its billing page does when a user buys.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import Depends, FastAPI

from focus_middleware import FocusAccount, FocusConfig, FocusMiddleware
from focus_middleware.clock import FakeClock
from focus_middleware.fastapi import RequireCredits
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, NAV, ORIGIN, AppFactory, client_for

pytestmark = pytest.mark.anyio

WALLET = "GET /api/wallet"


@pytest.fixture
def poor(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=3)


def redirect_to(purchase_url: str) -> str:
    return parse_qs(urlsplit(purchase_url).query)["redirect_to"][0]


async def test_a_402_drops_the_cached_wallet(make_app: AppFactory, config: FocusConfig, emu: FocusEmulator,
                                             poor: EmulatedUser) -> None:
    async with client_for(make_app(config)) as client:
        client.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN))
        assert (await client.get("/", headers=API)).json()["credits"] == 3
        refused = await client.get("/credits-sync", headers=API)
        assert refused.status_code == 402 and refused.json()["available"] == 3
        assert emu.calls(WALLET) == 1
        emu.add_credits(poor, 10)  # what the billing page does
        # The next page reads Focus, well inside wallet_ttl: not the 3 cached before.
        assert (await client.get("/", headers=API)).json()["credits"] == 13
        assert emu.calls(WALLET) == 2
        again = await client.get("/credits-sync", headers=API)
        assert again.status_code == 200 and again.json()["credits"] == 13
        assert emu.calls(WALLET) == 2  # a page that is not refused is served from the cache


async def test_the_fastapi_dependency_drops_it_too(config: FocusConfig, emu: FocusEmulator, poor: EmulatedUser) -> None:
    app = FastAPI()

    @app.get("/upscale")
    async def upscale(account: FocusAccount = Depends(RequireCredits(5))) -> dict[str, Any]:
        return {"credits": account.credits}

    app.add_middleware(FocusMiddleware, config=config)
    async with client_for(app) as client:
        client.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN))
        assert (await client.get("/upscale", headers=API)).status_code == 402
        emu.add_credits(poor, 10)
        r = await client.get("/upscale", headers=API)
        assert r.status_code == 200 and r.json() == {"credits": 13}


async def test_back_from_billing_shows_the_new_balance(make_app: AppFactory, config: FocusConfig, emu: FocusEmulator,
                                                       poor: EmulatedUser) -> None:
    async with client_for(make_app(config)) as client:
        client.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN))
        refused = await client.get("/credits-sync?q=a%20b", headers=API)
        back = redirect_to(refused.json()["purchase_url"])
        assert back == f"{ORIGIN}/credits-sync?q=a%20b&focus_billed=1"
        # Another tab reads the wallet meanwhile: 3 is cached again while the user buys.
        assert (await client.get("/", headers=API)).json()["credits"] == 3
        emu.add_credits(poor, 10)
        assert (await client.get("/", headers=API)).json()["credits"] == 3  # cached (wallet_ttl)
        calls = emu.calls(WALLET)
        landed = await client.get(back, headers=NAV)
        # The marker leaves the address bar (no reload asks again), as the return trip's does.
        assert landed.status_code == 303 and landed.headers["location"] == f"{ORIGIN}/credits-sync?q=a%20b"
        assert landed.headers["cache-control"] == "no-store"
        assert emu.calls(WALLET) == calls  # the marked request only dropped the wallet
        page = await client.get(landed.headers["location"], headers=NAV)
        assert page.status_code == 200 and page.json()["credits"] == 13
        assert emu.calls(WALLET) == calls + 1


async def test_a_forged_marker_is_honoured_once_per_wallet_ttl(make_app: AppFactory, config: FocusConfig,
                                                               emu: FocusEmulator, poor: EmulatedUser,
                                                               clock: FakeClock) -> None:
    async with client_for(make_app(config)) as client:
        client.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN, lifetime=3600))
        assert (await client.get("/", headers=API)).json()["credits"] == 3
        emu.add_credits(poor, 10)
        first = await client.get("/?focus_billed=1", headers=NAV, follow_redirects=True)
        assert first.json()["credits"] == 13 and emu.calls(WALLET) == 2
        emu.add_credits(poor, 5)
        for _ in range(5):  # a flood of marked navigations within wallet_ttl: no Focus call
            again = await client.get("/?focus_billed=1", headers=NAV)
            assert again.status_code == 303 and again.headers["location"] == f"{ORIGIN}/"
            assert (await client.get("/", headers=NAV)).json()["credits"] == 13
        assert emu.calls(WALLET) == 2
        clock.advance(config.wallet_ttl - 1)
        await client.get("/?focus_billed=1", headers=NAV)
        assert emu.calls(WALLET) == 2  # still within wallet_ttl of the first
        clock.advance(1)
        later = await client.get("/?focus_billed=1", headers=NAV, follow_redirects=True)
        assert later.json()["credits"] == 18 and emu.calls(WALLET) == 3


async def test_the_marker_budget_is_per_user(make_app: AppFactory, config: FocusConfig, emu: FocusEmulator,
                                             poor: EmulatedUser) -> None:
    other = emu.create_user(credits=1)
    app = make_app(config)
    async with client_for(app) as a, client_for(app) as b:
        a.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN))
        b.cookies.set("focus_session", other.session_jwt(azp=ORIGIN))
        assert (await a.get("/", headers=API)).json()["credits"] == 3
        assert (await b.get("/", headers=API)).json()["credits"] == 1
        emu.add_credits(poor, 10)
        emu.add_credits(other, 10)
        assert (await a.get("/?focus_billed=1", headers=NAV, follow_redirects=True)).json()["credits"] == 13
        assert (await b.get("/?focus_billed=1", headers=NAV, follow_redirects=True)).json()["credits"] == 11


async def test_only_a_get_navigation_carries_the_marker(make_app: AppFactory, config: FocusConfig,
                                                        emu: FocusEmulator, poor: EmulatedUser) -> None:
    async with client_for(make_app(config)) as client:
        client.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN))
        assert (await client.get("/", headers=API)).json()["credits"] == 3
        emu.add_credits(poor, 10)
        # A script's request is the app's business: passed on, the wallet left cached.
        r = await client.get("/?focus_billed=1", headers=API)
        assert r.status_code == 200 and r.json()["credits"] == 3
        assert emu.calls(WALLET) == 1


async def test_an_anonymous_landing_just_loses_the_marker(make_app: AppFactory, config: FocusConfig,
                                                          emu: FocusEmulator) -> None:
    async with client_for(make_app(config)) as client:
        r = await client.get("/credits-sync?x=1&focus_billed=1&y=2", headers=NAV)
        assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/credits-sync?x=1&y=2"
        assert emu.calls(WALLET) == 0


async def test_an_expired_session_is_bounced_with_the_marker_kept(make_app: AppFactory, config: FocusConfig,
                                                                  emu: FocusEmulator, poor: EmulatedUser,
                                                                  clock: FakeClock) -> None:
    """Off *.thefocus.ai the token in the app's cookie lives a minute: it expires while the
    user is on the billing page. The bounce through sign-in keeps the marker, so the browser
    comes back to this step signed in, instead of to the balance cached before it bought."""
    async with client_for(make_app(config)) as client:
        # As the browser holds it, so the return trip's Set-Cookie replaces it.
        client.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN, lifetime=15), domain="app.example.test")
        assert (await client.get("/", headers=API)).json()["credits"] == 3
        emu.add_credits(poor, 10)
        clock.advance(25)  # the token expired (with the leeway); the wallet (wallet_ttl 30) is still cached
        r = await client.get("/?focus_billed=1", headers=NAV)
        assert r.status_code == 303 and r.headers["location"].startswith(f"{emu.url}/signin?")
        back = redirect_to(r.headers["location"])
        assert back.startswith(f"{ORIGIN}/?focus_billed=1&focus_state=")
        # The sign-in's return trip, with a fresh token, as Focus sends the browser back.
        trip = await client.get(f"{back}&token={poor.session_jwt(azp=ORIGIN)}", headers=NAV)
        assert trip.status_code == 303 and trip.headers["location"] == f"{ORIGIN}/?focus_billed=1"
        landed = await client.get(trip.headers["location"], headers=NAV, follow_redirects=True)
        assert landed.json()["credits"] == 13


async def test_a_402_never_carries_two_markers(make_app: AppFactory, config: FocusConfig, poor: EmulatedUser) -> None:
    async with client_for(make_app(config)) as client:
        client.cookies.set("focus_session", poor.session_jwt(azp=ORIGIN))
        r = await client.get("/credits-sync?focus_billed=1&a=1", headers=API)
        assert r.status_code == 402
        assert redirect_to(r.json()["purchase_url"]) == f"{ORIGIN}/credits-sync?a=1&focus_billed=1"
