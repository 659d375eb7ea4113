"""Paid views: opening the job before the view runs, settling it once the response is over.

The ``paid`` decorator and ``PaidMixin`` open the job (:func:`open_job` /
:func:`aopen_job`); ``FocusMiddleware``, the outermost wrapper, hands the response to
:func:`settle_after`, which settles when the response is really over:

- a ``StreamingHttpResponse`` after its last chunk, or with a refund when it is closed
  early (the client left, the server closed it, the generator raised): its
  ``streaming_content`` is wrapped with the core's end-of-body watch
  (:mod:`focus_middleware.bodies`). Django calls ``response.close()`` at the end, also on
  a disconnect; under ASGI a sync iterator of a paid response is pulled chunk by chunk in
  Django's sync thread (rather than read whole first, as Django does for unpaid ones), so
  the watch sees where the client left;
- any other response when Django closes it, after handing the whole body to the server;
- a view that raised, a status >= 400, or a request cancelled (the ASGI client left while
  the view ran) fails the job with a refund.

Every decision is the core's: :func:`~focus_middleware.access.paid_refusal`,
:func:`~focus_middleware.access.reservation_refusal`,
:func:`~focus_middleware.jobs.settlement_for`. Reservations and settlements run to their
end even when the request is cancelled (a client that leaves must not take the refund with
it); from async code they run in a worker thread, shielded.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from focus_middleware.access import paid_refusal, reservation_refusal
from focus_middleware.bodies import SettlingAsyncIterable, SettlingIterable
from focus_middleware.errors import FocusError
from focus_middleware.jobs import PaidJob, PaidRoute, new_request_id, settlement_for
from focus_middleware.outcome import Authenticated, Outcome
from focus_middleware.responses import ResponseSpec

from django_focus.request import FocusContext, focus_context
from django_focus.runtime import FocusRuntime

T = TypeVar("T")
JOB_ATTR = "focus_job"
"""``request.focus_job``: the request's :class:`~focus_middleware.jobs.PaidJob`."""


@dataclass(eq=False)
class OpenJob:
    """One request's paid job, from before the reservation to the settlement.

    ``raised`` is what the view raised, even if a middleware turned it into a 2xx: work
    that raised is not charged. :meth:`settle` runs once, whoever gets there first.
    """

    route: PaidRoute
    auth: Authenticated
    job: PaidJob | None = None
    raised: BaseException | None = None
    _settled: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def settle(self, runtime: FocusRuntime, status: int | None, complete: bool, error: BaseException | None) -> None:
        """Complete or fail (blocking; never raises: what cannot be delivered is kept)."""
        with self._lock:
            if self._settled or self.job is None:
                return
            self._settled = True
        error = error if error is not None else self.raised
        settlement = settlement_for(status=status, body_complete=complete, error=error)
        runtime.jobs.settle(self.job, self.auth.credential, settlement)


# -- opening ------------------------------------------------------------------------------------


def _already_open(ctx: FocusContext, route: PaidRoute) -> OpenJob | None:
    opened = ctx.open_job
    if opened is not None and opened.route != route:
        raise RuntimeError(f"a paid job ({opened.route.action!r}) is already open for this request")
    return opened


def _decide(ctx: FocusContext, route: PaidRoute, outcome: Outcome) -> OpenJob | HttpResponse:
    decided = paid_refusal(ctx.facts, outcome, ctx.runtime.config, route, page=ctx.insufficient_credits_page)
    if isinstance(decided, ResponseSpec):
        return ctx.respond(decided)
    opened = OpenJob(route, decided)
    ctx.open_job = opened  # before reserving: a cancellation during the call still refunds
    return opened


def _refused(ctx: FocusContext, opened: OpenJob, error: FocusError) -> HttpResponse:
    spec = reservation_refusal(ctx.facts, ctx.runtime.config, opened.route, opened.auth, error,
                               page=ctx.insufficient_credits_page)
    if spec is None:
        raise error
    return ctx.respond(spec)


def _reserve(ctx: FocusContext, opened: OpenJob) -> None:
    opened.job = ctx.runtime.jobs.reserve(opened.route, opened.auth, new_request_id())
    setattr(ctx.request, JOB_ATTR, opened.job)


def open_job(request: HttpRequest, route: PaidRoute) -> OpenJob | HttpResponse:
    """Reserve the route's credits for this request, or return the response to send
    instead (sign-in, 401, 402, 403, 503). One job per request."""
    ctx = focus_context(request)
    opened = _already_open(ctx, route)
    if opened is not None:
        return opened
    decided = _decide(ctx, route, ctx.resolve().outcome)
    if isinstance(decided, HttpResponse):
        return decided
    try:
        _reserve(ctx, decided)
    except FocusError as error:
        return _refused(ctx, decided, error)
    return decided


