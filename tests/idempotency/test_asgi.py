"""Idempotent paid actions on the ASGI adapter (``@paid`` on Starlette, FastAPI's
``Depends(PaidJob)`` with and without ``FocusRoute``), and ``max_cost``: a real emulator's
ledger judges every charge (the root conftest checks its books after each test).

Stripe's convention is followed for the header (https://docs.stripe.com/api/idempotent_requests):
a repeat with the same key never runs the work again; the same key with other parameters
is an error. FastAPI's order (dependencies solved before the body's validation errors are
raised) is fastapi/routing.py ``get_request_handler`` on 0.165: ``solve_dependencies`` then
``if errors: raise RequestValidationError``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from focus_middleware import FocusConfig, FocusMiddleware, paid
from focus_middleware.fastapi import FocusJob, FocusRoute, PaidJob
from focus_middleware.idempotency import FORM_FIELD, MAX_KEY_LENGTH
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.paid.conftest import API, bearer, client_for, only_job, settled

pytestmark = pytest.mark.anyio

FORM_NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin", "accept": "text/html"}
ran: list[str] = []


def starlette_app(config: FocusConfig) -> Starlette:
    @paid(action="render", cost_estimate=5, label="Preview render", result_url="/renders/{job_id}")
    async def render(request: Request) -> Response:
        ran.append("render")
        job = request.state.focus_job
        job.actual_cost = 3
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return RedirectResponse(f"/renders/{job.job_id}", status_code=303)  # post/redirect/get
        return JSONResponse({"job_id": job.job_id})

    @paid(action="export", cost_estimate=5)
    async def export(request: Request) -> Response:
        ran.append("export")
        return JSONResponse({"job_id": request.state.focus_job.job_id})

    @paid(action="overrun", cost_estimate=5, max_cost=8)
    async def overrun(request: Request) -> Response:
        request.state.focus_job.actual_cost = int(request.query_params.get("cost", "1000"))
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/render", render, methods=["POST"]), Route("/export", export, methods=["POST"]),
                            Route("/overrun", overrun, methods=["POST"])])
    app.add_middleware(FocusMiddleware, config=config)
    return app


class Clip(BaseModel):
    title: str
    seconds: int


def fastapi_app(config: FocusConfig) -> FastAPI:
    app = FastAPI()
    checked = APIRouter(route_class=FocusRoute)

    @checked.post("/api/render")
    async def render(clip: Clip, job: FocusJob = Depends(PaidJob(action="render", cost_estimate=5))) -> dict[str, Any]:
        ran.append("api-render")
        assert isinstance(job, FocusJob)
        job.actual_cost = 4
        return {"job_id": job.job_id, "title": clip.title}

    @checked.post("/api/render-sync")
    def render_sync(clip: Clip, job: FocusJob = Depends(PaidJob(action="render", cost_estimate=5))) -> dict[str, Any]:
        ran.append("api-render-sync")
        return {"job_id": job.job_id}

    @app.post("/api/plain")
    async def plain(clip: Clip, job: FocusJob = Depends(PaidJob(action="render", cost_estimate=5))) -> dict[str, Any]:
        return {"job_id": job.job_id}

    app.include_router(checked)
    app.add_middleware(FocusMiddleware, config=config)
    return app


@pytest.fixture(autouse=True)
def _fresh() -> None:
    ran.clear()


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=20)


def keyed(user: EmulatedUser, key: str) -> dict[str, str]:
    return bearer(user.pat(), {**API, "idempotency-key": key})


async def test_same_key_twice_is_one_job_and_one_charge(config: FocusConfig, emu: FocusEmulator,
                                                       user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        first = await client.post("/export", headers=keyed(user, "k-1"), json={"clip": 1})
        again = await client.post("/export", headers=keyed(user, "k-1"), json={"clip": 1})
    assert first.status_code == 200
    job = only_job(emu, user)
    assert again.status_code == 409
    assert again.json() == {"error": "duplicate_request", "action": "export", "job_id": job["id"],
                            "status": "completed"}
    assert ran == ["export"] and user.credits == 15
    settled(emu, user)


async def test_different_body_or_action_with_the_same_key_is_422(config: FocusConfig, emu: FocusEmulator,
                                                                 user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        assert (await client.post("/export", headers=keyed(user, "k-2"), json={"clip": 1})).status_code == 200
        other_body = await client.post("/export", headers=keyed(user, "k-2"), json={"clip": 2})
        other_action = await client.post("/render", headers=keyed(user, "k-2"), json={"clip": 1})
    assert other_body.status_code == 422 and other_body.json()["error"] == "idempotency_key_reused"
    assert other_action.status_code == 422
    assert ran == ["export"] and len(emu.jobs(user)) == 1


async def test_a_key_is_per_account(config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    other = emu.create_user(credits=20)
    async with client_for(starlette_app(config)) as client:
        assert (await client.post("/export", headers=keyed(user, "shared"), json={})).status_code == 200
        assert (await client.post("/export", headers=keyed(other, "shared"), json={})).status_code == 200
    assert len(emu.jobs(user)) == 1 and len(emu.jobs(other)) == 1


async def test_browser_form_reposted_is_sent_to_the_result(config: FocusConfig, emu: FocusEmulator,
                                                           user: EmulatedUser) -> None:
    form = {FORM_FIELD: "form-key-1", "title": "Sunset"}
    async with client_for(starlette_app(config)) as client:
        first = await client.post("/render", data=form, headers=bearer(user.pat(), FORM_NAV))
        job = only_job(emu, user)
        assert first.status_code == 303 and first.headers["location"] == f"/renders/{job['id']}"
        reload = await client.post("/render", data=form, headers=bearer(user.pat(), FORM_NAV))
        assert reload.status_code == 303
        assert reload.headers["location"] == f"{config.public_origin}/renders/{job['id']}"
        assert reload.headers["cache-control"] == "no-store"
        # A route that names no result page: the 409 page.
        export_form = {FORM_FIELD: "form-key-2"}
        assert (await client.post("/export", data=export_form, headers=bearer(user.pat(), FORM_NAV))).status_code == 200
        page = await client.post("/export", data=export_form, headers=bearer(user.pat(), FORM_NAV))
        assert page.status_code == 409 and page.headers["content-type"].startswith("text/html")
        assert "Nothing was charged again" in page.text
        changed = await client.post("/render", data={**form, "title": "Dawn"}, headers=bearer(user.pat(), FORM_NAV))
        assert changed.status_code == 422 and "already sent with other contents" in changed.text
    assert ran == ["render", "export"]
    assert user.credits == 20 - 3 - 5
    settled(emu, user)


async def test_a_double_click_makes_one_reservation(config: FocusConfig, emu: FocusEmulator,
                                                    user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        answers = await asyncio.gather(*(client.post("/export", headers=keyed(user, "dbl"), json={}) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    assert len(emu.jobs(user)) == 1 and ran == ["export"]
    settled(emu, user)


async def test_a_refused_reservation_claims_nothing(config: FocusConfig, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    async with client_for(starlette_app(config)) as client:
        assert (await client.post("/export", headers=keyed(poor, "after-billing"), json={})).status_code == 402
        emu.add_credits(poor, 10)
        assert (await client.post("/export", headers=keyed(poor, "after-billing"), json={})).status_code == 200
    assert len(emu.jobs(poor)) == 1 and poor.credits == 7


async def test_bad_keys_are_refused(config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        long = await client.post("/export", headers=keyed(user, "k" * (MAX_KEY_LENGTH + 1)), json={})
        empty = await client.post("/export", headers=keyed(user, ""), json={})
    assert long.status_code == 400 and long.json()["error"] == "invalid_idempotency_key"
    assert empty.status_code == 400
    assert emu.jobs(user) == [] and ran == []


async def test_the_key_is_hashed_in_cache_keys(config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    app = starlette_app(config)
    async with client_for(app) as client:
        assert (await client.post("/export", headers=keyed(user, "visible-key-xyz"), json={})).status_code == 200
    middleware = app.middleware_stack
    while not isinstance(middleware, FocusMiddleware):
        middleware = middleware.app  # type: ignore[attr-defined]
    cache = middleware.resolver.core.cache
    keys = list(cache._data)  # type: ignore[attr-defined]
    assert keys and not any("visible-key-xyz" in k or user.clerk_id in k for k in keys)


# -- max_cost ------------------------------------------------------------------------------------


async def test_max_cost_caps_the_charge_and_an_overrun_is_logged(config: FocusConfig, emu: FocusEmulator,
                                                                 user: EmulatedUser,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    pat = user.pat()
    with caplog.at_level(logging.WARNING, logger="focus_middleware.jobs"):
        async with client_for(starlette_app(config)) as client:
            assert (await client.post("/overrun", headers=bearer(pat))).status_code == 200
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 8 and user.credits == 12
    warnings = [r.getMessage() for r in caplog.records if "above its estimate" in r.getMessage()]
    assert len(warnings) == 1 and job["id"] in warnings[0] and "overrun" in warnings[0] and "max_cost 8" in warnings[0]
    assert pat not in caplog.text


async def test_no_warning_within_the_estimate(config: FocusConfig, emu: FocusEmulator, user: EmulatedUser,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="focus_middleware.jobs"):
        async with client_for(starlette_app(config)) as client:
            r = await client.post("/export", headers=bearer(user.pat()))
    assert r.status_code == 200 and user.credits == 15  # the estimate: no warning
    assert "above its estimate" not in caplog.text


# -- FastAPI --------------------------------------------------------------------------------------


async def test_fastapi_invalid_body_reserves_nothing_on_a_focus_route(config: FocusConfig, emu: FocusEmulator,
                                                                      user: EmulatedUser) -> None:
    async with client_for(fastapi_app(config)) as client:
        bad = await client.post("/api/render", headers=bearer(user.pat()), json={"title": "x"})
        bad_sync = await client.post("/api/render-sync", headers=bearer(user.pat()), json={"seconds": "many"})
        assert bad.status_code == 422 and bad_sync.status_code == 422
        assert emu.jobs(user) == [] and user.credits == 20
        good = await client.post("/api/render", headers=bearer(user.pat()), json={"title": "x", "seconds": 3})
    assert good.status_code == 200 and good.json()["job_id"] == only_job(emu, user)["id"]
    assert user.credits == 16 and ran == ["api-render"]
    settled(emu, user)


async def test_fastapi_plain_route_reserves_then_refunds_an_invalid_body(config: FocusConfig, emu: FocusEmulator,
                                                                         user: EmulatedUser) -> None:
    async with client_for(fastapi_app(config)) as client:
        bad = await client.post("/api/plain", headers=bearer(user.pat()), json={"title": "x"})
    assert bad.status_code == 422
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20  # the documented fallback


async def test_fastapi_same_key_twice(config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    clip = {"title": "x", "seconds": 3}
    async with client_for(fastapi_app(config)) as client:
        first = await client.post("/api/render", headers=keyed(user, "api-1"), json=clip)
        again = await client.post("/api/render", headers=keyed(user, "api-1"), json=clip)
        other = await client.post("/api/render", headers=keyed(user, "api-1"), json={**clip, "seconds": 4})
        both = await asyncio.gather(*(client.post("/api/render-sync", headers=keyed(user, "api-2"), json=clip)
                                      for _ in range(3)))
    job_id = first.json()["job_id"]
    assert again.status_code == 409 and again.json()["job_id"] == job_id and again.json()["status"] == "completed"
    assert other.status_code == 422
    assert sorted(r.status_code for r in both) == [200, 409, 409]
    assert len(emu.jobs(user)) == 2 and user.credits == 20 - 4 - 5
    settled(emu, user)
