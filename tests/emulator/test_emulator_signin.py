"""Sign-in and sign-out as a browser goes through them, over real HTTP with cookies."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator

from emulator_browser import Browser, token_from, verified

APP = "http://127.0.0.1:8000"
SIGNIN = "focus_emulator_signin"


def set_cookie(response: httpx.Response, name: str) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


def test_sign_in_creates_a_user_and_returns_with_a_token(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    page = browser.get("/signin", redirect_to=f"{APP}/videos?page=2#top")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="return-origin">http://127.0.0.1:8000<' in page.text
    back = browser.sign_in(f"{APP}/videos?page=2#top", email="ann@example.test", name="Ann")
    assert back.status_code == 303
    location = back.headers["location"]
    parts = urlsplit(location)
    assert location.startswith(f"{APP}/videos?") and parts.fragment == "top"
    assert parse_qs(parts.query)["page"] == ["2"]  # redirect_to's own query kept
    assert back.headers["cache-control"] == "no-store"
    assert back.headers["referrer-policy"] == "no-referrer"
    token = token_from(location)
    claims = verified(focus_emulator, token)
    # Clerk's azp is the Origin of the Frontend API request: the sign-in page is on Focus's
    # site, so a return-trip token carries Focus's origin, never the app's
    # (https://clerk.com/docs/guides/sessions/session-tokens, "azp").
    assert claims["azp"] == focus_emulator.url
    assert jwt.get_unverified_header(token)["cat"] == "cl_B7d4PD111AAA"
    assert claims["exp"] - claims["iat"] == 60
    user = focus_emulator.find_user(claims["sub"])
    assert user is not None and user.email == "ann@example.test"


def test_the_signin_cookie_is_a_long_lived_httponly_lax_secret(browser: Browser) -> None:
    back = browser.sign_in(APP + "/", email="bob@example.test")
    cookie = set_cookie(back, SIGNIN)
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    assert f"max-age={30 * 24 * 3600}" in attributes
    value = cookie.split(";")[0].split("=", 1)[1]
    sid = jwt.decode(token_from(back.headers["location"]), options={"verify_signature": False})["sid"]
    assert len(value) >= 43 and value != sid


def test_a_signed_in_browser_is_sent_straight_back_with_a_fresh_token(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    first = token_from(browser.sign_in(APP + "/a", email="cy@example.test").headers["location"])
    again = browser.get("/signin", redirect_to="http://localhost:9000/b?x=1")
    assert again.status_code == 303
    assert again.headers["location"].startswith("http://localhost:9000/b?x=1&token=")
    second = token_from(again.headers["location"])
    claims, before = verified(focus_emulator, second), verified(focus_emulator, first)
    assert claims["sub"] == before["sub"] and claims["sid"] == before["sid"]
    assert claims["azp"] == focus_emulator.url
    assert second != first
    # Without redirect_to it says who is signed in instead.
    shown = browser.get("/signin")
    assert shown.status_code == 200 and "cy@example.test" in shown.text


def test_a_stale_token_in_redirect_to_is_replaced_not_repeated(browser: Browser) -> None:
    browser.sign_in(APP, email="dee@example.test")
    again = browser.get("/signin", redirect_to=f"{APP}/?token=old&keep=1")
    query = parse_qs(urlsplit(again.headers["location"]).query)
    assert query["keep"] == ["1"] and len(query["token"]) == 1 and query["token"] != ["old"]


def test_picking_an_existing_user(browser: Browser, focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user(name="Existing Person")
    page = browser.get("/signin", redirect_to=APP)
    assert "Existing Person" in page.text
    back = browser.click(page, f"user-{user.clerk_id}")
    assert verified(focus_emulator, token_from(back.headers["location"]))["sub"] == user.clerk_id


def test_an_email_already_known_signs_in_that_user(browser: Browser, focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user(email="known@example.test")
    back = browser.sign_in(APP, email="KNOWN@example.test")
    assert verified(focus_emulator, token_from(back.headers["location"]))["sub"] == user.clerk_id


@pytest.mark.parametrize(
    "redirect_to",
    [
        "//evil.example/",
        "https:evil.example",
        "https:/evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "http:\\\\evil.example",
        "javascript:alert(1)",
        "JavaScript://127.0.0.1/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://evil.example/",
        "https://127.0.0.1.evil.example/",
        "http://127.0.0.1@evil.example/",
        "http://evil.example@127.0.0.1/",
        "http://localhost:99999/",
        "ftp://127.0.0.1/",
        "/relative/path",
        " http://127.0.0.1/",
        "http://127.0.0.1/\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_refused_redirect_targets_get_a_page_never_a_redirect(
    browser: Browser, focus_emulator: FocusEmulator, redirect_to: str
) -> None:
    for signed_in in (False, True):
        if signed_in:
            browser.sign_in(APP, email="eve@example.test")
        page = browser.get("/signin", redirect_to=redirect_to)
        assert page.status_code == 400, redirect_to
        assert "location" not in page.headers
        assert "Refused:" in page.text
        assert "text/html" in page.headers["content-type"]


def test_refusals_say_why(browser: Browser) -> None:
    reasons = {
        "//evil.example/": "absolute http:// or https:// URL",
        "http://127.0.0.1@evil.example/": "user information",
        "/\\evil.example": "backslash",
        "http://evil.example/": "http://evil.example is not an allowed origin",
    }
    for redirect_to, reason in reasons.items():
        assert reason in browser.get("/signin", redirect_to=redirect_to).text


def test_a_refused_redirect_on_the_form_signs_nobody_in(browser: Browser, focus_emulator: FocusEmulator) -> None:
    page = browser.get("/signin", redirect_to=APP)
    (form,) = [f for f in browser.forms(page) if "sign-in" in f.buttons]
    data = {**form.fields, "redirect_to": "http://evil.example/", "email": "mallory@example.test"}
    refused = browser.client.post("/signin", data=data, headers={"Origin": browser.url})
    assert refused.status_code == 400 and "location" not in refused.headers
    assert SIGNIN not in refused.headers.get("set-cookie", "")


def test_configured_origins_are_allowed_too() -> None:
    with FocusEmulator(allowed_origins=["https://video.focus.test"]) as emu:
        browser = Browser(emu)
        back = browser.sign_in("https://video.focus.test/render", email="f@example.test")
        assert back.headers["location"].startswith("https://video.focus.test/render?token=")
        assert verified(emu, token_from(back.headers["location"]))["azp"] == emu.url
        assert browser.get("/signin", redirect_to="https://other.focus.test/").status_code == 400
        browser.close()


def test_the_signin_form_needs_its_csrf_token_and_the_emulators_origin(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    page = browser.get("/signin", redirect_to=APP)
    (form,) = [f for f in browser.forms(page) if "sign-in" in f.buttons]
    data = {**form.fields, "email": "g@example.test"}
    attempts = [
        ({**data, "csrf": "forged"}, {}),
        ({k: v for k, v in data.items() if k != "csrf"}, {}),
        (data, {"Origin": "http://127.0.0.1:8000"}),
        (data, {"Sec-Fetch-Site": "same-site"}),
        (data, {"Origin": "null"}),
    ]
    for body, headers in attempts:
        refused = browser.client.post("/signin", data=body, headers=headers)
        assert refused.status_code == 403, headers
        assert "location" not in refused.headers
    stranger = httpx.post(focus_emulator.url + "/signin", data=data)  # no CSRF cookie
    assert stranger.status_code == 403
    assert browser.client.post("/signin", data=data, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303


def test_sign_out_ends_the_session_and_clears_the_cookie(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    browser.sign_in(APP, email="hal@example.test")
    secret = browser.client.cookies[SIGNIN]
    page = browser.get("/signout")
    assert "hal@example.test" in page.text
    done = browser.click(page, "sign-out")
    assert done.status_code == 200 and 'id="signed-out"' in done.text
    assert "max-age=0" in set_cookie(done, SIGNIN).lower()
    assert SIGNIN not in browser.client.cookies
    url = focus_emulator.url + "/api/sessionToken"
    assert httpx.get(url, cookies={SIGNIN: secret}).status_code == 401  # ended, not just forgotten
    assert browser.get("/signin", redirect_to=APP).status_code == 200  # asks again


def test_sign_out_returns_to_a_checked_redirect(browser: Browser) -> None:
    browser.sign_in(APP, email="ivy@example.test")
    page = browser.get("/signout", redirect_to=f"{APP}/bye")
    done = browser.click(page, "sign-out")
    assert done.status_code == 303 and done.headers["location"] == f"{APP}/bye"
    assert browser.get("/signout", redirect_to="//evil.example").status_code == 400


def test_sign_out_is_csrf_safe(browser: Browser, focus_emulator: FocusEmulator) -> None:
    browser.sign_in(APP, email="jo@example.test")
    page = browser.get("/signout")
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert browser.click(page, "sign-out", headers=headers).status_code == 403
    assert browser.client.post("/signout", data={"csrf": "guess"}).status_code == 403
    assert browser.client.get("/api/sessionToken").status_code == 200  # still signed in


def test_signing_in_again_ends_the_previous_session(browser: Browser, focus_emulator: FocusEmulator) -> None:
    browser.sign_in(APP, email="kim@example.test")
    old = browser.client.cookies[SIGNIN]
    (form,) = browser.forms(browser.get("/signout"))  # any page's CSRF token will do
    data = {"csrf": form.fields["csrf"], "email": "lee@example.test"}
    switched = browser.client.post("/signin", data=data, headers={"Origin": browser.url})
    assert switched.status_code == 200 and "lee@example.test" in switched.text
    assert browser.client.cookies[SIGNIN] != old
    assert httpx.get(focus_emulator.url + "/api/sessionToken", cookies={SIGNIN: old}).status_code == 401


def test_everything_printed_is_escaped(browser: Browser, focus_emulator: FocusEmulator) -> None:
    focus_emulator.create_user(name="<script>alert('name')</script>", email="x<y>@example.test")
    page = browser.get("/signin", redirect_to=f'{APP}/?q="><script>alert(1)</script>')
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in page.text
    assert "x&lt;y&gt;@example.test" in page.text
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    back = browser.sign_in(APP, email="z@example.test", name="<img src=x onerror=alert(1)>")
    assert back.status_code == 303
    shown = browser.get("/signin")
    assert "<img" not in shown.text and "&lt;img src=x onerror=alert(1)&gt;" in shown.text


def test_clerks_session_cookie_on_a_parent_domain() -> None:
    with FocusEmulator(session_cookie_domain="focus.test") as emu:
        browser = Browser(emu)
        back = browser.sign_in(APP, email="m@example.test")
        cookie = set_cookie(back, "__session")
        attributes = {part.strip().lower() for part in cookie.split(";")}
        assert "domain=focus.test" in attributes and "path=/" in attributes
        assert "httponly" not in attributes and "max-age=60" in attributes
        assert cookie.split(";")[0] == f"__session={token_from(back.headers['location'])}"
        refreshed = browser.client.get("/api/sessionToken")
        assert set_cookie(refreshed, "__session").startswith(f"__session={refreshed.json()['token']}")
        done = browser.click(browser.get("/signout"), "sign-out")
        assert "max-age=0" in set_cookie(done, "__session").lower()
        browser.close()


def test_no_parent_domain_cookie_by_default(browser: Browser) -> None:
    back = browser.sign_in(APP, email="n@example.test")
    assert not any(h.startswith("__session=") for h in back.headers.get_list("set-cookie"))


def test_session_token_with_the_browsers_cookie_after_sign_in(
    browser: Browser, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    assert browser.client.get("/api/sessionToken").status_code == 401
    browser.sign_in(APP, email="o@example.test")
    answer = browser.client.get("/api/sessionToken", headers={"Origin": APP})
    assert answer.status_code == 200
    assert verified(focus_emulator, answer.json()["token"])["azp"] == focus_emulator.url


def test_signin_sessions_expire_by_the_emulator_clock(fake_browser: Browser, clock: object) -> None:
    from focus_middleware.clock import FakeClock

    assert isinstance(clock, FakeClock)
    fake_browser.sign_in(APP, email="p@example.test")
    clock.advance(29 * 24 * 3600)
    assert fake_browser.client.get("/api/sessionToken").status_code == 200
    clock.advance(2 * 24 * 3600)
    assert fake_browser.client.get("/api/sessionToken").status_code == 401


def test_chromium_posts_the_pages_forms_with_origin_null_and_is_let_in(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    """The pages send Referrer-Policy: no-referrer, so Chromium posts their forms with
    ``Origin: null`` beside ``Sec-Fetch-Site: same-origin`` (tests/e2e found it): the fetch
    metadata vouches. ``null`` from any other site, or without it, is still refused."""
    page = browser.get("/signin", redirect_to=APP)
    (form,) = [f for f in browser.forms(page) if "sign-in" in f.buttons]
    data = {**form.fields, "email": "chromium@example.test"}
    for site in ("cross-site", "same-site"):
        refused = browser.client.post("/signin", data=data, headers={"Origin": "null", "Sec-Fetch-Site": site})
        assert refused.status_code == 403, site
    chromium = {"Origin": "null", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"}
    assert browser.client.post("/signin", data=data, headers=chromium).status_code == 303