async def aopen_job(request: HttpRequest, route: PaidRoute) -> OpenJob | HttpResponse:
    """:func:`open_job` for async views; the reservation runs to its end even if the
    request is cancelled meanwhile (the middleware then refunds it)."""
    ctx = focus_context(request)
    opened = _already_open(ctx, route)
    if opened is not None:
        return opened
    decided = _decide(ctx, route, (await ctx.aresolve()).outcome)
    if isinstance(decided, HttpResponse):
        return decided
    try:
        await shielded(sync_to_async(_reserve, thread_sensitive=False)(ctx, decided))
    except FocusError as error:
        return _refused(ctx, decided, error)
    return decided


# -- settling -------------------------------------------------------------------------------------


def settle_after(ctx: FocusContext, response: HttpResponseBase, *, in_loop: bool) -> None:
    """Arrange for the request's paid job (if any) to be settled when ``response`` is over.
    ``in_loop``: the middleware runs in the event loop (Django's async path)."""
    opened = ctx.open_job
    if opened is None or opened.job is None:
        return
    runtime = ctx.runtime
    status = response.status_code

    def finish(complete: bool, error: BaseException | None) -> None:
        opened.settle(runtime, status, complete, error)

    if isinstance(response, StreamingHttpResponse):
        if response.is_async or in_loop:
            content: AsyncIterable[bytes] = (response.streaming_content if response.is_async  # type: ignore[assignment]
                                             else _pull_in_thread(iter(response.streaming_content)))  # type: ignore[arg-type]
            response.streaming_content = _watched(content, finish)
            # The watch settles at the end of iteration; close() covers a body never iterated.
            _on_close(response, lambda: finish(False, None))
        else:
            response.streaming_content = SettlingIterable(response.streaming_content, finish)  # type: ignore[arg-type]
    else:
        _on_close(response, lambda: finish(True, None))


def settle_now(ctx: FocusContext, error: BaseException) -> None:
    """The response never came (the view's exception escaped, or the request was
    cancelled): fail with a refund, blocking."""
    opened = ctx.open_job
    if opened is not None:
        opened.settle(ctx.runtime, None, False, error)


async def asettle_now(ctx: FocusContext, error: BaseException) -> None:
    if ctx.open_job is not None and ctx.open_job.job is not None:
        await shielded(sync_to_async(settle_now, thread_sensitive=False)(ctx, error))


def _on_close(response: HttpResponseBase, closer: Callable[[], None]) -> None:
    # Django's per-response list of callbacks run by close() (FileResponse and streaming
    # bodies use it); close() is what every server calls once the response is over.
    response._resource_closers.append(closer)  # type: ignore[attr-defined]


_DONE = object()


def _next_chunk(iterator: Iterator[bytes]) -> object:
    return next(iterator, _DONE)


async def _pull_in_thread(iterator: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A sync body, one chunk at a time, in Django's sync thread (where sync views run)."""
    pull = sync_to_async(_next_chunk, thread_sensitive=True)
    while True:
        chunk = await pull(iterator)
        if chunk is _DONE:
            return
        assert isinstance(chunk, bytes)
        yield chunk


async def _watched(body: AsyncIterable[bytes], finish: Callable[[bool, BaseException | None], None]) -> AsyncIterator[bytes]:
    """``body`` as it is sent, settling at its end: complete if it was exhausted, else fail."""
    watch = SettlingAsyncIterable(body)
    chunks = aiter(watch)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        try:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            complete, error = watch.outcome()
            await shielded(sync_to_async(finish, thread_sensitive=False)(complete, error))


async def shielded(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to its end even if this task is cancelled meanwhile (the work
    runs in a thread, which cannot be stopped anyway); the cancellation is re-raised after.

    ``anyio.CancelScope(shield=True)`` does not hold off a plain ``Task.cancel()``, which
    is how Django's ASGI handler stops a view whose client left.
    """
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
            continue
        except BaseException:
            if cancelled:
                raise asyncio.CancelledError() from None
            raise
        if cancelled:
            raise asyncio.CancelledError()
        return result


def current_job(request: HttpRequest) -> PaidJob:
    """The request's paid job (what ``request.focus_job`` holds)."""
    job = getattr(request, JOB_ATTR, None)
    if not isinstance(job, PaidJob):
        raise RuntimeError("no paid job is open for this request (decorate the view with @paid or use PaidMixin)")
    return job


__all__ = ["JOB_ATTR", "OpenJob", "aopen_job", "asettle_now", "current_job", "open_job", "settle_after", "settle_now",
           "shielded"]
