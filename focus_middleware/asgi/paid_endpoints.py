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
from starlette.requests import HTTPConnection, Request

from focus_middleware.access import requirement_for
from focus_middleware.asgi.endpoint_request import EndpointRequest
from focus_middleware.asgi.middleware import Finish, focus_context, to_response
from focus_middleware.facts import RequestFacts
from focus_middleware.idempotency import FORM_FIELD, HEADER, Idempotency, body_fingerprint, form_fingerprint, is_form, requested
from focus_middleware.jobs import FocusJob, PaidRoute
from focus_middleware.openapi import mark
from focus_middleware.paid_request import PaidRequest, decide, one_per_request
from focus_middleware.responses import ResponseSpec
from focus_middleware.deprecation import renamed

P = ParamSpec("P")

JOB_STATE = "focus_job"
"""``request.state.focus_job``: the request's :class:`~focus_middleware.jobs.FocusJob`."""

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
    prepared = await prepare_job(conn, route)
    if isinstance(prepared, ResponseSpec) or prepared.job is not None:
        return prepared
    return await reserve_job(conn, prepared)


async def prepare_job(conn: HTTPConnection, route: PaidRoute) -> PaidRequest | ResponseSpec:
    """The checks before reserving (who may start paid work, the idempotency key), and
    nothing reserved yet: the request's paid work, or the refusal to answer with. A
    request whose work is already open gets it back (its ``job`` is set)."""
    ctx = focus_context(conn)
    opened = one_per_request(ctx.paid, route)
    if opened is not None:
        return opened
    decided = decide(ctx.facts, ctx.outcome, ctx.config, route, page=ctx.middleware.insufficient_credits_page)
    if isinstance(decided, ResponseSpec):
        return decided
    once = await idempotency_of(conn, ctx.facts)
    if isinstance(once, ResponseSpec):
        return once
    decided.once = once
    return decided


async def reserve_job(conn: HTTPConnection, decided: PaidRequest) -> PaidRequest | ResponseSpec:
    """Reserve what :func:`prepare_job` checked; the middleware settles it."""
    ctx = focus_context(conn)
    page = ctx.middleware.insufficient_credits_page
    jobs = ctx.middleware.jobs
    ctx.paid = decided
    ctx.watch_client()

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


async def idempotency_of(conn: HTTPConnection, facts: RequestFacts) -> Idempotency | ResponseSpec | None:
    """The request's idempotency key (header, or the form's hidden field) and its body's
    hash, read through Starlette's request, which keeps the form and body it read for the
    endpoint (FastAPI has already read them into the same request)."""
    if not isinstance(conn, Request):
        return requested(facts, None, lambda: "")
    if is_form(facts.headers.get("content-type")):
        form = await conn.form()
        key = form.get(FORM_FIELD)
        fields = [(name, value if isinstance(value, str) else f"file:{value.filename}:{value.size}")
                  for name, value in form.multi_items()]
        return requested(facts, key if isinstance(key, str) else None, lambda: form_fingerprint(fields))
    if facts.headers.get(HEADER) is None:
        return None
    body = await conn.body()
    return requested(facts, None, lambda: body_fingerprint(body))


def paid(
    *, action: str, cost_estimate: int, app: str | None = None, description: str | None = None,
    label: str | None = None, usual_cost: int | None = None, max_cost: int | None = None,
    result_url: str | Callable[[str], str] | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Make an endpoint paid work: credits are reserved before it runs (a 402 purchase prompt
    instead when they do not suffice, and the endpoint never runs), the actual cost is
    charged once the whole response went out, and anything else (an exception, a
    cancellation, a status >= 400, a client that left early) refunds.

    ``app`` defaults to ``FocusConfig.app``; ``description`` (default: ``action``) goes into
    the job's metadata for the user's history. Works on sync and async functions, on
    ``HTTPEndpoint`` methods and on FastAPI endpoints with or without a ``Request``.

    ``max_cost`` bounds what the job is charged whatever ``actual_cost`` the handler sets.
    A request with an ``Idempotency-Key`` (header or the form's hidden field) reserves once:
    a repeat gets 409 JSON, or for a browser a 303 to ``result_url`` (a path with
    ``{job_id}``, or a callable taking the job id) or the 409 page
    (:mod:`focus_middleware.idempotency`).
    """
    route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description, label=label,
                      usual_cost=usual_cost, max_cost=max_cost, result_url=result_url)

    def decorate(func: Callable[P, Any]) -> Callable[P, Any]:
        request_of = EndpointRequest(func)
        is_async = inspect.iscoroutinefunction(func)

        @functools.wraps(func)
        async def paid_endpoint(*args: Any, **kwargs: Any) -> Any:
            opened = await open_job(request_of.take(args, kwargs), route)
            if isinstance(opened, ResponseSpec):
                return to_response(opened)
            try:
                if is_async:
                    return await func(*args, **kwargs)
                return await run_in_threadpool(func, *args, **kwargs)
            except BaseException as exc:
                opened.handler_raised(exc)
                raise

        request_of.declare(paid_endpoint)
        mark(paid_endpoint, requirement_for(func, route=route))  # for FastAPI's OpenAPI document (focus_openapi)
        return paid_endpoint

    return decorate


def focus_job(conn: HTTPConnection) -> FocusJob:
    """The request's paid job (what ``request.state.focus_job`` holds)."""
    job = conn.scope.get("state", {}).get(JOB_STATE)
    if not isinstance(job, FocusJob):
        raise RuntimeError("no paid job is open for this request (use @paid or the FocusJob dependency)")
    return job


__all__ = ["JOB_STATE", "OpenJob", "focus_job", "idempotency_of", "open_job", "paid", "prepare_job", "reserve_job"]

__getattr__ = renamed(__name__, {"current_job": "focus_job"}, globals())
