"""View decorators: ``@focus_login_required``, ``@require_credits(n)``, ``@paid(...)``.

Like Django's ``login_required``, they work on function views, sync and async (an async
view stays a coroutine function, so Django runs it in the event loop). Class-based views
use the mixins in :mod:`django_focus.mixins`, or ``method_decorator``.

A guard asks the core (:func:`focus_middleware.access.refusal`) whether the request may
run the view and returns the core's refusal instead of calling it: a navigation without a
session is sent to sign-in (303), an API call gets 401 JSON, Focus being down is a 503, a
cookie-authenticated state change from another site a 403, too few credits a 402 (the
``django_focus/insufficient_credits.html`` page for navigations, or the core's built-in
page where no template engine finds it: see :mod:`django_focus.pages`; JSON otherwise).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from focus_middleware.access import ACCOUNT, Requirement, admits, refusal, requirement_for
from focus_middleware.jobs import PaidRoute
from focus_middleware.outcome import Outcome
from focus_middleware.responses import ResponseSpec

from django_focus.paid import aopen_job, arun_paid, open_job, run_paid
from django_focus.request import FocusContext, focus_context

View = TypeVar("View", bound=Callable[..., Any])


def check(request: HttpRequest, requirement: Requirement = ACCOUNT) -> HttpResponse | None:
    """The response to send instead of running a protected view, or None (blocking: for
    sync views; async code uses :func:`acheck`)."""
    ctx = focus_context(request)
    spec = refusal_of(ctx, ctx.resolve().outcome, requirement)
    return None if spec is None else ctx.respond(spec)


async def acheck(request: HttpRequest, requirement: Requirement = ACCOUNT) -> HttpResponse | None:
    ctx = focus_context(request)
    spec = refusal_of(ctx, (await ctx.aresolve()).outcome, requirement)
    return None if spec is None else ctx.respond(spec)


def refusal_of(ctx: FocusContext, outcome: Outcome, requirement: Requirement = ACCOUNT) -> ResponseSpec | None:
    """The core's refusal for the request of ``ctx``, resolved to ``outcome``, under
    ``requirement`` (None: it may run), for a guard that answers it its own way (DRF's
    permissions hand it to the exception handler)."""
    if admits(outcome, ctx.request.method or "GET", requirement):
        return None  # the common case, decided without building the facts
    return refusal(ctx.facts, outcome, ctx.runtime.config, requirement, page=ctx.insufficient_credits_page,
                   wallets=ctx.runtime.resolver)


def _guard(view: View, requirement: Requirement) -> View:
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = await acheck(request, requirement)
            if refused is not None:
                return refused
            return await view(request, *args, **kwargs)

        return cast(View, async_guarded)

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        refused = check(request, requirement)
        if refused is not None:
            return refused
        return view(request, *args, **kwargs)

    return cast(View, guarded)


@overload
def focus_login_required(view: View, /) -> View: ...
@overload
def focus_login_required(view: None = None, /) -> Callable[[View], View]: ...


def focus_login_required(view: View | None = None, /) -> View | Callable[[View], View]:
    """The view runs only for a request with a Focus account (``@focus_login_required``
    or ``@focus_login_required()``)."""
    if view is None:
        return lambda v: _guard(v, ACCOUNT)
    return _guard(view, ACCOUNT)


def credits_requirement(credits: int, action: str | None, view: Callable[..., Any] | None = None) -> Requirement:
    """Deprecated: :func:`focus_middleware.access.requirement_for` builds every guard's
    requirement, in every adapter."""
    warnings.warn("django_focus.decorators.credits_requirement is deprecated; use "
                  "focus_middleware.access.requirement_for(view, credits=..., action=...)",
                  DeprecationWarning, stacklevel=2)
    return requirement_for(view, credits=credits, action=action)


def require_credits(credits: int, *, action: str | None = None) -> Callable[[View], View]:
    """The view runs only if the account's cached wallet holds at least ``credits``.

    A soft check that keeps a user from starting what they cannot pay for; the job
    reservation (``paid``) stays the authority. ``action`` names the work in the 402.
    """
    requirement_for(credits=credits)  # a bad number fails at import time

    def decorate(view: View) -> View:
        return _guard(view, requirement_for(view, credits=credits, action=action))

    return decorate


def paid(*, action: str, cost_estimate: int, app: str | None = None, description: str | None = None,
         label: str | None = None, usual_cost: int | None = None, max_cost: int | None = None,
         result_url: str | Callable[[str], str] | None = None) -> Callable[[View], View]:
    """Make a view paid work: credits are reserved before it runs (the core's refusal
    instead when that cannot be done, and the view never runs), the actual cost is charged
    once the whole response went out, and anything else refunds.

    The view finds the job at ``request.focus_job`` and may set ``actual_cost`` (default:
    the estimate) and ``metadata[...]``. ``app`` defaults to ``FOCUS["app"]``;
    ``description`` (default: ``action``) goes into the job's metadata. ``max_cost`` caps
    the charge; a form with ``{% focus_idempotency_field %}`` (or a request with an
    ``Idempotency-Key``) reserves once, and a repeat gets 409, or a 303 to ``result_url``.
    """
    route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description, label=label,
                      usual_cost=usual_cost, max_cost=max_cost, result_url=result_url)

    def decorate(view: View) -> View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_paid(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                opened = await aopen_job(request, route)
                if isinstance(opened, HttpResponseBase):
                    return opened
                return await arun_paid(opened, view(request, *args, **kwargs))

            return cast(View, async_paid)

        @functools.wraps(view)
        def sync_paid(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            opened = open_job(request, route)
            if isinstance(opened, HttpResponseBase):
                return opened
            return run_paid(opened, lambda: view(request, *args, **kwargs))

        return cast(View, sync_paid)

    return decorate


__all__ = ["acheck", "check", "credits_requirement", "focus_login_required", "paid", "refusal_of", "require_credits"]
