"""The emulator's HTTP app: the contract's API, Clerk's pages, and how they are assembled.

API handlers do three things in order: authenticate (401 before anything else), validate
the input strictly (4xx with a JSON body, before the store is touched, so a bad request
can never move a credit), then run one store operation in the thread pool (the store is
synchronous SQLite; the event loop stays free for other calls and injected latency).

Bodies and statuses follow ``focus-api.md``; every API error, including Starlette's own
404 and 405, is JSON ``{"error": ..., "message": ...}``. The pages (:mod:`browser`) answer
in HTML. The device flow and the OAuth helpers have their own modules; this one holds the
wallet, jobs, session token and JWKS handlers and wires everything into one Starlette app.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from focus_middleware.clock import Clock
from focus_middleware.testing import openapi, pages
from focus_middleware.testing.api_device import DeviceAPI
from focus_middleware.testing.api_oauth import OAuthAPI
from focus_middleware.testing.auth import SIGNIN_COOKIE, Authenticator, mint_session_token
from focus_middleware.testing.browser import BrowserPages, PageError, html_page
from focus_middleware.testing.cookies import Cookies
from focus_middleware.testing.credentials import PAT_PREFIX, token_hash
from focus_middleware.testing.device import DeviceFlow
from focus_middleware.testing.inputs import (
    ApiError,
    bool_field,
    cost_field,
    limit_param,
    metadata_field,
    presented_token,
    read_json_object,
    required,
    slug_value,
    status_param,
    text_field,
)
from focus_middleware.testing.issuer import Issuer
from focus_middleware.testing.origins import normalize_origin
from focus_middleware.testing.ratelimit import AttemptLimiter
from focus_middleware.testing.settings import EmulatorSettings
from focus_middleware.testing.store import (
    Account,
    InsufficientCredits,
    JobNotFound,
    SettlementConflict,
    Store,
)

__all__ = [
    "PAT_PREFIX",
    "SIGNIN_COOKIE",
    "ApiError",
    "EmulatorAPI",
    "build_app",
    "endpoint_namer",
    "endpoint_names",
    "presented_token",
    "slug_value",
    "token_hash",
]


class EmulatorAPI:
    """The wallet, jobs, session-token and JWKS handlers of one emulator."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth
        self.store = auth.store
        self.issuer = auth.issuer
        self.settings = auth.settings

    async def authenticate(self, request: Request) -> Account:
        return (await self.auth.api_caller(request)).account

    async def wallet(self, request: Request) -> Response:
        account = await self.authenticate(request)
        app = request.query_params.get("app")
        body = await run_in_threadpool(
            self.store.wallet, account.id, None if app is None else slug_value(app)
        )
        return JSONResponse(body)

    async def create_job(self, request: Request) -> Response:
        account = await self.authenticate(request)
        data = await read_json_object(request)
        app = slug_value(required(data, "app"))
        action = text_field(data, "action")
        cost = cost_field(data, "cost_estimate")
        metadata = metadata_field(data)
        try:
            job_id, credits = await run_in_threadpool(
                self.store.reserve, account.id, app, action, cost, metadata
            )
        except InsufficientCredits as exc:
            raise ApiError(
                402,
                "insufficient_credits",
                f"this action needs {exc.required} credits, the wallet has {exc.available}",
                required=exc.required,
                available=exc.available,
            ) from None
        return JSONResponse({"job_id": job_id, "status": "started", "credits": credits})

    async def list_jobs(self, request: Request) -> Response:
        account = await self.authenticate(request)
        params = request.query_params
        app = params.get("app")
        jobs = await run_in_threadpool(
            self.store.jobs,
            account.id,
            None if app is None else slug_value(app),
            status_param(params.get("status")),
            limit_param(params.get("limit")),
        )
        return JSONResponse({"jobs": jobs})

    async def complete_job(self, request: Request) -> Response:
        account = await self.authenticate(request)
        data = await read_json_object(request)
        job_id = text_field(data, "job_id", max_length=100)
        actual_cost = cost_field(data, "actual_cost")
        metadata = metadata_field(data)
        return await self._settle(self.store.complete, account.id, job_id, actual_cost, metadata)

    async def fail_job(self, request: Request) -> Response:
        account = await self.authenticate(request)
        data = await read_json_object(request)
        job_id = text_field(data, "job_id", max_length=100)
        refund = bool_field(data, "refund", default=True)
        return await self._settle(self.store.fail, account.id, job_id, refund)

    async def _settle(self, settle: Callable[..., dict[str, Any]], *args: Any) -> Response:
        try:
            body = await run_in_threadpool(settle, *args)
        except JobNotFound:
            raise ApiError(404, "job_not_found", "no such job for this account") from None
        except SettlementConflict as exc:
            raise ApiError(
                409,
                "job_already_settled",
                f"the job is already {exc.status} with different values",
                status=exc.status,
            ) from None
        return JSONResponse(body)

    async def session_token(self, request: Request) -> Response:
        """A fresh session JWT for the browser signed in to the emulator (its cookie).

        ``azp`` is the emulator's own origin: the service's endpoint gets the token from
        Clerk on Focus's site, where the Frontend API request's Origin is Focus's own,
        whichever app's script called this endpoint. ``session_token_azp=False`` leaves
        it out, as Clerk does when that Origin is empty or null
        (https://clerk.com/docs/guides/sessions/session-tokens, ``azp``)."""
        caller = await self.auth.signed_in(request)
        if caller is None:
            raise ApiError(401, "unauthorized", "not signed in", signin_url=self.auth.signin_url)
        azp = normalize_origin(self.auth.issuer_url) if self.settings.session_token_azp else None
        token = mint_session_token(self.issuer, self.settings, caller, azp)
        response = JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})
        secure = (self.issuer.url or "").startswith("https:")
        Cookies(self.settings, secure).set_clerk_session(response, token)
        return response

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.issuer.jwks())


