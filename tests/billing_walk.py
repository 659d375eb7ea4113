"""The fresh-balance walks (issue 18, item 4) for apps driven by Werkzeug's test client:
the WSGI middleware (tests/wsgi) and Flask (tests/flask, whose ``test_client`` is one).

Each walk takes the client already signed in as a user with 3 credits, a route that
requires 5 and a page that shows the account as JSON; credits are added on the emulator as
its billing page does, and Focus's wallet calls are counted by the emulator.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from werkzeug.test import Client

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN

WALLET = "GET /api/wallet"
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
API = {"accept": "application/json"}


def local(url: str) -> str:
    """An absolute URL of the app as the path and query the test client requests."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == ORIGIN, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def redirect_to(purchase_url: str) -> str:
    return parse_qs(urlsplit(purchase_url).query)["redirect_to"][0]


def credits_on(client: Client, page: str, headers: dict[str, str] = API) -> Any:
    r = client.get(page, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return json.loads(r.get_data())["credits"]


def a_402_drops_the_cached_wallet(client: Client, emu: FocusEmulator, user: EmulatedUser, gated: str,
                                  page: str) -> None:
    assert credits_on(client, page) == 3
    refused = client.get(gated, headers=API)
    assert refused.status_code == 402 and json.loads(refused.get_data())["available"] == 3
    assert emu.calls(WALLET) == 1
    emu.add_credits(user, 10)  # what the billing page does
    assert credits_on(client, page) == 13  # read from Focus, well inside wallet_ttl
    assert emu.calls(WALLET) == 2
    assert credits_on(client, gated) == 13
    assert emu.calls(WALLET) == 2  # a page that is not refused is served from the cache


def back_from_billing_shows_the_new_balance(client: Client, emu: FocusEmulator, user: EmulatedUser, gated: str,
                                            page: str) -> None:
    refused = client.get(gated + "?q=a%20b", headers=NAV)
    assert refused.status_code == 402
    purchase = refused.get_data(as_text=True).split('id="buy-credits" href="', 1)[1].split('"', 1)[0]
    back = redirect_to(purchase.replace("&amp;", "&"))
    assert back == f"{ORIGIN}{gated}?q=a%20b&focus_billed=1"
    # Another tab reads the wallet meanwhile: 3 is cached again while the user buys.
    assert credits_on(client, page) == 3
    emu.add_credits(user, 10)
    assert credits_on(client, page) == 3  # cached (wallet_ttl)
    calls = emu.calls(WALLET)
    landed = client.get(local(back), headers=NAV)
    # The marker leaves the address bar (no reload asks again), as the return trip's does.
    assert landed.status_code == 303 and landed.headers["location"] == f"{ORIGIN}{gated}?q=a%20b"
    assert landed.headers["cache-control"] == "no-store"
    assert emu.calls(WALLET) == calls  # the marked request only dropped the wallet
    assert credits_on(client, local(landed.headers["location"]), NAV) == 13
    assert emu.calls(WALLET) == calls + 1


def a_forged_marker_is_honoured_once_per_wallet_ttl(client: Client, emu: FocusEmulator, user: EmulatedUser,
                                                    page: str, clock: FakeClock, wallet_ttl: float) -> None:
    assert credits_on(client, page) == 3
    emu.add_credits(user, 10)
    first = client.get(f"{page}?focus_billed=1", headers=NAV)
    assert first.status_code == 303 and first.headers["location"] == f"{ORIGIN}{page}"
    assert credits_on(client, page, NAV) == 13 and emu.calls(WALLET) == 2
    emu.add_credits(user, 5)
    for _ in range(5):  # a flood of marked navigations within wallet_ttl: no Focus call
        assert client.get(f"{page}?focus_billed=1", headers=NAV).status_code == 303
        assert credits_on(client, page, NAV) == 13
    assert emu.calls(WALLET) == 2
    clock.advance(wallet_ttl)
    client.get(f"{page}?focus_billed=1", headers=NAV)
    assert credits_on(client, page, NAV) == 18 and emu.calls(WALLET) == 3


def only_a_get_navigation_carries_the_marker(client: Client, emu: FocusEmulator, user: EmulatedUser,
                                             page: str) -> None:
    assert credits_on(client, page) == 3
    emu.add_credits(user, 10)
    # A script's request is the app's business: passed on, the wallet left cached.
    assert credits_on(client, f"{page}?focus_billed=1") == 3
    assert emu.calls(WALLET) == 1


def an_anonymous_landing_just_loses_the_marker(client: Client, emu: FocusEmulator, gated: str) -> None:
    r = client.get(f"{gated}?x=1&focus_billed=1&y=2", headers=NAV)
    assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}{gated}?x=1&y=2"
    assert emu.calls(WALLET) == 0
