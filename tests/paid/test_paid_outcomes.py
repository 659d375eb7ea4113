"""@paid in a Starlette app, in process: every way paid work can end, judged by the ledger.

Through httpx's ASGITransport the app (finish hooks included) has run to the end when the
response comes back, so the ledger can be read at once.
"""

from __future__ import annotations

import threading

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN
from tests.paid import apps
from tests.paid.conftest import API, CROSS_SITE, NAV, SAME_ORIGIN, bearer, client_for, only_job

pytestmark = pytest.mark.anyio


async def test_success_charges_the_actual_cost(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    app = apps.paid_app(config)
    async with client_for(app) as client:
        token = user.pat()
        r = await client.post("/render?cost=3", headers=bearer(token))
        assert r.status_code == 200 and r.json()["cost"] == 3
        job = only_job(emu, user)
        assert job["id"] == r.json()["job_id"] and job["status"] == "completed" and job["actual_cost"] == 3
        assert job["action"] == "render" and job["cost_estimate"] == 5 and job["app"] == "video"
        assert job["metadata"]["description"] == "Render a video" and len(job["metadata"]["request_id"]) == 32
        assert job["metadata"]["previewUrl"].endswith(".png")
        assert user.credits == 17
        # Credits moved, so the middleware's cached wallet was dropped: the next request sees them.
        assert (await client.get("/", headers=bearer(token))).json()["credits"] == 17


async def test_the_estimate_is_charged_when_no_actual_cost_is_set(config: FocusConfig, user: EmulatedUser,
                                                                  emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config)) as client:
        assert (await client.get("/render", headers=bearer(user.pat()))).status_code == 200
    assert only_job(emu, user)["actual_cost"] == 5 and user.credits == 15


async def test_an_overage_is_charged_in_full(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config)) as client:
        assert (await client.post("/render?cost=9", headers=bearer(user.pat()))).status_code == 200
    assert only_job(emu, user)["actual_cost"] == 9 and user.credits == 11


ENDPOINTS = [("POST", "/render"), ("POST", "/render-sync"), ("POST", "/renders"), ("PUT", "/renders")]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("end", ["raise", "handled", "http", "400", "404", "422", "500", "503"])
async def test_failed_work_is_refunded(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator, method: str,
                                       path: str, end: str) -> None:
    """An exception (even one the app turns into a 200), an HTTPException, any status >= 400;
    async and sync handlers, functions and HTTPEndpoint methods."""
    async with client_for(apps.paid_app(config), raise_app_exceptions=False) as client:
        r = await client.request(method, f"{path}?end={end}&cost=4", headers=bearer(user.pat()))
    expected = {"raise": 500, "handled": 200, "http": 409}.get(end) or int(end)
    assert r.status_code == expected
    job = only_job(emu, user)
    assert job["status"] == "failed" and user.credits == 20
    assert sum(apps.ran.values()) == 1


@pytest.mark.parametrize(("method", "path"), ENDPOINTS[1:])
async def test_sync_and_endpoint_methods_complete(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator,
                                                  method: str, path: str) -> None:
    async with client_for(apps.paid_app(config)) as client:
        r = await client.request(method, f"{path}?cost=2", headers=bearer(user.pat()))
    assert r.status_code == 200 and only_job(emu, user)["status"] == "completed" and user.credits == 18
    if path == "/render-sync":
        assert apps.threads["render_sync"] != threading.get_ident()  # in the thread pool, not the loop


async def test_insufficient_credits_is_a_402_before_the_handler_runs(config: FocusConfig, user: EmulatedUser,
                                                                     emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config)) as client:
        r = await client.post("/expensive", headers=bearer(user.pat()))
        assert r.status_code == 402 and r.headers["cache-control"].startswith("no-store")
        body = r.json()
        assert body["error"] == "insufficient_credits" and body["required"] == 10_000 and body["available"] == 20
        assert body["action"] == "expensive" and body["purchase_url"].startswith(emu.url + "/billing?redirect_to=")
        page = await client.get("/expensive", headers=bearer(user.pat(), NAV))
        assert page.status_code == 402 and page.headers["content-type"].startswith("text/html")
        assert "10000" in page.text and "/billing?redirect_to=" in page.text
    assert apps.ran["expensive"] == 0 and emu.jobs(user) == [] and user.credits == 20
    # Exactly one reservation attempt per request: a 402 is an answer, never retried.
    assert emu.calls("POST /api/jobs") == 2


