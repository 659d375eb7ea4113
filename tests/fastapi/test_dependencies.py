"""The FastAPI dependencies on a real FastAPI app behind FocusMiddleware, against the
emulator (whose ledger judges every paid request; the root conftest checks its books)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from focus_middleware import FocusAccount, FocusConfig, FocusMiddleware, paid
from focus_middleware.fastapi import FocusJob, PaidJob, RequireCredits, current_account, optional_account
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.paid.conftest import API, NAV, bearer, client_for, only_job

pytestmark = pytest.mark.anyio

ran: Counter[str] = Counter()


class Handled(Exception):
    pass


def finish(job: FocusJob, cost: int | None, end: str) -> dict[str, Any]:
    if cost is not None:
        job.actual_cost = cost
    job.metadata["previewUrl"] = "https://cdn.example.test/clip.png"
    if end == "http":
        raise HTTPException(404, "no such clip")
    if end == "raise":
        raise RuntimeError("the work failed")
    if end == "handled":
        raise Handled()
    return {"job_id": job.job_id}


def make_app(config: FocusConfig) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(Handled)
    async def on_handled(request: Request, exc: Handled) -> JSONResponse:
        return JSONResponse({"handled": True})

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/me")
    async def me(account: FocusAccount = Depends(current_account)) -> dict[str, Any]:
        return {"clerk_id": account.clerk_id, "credits": account.credits}

    @app.get("/maybe")
    async def maybe(account: FocusAccount | None = Depends(optional_account)) -> dict[str, Any]:
        return {"clerk_id": account.clerk_id if account else None}

    @app.post("/export")
    async def export_video(account: FocusAccount = Depends(RequireCredits(5))) -> dict[str, Any]:
        ran["export"] += 1
        return {"credits": account.credits}

    @app.post("/render")
    async def render(request: Request, job: FocusJob = Depends(PaidJob(action="render", cost_estimate=5)),
                     cost: int | None = None, end: str = "ok") -> Any:
        ran["render"] += 1
        assert request.state.focus_job is job
        if end.isdigit():
            return JSONResponse({"status": end}, status_code=int(end))
        return finish(job, cost, end)

    @app.post("/render-sync")
    def render_sync(job: FocusJob = Depends(PaidJob(action="render", cost_estimate=5)), cost: int | None = None,
                    end: str = "ok") -> dict[str, Any]:
        ran["render_sync"] += 1
        return finish(job, cost, end)

    @app.post("/expensive")
    async def expensive(job: FocusJob = Depends(PaidJob(action="expensive", cost_estimate=10_000))) -> None:
        ran["expensive"] += 1

    @app.get("/stream")
    async def stream(job: FocusJob = Depends(PaidJob(action="stream", cost_estimate=5)),
                     cost: int = 5) -> StreamingResponse:
        job.actual_cost = cost

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(4):
                yield f"chunk {i}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.post("/decorated")
    @paid(action="decorated", cost_estimate=2)
    async def decorated(item: dict[str, int]) -> dict[str, Any]:  # no Request parameter at all
        return {"item": item}

    app.add_middleware(FocusMiddleware, config=config)
    return app


@pytest.fixture(autouse=True)
def _fresh() -> None:
    ran.clear()


@pytest.fixture
def app(config: FocusConfig) -> FastAPI:
    return make_app(config)


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=20)


# -- accounts ----------------------------------------------------------------------------------


async def test_current_account(app: FastAPI, user: EmulatedUser, emu: FocusEmulator) -> None:
    async with client_for(app) as client:
        r = await client.get("/me", headers=bearer(user.pat()))
        assert r.status_code == 200 and r.json() == {"clerk_id": user.clerk_id, "credits": 20}
        # The core's refusals, exactly: not FastAPI's {"detail": ...}.
        api = await client.get("/me", headers=API)
        assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
        assert set(api.json()) == {"error", "signin_url"} and api.json()["error"] == "unauthorized"
        bad = await client.get("/me", headers=bearer("focus_pat_" + "y" * 40))
        assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
        nav = await client.get("/me", headers=NAV)
        assert nav.status_code == 303 and nav.headers["location"].startswith(emu.url + "/signin?redirect_to=")
        assert "focus_state" in nav.headers["set-cookie"]  # the return trip's nonce cookie survived
        emu.fail_next("GET /api/wallet", status=503)
        down = await client.get("/me", headers=bearer(emu.create_user().pat()))
        assert down.status_code == 503 and down.headers["retry-after"]


async def test_optional_account(app: FastAPI, user: EmulatedUser) -> None:
    async with client_for(app) as client:
        assert (await client.get("/maybe", headers=API)).json() == {"clerk_id": None}
        assert (await client.get("/maybe", headers=bearer(user.pat()))).json() == {"clerk_id": user.clerk_id}
        forged = await client.get("/maybe", headers=bearer("focus_pat_" + "y" * 40))
        assert forged.status_code == 200 and forged.json() == {"clerk_id": None}


async def test_require_credits(app: FastAPI, user: EmulatedUser, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=4)
    async with client_for(app) as client:
        ok = await client.post("/export", headers=bearer(user.pat()))
        assert ok.status_code == 200 and ok.json() == {"credits": 20}
        r = await client.post("/export", headers=bearer(poor.pat()))
        assert r.status_code == 402
        assert r.json()["required"] == 5 and r.json()["available"] == 4 and r.json()["action"] == "export video"
        page = await client.post("/export", headers=API)
        assert page.status_code == 401
    assert ran["export"] == 1
    with pytest.raises(ValueError):
        RequireCredits(-1)


# -- paid jobs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/render", "/render-sync"])
async def test_a_paid_job_charges_the_actual_cost(app: FastAPI, user: EmulatedUser, emu: FocusEmulator,
                                                  path: str) -> None:
    async with client_for(app) as client:
        r = await client.post(f"{path}?cost=3", headers=bearer(user.pat()))
    assert r.status_code == 200
    job = only_job(emu, user)
    assert job["id"] == r.json()["job_id"] and job["status"] == "completed" and job["actual_cost"] == 3
    assert job["metadata"]["previewUrl"].endswith("clip.png") and job["metadata"]["description"] == "render"
    assert user.credits == 17


@pytest.mark.parametrize("path", ["/render", "/render-sync"])
@pytest.mark.parametrize(("end", "status"), [("http", 404), ("raise", 500), ("handled", 200)])
async def test_an_exception_in_a_paid_route_refunds(app: FastAPI, user: EmulatedUser, emu: FocusEmulator, path: str,
                                                    end: str, status: int) -> None:
    async with client_for(app, raise_app_exceptions=False) as client:
        r = await client.post(f"{path}?end={end}&cost=4", headers=bearer(user.pat()))
    assert r.status_code == status
    if end == "http":
        assert r.json() == {"detail": "no such clip"}  # FastAPI's own answer, untouched
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


@pytest.mark.parametrize("end", ["400", "422", "500", "503"])
async def test_a_paid_route_answering_an_error_refunds(app: FastAPI, user: EmulatedUser, emu: FocusEmulator,
                                                       end: str) -> None:
    async with client_for(app) as client:
        assert (await client.post(f"/render?end={end}", headers=bearer(user.pat()))).status_code == int(end)
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


async def test_a_validation_error_after_the_reservation_refunds(app: FastAPI, user: EmulatedUser,
                                                                emu: FocusEmulator) -> None:
    async with client_for(app) as client:
        r = await client.post("/render?cost=lots", headers=bearer(user.pat()))
    # FastAPI runs the dependency (the reservation) before it rejects the endpoint's own
    # parameters: the job exists, and the 422 refunds it.
    assert r.status_code == 422 and ran["render"] == 0
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


async def test_insufficient_credits_before_the_endpoint_runs(app: FastAPI, user: EmulatedUser,
                                                             emu: FocusEmulator) -> None:
    async with client_for(app) as client:
        r = await client.post("/expensive", headers=bearer(user.pat()))
        assert r.status_code == 402 and r.json()["required"] == 10_000 and r.json()["action"] == "expensive"
        page = await client.post("/expensive", headers=bearer(user.pat(), NAV))
        assert page.status_code == 402 and page.headers["content-type"].startswith("text/html")
        anonymous = await client.post("/render", headers=API)
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert ran["expensive"] == 0 and ran["render"] == 0 and emu.jobs(user) == []


async def test_a_streamed_paid_response(app: FastAPI, user: EmulatedUser, emu: FocusEmulator) -> None:
    async with client_for(app) as client:
        r = await client.get("/stream?cost=6", headers=bearer(user.pat()))
    assert r.text.count("chunk") == 4
    assert only_job(emu, user)["status"] == "completed" and user.credits == 14


async def test_the_paid_decorator_on_a_fastapi_endpoint_without_a_request(app: FastAPI, user: EmulatedUser,
                                                                          emu: FocusEmulator) -> None:
    async with client_for(app) as client:
        r = await client.post("/decorated", json={"frames": 3}, headers=bearer(user.pat()))
        assert r.status_code == 200 and r.json() == {"item": {"frames": 3}}
        invalid = await client.post("/decorated", json={"frames": "many"}, headers=bearer(user.pat()))
        assert invalid.status_code == 422
    assert [j["status"] for j in emu.jobs(user)] == ["completed"] and user.credits == 18
    assert "_focus_request" not in str(app.openapi())


# -- OpenAPI ------------------------------------------------------------------------------------------


def test_openapi_declares_the_bearer_scheme(app: FastAPI) -> None:
    doc = app.openapi()
    scheme = doc["components"]["securitySchemes"]["FocusBearer"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and "PAT" in scheme["bearerFormat"]
    paths = doc["paths"]
    for path, method in [("/me", "get"), ("/export", "post"), ("/render", "post"),
                         ("/render-sync", "post"), ("/stream", "get")]:
        assert paths[path][method]["security"] == [{"FocusBearer": []}], path
    # Without focus_openapi (tests/fastapi/test_openapi.py) FastAPI could only call the
    # bearer required; a route that runs for anyone makes no claim instead.
    assert "security" not in paths["/public"]["get"] and "security" not in paths["/maybe"]["get"]
    # The dependencies' own parameters are not leaked as query parameters.
    names = {p["name"] for p in paths["/render"]["post"].get("parameters", [])}
    assert names == {"cost", "end"}
