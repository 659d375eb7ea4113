"""Clip Studio on FastAPI: a Focus app that renders video previews for credits.

- ``GET /``: the public page (who you are, if anyone: ``optional_account``)
- ``GET /studio``: your account and credits (``current_account``: a browser without a
  session is sent to sign in on Focus and comes straight back)
- ``POST /render``: a paid form post (``PaidJob``): 5 credits reserved, 3 charged once the
  answer went out, all returned if anything fails; too few credits shows the 402 page. It
  answers with a redirect to the result page, ``GET /renders/{job_id}`` (post/redirect/get:
  a reload reads the page and never posts again), and the form carries an idempotency key
  (``focus_idempotency_field()``): the same form sent twice is one render, one charge
- ``POST /render/stream``: the same with live progress, charged after the last line
- ``GET /api/me``, ``POST /api/render``: the same for scripts, with a personal access
  token (``Authorization: Bearer <PAT>``; ``focus login`` gets one); an ``Idempotency-Key``
  header makes a retry safe, and an invalid body is refused (422) before anything is
  reserved (``FocusRoute``)
- ``GET /metrics``: the Focus counters for Prometheus (``metrics.py``), when OTel's
  Prometheus exporter is installed

The session refresh script and the sign-out form are in ``templates/base.html``. The API
document (``/openapi.json``, ``/docs``) says which routes take a credential and what each
answers without one or without credits (``focus_openapi``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.routing import Match

from example_apps.common import (
    RENDER_COST,
    RENDER_ESTIMATE,
    RENDER_LABEL,
    STREAM_COST,
    STREAM_ESTIMATE,
    STREAM_FRAMES,
    PROGRESS,
    RESULT_PATH,
    RESULTS,
    STYLE,
    clean_title,
    focus_config,
    preview_svg,
    progress_item,
    render_preview,
    render_steps,
)
from example_apps.fastapi_app.metrics import install as install_metrics
from focus_middleware import FocusAccount, FocusConfig, FocusMiddleware
from focus_middleware.asgi import facts_from_scope
from focus_middleware.billing_notice import back_from_billing
from focus_middleware.fastapi import FocusJob, FocusRoute, PaidJob, current_account, focus_openapi, optional_account
from focus_middleware.jinja import install as install_jinja
from focus_middleware.pages import not_found
from focus_middleware.responses import is_navigation
from focus_middleware.sessions import SIGNED_OUT_PATH, SIGNIN_PATH, SIGNOUT_PATH, refresh_script_path

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
install_jinja(templates.env)  # {{ focus_idempotency_field() }} in the paid form
router = APIRouter(route_class=FocusRoute)  # a PaidJob reserves only once FastAPI validated the request

Title = Annotated[str, Form()]
render_job = PaidJob(action="render", cost_estimate=RENDER_ESTIMATE, description="Preview render", label=RENDER_LABEL,
                     usual_cost=RENDER_COST, result_url=RESULT_PATH)
stream_job = PaidJob(action="render-stream", cost_estimate=STREAM_ESTIMATE, description="Preview render (live)",
                     label="Preview render with live progress", usual_cost=STREAM_COST, result_url=RESULT_PATH)


def create_app(config: FocusConfig | None = None) -> FastAPI:
    """The app; ``config`` defaults to the environment's ``FOCUS_*`` with the demo's values."""
    config = config or focus_config()
    app = FastAPI(title="Clip Studio", summary="Render video previews for Focus credits")
    app.state.public_origin = config.public_origin
    app.state.app_name = config.app_name
    app.add_middleware(FocusMiddleware, config=config)
    app.include_router(router)
    app.add_exception_handler(405, method_not_allowed)
    app.add_exception_handler(404, page_not_found)
    install_metrics(app)  # GET /metrics for Prometheus, when opentelemetry-exporter-prometheus is installed
    return focus_openapi(app)  # the API document lists each route's refusals (401, 402...)


def context(request: Request, account: FocusAccount | None, **extra: Any) -> dict[str, Any]:
    """What every page's template needs: the account, and where Focus's endpoints are."""
    root = request.scope.get("root_path", "")
    return {
        "request": request,
        "account": account,
        "root": root,
        "style": STYLE,
        "refresh_script_url": refresh_script_path(root),  # keeps the session cookie fresh
        "signout_url": root + SIGNOUT_PATH,
        "signed_out_url": f"{root}{SIGNED_OUT_PATH}?next={root}/studio",  # where sign-out lands
        "signin_url": f"{root}{SIGNIN_PATH}?next={root}/studio",
        "estimate": RENDER_ESTIMATE, "cost": RENDER_COST,
        "stream_estimate": STREAM_ESTIMATE, "stream_cost": STREAM_COST,
        **extra,
    }


def page(request: Request, name: str, account: FocusAccount | None, **extra: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context(request, account, **extra))


ALLOWABLE = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """A 405 whose ``Allow`` lists every method of the path, as RFC 9110 (15.5.6) asks:
    Starlette sends the methods of the first route it found, and ``/render`` has two (the
    paid POST, and the GET a browser comes back to)."""
    routes = request.app.router.routes
    allowed = [method for method in ALLOWABLE
               if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)]
    return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"allow": ", ".join(allowed)})


async def page_not_found(request: Request, exc: Exception) -> Response:
    """A browser gets the core's 404 page, like the other refusals; a script keeps
    FastAPI's JSON ``{"detail": ...}``."""
    facts = facts_from_scope(request.scope)
    if not is_navigation(facts):
        detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
        return JSONResponse({"detail": detail}, status_code=404)
    spec = not_found(facts=facts, app_name=request.app.state.app_name)
    return Response(spec.body, status_code=spec.status, headers=dict(spec.headers))