async def test_no_account_is_refused_before_anything_is_reserved(config: FocusConfig, emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config)) as client:
        r = await client.post("/render", headers=API)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["signin_url"].startswith(emu.url + "/signin?redirect_to=")
        nav = await client.get("/render", headers=NAV)
        assert nav.status_code == 303 and nav.headers["location"].startswith(emu.url + "/signin?")
        forged = await client.post("/render", headers=bearer("focus_pat_" + "x" * 40))
        assert forged.status_code == 401
    assert sum(apps.ran.values()) == 0 and emu.calls("POST /api/jobs") == 0


async def test_a_session_too_close_to_expiry_is_bounced_not_started(config: FocusConfig, user: EmulatedUser,
                                                                    emu: FocusEmulator) -> None:
    """The token must outlive the work by min_token_life (30 s) so it can settle it."""
    async with client_for(apps.paid_app(config)) as client:
        short = user.session_jwt(azp=ORIGIN, lifetime=20)
        api = await client.post("/render", headers=bearer(short))
        assert api.status_code == 401 and 'error="invalid_token"' in api.headers["www-authenticate"]
        nav = await client.get("/render", headers=bearer(short, NAV))
        assert nav.status_code == 303 and "/signin?" in nav.headers["location"]
        # The same token is fine where no job is opened.
        assert (await client.get("/", headers=bearer(short))).json()["credits"] == 20
        ok = await client.post("/render", headers=bearer(user.session_jwt(azp=ORIGIN, lifetime=60)))
        assert ok.status_code == 200
    assert only_job(emu, user)["status"] == "completed" and apps.ran["render"] == 1


async def test_cookie_auth_must_be_same_origin_for_every_method(config: FocusConfig, user: EmulatedUser,
                                                                emu: FocusEmulator) -> None:
    cookie = {"cookie": f"focus_session={user.session_jwt(azp=ORIGIN)}"}
    async with client_for(apps.paid_app(config)) as client:
        for method in ("GET", "POST"):
            r = await client.request(method, "/render", headers={**CROSS_SITE, **cookie})
            assert r.status_code == 403, method
        page = await client.get("/render", headers={**NAV, "sec-fetch-site": "cross-site", **cookie})
        assert page.status_code == 403
        assert emu.jobs(user) == []
        assert (await client.get("/render", headers={**SAME_ORIGIN, **cookie})).status_code == 200
        # A bearer token is not sent by a browser on its own: no origin rule.
        assert (await client.post("/render", headers=bearer(user.pat(), CROSS_SITE))).status_code == 200
    assert [j["status"] for j in emu.jobs(user)] == ["completed", "completed"]


async def test_focus_down_at_reservation_is_a_503_and_nothing_runs(config: FocusConfig, user: EmulatedUser,
                                                                   emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config)) as client:
        token = user.pat()
        assert (await client.get("/", headers=bearer(token))).status_code == 200  # identity cached
        emu.fail_next("POST /api/jobs", status=503)
        r = await client.post("/render", headers=bearer(token))
        assert r.status_code == 503 and r.headers["retry-after"]
        emu.fail_next("POST /api/jobs", status=429, retry_after=7)
        r = await client.post("/render", headers=bearer(token))
        assert r.status_code == 503 and r.headers["retry-after"] == "7"
    assert apps.ran["render"] == 0 and emu.jobs(user) == [] and user.credits == 20


async def test_a_credential_revoked_before_the_reservation_is_a_401(config: FocusConfig, user: EmulatedUser,
                                                                   emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config)) as client:
        token = user.pat()
        assert (await client.get("/", headers=bearer(token))).status_code == 200  # cached as valid
        user.revoke_pats()
        r = await client.post("/render", headers=bearer(token))
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert apps.ran["render"] == 0 and emu.jobs(user) == []


async def test_a_custom_insufficient_credits_page(config: FocusConfig, user: EmulatedUser) -> None:
    app = apps.paid_app(config, insufficient_credits_page="need $required for $action, have $available")
    async with client_for(app) as client:
        page = await client.get("/expensive", headers=bearer(user.pat(), NAV))
    assert page.status_code == 402 and page.text == "need 10000 for expensive, have 20"


async def test_an_app_without_an_app_slug_fails_loudly(emu: FocusEmulator, clock: FakeClock,
                                                       user: EmulatedUser) -> None:
    config = FocusConfig(api_url=emu.url, issuer=emu.issuer, public_origin=ORIGIN, clock=clock, max_retries=0)
    async with client_for(apps.paid_app(config), raise_app_exceptions=False) as client:
        r = await client.post("/render", headers=bearer(user.pat()))
    assert r.status_code == 500 and apps.ran["render"] == 0 and emu.jobs(user) == []
