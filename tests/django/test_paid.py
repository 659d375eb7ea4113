"""Paid views (decorator and mixin, sync and async, plain and streamed) through Django's
WSGI and ASGI handlers, with the emulator's ledger as the judge: actual costs charged,
failures refunded, nothing left started, books balanced (the emu fixture audits them)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from django_focus.signals import settlement_undelivered
from django_focus.testing import force_focus_login
from focus_middleware.jobs import UndeliveredSettlement
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, CROSS_SITE, NAV, SAME_ORIGIN, Either

pytestmark = pytest.mark.anyio
PAID = ["/render", "/arender", "/cbv/paid", "/cbv/apaid"]
ESTIMATE = {"/render": 5, "/arender": 5, "/cbv/paid": 3, "/cbv/apaid": 3}


def only_job(emu: FocusEmulator, user: EmulatedUser) -> dict[str, Any]:
    [job] = emu.jobs(user)
    return job


def nothing_started(emu: FocusEmulator, user: EmulatedUser) -> bool:
    return emu.jobs(user, status="started") == []


@pytest.mark.parametrize("path", PAID)
async def test_success_charges_the_actual_cost(browser: Either, user: EmulatedUser, emu: FocusEmulator,
                                               path: str) -> None:
    force_focus_login(browser.client, user)
    r = await browser.post(f"{path}?cost=3", headers={**API, **SAME_ORIGIN})
    assert r.status_code == 200, r.content
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 3 and user.credits == 7
    assert job["metadata"]["request_id"] == json.loads(r.content)["request_id"]
    assert job["metadata"]["previewUrl"] == "https://example.test/preview.png"
    assert job["metadata"]["description"] in ("render", "export")


async def test_without_an_actual_cost_the_estimate_is_charged(browser: Either, user: EmulatedUser,
                                                              emu: FocusEmulator) -> None:
    force_focus_login(browser.client, user, pat=True)
    assert (await browser.post("/cbv/apaid", headers=API)).status_code == 200
    assert only_job(emu, user)["actual_cost"] == 3 and user.credits == 7


@pytest.mark.parametrize("path", PAID)
async def test_a_view_that_raises_is_refunded(browser: Either, user: EmulatedUser, emu: FocusEmulator,
                                              path: str) -> None:
    force_focus_login(browser.client, user, pat=True)
    with pytest.raises(RuntimeError, match="blew up"):
        await browser.post(f"{path}?fail=1", headers=API)
    assert only_job(emu, user)["status"] == "failed" and user.credits == 10


@pytest.mark.parametrize("status", [404, 500])
@pytest.mark.parametrize("path", ["/render", "/cbv/apaid"])
async def test_an_error_status_is_refunded(browser: Either, user: EmulatedUser, emu: FocusEmulator, path: str,
                                           status: int) -> None:
    force_focus_login(browser.client, user, pat=True)
    assert (await browser.post(f"{path}?status={status}", headers=API)).status_code == status
    assert only_job(emu, user)["status"] == "failed" and user.credits == 10


@pytest.mark.parametrize("path", PAID)
async def test_too_few_credits_is_402_and_the_view_never_runs(browser: Either, emu: FocusEmulator, path: str) -> None:
    poor = emu.create_user(credits=2)
    force_focus_login(browser.client, poor)
    r = await browser.post(path, headers={**API, **SAME_ORIGIN})
    assert r.status_code == 402
    body = json.loads(r.content)
    assert body["required"] == ESTIMATE[path] and body["available"] == 2
    assert emu.jobs(poor) == [] and poor.credits == 2
    page = await browser.get(path, headers={**NAV, "sec-fetch-site": "same-origin"})
    assert page.status_code == 402 and b'<strong id="required">' in page.content


async def test_without_an_account_there_is_no_job(browser: Either, emu: FocusEmulator, user: EmulatedUser) -> None:
    assert (await browser.post("/arender", headers=API)).status_code == 401
    assert (await browser.get("/render", headers=NAV)).status_code == 303
    assert emu.jobs(user) == []


async def test_a_nearly_expired_session_cannot_start_paid_work(browser: Either, user: EmulatedUser,
                                                               emu: FocusEmulator) -> None:
    force_focus_login(browser.client, user, lifetime=20)  # under min_token_life: could not settle it
    r = await browser.post("/render", headers={**API, **SAME_ORIGIN})
    assert r.status_code == 401 and r["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert emu.jobs(user) == []


async def test_a_cookie_paid_call_from_another_site_is_403_even_a_get(browser: Either, user: EmulatedUser,
                                                                       emu: FocusEmulator) -> None:
    force_focus_login(browser.client, user)
    assert (await browser.get("/render", headers={**API, **CROSS_SITE})).status_code == 403
    assert (await browser.get("/render", headers={**API, "sec-fetch-site": "same-site"})).status_code == 403
    assert emu.jobs(user) == []
    pat = Either(browser.kind)
    force_focus_login(pat.client, user, pat=True)  # a bearer token is never sent by a browser on its own
    assert (await pat.get("/render", headers={**API, **CROSS_SITE})).status_code == 200


async def test_focus_refusing_the_reservation(browser: Either, user: EmulatedUser, emu: FocusEmulator) -> None:
    force_focus_login(browser.client, user, pat=True)
    emu.fail_next("POST /api/jobs", 503, retry_after=7)
    r = await browser.post("/arender", headers=API)
    assert r.status_code == 503 and r["Retry-After"] == "7"
    assert (await browser.get("/", headers=API)).status_code == 200  # the PAT is cached now
    user.revoke_pats()
    r = await browser.post("/render", headers=API)
    assert r.status_code == 401  # revoked between the cached check and the reservation
    assert emu.jobs(user) == []


# -- CSRF ----------------------------------------------------------------------------------------------


def test_a_paid_form_post_needs_its_csrf_token(user: EmulatedUser, emu: FocusEmulator) -> None:
    client = Client(enforce_csrf_checks=True)
    force_focus_login(client, user)
    same = {**API, **SAME_ORIGIN}
    refused = client.post("/render", headers=same)
    assert refused.status_code == 403 and b"CSRF" in refused.content
    assert emu.jobs(user) == []  # Django refused before the view: nothing reserved
    client.get("/page")  # the form page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    r = client.post("/render?cost=2", headers={**same, "x-csrftoken": token})
    assert r.status_code == 200 and only_job(emu, user)["status"] == "completed" and user.credits == 8
    # An API view that only bearer tokens reach may be csrf_exempt.
    api = Client(enforce_csrf_checks=True)
    force_focus_login(api, user, pat=True)
    assert api.post("/api/render?cost=1", headers=API).status_code == 200 and user.credits == 7


# -- streamed responses -----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
@pytest.mark.parametrize("path", ["/stream", "/astream"])
async def test_a_stream_is_charged_after_its_last_chunk(browser: Either, user: EmulatedUser, emu: FocusEmulator,
                                                        path: str) -> None:
    force_focus_login(browser.client, user)
    r = await browser.get(f"{path}?chunks=3", headers={**API, **SAME_ORIGIN})
    assert r.status_code == 200 and r.streaming
    assert only_job(emu, user)["status"] == "started" and user.credits == 6  # reserved, not yet settled
    assert await browser.body(r) == b"chunk 0\nchunk 1\nchunk 2\n"
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 2 and user.credits == 8


@pytest.mark.parametrize("path", ["/stream", "/astream"])
async def test_a_stream_closed_early_is_refunded(browser: Either, user: EmulatedUser, emu: FocusEmulator,
                                                 path: str) -> None:
    if browser.kind == "wsgi" and path == "/astream":
        pytest.skip("Django reads an async body whole before a WSGI server sends any of it")
    force_focus_login(browser.client, user)
    r = await browser.get(f"{path}?chunks=5", headers={**API, **SAME_ORIGIN})
    assert await browser.leave_after(r, 2) == [b"chunk 0\n", b"chunk 1\n"]
    assert only_job(emu, user)["status"] == "failed" and user.credits == 10


# -- settlements Focus could not take --------------------------------------------------------------------


async def test_an_undelivered_settlement_is_reported_and_delivered_with_the_next_request(
        browser: Either, user: EmulatedUser, emu: FocusEmulator) -> None:
    heard: list[UndeliveredSettlement] = []

    def listen(sender: Any, settlement: UndeliveredSettlement, **kwargs: Any) -> None:
        heard.append(settlement)

    settlement_undelivered.connect(listen)
    try:
        force_focus_login(browser.client, user, pat=True)
        emu.fail_next("POST /api/jobs/complete", 503, times=3)
        r = await browser.post("/arender?cost=4", headers=API)
        assert r.status_code == 200
        job = only_job(emu, user)
        assert job["status"] == "started" and [h.job_id for h in heard] == [job["id"]]
        assert heard[0].settlement == "complete" and heard[0].actual_cost == 4
        emu.clear_faults()
        assert (await browser.get("/", headers=API)).status_code == 200  # any request that reads the account
        job = only_job(emu, user)
        assert job["status"] == "completed" and job["actual_cost"] == 4 and user.credits == 6
    finally:
        settlement_undelivered.disconnect(listen)


def test_the_job_handle_is_only_there_for_paid_views(rf: Any) -> None:
    from django_focus.paid import focus_job

    with pytest.raises(RuntimeError, match="no paid job"):
        focus_job(rf.get("/"))


async def test_under_asgi_with_a_sync_only_middleware_below(settings: Any, user: EmulatedUser,
                                                              emu: FocusEmulator) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.django.sync_only.sync_only"]
    asgi = Either("asgi")
    force_focus_login(asgi.client, user)
    same = {**API, **SAME_ORIGIN}
    r = await asgi.get("/aprivate", headers=same)
    assert r.status_code == 200 and r["X-Sync-Only"] == "1" and json.loads(r.content)["clerk_id"] == user.clerk_id
    assert (await asgi.post("/arender?cost=2", headers=same)).status_code == 200
    assert (await asgi.post("/cbv/paid?status=500", headers=same)).status_code == 500
    streamed = await asgi.get("/stream", headers=same)
    assert await asgi.body(streamed) == b"chunk 0\nchunk 1\nchunk 2\n"
    assert [j["status"] for j in emu.jobs(user)] == ["completed", "failed", "completed"]
    assert user.credits == 10 - 2 - 2