# -- pages ------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, account: Annotated[FocusAccount | None, Depends(optional_account)]) -> Response:
    return page(request, "home.html", account)


@router.get("/studio", response_class=HTMLResponse)
async def studio(request: Request, account: Annotated[FocusAccount, Depends(current_account)],
                 back: bool = False) -> Response:
    # Back from buying credits (the core's notice, set on the way back): the balance shown
    # was just read from Focus.
    return page(request, "studio.html", account, back=back, billed=back_from_billing(request.cookies))


@router.post("/render", response_class=HTMLResponse)
async def render(request: Request, job: Annotated[FocusJob, Depends(render_job)], title: Title = "") -> Response:
    account = request.state.focus_account
    preview = render_preview(clean_title(title), job.job_id, request.app.state.public_origin)
    job.actual_cost = preview.cost  # settled once this answer went out; the rest goes back
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    where = RESULTS.keep(account.clerk_id, preview, account.credits - preview.cost)
    origin = request.app.state.public_origin or ""  # absolute, from the configured origin (never Host)
    return RedirectResponse(origin + request.scope.get("root_path", "") + where, status_code=303)


@router.get("/renders/{job_id}", response_class=HTMLResponse,
            responses={404: {"description": "No render of yours has this job id."}})
async def result(request: Request, job_id: str, account: Annotated[FocusAccount, Depends(current_account)]) -> Response:
    """A render's result page: what the paid post redirected to, safe to reload."""
    found = RESULTS.find(job_id, account.clerk_id)
    if found is None:
        return await page_not_found(request, HTTPException(404))
    return page(request, "result.html", account, preview=found.preview, credits_left=found.credits_left)


@router.post("/render/stream", response_class=HTMLResponse)
async def render_stream(request: Request, job: Annotated[FocusJob, Depends(stream_job)],
                        title: Title = "") -> Response:
    preview = render_preview(clean_title(title), job.job_id, request.app.state.public_origin, cost=STREAM_COST,
                             frames=STREAM_FRAMES)
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    account = request.state.focus_account
    RESULTS.keep(account.clerk_id, preview, account.credits - preview.cost)  # where a re-post of this form lands
    html = templates.get_template("render_stream.html").render(
        context(request, account, preview=preview, credits_left=account.credits - preview.cost))
    head, tail = html.split(PROGRESS, 1)  # sent now, then the progress, then the rest

    def body() -> Iterator[str]:
        yield head
        for line in render_steps(preview.title):
            yield progress_item(line)
        job.actual_cost = preview.cost  # charged once the last chunk went out
        yield tail

    return StreamingResponse(body(), media_type="text/html; charset=utf-8")


BACK_TO_STUDIO: dict[int | str, dict[str, Any]] = {303: {"description": "To the studio, where the render button is.",
                        "headers": {"Location": {"required": True, "schema": {"type": "string"}}}}}


@router.get("/render", status_code=303, response_class=RedirectResponse, responses=BACK_TO_STUDIO)
@router.get("/render/stream", status_code=303, response_class=RedirectResponse, responses=BACK_TO_STUDIO)
async def back_to_studio(request: Request) -> Response:
    """Where a browser lands back on a paid URL: from buying credits (the 402 page's return
    address), or from Focus after a session too close to its end was renewed (the form
    post is not replayed). The studio, where the render button is."""
    return RedirectResponse(request.scope.get("root_path", "") + "/studio?back=1", status_code=303)


class Detail(BaseModel):
    """FastAPI's own error body (``HTTPException``)."""

    detail: str


PREVIEW_NAME = r"^([A-Za-z0-9_-]{1,64})\.svg$"
SVG: dict[str, Any] = {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "The preview image."}


@router.get("/previews/{name}", response_class=Response,
            responses={200: SVG, 404: {"model": Detail, "description": "No such preview."}})
async def preview_image(name: Annotated[str, PathParam(pattern=PREVIEW_NAME)]) -> Response:
    match = re.fullmatch(PREVIEW_NAME, name)
    if match is None:  # the pattern already refused it (422); kept for the type checker
        raise HTTPException(404)
    return Response(preview_svg(match[1]), media_type="image/svg+xml",
                    headers={"cache-control": "public, max-age=86400"})


# -- the API, for scripts with a personal access token ----------------------------------------------


class Me(BaseModel):
    account_id: str
    clerk_id: str
    credits: int
    plan: str | None
    credential: str


class RenderRequest(BaseModel):
    title: str = ""


class RenderResult(BaseModel):
    job_id: str
    title: str
    description: str
    preview_url: str
    cost_estimate: int
    actual_cost: int


@router.get("/api/me")
async def api_me(account: Annotated[FocusAccount, Depends(current_account)]) -> Me:
    return Me(account_id=account.id, clerk_id=account.clerk_id, credits=account.credits, plan=account.plan,
              credential=account.credential_kind)


@router.post("/api/render", responses={400: {"model": Detail, "description": "The body is not UTF-8 text."}})
async def api_render(request: Request, body: RenderRequest,
                     job: Annotated[FocusJob, Depends(render_job)]) -> RenderResult:
    preview = render_preview(clean_title(body.title), job.job_id, request.app.state.public_origin)
    job.actual_cost = preview.cost
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    return RenderResult(job_id=job.job_id, title=preview.title, description=preview.description,
                        preview_url=preview.url, cost_estimate=job.cost_estimate, actual_cost=preview.cost)


__all__ = ["create_app"]
