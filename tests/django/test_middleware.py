"""FocusMiddleware in a real Django project against the emulator: the lazy account, what
responses carry, the context processor, the core's endpoints with CSRF on, the return
trip and the bounce, and where the public origin comes from. Both Django handlers: the
WSGI one (django.test.Client) and the ASGI one (django.test.AsyncClient)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.exceptions import SynchronousOnlyOperation
from django.http import HttpResponse
from django.test import AsyncClient, Client

from django_focus.testing import force_focus_login
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, CROSS_SITE, NAV, SAME_ORIGIN, focus_settings
from .settings import ORIGIN

WALLET = "GET /api/wallet"
FORM = "application/x-www-form-urlencoded"


def test_a_request_without_credentials_is_anonymous_and_asks_nobody(client: Client, emu: FocusEmulator) -> None:
    r = client.get("/", headers=API)
    assert r.json() == {"authenticated": False, "truthy": False, "clerk_id": None, "credits": 0, "reason": "anonymous"}
    assert r["Vary"] == "Cookie, Authorization" and "Cache-Control" not in r
    assert emu.calls(WALLET) == 0


def test_session_cookie_and_bearer_pat_both_sign_in(client: Client, user: EmulatedUser) -> None:
    force_focus_login(client, user)
    r = client.get("/", headers=API)
    assert r.json() == {"authenticated": True, "truthy": True, "clerk_id": user.clerk_id, "credits": 10, "reason": None}
    assert r["Cache-Control"] == "private" and r["Vary"] == "Cookie, Authorization"
    api = Client()
    force_focus_login(api, user, pat=True)
    assert api.get("/", headers=API).json()["clerk_id"] == user.clerk_id


def test_the_account_is_resolved_only_when_read(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    pat = force_focus_login(client, user, pat=True)
    r = client.get("/untouched", headers=API)
    assert r.status_code == 200 and emu.calls(WALLET, pat) == 0
    # A response to a credentialed request is private even if the view said public.
    assert r["Cache-Control"] == "private, max-age=60"
    client.get("/", headers=API)
    client.get("/", headers=API)
    assert emu.calls(WALLET, pat) == 1  # then cached


def test_why_there_is_no_account(client: Client, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock) -> None:
    force_focus_login(client, user)
    clock.advance(600)
    assert client.get("/", headers=API).json()["reason"] == "expired"
    forged = Client(headers={"authorization": "Bearer not-a-token"})
    assert forged.get("/", headers=API).json()["reason"] == "rejected"
    down = Client()
    force_focus_login(down, user, pat=True)
    emu.fail_next(WALLET, 503, times=5)
    assert down.get("/", headers=API).json()["reason"] == "unavailable"
    emu.clear_faults()
    # A page from another site never acts as the user, even on a view without a guard.
    fresh = Client()
    force_focus_login(fresh, user)
    assert fresh.post("/", headers={**API, **CROSS_SITE}).json()["reason"] == "cross_origin"
    assert fresh.post("/", headers={**API, **SAME_ORIGIN}).json()["reason"] is None


@pytest.mark.anyio
async def test_async_views_await_the_account(async_client: AsyncClient, user: EmulatedUser, emu: FocusEmulator) -> None:
    assert (await async_client.get("/async", headers=API)).json()["reason"] == "anonymous"
    pat = force_focus_login(async_client, user, pat=True)
    r = await async_client.get("/async", headers=API)
    assert r.json()["clerk_id"] == user.clerk_id and r["Cache-Control"] == "private"
    assert emu.calls(WALLET, pat) == 1
    # Once cached, even the sync attribute is fine in async code: no I/O, no blocking.
    assert (await async_client.get("/async-lazy", headers=API)).json()["clerk_id"] == user.clerk_id


@pytest.mark.anyio
async def test_the_sync_attribute_refuses_to_block_the_event_loop(async_client: AsyncClient, user: EmulatedUser) -> None:
    force_focus_login(async_client, user, pat=True)
    with pytest.raises(SynchronousOnlyOperation, match="afocus_account"):
        await async_client.get("/async-lazy", headers=API)


def test_the_context_processor_and_a_template(client: Client, user: EmulatedUser) -> None:
    page = client.get("/page").content.decode()
    assert '<p id="who">anonymous (anonymous)</p>' in page
    assert '<script src="/_focus/refresh.js" defer>' in page and 'action="/_focus/signout"' in page
    assert 'href="/_focus/signin"' in page
    force_focus_login(client, user)
    assert f'<p id="who">{user.clerk_id} has 10</p>' in client.get("/page").content.decode()


def test_under_a_script_name_every_url_keeps_its_prefix(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    page = client.get("/page", SCRIPT_NAME="/app").content.decode()
    assert '<script src="/app/_focus/refresh.js" defer>' in page and 'action="/app/_focus/signout"' in page
    assert client.get("/_focus/refresh.js", SCRIPT_NAME="/app").status_code == 200
    r = client.get("/private", headers=NAV, SCRIPT_NAME="/app")
    back = parse_qs(urlsplit(r["Location"]).query)["redirect_to"][0]
    assert back.startswith(f"{ORIGIN}/app/private?focus_state=")


# -- the core's endpoints, with Django's CSRF protection on ----------------------------------------


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def test_the_refresh_script_is_served(client: Client, emu: FocusEmulator) -> None:
    r = client.get("/_focus/refresh.js")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/javascript")
    assert emu.url in r.content.decode() and r["X-Content-Type-Options"] == "nosniff"


def test_refresh_endpoint_sets_the_cookie_without_a_csrf_token(csrf_client: Client, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN)
    r = csrf_client.post("/_focus/session", {"token": token}, content_type="application/json",
                         headers={**SAME_ORIGIN, "x-focus-refresh": "1"})
    assert r.status_code == 200, r.content
    assert r.cookies["focus_session"].value == token and r.cookies["focus_session"]["httponly"]
    assert r.cookies["focus_session"]["samesite"] == "Lax" and r["Cache-Control"] == "no-store"
    assert csrf_client.get("/", headers=API).json()["clerk_id"] == user.clerk_id


@pytest.mark.parametrize("headers", [
    {**SAME_ORIGIN},                                   # no custom header
    {**CROSS_SITE, "x-focus-refresh": "1"},            # another site
    {"origin": "https://evil.example", "x-focus-refresh": "1"},
], ids=["no-header", "cross-site", "foreign-origin"])
def test_refresh_endpoint_refuses_what_csrf_could_send(csrf_client: Client, user: EmulatedUser,
                                                       headers: dict[str, str]) -> None:
    r = csrf_client.post("/_focus/session", {"token": user.session_jwt(azp=ORIGIN)}, content_type="application/json",
                         headers=headers)
    assert r.status_code == 403 and "focus_session" not in r.cookies


def test_refresh_endpoint_errors(csrf_client: Client, user: EmulatedUser) -> None:
    refresh = {**SAME_ORIGIN, "x-focus-refresh": "1"}
    assert csrf_client.get("/_focus/session").status_code == 405
    assert csrf_client.post("/_focus/session", "junk", content_type="application/json", headers=refresh).status_code == 400
    big = {"token": "x" * 20_000}
    assert csrf_client.post("/_focus/session", big, content_type="application/json", headers=refresh).status_code == 413
    bad = csrf_client.post("/_focus/session", {"token": user.session_jwt(azp="https://other.example")},
                           content_type="application/json", headers=refresh)
    assert bad.status_code == 401 and "focus_session" not in bad.cookies


def test_signout_clears_the_cookie_and_honours_a_safe_next(csrf_client: Client, user: EmulatedUser) -> None:
    force_focus_login(csrf_client, user)
    r = csrf_client.post("/_focus/signout", urlencode({"next": "/page?x=1"}), content_type=FORM,
                         headers={"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"})
    assert r.status_code == 303 and r["Location"] == f"{ORIGIN}/page?x=1"
    assert r.cookies["focus_session"].value == "" and r.cookies["focus_session"]["max-age"] == "0"
    assert csrf_client.get("/", headers=API).json()["authenticated"] is False


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_signout_never_redirects_elsewhere(csrf_client: Client, user: EmulatedUser, target: str) -> None:
    force_focus_login(csrf_client, user)
    r = csrf_client.post("/_focus/signout", urlencode({"next": target}), content_type=FORM,
                         headers={"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"})
    assert r.status_code == 303 and r["Location"] == f"{ORIGIN}/"


def test_signout_refusals(csrf_client: Client, user: EmulatedUser) -> None:
    force_focus_login(csrf_client, user)
    assert csrf_client.get("/_focus/signout").status_code == 405
    assert csrf_client.post("/_focus/signout", headers=CROSS_SITE).status_code == 403
    assert csrf_client.get("/", headers=API).json()["authenticated"] is True


def test_an_apps_own_signout_view_clears_the_session(rf: Any, client: Client, user: EmulatedUser) -> None:
    from django.urls import path

    from django_focus.shortcuts import clear_focus_session

    def logout(request: Any) -> HttpResponse:
        return clear_focus_session(HttpResponse("bye"), request)

    urls = type("urls", (), {"urlpatterns": [path("logout", logout)]})
    from django.test import override_settings

    with override_settings(ROOT_URLCONF=urls):
        force_focus_login(client, user)
        r = client.get("/logout")
    assert r.cookies["focus_session"]["max-age"] == "0" and "focus_state" in r.cookies


# -- the return trip and the bounce ------------------------------------------------------------------


def start_signin(client: Client, emu: FocusEmulator, path: str = "/private?q=1") -> str:
    r = client.get(path, headers=NAV)
    assert r.status_code == 303 and r["Location"].startswith(f"{emu.url}/signin?")
    assert r["Cache-Control"] == "no-store" and "focus_state" in r.cookies
    return parse_qs(urlsplit(r["Location"]).query)["redirect_to"][0]


def test_return_trip_stores_the_token_and_cleans_the_url(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    back = start_signin(client, emu)
    assert back.startswith(f"{ORIGIN}/private?q=1&focus_state=") and "focus_bounce=1" in back
    token = user.session_jwt(azp=ORIGIN)
    r = client.get(f"{back}&{urlencode({'token': token})}", headers=NAV)
    assert r.status_code == 303 and r["Location"] == f"{ORIGIN}/private?q=1"
    assert r["Referrer-Policy"] == "no-referrer" and r.cookies["focus_session"].value == token
    assert r.cookies["focus_state"]["max-age"] == "0"
    page = client.get("/private?q=1", headers=API)
    assert page.status_code == 200 and page.json()["clerk_id"] == user.clerk_id


def test_a_token_without_our_nonce_is_never_used(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    back = start_signin(client, emu)
    stranger = Client()  # another browser: no state cookie (login CSRF)
    r = stranger.get(f"{back}&{urlencode({'token': user.session_jwt(azp=ORIGIN)})}", headers=NAV)
    assert r.status_code == 303 and "token=" not in r["Location"] and "focus_session" not in r.cookies
    assert stranger.get("/", headers=API).json()["authenticated"] is False


@pytest.mark.anyio
async def test_return_trip_under_asgi(async_client: AsyncClient, user: EmulatedUser, emu: FocusEmulator) -> None:
    r = await async_client.get("/aprivate", headers=NAV)
    back = parse_qs(urlsplit(r["Location"]).query)["redirect_to"][0]
    r = await async_client.get(f"{back}&{urlencode({'token': user.session_jwt(azp=ORIGIN)})}", headers=NAV)
    assert r.status_code == 303 and r["Location"] == f"{ORIGIN}/aprivate"
    assert (await async_client.get("/aprivate", headers=API)).json()["clerk_id"] == user.clerk_id


def test_an_expired_session_bounces_and_the_loop_is_cut(client: Client, user: EmulatedUser, emu: FocusEmulator,
                                                        clock: FakeClock) -> None:
    force_focus_login(client, user)
    clock.advance(600)
    back = start_signin(client, emu, "/private")
    assert "focus_bounce=1" in back
    rounds = 1
    while True:
        r = client.get(back, headers=NAV)  # Focus sent the browser back without a usable token
        r = client.get(r["Location"], headers=NAV)
        if r.status_code != 303:
            break
        back = parse_qs(urlsplit(r["Location"]).query)["redirect_to"][0]
        rounds += 1
        assert f"focus_bounce={rounds}" in back
    assert rounds == 3 and r.status_code == 401 and b"sign in" in r.content.lower()


# -- where the public origin comes from --------------------------------------------------------------


def redirect_to(client: Client, **extra: Any) -> str:
    r = client.get("/private", headers=NAV, **extra)
    assert r.status_code == 303, r.content
    return parse_qs(urlsplit(r["Location"]).query)["redirect_to"][0]


def test_without_public_origin_the_host_is_taken_only_as_allowed_hosts_vouch(
        client: Client, settings: Any, emu: FocusEmulator, clock: FakeClock) -> None:
    settings.FOCUS = focus_settings(emu, clock, public_origin=None)
    assert redirect_to(client, HTTP_HOST="app.example.test").startswith("http://app.example.test/private?")
    assert redirect_to(client, HTTP_HOST="app.example.test", **{"wsgi.url_scheme": "https"}).startswith(
        "https://app.example.test/private?")
    assert client.get("/private", headers=NAV, HTTP_HOST="evil.example").status_code == 400  # Django's DisallowedHost
    settings.ALLOWED_HOSTS = ["*"]
    assert redirect_to(client, HTTP_HOST="evil.example").startswith("http://localhost/private?")


def test_the_configured_public_origin_wins_over_the_host(client: Client) -> None:
    assert redirect_to(client, HTTP_HOST="localhost").startswith(f"{ORIGIN}/private?")


def test_a_sign_in_link_starts_a_bound_sign_in(client: Client, emu: FocusEmulator) -> None:
    r = client.get("/_focus/signin?next=/page%3Fx%3D1", headers=NAV)
    assert r.status_code == 303 and r["Location"].startswith(f"{emu.url}/signin?") and "focus_state" in r.cookies
    back = parse_qs(urlsplit(r["Location"]).query)["redirect_to"][0]
    assert back.startswith(f"{ORIGIN}/page?x=1&focus_state=")
    elsewhere = client.get("/_focus/signin?next=https://evil.example/", headers=NAV)
    assert parse_qs(urlsplit(elsewhere["Location"]).query)["redirect_to"][0].startswith(f"{ORIGIN}/?focus_state=")


def test_a_redirect_into_the_app_is_checked_the_django_way_too(emu: FocusEmulator) -> None:
    from django.core.exceptions import DisallowedRedirect

    from django_focus.request import to_response
    from django_focus.runtime import get_runtime
    from focus_middleware.responses import redirect
    from tests.helpers import facts

    runtime = get_runtime()
    here = facts()
    ok = to_response(redirect(f"{ORIGIN}/page"), here, runtime)
    assert ok.status_code == 303 and ok["Location"] == f"{ORIGIN}/page"
    to_focus = to_response(redirect(f"{emu.url}/signin?redirect_to=x"), here, runtime)
    assert to_focus["Location"].startswith(emu.url)
    for bad in ("https://evil.example/", "//evil.example/", f"{ORIGIN.replace('http:', 'javascript:')}/"):
        with pytest.raises(DisallowedRedirect):
            to_response(redirect(bad), here, runtime)


def test_the_test_helpers(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    from django_focus.testing import emulator_settings, focus_logout

    assert emulator_settings(emu, app="video") == {"api_url": emu.url, "issuer": emu.issuer, "app": "video"}
    force_focus_login(client, user)
    force_focus_login(client, user, pat=True)
    assert client.get("/", headers=API).json()["authenticated"] is True
    focus_logout(client)
    assert client.get("/", headers=API).json()["authenticated"] is False