# -- the app and its endpoint names ---------------------------------------------------


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    return ApiError(
        exc.status_code, phrase.lower().replace(" ", "_"), exc.detail, headers=exc.headers
    ).response()


def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return exc.response()


def _server_error(request: Request, exc: Exception) -> Response:
    return ApiError(500, "internal_error", "the emulator failed; see its log").response()


class Docs:
    """``/api/openapi.json`` and ``/api/docs``, built for the emulator's own URL."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    def _document(self) -> dict[str, Any]:
        return openapi.document(self.issuer.url or "")

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self._document())

    async def docs(self, request: Request) -> Response:
        return html_page(pages.docs(openapi.summaries(self._document())))


def build_app(
    store: Store, issuer: Issuer, settings: EmulatorSettings, clock: Clock
) -> Starlette:
    """The emulator's routes and error handling (middleware is added by the caller)."""
    auth = Authenticator(store, issuer, settings)
    limiter = AttemptLimiter(clock, settings.code_attempts, settings.code_window)
    flow = DeviceFlow(store, settings.device_interval, settings.device_expires_in)
    api, device, oauth = EmulatorAPI(auth), DeviceAPI(auth, flow, limiter), OAuthAPI(auth)
    browser, docs = BrowserPages(auth, flow, limiter, settings.origins), Docs(issuer)
    routes = [
        Route("/api/wallet", api.wallet, methods=["GET"]),
        Route("/api/jobs", api.create_job, methods=["POST"]),
        Route("/api/jobs", api.list_jobs, methods=["GET"]),
        Route("/api/jobs/complete", api.complete_job, methods=["POST"]),
        Route("/api/jobs/fail", api.fail_job, methods=["POST"]),
        Route("/api/sessionToken", api.session_token, methods=["GET"]),
        Route("/api/device/start", device.start, methods=["POST"]),
        Route("/api/device/complete", device.complete, methods=["POST"]),
        Route("/api/device/poll", device.poll, methods=["GET"]),
        Route("/api/xToken", oauth.x_token, methods=["GET"]),
        Route("/api/oauthToken/{provider}", oauth.oauth_token, methods=["GET"]),
        Route("/api/xMe", oauth.x_me, methods=["GET"]),
        Route("/api/openapi.json", docs.openapi, methods=["GET"]),
        Route("/api/docs", docs.docs, methods=["GET"]),
        Route("/.well-known/jwks.json", api.jwks, methods=["GET"]),
        Route("/", browser.index, methods=["GET"]),
        Route("/signin", browser.signin_page, methods=["GET"]),
        Route("/signin", browser.signin, methods=["POST"]),
        Route("/signout", browser.signout_page, methods=["GET"]),
        Route("/signout", browser.signout, methods=["POST"]),
        Route("/device", browser.device_page, methods=["GET"]),
        Route("/device", browser.device_decide, methods=["POST"]),
        Route("/billing", browser.billing_page, methods=["GET"]),
        Route("/billing", browser.buy, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            PageError: _page_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )


def endpoint_names(routes: list[BaseRoute]) -> frozenset[str]:
    """Every ``"METHOD /template"`` the app serves (HEAD left out)."""
    return frozenset(
        f"{method} {route.path}"
        for route in routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    )


def endpoint_namer(routes: list[BaseRoute]) -> Callable[[Scope], str]:
    """Names a request by its route template; an unrouted path is named by itself."""

    def name(scope: Scope) -> str:
        for route in routes:
            if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} {scope['path']}"

    return name
