"""The balance shown is fresh after a 402 and after buying credits (issue 18, item 4), for
Django: sync and async views, under Django's test ``Client`` (the WSGI handler) and
``AsyncClient`` (the ASGI handler), against the real emulator on the fake clock. Credits
are added on the emulator as its billing page does; Focus's wallet calls are counted by the
emulator."""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from django_focus.runtime import get_runtime
from django_focus.testing import force_focus_login
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, NAV, Either
from .settings import ORIGIN

pytestmark = pytest.mark.anyio

WALLET = "GET /api/wallet"


@pytest.fixture
def poor(emu: FocusEmulator, browser: Either) -> EmulatedUser:
    user = emu.create_user(credits=3)
    force_focus_login(browser.client, user)
    return user


def local(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == ORIGIN, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def credits_on(browser: Either, path: str, headers: dict[str, str] = API) -> Any:
    r = await browser.get(path, headers=headers)
    assert r.status_code == 200, r.content[:300]
    return json.loads(r.content)["credits"]


@pytest.mark.parametrize("gated", ["/credits", "/acredits"])  # the mixins call the same check
async def test_a_402_drops_the_cached_wallet(browser: Either, emu: FocusEmulator, poor: EmulatedUser,
                                             gated: str) -> None:
    assert await credits_on(browser, "/") == 3
    refused = await browser.get(gated, headers=API)
    assert refused.status_code == 402 and json.loads(refused.content)["available"] == 3
    assert emu.calls(WALLET) == 1
    emu.add_credits(poor, 10)  # what the billing page does
    assert await credits_on(browser, "/") == 13  # read from Focus, well inside wallet_ttl
    assert emu.calls(WALLET) == 2
    assert await credits_on(browser, gated) == 13
    assert emu.calls(WALLET) == 2


@pytest.mark.parametrize("gated", ["/credits", "/acredits"])
async def test_back_from_billing_shows_the_new_balance(browser: Either, emu: FocusEmulator, poor: EmulatedUser,
                                                       gated: str) -> None:
    refused = await browser.get(gated + "?q=a%20b", headers=NAV)
    assert refused.status_code == 402
    page = refused.content.decode()
    purchase = html.unescape(page.split('id="buy-credits" href="', 1)[1].split('"', 1)[0])
    back = parse_qs(urlsplit(purchase).query)["redirect_to"][0]
    assert back == f"{ORIGIN}{gated}?q=a%20b&focus_billed=1"
    # Another tab reads the wallet meanwhile: 3 is cached again while the user buys.
    assert await credits_on(browser, "/") == 3
    emu.add_credits(poor, 10)
    assert await credits_on(browser, "/") == 3  # cached (wallet_ttl)
    calls = emu.calls(WALLET)
    landed = await browser.get(local(back), headers=NAV)
    assert landed.status_code == 303 and landed["Location"] == f"{ORIGIN}{gated}?q=a%20b"
    assert landed["Cache-Control"] == "no-store"
    assert emu.calls(WALLET) == calls  # the marked request only dropped the wallet
    assert await credits_on(browser, local(landed["Location"]), NAV) == 13
    assert emu.calls(WALLET) == calls + 1


async def test_a_forged_marker_is_honoured_once_per_wallet_ttl(browser: Either, emu: FocusEmulator,
                                                               poor: EmulatedUser, clock: FakeClock) -> None:
    assert await credits_on(browser, "/") == 3
    emu.add_credits(poor, 10)
    first = await browser.get("/?focus_billed=1", headers=NAV)
    assert first.status_code == 303 and first["Location"] == f"{ORIGIN}/"
    assert await credits_on(browser, "/", NAV) == 13 and emu.calls(WALLET) == 2
    emu.add_credits(poor, 5)
    for _ in range(5):  # a flood of marked navigations within wallet_ttl: no Focus call
        assert (await browser.get("/?focus_billed=1", headers=NAV)).status_code == 303
        assert await credits_on(browser, "/", NAV) == 13
    assert emu.calls(WALLET) == 2
    clock.advance(get_runtime().config.wallet_ttl - 1)
    await browser.get("/?focus_billed=1", headers=NAV)
    assert await credits_on(browser, "/", NAV) == 13 and emu.calls(WALLET) == 2


async def test_a_landing_view_that_never_reads_the_account(browser: Either, emu: FocusEmulator,
                                                           poor: EmulatedUser) -> None:
    """``request.focus_account`` is lazy and the view the browser lands on may never read it:
    the middleware answers the marked navigation before the view, so the wallet is dropped."""
    assert await credits_on(browser, "/") == 3
    emu.add_credits(poor, 10)
    landed = await browser.get("/untouched?focus_billed=1", headers=NAV)
    assert landed.status_code == 303 and landed["Location"] == f"{ORIGIN}/untouched"
    assert await credits_on(browser, "/") == 13


async def test_only_a_get_navigation_carries_the_marker(browser: Either, emu: FocusEmulator,
                                                        poor: EmulatedUser) -> None:
    assert await credits_on(browser, "/") == 3
    emu.add_credits(poor, 10)
    assert await credits_on(browser, "/?focus_billed=1") == 3  # a script's request: passed on
    assert emu.calls(WALLET) == 1


async def test_an_anonymous_landing_just_loses_the_marker(browser: Either, emu: FocusEmulator) -> None:
    r = await browser.get("/credits?x=1&focus_billed=1&y=2", headers=NAV)
    assert r.status_code == 303 and r["Location"] == f"{ORIGIN}/credits?x=1&y=2"
    assert emu.calls(WALLET) == 0
