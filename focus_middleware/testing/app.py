"""The emulator's HTTP API: wallet, jobs, session token and JWKS, as a Starlette app.

Handlers do three things in order: authenticate (401 before anything else), validate the
input strictly (4xx with a JSON body, before the store is touched, so a bad request can
never move a credit), then run one store operation in the thread pool (the store is
synchronous SQLite; the event loop stays free for other calls and injected latency).

Bodies and statuses follow ``focus-api.md``. Every error, including Starlette's own 404
and 405, is JSON ``{"error": ..., "message": ...}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from focus_middleware.testing.issuer import InvalidToken, Issuer
from focus_middleware.testing.store import (
    STATUSES,
    Account,
    InsufficientCredits,
    JobNotFound,
    SettlementConflict,
    Store,
)

MAX_BODY = 64 * 1024
MAX_METADATA = 16 * 1024
MAX_COST = 1_000_000
MAX_LIST = 1000
DEFAULT_LIST = 50
PAT_PREFIX = "focus_pat_"
SESSION_COOKIE = "__session"
SIGNIN_COOKIE = "focus_emulator_signin"
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ApiError(Exception):
    """An error answer: status, machine-readable code, human message, extra fields."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = {"error": error, "message": message, **extra}
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status_code, headers=self.headers)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


# -- credentials ----------------------------------------------------------------------


def bearer_token(headers: Headers) -> str | None:
    """The token of ``Authorization: Bearer``; other schemes count as no header."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def session_cookie(headers: Headers) -> str | None:
    return cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE) or None


def presented_token(scope: Scope) -> str | None:
    """The credential a request presents (bearer first, then ``__session``)."""
    headers = Headers(scope=scope)
    return bearer_token(headers) or session_cookie(headers)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- request bodies and fields --------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, read no further than ``MAX_BODY`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ApiError(413, "payload_too_large", f"bodies are limited to {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "payload_too_large", f"bodies are limited to {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def _required(data: Mapping[str, Any], name: str) -> Any:
    if data.get(name) is None:
        raise bad_request(f"{name} is required")
    return data[name]


def cost_field(data: Mapping[str, Any], name: str) -> int:
    """A credit amount: an integer (not a bool, not 5.0) from 0 to ``MAX_COST``."""
    value = _required(data, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer")
    if not 0 <= value <= MAX_COST:
        raise bad_request(f"{name} must be between 0 and {MAX_COST}")
    return value


def text_field(data: Mapping[str, Any], name: str, max_length: int = 200) -> str:
    value = _required(data, name)
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise bad_request(f"{name} must be a string of 1 to {max_length} characters")
    return value


def slug_value(value: Any, name: str = "app") -> str:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise bad_request(f"{name} must be a slug (letters, digits, '.', '_', '-')")
    return value


def metadata_field(data: Mapping[str, Any]) -> dict[str, Any]:
    value = data.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request("metadata must be a JSON object")
    if len(json.dumps(value)) > MAX_METADATA:
        raise ApiError(413, "payload_too_large", f"metadata is limited to {MAX_METADATA} bytes")
    return value


def bool_field(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false")
    return value


def limit_param(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIST
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise bad_request(f"limit must be an integer from 1 to {MAX_LIST}")
    return int(raw)


def status_param(raw: str | None) -> str | None:
    if raw is not None and raw not in STATUSES:
        raise bad_request(f"status must be one of {', '.join(STATUSES)}")
    return raw


# -- the endpoints --------------------------------------------------------------------


class EmulatorAPI:
    """The endpoint handlers, bound to one emulator's store and issuer."""

    def __init__(self, store: Store, issuer: Issuer, token_lifetime: float) -> None:
        self.store = store
        self.issuer = issuer
        self.token_lifetime = token_lifetime

    @property
    def signin_url(self) -> str:
        return f"{self.issuer.url}/signin"

    def _unauthorized(self, token_presented: bool) -> ApiError:
        challenge = 'Bearer error="invalid_token"' if token_presented else "Bearer"
        return ApiError(
            401,
            "unauthorized",
            "a valid session token or personal access token is required",
            headers={"WWW-Authenticate": challenge},
            signin_url=self.signin_url,
        )

    async def authenticate(self, request: Request) -> Account:
        """The caller's account from a bearer JWT or PAT, or the ``__session`` JWT."""
        bearer = bearer_token(request.headers)
        token = bearer or session_cookie(request.headers)
        if token is None:
            raise self._unauthorized(token_presented=False)
        account = await run_in_threadpool(self._account_for, token, bearer is not None)
        if account is None:
            raise self._unauthorized(token_presented=True)
        return account

    def _account_for(self, token: str, is_bearer: bool) -> Account | None:
        if is_bearer and token.startswith(PAT_PREFIX):
            return self.store.pat_account(token_hash(token))
        try:
            claims = self.issuer.verify(token)
        except InvalidToken:
            return None
        return self.store.upsert_account(claims["sub"])

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
        app = slug_value(_required(data, "app"))
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
        """A fresh session JWT for the browser signed in to the emulator (its cookie)."""
        session_id = request.cookies.get(SIGNIN_COOKIE) or ""
        account = await run_in_threadpool(self.store.session_account, session_id)
        if account is None:
            raise ApiError(401, "unauthorized", "not signed in", signin_url=self.signin_url)
        claims = self.issuer.session_claims(
            account.clerk_id, session_id, self.token_lifetime, request.headers.get("origin")
        )
        return JSONResponse({"token": self.issuer.mint(claims)})

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


def _server_error(request: Request, exc: Exception) -> Response:
    return ApiError(500, "internal_error", "the emulator failed; see its log").response()


def build_app(store: Store, issuer: Issuer, token_lifetime: float = 60.0) -> Starlette:
    api = EmulatorAPI(store, issuer, token_lifetime)
    routes = [
        Route("/api/wallet", api.wallet, methods=["GET"]),
        Route("/api/jobs", api.create_job, methods=["POST"]),
        Route("/api/jobs", api.list_jobs, methods=["GET"]),
        Route("/api/jobs/complete", api.complete_job, methods=["POST"]),
        Route("/api/jobs/fail", api.fail_job, methods=["POST"]),
        Route("/api/sessionToken", api.session_token, methods=["GET"]),
        Route("/.well-known/jwks.json", api.jwks, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
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
