"""The balance shown is fresh after a 402 and after buying credits (issue 18, item 4), for
a Flask app with Flask-Focus, driven by Flask's ``app.test_client()``, against the real
emulator on the fake clock. The walks are shared with the WSGI middleware
(tests/billing_walk.py); sync and async views alike."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_focus import state_of
from flask_focus.testing import login
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests import billing_walk as walk


@pytest.fixture
def poor(emu: FocusEmulator, client: FlaskClient) -> EmulatedUser:
    user = emu.create_user(credits=3)
    login(client, user)
    return user


@pytest.mark.parametrize("gated", ["/credits", "/credits-async"])
def test_a_402_drops_the_cached_wallet(client: FlaskClient, emu: FocusEmulator, poor: EmulatedUser,
                                       gated: str) -> None:
    walk.a_402_drops_the_cached_wallet(client, emu, poor, gated, "/")


def test_a_blueprint_guard_drops_it_too(client: FlaskClient, emu: FocusEmulator, poor: EmulatedUser) -> None:
    """``protect_blueprint(premium, credits=50)``: the guard is a ``before_request`` hook."""
    assert client.get("/premium/", headers=walk.API).status_code == 402
    emu.add_credits(poor, 100)
    assert client.get("/premium/", headers=walk.API).status_code == 200


@pytest.mark.parametrize("gated", ["/credits", "/credits-async"])
def test_back_from_billing_shows_the_new_balance(client: FlaskClient, emu: FocusEmulator, poor: EmulatedUser,
                                                 gated: str) -> None:
    walk.back_from_billing_shows_the_new_balance(client, emu, poor, gated, "/")


def test_a_forged_marker_is_honoured_once_per_wallet_ttl(app: Flask, client: FlaskClient, emu: FocusEmulator,
                                                         poor: EmulatedUser, clock: FakeClock) -> None:
    wallet_ttl = state_of(app).config.wallet_ttl
    walk.a_forged_marker_is_honoured_once_per_wallet_ttl(client, emu, poor, "/", clock, wallet_ttl)


def test_only_a_get_navigation_carries_the_marker(client: FlaskClient, emu: FocusEmulator,
                                                  poor: EmulatedUser) -> None:
    walk.only_a_get_navigation_carries_the_marker(client, emu, poor, "/")


def test_an_anonymous_landing_just_loses_the_marker(client: FlaskClient, emu: FocusEmulator) -> None:
    walk.an_anonymous_landing_just_loses_the_marker(client, emu, "/credits")
