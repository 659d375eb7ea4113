"""The cookie round trip for real: the app served by uvicorn on 127.0.0.1, the emulator on
localhost (another site: cookies ignore ports, not hosts), and an httpx client with a
cookie jar playing the browser through the emulator's own sign-in page."""

from __future__ import annotations

import http.cookiejar
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from focus_middleware import FocusConfig
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import fastapi_app, starlette_app
from .server import Served

BROWSER = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate", "user-agent": "test-browser"}


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock, host="localhost") as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator
        emulator.check_books()


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


def app_config(emu: FocusEmulator, clock: FakeClock, origin: str) -> FocusConfig:
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=origin, clock=clock,
                       timeout=2.0, max_retries=0)


@pytest.fixture(params=["starlette", "fastapi"])
def serve(request: pytest.FixtureRequest, emu: FocusEmulator, clock: FakeClock) -> Callable[..., Served]:
    factory = starlette_app if request.param == "starlette" else fastapi_app

    def make(**options: Any) -> Served:
        return Served(lambda origin: factory(app_config(emu, clock, origin)), **options)

    return make


def browser(**options: Any) -> httpx.Client:
    return httpx.Client(follow_redirects=True, headers=BROWSER, timeout=10, **options)


def sign_in_at_focus(client: httpx.Client, emu: FocusEmulator, user: EmulatedUser) -> None:
    """A browser already signed in to Focus (the emulator's sign-in cookie). Python's
    cookie jar files a dotless host such as localhost under ``localhost.local``."""
    host = urlsplit(emu.url).hostname
    client.cookies.set("focus_emulator_signin", user.signin_cookie(), domain=f"{host}.local", path="/")


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and a.get("type") == "hidden":
            self.forms[-1]["fields"][a.get("name")] = a.get("value") or ""
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(a.get("id"))


def pick_user_on_signin_page(client: httpx.Client, page: httpx.Response, user: EmulatedUser) -> httpx.Response:
    """What a person does on the sign-in page: click "continue as <user>"."""
    parser = _Forms()
    parser.feed(page.text)
    form = next(f for f in parser.forms if f"user-{user.clerk_id}" in f["buttons"])
    origin = f"{page.url.scheme}://{page.url.netloc.decode()}"
    return client.post(page.url.join(form["action"]), data=form["fields"], headers={"origin": origin})


def visited(r: httpx.Response) -> list[str]:
    return [str(h.url) for h in r.history] + [str(r.url)]


# -- the full return trip ----------------------------------------------------------------------


def test_signed_out_browser_signs_in_on_focus_and_comes_back(serve: Callable[..., Served], emu: FocusEmulator,
                                                            user: EmulatedUser) -> None:
    with serve() as app, browser() as client:
        page = client.get(f"{app.url}/private?video=42")
        assert page.status_code == 200 and page.url.host == "localhost" and page.url.path == "/signin"
        assert f"user-{user.clerk_id}" in page.text
        r = pick_user_on_signin_page(client, page, user)
        assert r.status_code == 200, r.text
        assert str(r.url) == f"{app.url}/private?video=42"  # token, nonce and counter gone
        assert r.json()["clerk_id"] == user.clerk_id
        trip = [u for u in visited(r) if "token=" in u]
        assert len(trip) == 1 and trip[0].startswith(f"{app.url}/private?video=42&focus_state=")
        # The app's cookie now carries the session; Focus's own cookies stayed on Focus.
        names = {(c.domain, c.name) for c in client.cookies.jar}
        assert ("127.0.0.1", "focus_session") in names and ("127.0.0.1", "__session") not in names
        again = client.get(f"{app.url}/private")
        assert again.status_code == 200 and not again.history


def test_signed_in_browser_is_sent_straight_back(serve: Callable[..., Served], emu: FocusEmulator,
                                                 user: EmulatedUser) -> None:
    with serve() as app, browser() as client:
        sign_in_at_focus(client, emu, user)
        r = client.get(f"{app.url}/credits")
        assert r.status_code == 200 and str(r.url) == f"{app.url}/credits"
        assert [h.status_code for h in r.history] == [303, 303, 303]  # to Focus, back with a token, clean URL


def test_expired_session_bounces_and_comes_back_fresh(serve: Callable[..., Served], emu: FocusEmulator,
                                                      user: EmulatedUser, clock: FakeClock) -> None:
    with serve() as app, browser() as client:
        sign_in_at_focus(client, emu, user)
        assert client.get(f"{app.url}/private").status_code == 200
        old = client.cookies.get("focus_session", domain="127.0.0.1")
        clock.advance(600)  # the token in the app's cookie is long expired; the cookie is not
        r = client.get(f"{app.url}/private?x=1")
        assert r.status_code == 200 and str(r.url) == f"{app.url}/private?x=1"
        assert r.json()["clerk_id"] == user.clerk_id
        bounce = parse_qs(urlsplit(str(r.history[0].headers["location"])).query)["redirect_to"][0]
        assert "focus_bounce=1" in bounce
        assert client.cookies.get("focus_session", domain="127.0.0.1") != old


