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

Every dependency declares the bearer scheme (``HTTPBearer(auto_error=False)``, named
``FocusBearer``) so the generated OpenAPI shows how to authenticate; it never refuses by
itself. Browsers' cookies are not declared: their name depends on the app's public origin,
and a browser sends them without being told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from focus_middleware.access import ACCOUNT, Requirement, refusal
from focus_middleware.asgi import FocusRefusal, focus_context
from focus_middleware.jobs import PaidJob as FocusJob
from focus_middleware.jobs import PaidRoute
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import Authenticated
from focus_middleware.paid import open_job
from focus_middleware.responses import ResponseSpec

focus_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="FocusBearer",
    bearerFormat="Focus PAT or Clerk session JWT",
    description="A Focus personal access token (`focus login`) or a Clerk session JWT.",
)
"""The security scheme every dependency here declares (OpenAPI only: the middleware has
already read the credential)."""

Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(focus_bearer)]


def _checked(request: Request, requirement: Requirement) -> FocusAccount:
    ctx = focus_context(request)
    spec = refusal(ctx.facts, ctx.outcome, ctx.config, requirement, page=ctx.middleware.insufficient_credits_page)
    if spec is not None:
        raise FocusRefusal(spec)
    outcome = ctx.outcome
    assert isinstance(outcome, Authenticated)  # refusal() refuses every other outcome
    return outcome.account


async def current_account(request: Request, _bearer: Bearer = None) -> FocusAccount:
    """The request's Focus account; refused (sign-in redirect, 401, 403, 503) without one."""
    return _checked(request, ACCOUNT)


async def optional_account(request: Request, _bearer: Bearer = None) -> FocusAccount | None:
    """The request's Focus account, or None (anonymous, or refused: ``request.user.reason``
    says why)."""
    return focus_context(request).account


class RequireCredits:
    """``Depends(RequireCredits(5))``: the account, if its cached wallet holds at least 5
    credits; else a 402 purchase prompt. A soft check before expensive work that is not a
    job; :class:`PaidJob` reserves for real. ``action`` names the work in the 402 (default:
    the endpoint's name)."""

    def __init__(self, credits: int, *, action: str | None = None) -> None:
        Requirement(protection="credits", credits=credits)  # validate at import time
        self.credits = credits
        self.action = action

    async def __call__(self, request: Request, _bearer: Bearer = None) -> FocusAccount:
        action = self.action
        if action is None:
            endpoint = request.scope.get("endpoint")
            action = getattr(endpoint, "__name__", "This action").replace("_", " ")
        return _checked(request, Requirement(protection="credits", credits=self.credits, action=action))


class PaidJob:
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
        self.route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description)

    async def __call__(self, request: Request, _bearer: Bearer = None) -> AsyncIterator[FocusJob]:
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


__all__ = ["FocusJob", "PaidJob", "RequireCredits", "current_account", "focus_bearer", "optional_account"]
