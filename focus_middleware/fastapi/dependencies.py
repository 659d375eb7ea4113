"""FastAPI's face of the ASGI adapter: dependencies for the account, credits and paid jobs.

Needs FastAPI installed (not a dependency of the core: ``pip install fastapi``; without
it, importing this module fails at once), and ``FocusMiddleware`` on the app, which has
already resolved the request: these dependencies only read its verdict, so on the hot
path they cost a dict lookup and no I/O.

.. code-block:: python

    from focus_middleware.fastapi import FocusJob, PaidJob, RequireCredits, current_account, focus_openapi

    focus_openapi(app)  # /openapi.json lists each route's refusals (401, 402...)

    @app.get("/me")
    async def me(account: FocusAccount = Depends(current_account)): ...

    @app.post("/render")
    async def render(job: FocusJob = Depends(PaidJob(action="render", cost_estimate=5))):
        job.actual_cost = 3

A refusal is the core's response, exactly as the decorators send it (a 303 to sign-in
with its state cookie for a browser, 401 JSON with ``WWW-Authenticate`` for an API
client, 402, 403, 503): a dependency cannot return a response, so it raises
:class:`~focus_middleware.asgi.FocusRefusal` and the middleware answers with it. FastAPI's
``HTTPException`` would wrap the body in ``{"detail": ...}`` and drop the cookie.

Every dependency that refuses is itself the bearer security scheme (a FastAPI
``SecurityBase`` named ``FocusBearer``, as FastAPI's own ``HTTPBearer`` is), so FastAPI's
document marks its routes as needing a credential at no cost per request: a separate
``HTTPBearer`` sub-dependency would add a second dependency to solve on every call (about
15 us, more than all the rest). ``optional_account`` is not a scheme: FastAPI can only
declare a scheme as required, and a route that runs for anyone would be documented as
refusing anonymous callers.

The rest of the truth FastAPI cannot express through dependencies: a dependency has no say
in its routes' ``responses``, and no security scheme can be optional. :func:`focus_openapi`
completes the generated document instead (FastAPI's documented way to extend it): each
route's refusals (303, 401, 402, 403, 503, only those its dependencies can produce, with
their JSON bodies as components and the HTML pages browsers get), and ``optional_account``
routes as taking the bearer optionally. Browsers' cookies are not declared: their name
depends on the app's public origin, and a browser sends them without being told.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from starlette.concurrency import run_in_threadpool

from focus_middleware import openapi
from focus_middleware.access import ACCOUNT, Requirement, admits, requirement_for
from focus_middleware.asgi.guards import refusal_in
from focus_middleware.asgi.middleware import FocusRefusal, focus_context
from focus_middleware.jobs import FocusJob
from focus_middleware.jobs import PaidRoute
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import Authenticated
from focus_middleware.asgi.paid_endpoints import open_job, prepare_job, reserve_job
from focus_middleware.paid_request import PaidRequest
from focus_middleware.responses import Protection, ResponseSpec

SCHEME_NAME = openapi.SCHEME_NAME
"""The security scheme's name in the OpenAPI document."""


class FocusDependency:
    """One of this module's dependencies; ``protection`` says what it may refuse (None:
    nothing), which :func:`focus_openapi` reads to document its routes."""

    protection: Protection | None = "account"


