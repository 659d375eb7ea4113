"""The balance shown is fresh after a 402 and after buying credits (issue 18, item 4), for
any WSGI app behind FocusWSGIMiddleware (a Werkzeug app, Werkzeug's test client), against
the real emulator on the fake clock. The walks are in tests/billing_walk.py, shared with
Flask; this module also covers a lazy adapter's view that never reads the account."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests import billing_walk as walk
from tests.helpers import ORIGIN


@pytest.fixture
def poor(emu: FocusEmulator, client: Client) -> EmulatedUser:
    user = emu.create_user(credits=3)
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN))
    return user


def test_a_402_drops_the_cached_wallet(client: Client, emu: FocusEmulator, poor: EmulatedUser) -> None:
    walk.a_402_drops_the_cached_wallet(client, emu, poor, "/credits", "/")


def test_back_from_billing_shows_the_new_balance(client: Client, emu: FocusEmulator, poor: EmulatedUser) -> None:
    walk.back_from_billing_shows_the_new_balance(client, emu, poor, "/credits_page", "/")


def test_a_forged_marker_is_honoured_once_per_wallet_ttl(client: Client, emu: FocusEmulator, poor: EmulatedUser,
                                                         clock: FakeClock, config: FocusConfig) -> None:
    walk.a_forged_marker_is_honoured_once_per_wallet_ttl(client, emu, poor, "/", clock, config.wallet_ttl)


def test_only_a_get_navigation_carries_the_marker(client: Client, emu: FocusEmulator, poor: EmulatedUser) -> None:
    walk.only_a_get_navigation_carries_the_marker(client, emu, poor, "/")


def test_an_anonymous_landing_just_loses_the_marker(client: Client, emu: FocusEmulator) -> None:
    walk.an_anonymous_landing_just_loses_the_marker(client, emu, "/credits")


def test_a_landing_page_that_never_reads_the_account(client: Client, emu: FocusEmulator, poor: EmulatedUser) -> None:
    """The lazy adapter resolves the account only when asked, and the page the browser lands
    on may never ask (Clip Studio's GET /render only redirects to the studio): the core
    answers the marked navigation before the app runs, so the wallet is dropped anyway."""
    assert walk.credits_on(client, "/") == 3
    emu.add_credits(poor, 10)
    landed = client.get("/untouched?focus_billed=1", headers=walk.NAV)
    assert landed.status_code == 303 and landed.headers["location"] == f"{ORIGIN}/untouched"
    assert walk.credits_on(client, "/") == 13
