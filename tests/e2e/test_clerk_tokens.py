"""Issue 17, "Done when": a browser signs in and stays signed in with tokens shaped as Clerk
mints them.

Clerk stamps ``azp`` with the Origin of the page that asked for the token
(https://clerk.com/docs/guides/sessions/session-tokens, "azp"; absent when that Origin is
empty or null). A token minted on Focus's sign-in page therefore names Focus's origin, not
the app's: the app takes it on the return trip, its refresh endpoint and its cookie (what
a browser signed in on Focus holds), and refuses it as ``Authorization: Bearer`` unless
``allow_signin_azp_bearer`` (a bearer names the app it was minted for; Clerk's SDK matches
``azp`` against the authorized parties exactly: clerk/javascript
packages/backend/src/jwt/verifyJwt.ts, ``assertAuthorizedPartiesClaim``).

1. ``focus demo`` itself (its emulator, its seeded user, the example app started as it
   starts it, every setting its default) on FastAPI, Flask and Django: a person signs in
   on the emulator's page and comes back signed in; the token in the app's cookie has
   ``azp`` = the emulator's origin; the same token as a bearer to the app's JSON API is
   refused with 401, while the cookie that carries it is accepted there. In this, the
   demo's arrangement (app on 127.0.0.1, Focus on localhost: two sites), the refresh
   script's call to Focus goes without Focus's SameSite=Lax cookie and is answered 401:
   shown, not only tolerated.
2. The refresh script, with the app on Focus's site (same_site.py), for both emulator
   settings of ``/api/sessionToken``: with ``azp`` (Focus's origin) the refresh endpoint
   takes the fresh token and the browser walks past the first token's expiry with no trip
   to Focus; without ``azp`` the endpoint refuses it (401, the app keeps the default
   ``allow_missing_azp=False``), the script stops, and the next navigation after the
   expiry bounces through Focus's sign-in (redirects only, no form) and comes back signed
   in. The browser's clock (Playwright's ``page.clock``) and the servers' fake clock are
   moved together, so the script's timer fires and tokens expire without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from focus_middleware.cli.demo import DEMO_CLERK_ID, DEMO_CREDITS
from focus_middleware.clock import FakeClock
from focus_middleware.sessions import refresh_lead
from focus_middleware.testing import FocusEmulator
from tests.examples.servers import APP, config
from tests.examples.test_demo import banner, interrupt, launch

from .browser import ARTIFACTS, Console, Steps, Traffic, origin_of
from .same_site import served_on_localhost
from .tokens import claims, session_claims, session_token

SIGNIN_COOKIE = "focus_emulator_signin"  # the emulator's own sign-in cookie (SameSite=Lax)
JSON = {"accept": "application/json"}


def clean(url: str) -> bool:
    return not any(name in url for name in ("token=", "focus_state=", "focus_bounce="))


def tolerate_favicons(console: Console, *origins: str) -> None:
    # A page that names no icon (the emulator's) makes Chromium itself ask for /favicon.ico.
    for origin in origins:
        console.tolerate(f"{origin}/favicon.ico", 404, "Chromium's own favicon request")


def eventually(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """A cookie set by a fetch's answer is in the jar a moment after the answer is seen."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


# -- 1. focus demo, as a person runs it ----------------------------------------------------------