def test_a_browser_blocking_the_apps_cookies_stops_after_three_rounds(
        serve: Callable[..., Served], emu: FocusEmulator, user: EmulatedUser) -> None:
    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(blocked_domains=["127.0.0.1"]))
    with serve() as app, browser(cookies=jar) as client:
        sign_in_at_focus(client, emu, user)
        r = client.get(f"{app.url}/private")
    assert r.status_code == 401 and "Sign in to continue" in r.text
    signins = [u for u in visited(r) if urlsplit(u).path == "/signin"]
    assert len(signins) == 3
    assert str(r.url) == f"{app.url}/private?focus_bounce=3"


# -- refresh, as the refresh script does it ------------------------------------------------------------


def test_refresh_through_focus_cors_and_the_endpoint(serve: Callable[..., Served], emu: FocusEmulator,
                                                    user: EmulatedUser, clock: FakeClock) -> None:
    with serve() as app, browser() as client:
        sign_in_at_focus(client, emu, user)
        assert client.get(f"{app.url}/private").status_code == 200
        script = client.get(f"{app.url}/_focus/refresh.js")
        assert script.status_code == 200 and emu.url in script.text
        clock.advance(600)
        # fetch(API + "/api/sessionToken", {credentials: "include"}) from the app's page:
        fresh = client.get(f"{emu.url}/api/sessionToken", headers={"origin": app.url, "sec-fetch-mode": "cors",
                                                                  "sec-fetch-site": "cross-site"})
        assert fresh.status_code == 200
        assert fresh.headers["access-control-allow-origin"] == app.url
        assert fresh.headers["access-control-allow-credentials"] == "true"
        # ... then POST it to the app's refresh endpoint:
        r = client.post(f"{app.url}/_focus/session", json={"token": fresh.json()["token"]},
                        headers={"origin": app.url, "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors",
                                 "x-focus-refresh": "1"})
        assert r.status_code == 200 and r.json()["expires_at"] > clock.time()
        page = client.get(f"{app.url}/private")
        assert page.status_code == 200 and not page.history  # no bounce needed


# -- sign-out ----------------------------------------------------------------------------------------


def test_signout_of_the_app_then_of_focus(serve: Callable[..., Served], emu: FocusEmulator,
                                          user: EmulatedUser) -> None:
    with serve() as app, browser() as client:
        sign_in_at_focus(client, emu, user)
        assert client.get(f"{app.url}/private").status_code == 200
        out = client.post(f"{app.url}/_focus/signout?next=/", headers={"origin": app.url,
                                                                       "sec-fetch-site": "same-origin"})
        assert out.status_code == 200 and str(out.url) == f"{app.url}/" and out.json()["clerk_id"] is None
        assert client.cookies.get("focus_session", domain="127.0.0.1") is None
        # Still signed in to Focus: the next protected page signs the app back in at once.
        assert client.get(f"{app.url}/private").status_code == 200
        # Signing out of Focus itself (its page and form), then of the app, really signs out.
        page = client.get(f"{emu.url}/signout")
        parser = _Forms()
        parser.feed(page.text)
        form = next(f for f in parser.forms if f["action"] == "/signout")
        assert client.post(f"{emu.url}/signout", data=form["fields"], headers={"origin": emu.url}).status_code == 200
        client.post(f"{app.url}/_focus/signout", headers={"origin": app.url, "sec-fetch-site": "same-origin"})
        r = client.get(f"{app.url}/private")
        assert r.url.host == "localhost" and r.url.path == "/signin" and "Sign in" in r.text


# -- behind a proxy path -------------------------------------------------------------------------------


def test_root_path_from_the_server(emu: FocusEmulator, user: EmulatedUser, clock: FakeClock) -> None:
    """uvicorn --root-path /app behind a proxy that strips /app: the app is asked for
    /private, and every URL it emits carries /app again."""

    def make(origin: str) -> Any:
        return starlette_app(app_config(emu, clock, origin))

    with Served(make, root_path="/app") as app, httpx.Client(headers=BROWSER) as client:
        r = client.get(f"{app.url}/private?x=1")
        assert r.status_code == 303
        redirect_to = parse_qs(urlsplit(r.headers["location"]).query)["redirect_to"][0]
        assert redirect_to.startswith(f"{app.url}/app/private?x=1&focus_state=")
        assert client.get(f"{app.url}/_focus/refresh.js").status_code == 200
        token = user.session_jwt(azp=app.url)
        trip = client.get(f"{app.url}/private", params={**parse_qs(urlsplit(redirect_to).query), "token": token})
        assert trip.status_code == 303 and trip.headers["location"] == f"{app.url}/app/private?x=1"
