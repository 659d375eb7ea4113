"""Paid endpoints for Starlette and FastAPI: ``@paid(action="render", cost_estimate=5)``.

The decorator opens the job (:func:`open_job`) before the endpoint runs, and leaves the
settlement to ``FocusMiddleware``, the outermost wrapper: only it sees whether the whole
response went out (a streamed body ends long after the endpoint returned). Every decision
is the core's :class:`~focus_middleware.paid_request.PaidRequest` (who may start paid
work, the minimum token life, the reservation's refusals, complete or fail with refund);
the middleware reports what happened to the response. This module only wires it to a
request.

The handler finds the job at ``request.state.focus_job`` and may set
``job.actual_cost`` and ``job.metadata[...]``. Sync endpoints run in Starlette's thread
pool after the reservation, as they would without the decorator.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from focus_middleware.access import Requirement
from focus_middleware.asgi import Finish, focus_context, to_response
from focus_middleware.guards import _needs_request_param, _take_request, _with_request_param
from focus_middleware.jobs import PaidJob, PaidRoute
from focus_middleware.openapi import mark
from focus_middleware.paid_request import PaidRequest, decide, one_per_request
from focus_middleware.responses import ResponseSpec

P = ParamSpec("P")

JOB_STATE = "focus_job"
"""``request.state.focus_job``: the request's :class:`~focus_middleware.jobs.PaidJob`."""

_PAID = Requirement(protection="paid")

OpenJob = PaidRequest
"""The request's paid work as the ASGI adapter opened it (the core's
:class:`~focus_middleware.paid_request.PaidRequest`)."""


async def open_job(conn: HTTPConnection, route: PaidRoute) -> PaidRequest | ResponseSpec:
    """Reserve the route's credits for this request, or say what to answer instead.

    One job per request: a second opening for the same route (a decorator and a
    dependency, say) returns the first; for another route it is a programming error. The
    request is handed to the middleware before reserving, so a request cancelled while
    the reservation was under way still refunds it once it lands.
    """
    ctx = focus_context(conn)
    opened = one_per_request(ctx.paid, route)
    if opened is not None:
        return opened
    page = ctx.middleware.insufficient_credits_page
    decided = decide(ctx.facts, ctx.outcome, ctx.config, route, page=page)
    if isinstance(decided, ResponseSpec):
        return decided
    jobs = ctx.middleware.jobs
    ctx.paid = decided

    async def settle(finish: Finish) -> None:
        if finish.error is not None:
            decided.ended_by(finish.error)
        await decided.asettle(jobs)

    ctx.on_finish(settle)
    refused = await decided.areserve(jobs, ctx.facts, ctx.config, page=page)
    if refused is not None:
        ctx.paid = None
        return refused
    conn.scope.setdefault("state", {})[JOB_STATE] = decided.job
    return decided


def paid(
    *, action: str, cost_estimate: int, app: str | None = None, description: str | None = None,
    label: str | None = None, usual_cost: int | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Make an endpoint paid work: credits are reserved before it runs (a 402 purchase prompt
    instead when they do not suffice, and the endpoint never runs), the actual cost is
    charged once the whole response went out, and anything else (an exception, a
    cancellation, a status >= 400, a client that left early) refunds.

    ``app`` defaults to ``FocusConfig.app``; ``description`` (default: ``action``) goes into
    the job's metadata for the user's history. Works on sync and async functions, on
    ``HTTPEndpoint`` methods and on FastAPI endpoints with or without a ``Request``.
    """
    route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description, label=label,
                      usual_cost=usual_cost)

    def decorate(func: Callable[P, Any]) -> Callable[P, Any]:
        injected = _needs_request_param(func)
        is_async = inspect.iscoroutinefunction(func)

        @functools.wraps(func)
        async def paid_endpoint(*args: Any, **kwargs: Any) -> Any:
            opened = await open_job(_take_request(args, kwargs, injected), route)
            if isinstance(opened, ResponseSpec):
                return to_response(opened)
            try:
                if is_async:
                    return await func(*args, **kwargs)
                return await run_in_threadpool(func, *args, **kwargs)
            except BaseException as exc:
                opened.handler_raised(exc)
                raise

        if injected:
            paid_endpoint.__signature__ = _with_request_param(func)  # type: ignore[attr-defined]
        mark(paid_endpoint, _PAID)  # for FastAPI's OpenAPI document (focus_openapi)
        return paid_endpoint

    return decorate


def current_job(conn: HTTPConnection) -> PaidJob:
    """The request's paid job (what ``request.state.focus_job`` holds)."""
    job = conn.scope.get("state", {}).get(JOB_STATE)
    if not isinstance(job, PaidJob):
        raise RuntimeError("no paid job is open for this request (use @paid or the PaidJob dependency)")
    return job


__all__ = ["JOB_STATE", "OpenJob", "current_job", "open_job", "paid"]