@pytest.mark.parametrize("framework", ["fastapi", "flask", "django"])
def test_the_demo_signs_in_with_focus_azp_and_refuses_that_token_as_a_bearer(
        framework: str, page: Page, console: Console, traffic: Traffic, tmp_path: Path) -> None:
    demo = launch(tmp_path, "--framework", framework)
    try:
        info, _ = banner(demo)
        app, focus = info["open"].rstrip("/"), info["emulator"].split()[0]
        steps = Steps(page, ARTIFACTS / f"{framework}-demo-azp")
        tolerate_favicons(console, app, focus)

        page.goto(f"{app}/studio")
        assert page.url.startswith(f"{focus}/signin?"), page.url
        steps.shot("signin")
        # The page's refresh script asks Focus at once (it knows no expiry yet).
        with page.expect_response(f"{focus}/api/sessionToken") as asked:
            with page.expect_navigation(url=f"{app}/studio"):
                page.locator(f"#user-{DEMO_CLERK_ID}").click()
        assert clean(page.url), page.url
        expect(page.locator("#clerk-id")).to_have_text(DEMO_CLERK_ID)
        expect(page.locator("#credits")).to_have_text(str(DEMO_CREDITS))
        steps.shot("signed-in")

        # The return trip's token, minted on Focus's sign-in page: azp is Focus's origin.
        token = session_token(page, app)
        held = claims(token)
        assert held["azp"] == focus, held.get("azp")
        assert held["sub"] == DEMO_CLERK_ID and held["v"] == 2, held  # Clerk's v2 session claims

        # Two sites: the script's credentialed fetch to Focus goes without Focus's
        # SameSite=Lax cookie, so Focus answers "signed out" and the script stops
        # (https://developer.mozilla.org/en-US/docs/Web/HTTP/Cookies#samesite_attribute).
        assert asked.value.status == 401
        assert SIGNIN_COOKIE not in (asked.value.request.all_headers().get("cookie") or "")
        console.expect(f"{focus}/api/sessionToken", 401)

        # The cookie that carries the token works for the app's JSON API...
        by_cookie = page.request.get(f"{app}/api/me", headers=JSON)
        assert by_cookie.status == 200, by_cookie.text()
        assert by_cookie.json()["clerk_id"] == DEMO_CLERK_ID and by_cookie.json()["credential"] == "session"
        # ...and the same token as a bearer is refused: it was minted for Focus's site.
        with httpx.Client(timeout=10) as script:
            refused = script.get(f"{app}/api/me", headers={**JSON, "authorization": f"Bearer {token}"})
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "unauthorized"
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert token not in refused.text and token.split(".")[2] not in refused.text

        assert not console.unexpected(), "console errors:\n" + "\n".join(map(str, console.unexpected()))
    finally:
        code, out, err = interrupt(demo)
    assert code == 0, err
    # The return trip carried the token in its URL; no log line of the demo shows it.
    assert token.split(".")[2] not in out + err


# -- 2. the refresh script, with the app on Focus's site -----------------------------------------

# Tokens live LIFETIME s; the script renews LEAD s before expiry (min_token_life 10 + 15). The
# first move (FIRST) passes the script's timer, not the token's expiry; the second (SECOND)
# passes the first token's expiry but not the renewed token's timer.
LIFETIME = 60.0
FIRST = 40.0
SECOND = 25.0


@pytest.mark.parametrize("azp", [True, False], ids=["sessionToken-azp-focus", "sessionToken-no-azp"])
@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_the_refresh_script_keeps_the_browser_signed_in_past_expiry(
        framework: str, azp: bool, page: Page, clock: FakeClock, console: Console, traffic: Traffic) -> None:
    with FocusEmulator(db=":memory:", clock=clock, host="localhost", token_lifetime=LIFETIME,
                       session_token_azp=azp) as emu:
        emu.create_app(APP, starter_credits=0)
        user = emu.create_user(credits=10, email="walker@example.com", name="Wanda Walker")
        with served_on_localhost(framework, emu, clock) as app:
            lead = refresh_lead(config(emu, clock, app))
            assert FIRST > LIFETIME - lead and FIRST + SECOND > LIFETIME and SECOND < LIFETIME - lead
            assert urlsplit(app).hostname == urlsplit(emu.url).hostname == "localhost"  # one site
            steps = Steps(page, ARTIFACTS / f"{framework}-refresh-{'azp' if azp else 'no-azp'}")
            tolerate_favicons(console, app, emu.url)
            walk = RefreshWalk(page, app, emu, clock, console, traffic, steps)
            walk.sign_in(user.clerk_id)
            if azp:
                walk.refreshed_past_expiry()
            else:
                walk.refused_then_bounced()
            expect(page.locator("#clerk-id")).to_have_text(user.clerk_id)
            steps.shot("still-signed-in")
        problems = console.unexpected()
        assert not problems, "console errors:\n" + "\n".join(map(str, problems))
        emu.check_books()


