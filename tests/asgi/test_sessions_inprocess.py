"""The return trip, the refresh endpoint and script, and sign-out, in-process: the app's
side of each exchange, with tokens minted by the emulator (the full round trip through the
emulator's sign-in page is in test_round_trip.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from focus_middleware import FocusConfig, FocusMiddleware
from focus_middleware.asgi import clear_focus_session
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, NAV, ORIGIN, client_for, starlette_app

pytestmark = pytest.mark.anyio
SAME = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "accept": "application/json"}
REFRESH = {**SAME, "x-focus-refresh": "1"}


def cookie_headers(r: httpx.Response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}


async def start_signin(client: httpx.AsyncClient, path: str = "/private?q=1") -> str:
    """Begin a sign-in as a browser would; returns the redirect_to the app asked for."""
    r = await client.get(path, headers=NAV)
    assert r.status_code == 303, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["redirect_to"][0]


def with_token(url: str, token: str) -> str:
    return f"{url}&{urlencode({'token': token})}"


# -- the return trip ----------------------------------------------------------------------------


async def test_return_trip_stores_the_token_and_cleans_the_url(config: FocusConfig, user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        back = await start_signin(client)
        token = user.session_jwt(azp=ORIGIN)
        r = await client.get(with_token(back, token), headers=NAV)
        assert r.status_code == 303
        assert r.headers["location"] == f"{ORIGIN}/private?q=1"
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        cookies = cookie_headers(r)
        assert cookies["focus_session"] == (f"focus_session={token}; Path=/; Max-Age={config.session_max_age}; "
                                            "HttpOnly; SameSite=Lax")
        assert "Max-Age=0" in cookies["focus_state"]
        page = await client.get(r.headers["location"], headers=API)
        assert page.status_code == 200 and page.json()["clerk_id"] == user.clerk_id


async def test_token_without_our_nonce_is_ignored_and_left_to_the_app(config: FocusConfig, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(starlette_app(config)) as client:
        r = await client.get("/", params={"token": token}, headers=NAV)
        assert r.status_code == 200 and r.json()["clerk_id"] is None  # not signed in by a link
        assert "set-cookie" not in r.headers
        r = await client.get("/private", params={"token": token}, headers=NAV)
        assert r.status_code == 303 and urlsplit(r.headers["location"]).path == "/signin"
        assert "focus_session" not in cookie_headers(r)
        assert (await client.get("/private", params={"token": token}, headers=API)).status_code == 401


@pytest.mark.parametrize("state_cookie", [None, "x" * 22])
async def test_login_csrf_a_foreign_nonce_is_stripped_not_used(state_cookie: str | None, config: FocusConfig,
                                                               user: EmulatedUser, emu: FocusEmulator) -> None:
    attacker = emu.create_user()
    async with client_for(starlette_app(config)) as client:
        if state_cookie:
            client.cookies.set("focus_state", state_cookie)
        url = f"/private?a=1&focus_state={'y' * 22}&focus_bounce=1&token={attacker.session_jwt(azp=ORIGIN)}"
        r = await client.get(url, headers=NAV)
        assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/private?a=1&focus_bounce=1"
        assert "focus_session" not in cookie_headers(r)
        assert r.headers["referrer-policy"] == "no-referrer"
        # Landing there, the victim is asked to sign in as themselves (the round is counted).
        r = await client.get(r.headers["location"], headers=NAV)
        assert r.status_code == 303 and "focus_bounce%3D2" in r.headers["location"]


@pytest.mark.parametrize("kind", ["forged", "expired", "pat", "other azp", "garbage"])
async def test_a_bad_token_with_our_nonce_spends_the_nonce_and_sets_nothing(
        kind: str, config: FocusConfig, user: EmulatedUser, clock: FakeClock) -> None:
    tokens = {
        "forged": lambda: user.session_jwt(azp=ORIGIN, key="foreign"),
        "expired": lambda: user.session_jwt(azp=ORIGIN, lifetime=-30),
        "pat": user.pat,
        "other azp": lambda: user.session_jwt(azp="https://elsewhere.example"),
        "garbage": lambda: "x" * 5000,
    }
    async with client_for(starlette_app(config)) as client:
        back = await start_signin(client)
        r = await client.get(with_token(back, tokens[kind]()), headers=NAV)
        assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/private?q=1&focus_bounce=1"
        cookies = cookie_headers(r)
        assert "focus_session" not in cookies and "Max-Age=0" in cookies["focus_state"]


async def test_focus_unavailable_during_the_return_trip_keeps_the_nonce(config: FocusConfig, user: EmulatedUser,
                                                                        emu: FocusEmulator) -> None:
    async with client_for(starlette_app(config)) as client:
        back = await start_signin(client)
        emu.set_jwks_down(True)
        url = with_token(back, user.session_jwt(azp=ORIGIN))
        r = await client.get(url, headers=NAV)
        assert r.status_code == 503 and "text/html" in r.headers["content-type"]
        assert "set-cookie" not in r.headers and r.headers["referrer-policy"] == "no-referrer"
        emu.set_jwks_down(False)
        # The JWKS fetch is retried after its cooldown; a reload then completes the sign-in.
        config.clock.advance(config.jwks_refresh_cooldown + 1)  # type: ignore[attr-defined]
        r = await client.get(url, headers=NAV)
        assert r.status_code == 303 and "focus_session" in cookie_headers(r)


async def test_sign_ins_started_in_several_tabs_all_complete(config: FocusConfig, user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        first = await start_signin(client, "/private?tab=1")
        second = await start_signin(client, "/credits?tab=2")
        r2 = await client.get(with_token(second, user.session_jwt(azp=ORIGIN)), headers=NAV)
        assert r2.headers["location"] == f"{ORIGIN}/credits?tab=2"
        r1 = await client.get(with_token(first, user.session_jwt(azp=ORIGIN, jti="2")), headers=NAV)
        assert r1.headers["location"] == f"{ORIGIN}/private?tab=1" and "focus_session" in cookie_headers(r1)
        # Each nonce works once.
        again = await client.get(with_token(first, user.session_jwt(azp=ORIGIN)), headers=NAV)
        assert "focus_session" not in cookie_headers(again)


async def test_a_browser_that_drops_cookies_ends_at_the_401_page(config: FocusConfig, user: EmulatedUser) -> None:
    """Each round: sign-in redirect, return with a token, but no state cookie came back."""
    async with client_for(starlette_app(config)) as client:
        url = "/private"
        rounds = 0
        while True:
            client.cookies.clear()
            r = await client.get(url, headers=NAV)
            if r.status_code != 303:
                break
            rounds += 1
            back = parse_qs(urlsplit(r.headers["location"]).query)["redirect_to"][0]
            client.cookies.clear()
            r = await client.get(with_token(back, user.session_jwt(azp=ORIGIN)), headers=NAV)
            assert r.status_code == 303 and "token=" not in r.headers["location"]
            url = r.headers["location"]
            assert rounds < 10
    assert rounds == config.max_bounces == 3
    assert r.status_code == 401 and r.headers["content-type"] == "text/html; charset=utf-8"
    link = r.text.split('id="sign-in" href="')[1].split('"')[0].replace("&amp;", "&")
    assert link.startswith(f"{config.signin_url}?redirect_to=")
    assert "focus_bounce%3D1" in link and "focus_state" in cookie_headers(r)


# -- the refresh endpoint ----------------------------------------------------------------------------


async def test_refresh_sets_the_cookie(config: FocusConfig, user: EmulatedUser, clock: FakeClock) -> None:
    async with client_for(starlette_app(config)) as client:
        token = user.session_jwt(azp=ORIGIN)
        r = await client.post("/_focus/session", json={"token": token}, headers=REFRESH)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert r.json() == {"expires_at": pytest.approx(clock.time() + 60)}
        assert cookie_headers(r)["focus_session"].startswith(f"focus_session={token}; Path=/;")
        assert (await client.get("/private", headers=API)).json()["clerk_id"] == user.clerk_id
        # With Origin instead of Sec-Fetch-Site (older browsers).
        headers = {"x-focus-refresh": "1", "origin": ORIGIN}
        assert (await client.post("/_focus/session", json={"token": token}, headers=headers)).status_code == 200


@pytest.mark.parametrize("headers", [
    {**SAME},                                                # no custom header
    {**SAME, "x-focus-refresh": "yes"},
    {**REFRESH, "sec-fetch-site": "cross-site"},
    {**REFRESH, "sec-fetch-site": "same-site"},
    {"x-focus-refresh": "1", "origin": "https://evil.example"},
    {"x-focus-refresh": "1", "origin": "null"},
])
async def test_refresh_refuses_csrf(headers: dict[str, str], config: FocusConfig, user: EmulatedUser,
                                    emu: FocusEmulator) -> None:
    emu.reset_calls()
    async with client_for(starlette_app(config)) as client:
        r = await client.post("/_focus/session", json={"token": user.session_jwt(azp=ORIGIN)}, headers=headers)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert emu.calls("GET /.well-known/jwks.json") == 0  # refused before any work


async def test_refresh_method_body_and_token_errors(config: FocusConfig, user: EmulatedUser, clock: FakeClock,
                                                    emu: FocusEmulator) -> None:
    async with client_for(starlette_app(config)) as client:
        get = await client.get("/_focus/session", headers=REFRESH)
        assert get.status_code == 405 and get.headers["allow"] == "POST"
        preflight = await client.options("/_focus/session", headers={"origin": "https://evil.example",
                                                                     "access-control-request-method": "POST"})
        assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers
        for body in (b"not json", b"[]", b'{"token": 5}', b"{}", b'{"token": ""}'):
            assert (await client.post("/_focus/session", content=body, headers=REFRESH)).status_code == 400
        big = await client.post("/_focus/session", content=b'{"token": "' + b"a" * 20000 + b'"}', headers=REFRESH)
        assert big.status_code == 413
        for token in (user.session_jwt(azp=ORIGIN, key="foreign"), user.session_jwt(azp=ORIGIN, lifetime=-60),
                      user.pat(), "a.b.c"):
            r = await client.post("/_focus/session", json={"token": token}, headers=REFRESH)
            assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert "set-cookie" not in r.headers
    emu.set_jwks_down(True)
    async with client_for(starlette_app(config)) as client:
        r = await client.post("/_focus/session", json={"token": user.session_jwt(azp=ORIGIN)}, headers=REFRESH)
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()


async def test_refresh_reads_a_chunked_body(config: FocusConfig, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN).encode()

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"token": "'
        yield token
        yield b'"}'

    async with client_for(starlette_app(config)) as client:
        r = await client.post("/_focus/session", content=chunks(), headers=REFRESH)
    assert r.status_code == 200


async def test_refresh_script(config: FocusConfig, emu: FocusEmulator) -> None:
    async with client_for(starlette_app(config)) as client:
        r = await client.get("/_focus/refresh.js")
        assert r.status_code == 200 and r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert f'var API = "{emu.url}";' in r.text
        assert '"X-Focus-Refresh": "1"' in r.text and 'credentials: "include"' in r.text
        assert "__FOCUS_API_URL__" not in r.text and "__FOCUS_REFRESH_LEAD__" not in r.text
        # Renewed early enough that a paid click still finds min_token_life left.
        assert f"var EARLY = {int(config.min_token_life) + 15}," in r.text
        head = await client.head("/_focus/refresh.js")
        assert head.status_code == 200 and head.content == b""
        assert (await client.post("/_focus/refresh.js")).status_code == 405
        assert (await client.get("/_focus/other")).status_code == 404  # only our three paths are ours


# -- sign-out ---------------------------------------------------------------------------------------


async def signed_in_client(app: Starlette, user: EmulatedUser) -> httpx.AsyncClient:
    client = client_for(app)
    domain = urlsplit(ORIGIN).hostname or ""
    client.cookies.set("focus_session", user.session_jwt(azp=ORIGIN), domain=domain)
    client.cookies.set("focus_state", "s" * 22, domain=domain)
    return client


async def test_signout_clears_the_cookies_and_goes_home(config: FocusConfig, user: EmulatedUser) -> None:
    async with await signed_in_client(starlette_app(config), user) as client:
        form = {**NAV, "sec-fetch-site": "same-origin"}
        r = await client.post("/_focus/signout", headers=form)
        assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/"
        cookies = cookie_headers(r)
        assert "Max-Age=0" in cookies["focus_session"] and "Max-Age=0" in cookies["focus_state"]
        assert (await client.get("/private", headers=API)).status_code == 401


@pytest.mark.parametrize(("query", "form", "expected"), [
    ("next=/videos%3Fa%3D1", None, f"{ORIGIN}/videos?a=1"),
    ("next=//evil.example/", None, f"{ORIGIN}/"),
    ("next=https://evil.example/", None, f"{ORIGIN}/"),
    ("", "next=%2Fbye", f"{ORIGIN}/bye"),
    ("next=/q", "next=https%3A%2F%2Fevil.example", f"{ORIGIN}/"),
])
async def test_signout_next(query: str, form: str | None, expected: str, config: FocusConfig,
                            user: EmulatedUser) -> None:
    headers = {**NAV, "origin": ORIGIN, "sec-fetch-site": "same-origin"}
    if form is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
    async with await signed_in_client(starlette_app(config), user) as client:
        r = await client.post(f"/_focus/signout?{query}", content=form or b"", headers=headers)
    assert r.status_code == 303 and r.headers["location"] == expected


async def test_signout_refusals(config: FocusConfig, user: EmulatedUser) -> None:
    async with await signed_in_client(starlette_app(config), user) as client:
        get = await client.get("/_focus/signout", headers=NAV)
        assert get.status_code == 405 and "set-cookie" not in get.headers  # an <img> cannot sign anyone out
        foreign = await client.post("/_focus/signout", headers={**NAV, "sec-fetch-site": "cross-site"})
        assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
        fetched = await client.post("/_focus/signout", headers=SAME)
        assert fetched.status_code == 204 and "Max-Age=0" in cookie_headers(fetched)["focus_session"]


async def test_clear_focus_session_helper_for_an_apps_own_signout(config: FocusConfig, user: EmulatedUser) -> None:
    async def logout(request: Request) -> Response:
        return clear_focus_session(RedirectResponse("/", status_code=303), request)

    app = Starlette(routes=[Route("/logout", logout, methods=["POST"])])
    app.add_middleware(FocusMiddleware, config=config)
    async with await signed_in_client(app, user) as client:
        r = await client.post("/logout", headers=SAME)
    assert r.status_code == 303 and "Max-Age=0" in cookie_headers(r)["focus_session"]


async def test_https_origin_uses_host_prefixed_secure_cookies(config: FocusConfig, user: EmulatedUser) -> None:
    https = config.replace(public_origin="https://app.example.test", session_cookie=None,
                           authorized_parties=("https://app.example.test",))
    async with client_for(starlette_app(https), base_url="https://app.example.test") as client:
        back = await start_signin(client)
        assert back.startswith("https://app.example.test/private?")
        r = await client.get(with_token(back, user.session_jwt(azp="https://app.example.test")), headers=NAV)
        cookie = cookie_headers(r)["__Host-focus_session"]
        assert cookie.endswith("; HttpOnly; SameSite=Lax; Secure") and "; Path=/;" in cookie
        assert "Domain" not in cookie
        assert (await client.get("/private", headers=API)).json()["clerk_id"] == user.clerk_id
