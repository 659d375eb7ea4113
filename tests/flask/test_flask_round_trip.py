"""The cookie round trip for real, for Flask: the app on Werkzeug's server at 127.0.0.1,
the emulator on localhost (another site), an httpx cookie jar as the browser signing in on
the emulator's page; then an app's own sign-in page in front of the same trip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flask_focus import Focus, state_of
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.asgi.test_round_trip import browser, pick_user_on_signin_page, visited
from tests.wsgi.server import ServedWSGI

from .conftest import create_app, settings_for


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock, host="localhost") as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator
        emulator.check_books()


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


def test_sign_in_through_the_emulators_page_and_back(emu: FocusEmulator, clock: FakeClock,
                                                     user: EmulatedUser) -> None:
    with ServedWSGI(lambda origin: create_app(settings_for(emu, clock, FOCUS_PUBLIC_ORIGIN=origin), Focus())) as app, \
            browser() as client:
        page = client.get(f"{app.url}/studio/?tab=2")
        assert page.url.host == "localhost" and page.url.path == "/signin"
        r = pick_user_on_signin_page(client, page, user)
        assert r.status_code == 200 and str(r.url) == f"{app.url}/studio/?tab=2"
        assert r.json()["clerk_id"] == user.clerk_id and len([u for u in visited(r) if "token=" in u]) == 1
        paid = client.post(f"{app.url}/render?cost=3", headers={"origin": app.url, "sec-fetch-site": "same-origin",
                                                                "sec-fetch-mode": "cors"})
        assert paid.status_code == 200
        from tests.wsgi.conftest import wait_for

        wait_for(lambda: emu.jobs(user)[0]["status"] == "completed")
        assert user.credits == 7
        clock.advance(600)  # expired inside the cookie: bounced, straight back with a fresh one
        again = client.get(f"{app.url}/private")
        assert again.status_code == 200 and [h.status_code for h in again.history] == [303, 303, 303]
        state_of(app.app).close()


def test_an_apps_own_signin_page_then_the_trip(emu: FocusEmulator, clock: FakeClock, user: EmulatedUser) -> None:
    settings = settings_for(emu, clock, FOCUS_SIGNIN_VIEW="login")
    with ServedWSGI(lambda origin: create_app({**settings, "FOCUS_PUBLIC_ORIGIN": origin}, Focus())) as app, \
            browser() as client:
        landing = client.get(f"{app.url}/private?x=1")
        assert str(landing.url) == f"{app.url}/login?next=%2Fprivate%3Fx%3D1"
        assert landing.text == "sign in page, next=/private?x=1"
        # The page's button: url_for("focus.signin", next=next)
        page = client.get(f"{app.url}/_focus/signin", params={"next": "/private?x=1"})
        assert page.url.host == "localhost" and page.url.path == "/signin"
        r = pick_user_on_signin_page(client, page, user)
        assert str(r.url) == f"{app.url}/private?x=1" and r.json()["clerk_id"] == user.clerk_id
        state_of(app.app).close()
