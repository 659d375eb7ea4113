"""Guards for Starlette and FastAPI endpoints: ``@require_account``, ``@require_credits(n)``.

A guard asks the core (:func:`focus_middleware.access.refusal`) whether the request may run
the endpoint, from what ``FocusMiddleware`` already resolved: no I/O, so the same wrapper
serves sync endpoints (which Starlette runs in a thread) and async ones, and methods of an
``HTTPEndpoint``. A refusal becomes a Starlette ``Response`` through
:func:`focus_middleware.asgi.to_response` and is returned instead of calling the endpoint.

The request is found among the endpoint's arguments, or added to a FastAPI endpoint's
signature (:mod:`focus_middleware.asgi.endpoint_request`), so guards work on any FastAPI
endpoint without changing it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from starlette.requests import HTTPConnection
from starlette.responses import Response

from focus_middleware.access import ACCOUNT, Requirement, admits, refusal, requirement_for
from focus_middleware.asgi.endpoint_request import EndpointRequest
from focus_middleware.asgi.middleware import FocusContext, focus_context, to_response
from focus_middleware.openapi import mark
from focus_middleware.responses import ResponseSpec

P = ParamSpec("P")
R = TypeVar("R")


def check(request: HTTPConnection, requirement: Requirement = ACCOUNT) -> Response | None:
    """The response to send instead of running a protected endpoint, or None. Usable
    directly in code that guards itself (``if (r := check(request)) is not None: return r``)."""
    spec = refusal_of(request, requirement)
    return None if spec is None else to_response(spec)


def refusal_of(conn: HTTPConnection, requirement: Requirement = ACCOUNT) -> ResponseSpec | None:
    """The core's refusal for this request under ``requirement`` (None: it may run), for a
    guard that answers it its own way (FastAPI's dependencies raise it)."""
    ctx = focus_context(conn)
    if admits(ctx.outcome, conn.scope.get("method", "GET"), requirement):
        return None
    return refusal_in(ctx, requirement)


def refusal_in(ctx: FocusContext, requirement: Requirement) -> ResponseSpec | None:
    """The core's refusal (None: it may run after all) of a request that ``admits`` did not
    let through at a glance, for a caller that already holds its context (FastAPI's
    dependencies: one lookup per request, not two)."""
    return refusal(ctx.facts, ctx.outcome, ctx.config, requirement, page=ctx.middleware.insufficient_credits_page,
                   wallets=ctx.resolver)


@overload
def require_account(func: Callable[P, R], /) -> Callable[P, R | Response]: ...
@overload
def require_account(func: None = None, /) -> Callable[[Callable[P, R]], Callable[P, R | Response]]: ...


def require_account(func: Callable[P, R] | None = None, /) -> Any:
    """The endpoint runs only for a request with a Focus account (``@require_account`` or
    ``@require_account()``)."""
    if func is None:
        return lambda f: _guard(f, ACCOUNT)
    return _guard(func, ACCOUNT)


def require_credits(credits: int, *, action: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """The endpoint runs only if the account's cached wallet holds at least ``credits``.

    A soft check that keeps a user from starting what they cannot pay for; the job
    reservation (``paid``) stays the authority. ``action`` names the work in the 402
    (default: the endpoint's name).
    """
    requirement_for(credits=credits)  # a bad number fails now, at import time

    def decorate(func: Callable[P, R]) -> Callable[P, R | Response]:
        return _guard(func, requirement_for(func, credits=credits, action=action))

    return decorate


def _guard(func: Callable[P, R], requirement: Requirement) -> Callable[P, R | Response]:
    request_of = EndpointRequest(func)
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_guarded(*args: Any, **kwargs: Any) -> Any:
            refused = check(request_of.take(args, kwargs), requirement)
            if refused is not None:
                return refused
            return await func(*args, **kwargs)

        guarded: Callable[..., Any] = async_guarded
    else:

        @functools.wraps(func)
        def sync_guarded(*args: Any, **kwargs: Any) -> Any:
            refused = check(request_of.take(args, kwargs), requirement)
            if refused is not None:
                return refused
            return func(*args, **kwargs)

        guarded = sync_guarded
    request_of.declare(guarded)
    mark(guarded, requirement)  # for FastAPI's OpenAPI document (focus_openapi)
    return guarded


__all__ = ["check", "refusal_in", "refusal_of", "require_account", "require_credits"]
