"""FastAPI's face of the ASGI adapter: dependencies for the account, credits and paid jobs.

Needs FastAPI installed (not a dependency of the core: ``pip install fastapi``; without
it, importing this module fails at once), and ``FocusMiddleware`` on the app, which has
already resolved the request: these dependencies only read its verdict, so on the hot
path they cost a dict lookup and no I/O.

.. code-block:: python

    from focus_middleware.fastapi import FocusJob, PaidJob, RequireCredits, current_account

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

Every dependency here is itself the bearer security scheme (a FastAPI ``SecurityBase``
named ``FocusBearer``, as FastAPI's own ``HTTPBearer`` is), so the generated OpenAPI shows
how to authenticate at no cost per request: a separate ``HTTPBearer`` sub-dependency would
add a second dependency to solve on every call (about 15 us, more than all the rest).
Browsers' cookies are not declared: their name depends on the app's public origin, and a
browser sends them without being told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from focus_middleware.access import ACCOUNT, Requirement, refusal
from focus_middleware.asgi import FocusRefusal, focus_context
from focus_middleware.jobs import PaidJob as FocusJob
from focus_middleware.jobs import PaidRoute
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import Authenticated
from focus_middleware.paid import open_job
from focus_middleware.responses import ResponseSpec

SCHEME_NAME = "FocusBearer"
"""The security scheme's name in the OpenAPI document."""


class FocusSecurity(SecurityBase):
    """A dependency that is also the ``FocusBearer`` scheme in the OpenAPI document. It never
    reads the header itself: the middleware already resolved the request."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="Focus PAT or Clerk session JWT",
            description="A Focus personal access token (`focus login`) or a Clerk session JWT.",
        )
        self.scheme_name = SCHEME_NAME


def _checked(request: Request, requirement: Requirement) -> FocusAccount:
    ctx = focus_context(request)
    spec = refusal(ctx.facts, ctx.outcome, ctx.config, requirement, page=ctx.middleware.insufficient_credits_page)
    if spec is not None:
        raise FocusRefusal(spec)
    outcome = ctx.outcome
    assert isinstance(outcome, Authenticated)  # refusal() refuses every other outcome
    return outcome.account


class CurrentAccount(FocusSecurity):
    """``Depends(current_account)``: the request's Focus account; refused (sign-in redirect,
    401, 403, 503) without one."""

    async def __call__(self, request: Request) -> FocusAccount:
        return _checked(request, ACCOUNT)


class OptionalAccount(FocusSecurity):
    """``Depends(optional_account)``: the request's Focus account, or None (anonymous, or
    refused: ``request.user.reason`` says why)."""

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
        Requirement(protection="credits", credits=credits)  # validate at import time
        self.credits = credits
        self.action = action

    async def __call__(self, request: Request) -> FocusAccount:
        action = self.action
        if action is None:
            endpoint = request.scope.get("endpoint")
            action = getattr(endpoint, "__name__", "This action").replace("_", " ")
        return _checked(request, Requirement(protection="credits", credits=self.credits, action=action))


class PaidJob(FocusSecurity):
    """``Depends(PaidJob(action="render", cost_estimate=5))``: reserves the credits before
    the endpoint runs (a 402 prompt instead when they do not suffice) and gives it the job
    handle (:class:`FocusJob`: ``actual_cost``, ``metadata``), also at
    ``request.state.focus_job``.

    ``FocusMiddleware`` settles it once the response is over: the actual cost when the whole
    body went out, a refund for an exception (``HTTPException`` included: its status is >=
    400), a cancellation, a status >= 400, or a client that left early. The dependency
    yields so that an exception the endpoint raised is seen even when an exception handler
    turns it into a 2xx. FastAPI calls dependencies before it validates the endpoint's own
    parameters, so a request that fails validation reserves and is refunded (its 422); the
    ``@paid`` decorator, which runs after validation, reserves nothing for it.
    """

    def __init__(self, *, action: str, cost_estimate: int, app: str | None = None,
                 description: str | None = None) -> None:
        super().__init__()
        self.route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description)

    async def __call__(self, request: Request) -> AsyncIterator[FocusJob]:
        opened = await open_job(request, self.route)
        if isinstance(opened, ResponseSpec):
            raise FocusRefusal(opened)
        assert opened.job is not None
        try:
            yield opened.job
        except BaseException as exc:
            opened.raised = exc
            raise

    def __repr__(self) -> str:
        return f"PaidJob(action={self.route.action!r}, cost_estimate={self.route.cost_estimate})"


__all__ = [
    "SCHEME_NAME",
    "CurrentAccount",
    "FocusJob",
    "FocusSecurity",
    "OptionalAccount",
    "PaidJob",
    "RequireCredits",
    "current_account",
    "optional_account",
]
