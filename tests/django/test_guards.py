"""focus_login_required, require_credits and their mixins, on sync and async views, through
Django's WSGI handler (Client) and ASGI handler (AsyncClient): the shared refusals."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from django_focus.testing import force_focus_login
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, CROSS_SITE, NAV, SAME_ORIGIN, Either
from .settings import HERE, ORIGIN
from .views import XSS_ACTION

pytestmark = pytest.mark.anyio
PRIVATE = ["/private", "/aprivate", "/cbv/private", "/cbv/aprivate"]
CREDITS = ["/credits", "/acredits", "/cbv/credits"]


@pytest.mark.parametrize("path", PRIVATE)
async def test_an_api_call_without_a_session_gets_401(browser: Either, path: str) -> None:
    r = await browser.get(path, headers=API)
    assert r.status_code == 401 and r["WWW-Authenticate"] == "Bearer" and r["Cache-Control"] == "no-store"
    body = json.loads(r.content)
    assert body["error"] == "unauthorized" and body["signin_url"].endswith(f"redirect_to=http%3A%2F%2Fapp.example.test{path.replace('/', '%2F')}")


@pytest.mark.parametrize("path", PRIVATE)
async def test_a_navigation_without_a_session_goes_to_sign_in(browser: Either, emu: FocusEmulator, path: str) -> None:
    r = await browser.get(path, headers=NAV)
    assert r.status_code == 303 and r["Location"].startswith(f"{emu.url}/signin?redirect_to=")
    back = parse_qs(urlsplit(r["Location"]).query)["redirect_to"][0]
    assert back.startswith(f"{ORIGIN}{path}?focus_state=") and "focus_state" in r.cookies


@pytest.mark.parametrize("path", PRIVATE)
async def test_a_signed_in_request_runs_the_view(browser: Either, user: EmulatedUser, path: str) -> None:
    force_focus_login(browser.client, user)
    r = await browser.get(path, headers=API)
    assert r.status_code == 200 and json.loads(r.content)["clerk_id"] == user.clerk_id
    assert r["Cache-Control"] == "private" and r["Vary"] == "Cookie, Authorization"


async def test_a_forged_token_is_refused_and_said_so(browser: Either) -> None:
    browser.client.cookies["focus_session"] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    r = await browser.get("/private", headers=API)
    assert r.status_code == 401 and r["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_focus_unavailable_is_503_not_signed_out(browser: Either, user: EmulatedUser, emu: FocusEmulator) -> None:
    force_focus_login(browser.client, user, pat=True)
    emu.fail_next("GET /api/wallet", 503)
    r = await browser.get("/aprivate", headers=API)
    assert r.status_code == 503 and r["Retry-After"]
    page = await browser.get("/private", headers=NAV)  # a page for a navigation (the failure was not cached)
    assert page.status_code == 200


async def test_a_cookie_state_change_from_another_site_is_403(browser: Either, user: EmulatedUser) -> None:
    force_focus_login(browser.client, user)
    assert (await browser.post("/cbv/private", headers={**API, **CROSS_SITE})).status_code == 403
    assert (await browser.post("/cbv/private", headers={**API, **SAME_ORIGIN})).status_code == 200


# -- credits -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CREDITS)
async def test_enough_credits_run_the_view(browser: Either, user: EmulatedUser, path: str) -> None:
    force_focus_login(browser.client, user)
    assert (await browser.get(path, headers=API)).status_code == 200


@pytest.mark.parametrize(("path", "required", "action"), [
    ("/credits", 5, "credits"), ("/acredits", 5, XSS_ACTION), ("/cbv/credits", 3, "Export"),
])
async def test_too_few_credits_is_402_json(browser: Either, emu: FocusEmulator, path: str, required: int,
                                           action: str) -> None:
    poor = emu.create_user(credits=2)
    force_focus_login(browser.client, poor)
    r = await browser.get(path, headers=API)
    assert r.status_code == 402
    body = json.loads(r.content)
    assert body == {"error": "insufficient_credits", "required": required, "available": 2, "action": action,
                    "purchase_url": f"{emu.url}/billing?redirect_to=http%3A%2F%2Fapp.example.test{path.replace('/', '%2F')}%3Ffocus_billed%3D1"}


async def test_too_few_credits_is_the_402_template_for_a_navigation(browser: Either, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    force_focus_login(browser.client, poor)
    r = await browser.get("/acredits", headers=NAV)
    page = r.content.decode()
    assert r.status_code == 402 and r["Content-Type"] == "text/html; charset=utf-8"
    assert '<span id="action">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</span>' in page
    assert '<strong id="available">2</strong>' in page and '<strong id="required">5</strong>' in page
    assert f'href="{emu.url}/billing?redirect_to=http%3A%2F%2Fapp.example.test%2Facredits%3Ffocus_billed%3D1"' in page
    assert "<script>" not in page


async def test_an_app_overrides_the_402_template_the_django_way(browser: Either, emu: FocusEmulator,
                                                                settings: Any) -> None:
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [HERE / "override_templates", HERE / "templates"]}]
    poor = emu.create_user(credits=1)
    force_focus_login(browser.client, poor)
    r = await browser.get("/cbv/credits", headers=NAV)
    assert r.status_code == 402
    assert r.content.decode().startswith('<h1 id="ours">Top up to Export</h1><p>1 of 3</p>')


def test_a_guard_without_the_middleware_says_what_is_missing(settings: Any, client: Client) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "focus" not in m]
    client.raise_request_exception = True
    with pytest.raises(ImproperlyConfigured, match="FocusMiddleware is not in MIDDLEWARE"):
        client.get("/private")