class FocusSecurity(FocusDependency, SecurityBase):
    """A dependency that is also the ``FocusBearer`` scheme in the OpenAPI document. It never
    reads the header itself: the middleware already resolved the request."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(bearerFormat=openapi.BEARER_FORMAT, description=openapi.SCHEME_DESCRIPTION)
        self.scheme_name = SCHEME_NAME


def _checked(request: Request, requirement: Requirement) -> FocusAccount:
    ctx = focus_context(request)
    outcome = ctx.proceed.outcome
    if not admits(outcome, request.scope.get("method", "GET"), requirement):
        spec = refusal_in(ctx, requirement)
        if spec is not None:
            raise FocusRefusal(spec)
    assert isinstance(outcome, Authenticated)  # refusal() refuses every other outcome
    return outcome.account


class CurrentAccount(FocusSecurity):
    """``Depends(current_account)``: the request's Focus account; refused (sign-in redirect,
    401, 403, 503) without one."""

    async def __call__(self, request: Request) -> FocusAccount:
        return _checked(request, ACCOUNT)


class OptionalAccount(FocusDependency):
    """``Depends(optional_account)``: the request's Focus account, or None (anonymous, or
    refused: ``request.user.reason`` says why). Never refuses, so it is no required scheme
    (see the module's docstring); :func:`focus_openapi` documents the bearer as optional."""

    protection = None

    async def __call__(self, request: Request) -> FocusAccount | None:
        return focus_context(request).account


current_account = CurrentAccount()
optional_account = OptionalAccount()


class RequireCredits(FocusSecurity):
    """``Depends(RequireCredits(5))``: the account, if its cached wallet holds at least 5
    credits; else a 402 purchase prompt. A soft check before expensive work that is not a
    job; :class:`PaidJob` reserves for real. ``action`` names the work in the 402 (default:
    the endpoint's name)."""

    def __init__(self, credits: int, *, action: str | None = None) -> None:
        super().__init__()
        self.credits = credits
        self.action = action
        self.protection = openapi.protection_of(requirement_for(credits=credits))  # a bad number fails here

    async def __call__(self, request: Request) -> FocusAccount:
        endpoint = request.scope.get("endpoint")
        return _checked(request, requirement_for(endpoint, credits=self.credits, action=self.action))


class PaidJob(FocusSecurity):
    """``Depends(PaidJob(action="render", cost_estimate=5))``: reserves the credits before
    the endpoint runs (a 402 prompt instead when they do not suffice) and gives it the job
    handle (:class:`FocusJob`: ``actual_cost``, ``metadata``), also at
    ``request.state.focus_job``.

    ``FocusMiddleware`` settles it once the response is over: the actual cost when the whole
    body went out, a refund for an exception (``HTTPException`` included: its status is >=
    400), a cancellation, a status >= 400, or a client that left early. The dependency
    yields so that an exception the endpoint raised is seen even when an exception handler
    turns it into a 2xx.

    FastAPI calls dependencies before it validates the endpoint's own parameters (checked
    on FastAPI 0.165: ``solve_dependencies`` solves sub-dependencies first, and the 422 is
    raised after). On a :class:`FocusRoute` the dependency only checks (sign-in, 401, 403,
    the idempotency key) and the route reserves just before the endpoint runs, after the
    request validated: an invalid body gets its 422 and no job. On a plain ``APIRoute`` the
    reservation is made at once, and a request that fails validation is refunded.

    ``max_cost``, ``result_url`` and the ``Idempotency-Key`` header work as for ``@paid``.
    """

    def __init__(self, *, action: str, cost_estimate: int, app: str | None = None,
                 description: str | None = None, label: str | None = None, usual_cost: int | None = None,
                 max_cost: int | None = None, result_url: str | Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.protection = "paid"
        self.route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description,
                               label=label, usual_cost=usual_cost, max_cost=max_cost, result_url=result_url)

    async def __call__(self, request: Request) -> AsyncIterator[FocusJob]:
        if isinstance(request.scope.get("route"), FocusRoute):
            prepared = await prepare_job(request, self.route)
            if isinstance(prepared, ResponseSpec):
                raise FocusRefusal(prepared)
            handle: Any = prepared.job if prepared.job is not None else _Deferred(request, prepared)
            opened = prepared
        else:
            reserved = await open_job(request, self.route)
            if isinstance(reserved, ResponseSpec):
                raise FocusRefusal(reserved)
            handle, opened = reserved.job, reserved
        try:
            yield handle
        except BaseException as exc:
            opened.raised = exc
            raise

    def __repr__(self) -> str:
        return f"PaidJob(action={self.route.action!r}, cost_estimate={self.route.cost_estimate})"


class _Deferred:
    """What a :class:`PaidJob` dependency gives a :class:`FocusRoute`: the checked paid work,
    reserved by the route once FastAPI has validated the request."""

    __slots__ = ("opened", "request")

    def __init__(self, request: Request, opened: PaidRequest) -> None:
        self.request = request
        self.opened = opened

    async def reserve(self) -> FocusJob:
        reserved = await reserve_job(self.request, self.opened)
        if isinstance(reserved, ResponseSpec):
            raise FocusRefusal(reserved)
        assert reserved.job is not None
        return reserved.job


class FocusRoute(fastapi.routing.APIRoute):
    """A route class that reserves a :class:`PaidJob` dependency's credits only once the
    request validated, just before the endpoint runs (``APIRouter(route_class=FocusRoute)``,
    or ``app.router.route_class = FocusRoute`` before adding routes).

    FastAPI has no hook between its validation and the endpoint, so the endpoint is wrapped
    (keeping its signature, as ``@paid`` does): the wrapper finds the dependency's checked
    work among the arguments, reserves it (a refusal is the core's response) and hands the
    endpoint the job. Generator endpoints are left alone (reserved at once)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _reserving(endpoint), **kwargs)


def _reserving(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint):
        return endpoint
    is_async = inspect.iscoroutinefunction(endpoint)

    @functools.wraps(endpoint)
    async def reserving(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            if isinstance(value, _Deferred):
                kwargs[name] = await value.reserve()
        if is_async:
            return await endpoint(*args, **kwargs)
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return reserving


# -- the OpenAPI document ---------------------------------------------------------------------------


def focus_openapi(app: FastAPI) -> FastAPI:
    """Make ``app``'s OpenAPI document tell the truth about its Focus routes (see the
    module's docstring); returns ``app``. Call it once, anywhere after creating the app:
    the document is completed whenever FastAPI generates it, routes added later included.

    It wraps ``app.openapi`` as FastAPI's "Extending OpenAPI" guide does
    (https://fastapi.tiangolo.com/how-to/extending-openapi/), keeping FastAPI's cache and
    any ``openapi`` the app installed before. A response the app declares itself for the
    same status keeps its description and bodies; missing media types are added. Endpoints
    guarded by the decorators (``@require_account``, ``@require_credits``, ``@paid``) are
    documented as the dependencies are.
    """
    generate: Callable[[], dict[str, Any]] = app.openapi

    def focus_document() -> dict[str, Any]:
        document = generate()
        describe_routes(document, app.routes)
        return document

    app.openapi = focus_document  # type: ignore[method-assign]
    return app


def describe_routes(document: dict[str, Any], routes: Any) -> None:
    """Complete ``document`` (FastAPI's, for ``routes``) in place; idempotent."""
    used = False
    paths = document.get("paths", {})
    for route in _api_routes(routes):
        protections = {dep.protection for dep in _focus_dependencies(route.dependant)}
        protections.update(openapi.protection_of(r) for r in openapi.requirements_of(route.endpoint))  # decorators
        if not protections or not route.include_in_schema:
            continue
        required = [p for p in protections if p is not None]
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            used = True
            if required:
                openapi.merge_responses(operation, openapi.refusal_responses(required, method))
                _require(operation)
            elif "security" not in operation:
                # An app's own scheme on the route decides alone; Focus's adds nothing required.
                operation["security"] = openapi.optional_security()
    if used:
        parts = document.setdefault("components", {})
        parts.setdefault("securitySchemes", {}).setdefault(SCHEME_NAME, dict(openapi.SECURITY_SCHEME))
        schemas = parts.setdefault("schemas", {})
        for name, schema in openapi.components().items():
            schemas.setdefault(name, schema)


def _require(operation: dict[str, Any]) -> None:
    security = [req for req in operation.get("security", []) if req]  # no "or none" once one refuses
    if not any(SCHEME_NAME in req for req in security):
        security.insert(0, {SCHEME_NAME: []})
    operation["security"] = security


def _api_routes(routes: Any) -> Iterator[Any]:
    """FastAPI's routes as its document sees them: newer FastAPI keeps included routers as
    one entry and gives each route's effective context (prefix, the router's
    dependencies) through ``iter_route_contexts``; older versions copied them flat."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:
        yield from (route for route in routes if isinstance(route, fastapi.routing.APIRoute))
        return
    for context in contexts(routes):
        if isinstance(context.original_route, fastapi.routing.APIRoute):
            yield context


def _focus_dependencies(dependant: Dependant) -> Iterator[FocusDependency]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, FocusDependency):
            yield sub.call
        yield from _focus_dependencies(sub)
