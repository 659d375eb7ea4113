"""The cookie round trip for real, for WSGI: the app on Werkzeug's server at 127.0.0.1, the
emulator on localhost (another site), and an httpx cookie jar as the browser, signing in
on the emulator's own page."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.asgi.test_round_trip import browser, pick_user_on_signin_page, sign_in_at_focus, visited

from .conftest import make_app, wait_for
from .server import ServedWSGI


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock, host="localhost") as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator
        emulator.check_books()


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


def served(emu: FocusEmulator, clock: FakeClock) -> ServedWSGI:
    return ServedWSGI(lambda origin: make_app(FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video",
                                                          public_origin=origin, clock=clock, timeout=2.0,
                                                          max_retries=0)))


def test_signed_out_browser_signs_in_on_focus_and_comes_back(emu: FocusEmulator, user: EmulatedUser,
                                                            clock: FakeClock) -> None:
    with served(emu, clock) as app, browser() as client:
        page = client.get(f"{app.url}/private?video=42")
        assert page.status_code == 200 and page.url.host == "localhost" and page.url.path == "/signin"
        r = pick_user_on_signin_page(client, page, user)
        assert r.status_code == 200 and str(r.url) == f"{app.url}/private?video=42"
        assert r.json()["clerk_id"] == user.clerk_id
        assert len([u for u in visited(r) if "token=" in u]) == 1
        names = {(c.domain, c.name) for c in client.cookies.jar}
        assert ("127.0.0.1", "focus_session") in names and ("127.0.0.1", "__session") not in names
        again = client.get(f"{app.url}/private")
        assert again.status_code == 200 and not again.history
        app.app.close()


def test_expired_session_bounces_then_paid_work_then_signout(emu: FocusEmulator, user: EmulatedUser,
                                                             clock: FakeClock) -> None:
    with served(emu, clock) as app, browser() as client:
        sign_in_at_focus(client, emu, user)
        assert client.get(f"{app.url}/private").status_code == 200
        clock.advance(600)  # the token inside the app's cookie expired; the cookie did not
        r = client.get(f"{app.url}/private?x=1")
        assert r.status_code == 200 and str(r.url) == f"{app.url}/private?x=1"
        bounce = parse_qs(urlsplit(str(r.history[0].headers["location"])).query)["redirect_to"][0]
        assert "focus_bounce=1" in bounce
        # A same-origin paid call with the cookie the round trip left.
        paid = client.post(f"{app.url}/render?cost=4", headers={"origin": app.url, "sec-fetch-site": "same-origin",
                                                               "sec-fetch-mode": "cors", "accept": "application/json"})
        assert paid.status_code == 200
        # The server closes the body after the client has it all: settlement follows at once.
        wait_for(lambda: emu.jobs(user)[0]["status"] == "completed")
        assert user.credits == 6
        out = client.post(f"{app.url}/_focus/signout?next=/", headers={"origin": app.url,
                                                                       "sec-fetch-site": "same-origin"})
        assert out.status_code == 200 and out.json()["authenticated"] is False
        assert client.cookies.get("focus_session", domain="127.0.0.1") is None
        app.app.close()