class RefreshWalk:
    def __init__(self, page: Page, app: str, emu: FocusEmulator, clock: FakeClock, console: Console,
                 traffic: Traffic, steps: Steps) -> None:
        self.page, self.app, self.emu, self.clock = page, app, emu, clock
        self.console, self.traffic, self.steps = console, traffic, steps
        self.endpoint = f"{app}/_focus/session"
        self.answers: list[int] = []  # every answer of the refresh endpoint, in order
        page.on("response", lambda r: self.answers.append(r.status) if r.url == self.endpoint else None)
        # The browser's clock starts where the servers' does and moves only with it.
        page.clock.install(time=clock.time())

    def move(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.page.clock.run_for(int(seconds * 1000))

    def sign_in(self, clerk_id: str) -> None:
        """Sign in on Focus's page; back on the studio, the script asks Focus for a token
        at once, and Focus, on the same site, knows the browser."""
        page = self.page
        page.goto(f"{self.app}/studio")
        assert page.url.startswith(f"{self.emu.url}/signin?"), page.url
        self.steps.shot("signin")
        with page.expect_response(self.endpoint) as refresh, \
                page.expect_response(f"{self.emu.url}/api/sessionToken") as asked:
            with page.expect_navigation(url=f"{self.app}/studio"):
                page.locator(f"#user-{clerk_id}").click()
        assert clean(page.url), page.url
        assert SIGNIN_COOKIE in (asked.value.request.all_headers().get("cookie") or "")
        assert asked.value.status == 200
        self.minted = claims(asked.value.json()["token"])
        self.first = refresh.value
        self.steps.shot("signed-in")

    def refreshed_past_expiry(self) -> None:
        """sessionToken stamps Focus's origin: the endpoint takes it, the script renews the
        cookie before expiry, and a page opened after the first token's expiry is served
        without a trip to Focus."""
        page = self.page
        assert self.minted["azp"] == self.emu.url, self.minted
        assert self.first.status == 200, self.first.text()
        held = session_claims(page, self.app)
        assert held["azp"] == self.emu.url
        expires = held["exp"]

        with page.expect_response(self.endpoint) as renewed:
            self.move(FIRST)  # the script's timer fires LEAD s before expiry
        assert renewed.value.status == 200, renewed.value.text()
        assert renewed.value.json()["expires_at"] == expires + FIRST
        eventually(lambda: session_claims(page, self.app)["exp"] == expires + FIRST, "the cookie was not renewed")
        assert session_claims(page, self.app)["azp"] == self.emu.url
        self.steps.shot("refreshed")

        self.move(SECOND)
        assert self.clock.time() > expires  # the token the browser signed in with is dead
        mark = self.traffic.mark()
        page.goto(f"{self.app}/studio")
        assert self.traffic.since(mark) == [("GET", 200, f"{self.app}/studio")]  # no bounce
        assert self.answers == [200, 200]

    def refused_then_bounced(self) -> None:
        """sessionToken mints without azp: the endpoint refuses it (401, a console error
        Chromium logs for the script's fetch), the script stops, and the next navigation
        after expiry is bounced through Focus's sign-in and comes back signed in."""
        page = self.page
        assert "azp" not in self.minted, self.minted
        assert self.first.status == 401
        # (Only headers: the script does not read a refusal's body, so the browser never does.)
        assert self.first.header_value("www-authenticate") == 'Bearer error="invalid_token"'
        self.console.expect(self.endpoint, 401)
        held = session_claims(page, self.app)  # still the return trip's token
        assert held["azp"] == self.emu.url
        expires = held["exp"]

        self.move(LIFETIME + 10)  # the script stopped: no refresh comes
        assert self.answers == [401]
        mark = self.traffic.mark()
        # The page the bounce lands on loads the script, which tries once more and is refused.
        with page.expect_response(self.endpoint) as again:
            page.goto(f"{self.app}/studio")
        assert again.value.status == 401
        self.console.expect(self.endpoint, 401)
        trip = self.traffic.since(mark)
        at_focus = [(m, s, u) for m, s, u in trip if u.startswith(self.emu.url)]
        assert at_focus and all(m == "GET" and s == 303 and urlsplit(u).path == "/signin"
                                for m, s, u in at_focus), trip  # redirects only: no form shown
        assert trip[-1] == ("GET", 200, f"{self.app}/studio"), trip
        assert origin_of(page.url) == self.app and clean(page.url), page.url
        renewed = session_claims(page, self.app)
        assert renewed["exp"] > expires and renewed["azp"] == self.emu.url  # a fresh return-trip token
        assert self.answers == [401, 401]
