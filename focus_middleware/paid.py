"""Paid endpoints for Starlette and FastAPI: ``@paid(action="render", cost_estimate=5)``.

The decorator opens the job (:func:`open_job`) before the endpoint runs, and leaves the
settlement to ``FocusMiddleware``, the outermost wrapper: only it sees whether the whole
response went out (a streamed body ends long after the endpoint returned). Every decision
is the core's: :func:`~focus_middleware.access.paid_refusal` (who may start paid work,
the minimum token life), :func:`~focus_middleware.access.reservation_refusal` (402, 401,
503 from the reservation), :func:`~focus_middleware.jobs.settlement_for` (complete or
fail with refund). This module only wires them to a request.

The handler finds the job at ``request.state.focus_job`` and may set
``job.actual_cost`` and ``job.metadata[...]``. Sync endpoints run in Starlette's thread
pool after the reservation, as they would without the decorator.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from focus_middleware.access import Requirement, paid_refusal, reservation_refusal
from focus_middleware.asgi import Finish, FocusContext, focus_context, to_response
from focus_middleware.errors import FocusError
from focus_middleware.guards import _needs_request_param, _take_request, _with_request_param
from focus_middleware.jobs import PaidJob, PaidRoute, new_request_id, settlement_for
from focus_middleware.openapi import mark
from focus_middleware.outcome import Authenticated
from focus_middleware.responses import ResponseSpec
from focus_middleware.shielding import Shielded

P = ParamSpec("P")

JOB_STATE = "focus_job"
"""``request.state.focus_job``: the request's :class:`~focus_middleware.jobs.PaidJob`."""

_OPEN_KEY = "focus.paid"
_PAID = Requirement(protection="paid")


@dataclass(slots=True, eq=False)
class OpenJob:
    """One request's paid job, from before the reservation to the settlement.

    Registered with the middleware before reserving, and the reservation kept running
    (:class:`~focus_middleware.shielding.Shielded`), so a request cancelled while it was
    under way still refunds the job once it lands. ``raised`` is what the handler raised,
    even if an exception handler turned it into a 2xx: work that raised is not charged.
    """

    route: PaidRoute
    auth: Authenticated
    ctx: FocusContext
    job: PaidJob | None = None
    raised: BaseException | None = None
    reservation: Shielded[PaidJob] | None = None

    async def finish(self, finish: Finish) -> None:
        job = self.job
        if job is None and self.reservation is not None:
            # Cancelled while reserving: the reservation ran on, and may have landed.
            try:
                job = await self.reservation.result()
            except Exception:
                return  # refused or failed: nothing was reserved
        if job is None:
            return
        error = finish.error if finish.error is not None else self.raised
        settlement = settlement_for(status=finish.status, body_complete=finish.complete, error=error)
        await self.ctx.middleware.jobs.settle(job, self.auth.credential, settlement)


async def open_job(conn: HTTPConnection, route: PaidRoute) -> OpenJob | ResponseSpec:
    """Reserve the route's credits for this request, or say what to answer instead.

    One job per request: a second opening for the same route (a decorator and a
    dependency, say) returns the first; for another route it is a programming error.
    """
    ctx = focus_context(conn)
    scope = conn.scope
    opened = scope.get(_OPEN_KEY)
    if isinstance(opened, OpenJob):
        if opened.route != route:
            raise RuntimeError(f"a paid job ({opened.route.action!r}) is already open for this request")
        return opened
    page = ctx.middleware.insufficient_credits_page
    decided = paid_refusal(ctx.facts, ctx.outcome, ctx.config, route, page=page)
    if isinstance(decided, ResponseSpec):
        return decided
    opened = OpenJob(route, decided, ctx)
    ctx.on_finish(opened.finish)
    opened.reservation = Shielded(ctx.middleware.jobs.reserve(route, decided, new_request_id()))
    try:
        job = await opened.reservation.result()
    except FocusError as error:
        spec = reservation_refusal(ctx.facts, ctx.config, route, decided, error, page=page)
        if spec is None:
            raise
        return spec
    opened.job = job
    scope[_OPEN_KEY] = opened
    scope.setdefault("state", {})[JOB_STATE] = job
    return opened


def paid(
    *, action: str, cost_estimate: int, app: str | None = None, description: str | None = None
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Make an endpoint paid work: credits are reserved before it runs (a 402 purchase prompt
    instead when they do not suffice, and the endpoint never runs), the actual cost is
    charged once the whole response went out, and anything else (an exception, a
    cancellation, a status >= 400, a client that left early) refunds.

    ``app`` defaults to ``FocusConfig.app``; ``description`` (default: ``action``) goes into
    the job's metadata for the user's history. Works on sync and async functions, on
    ``HTTPEndpoint`` methods and on FastAPI endpoints with or without a ``Request``.
    """
    route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description)

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
                opened.raised = exc
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
