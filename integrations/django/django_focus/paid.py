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

Every decision is the core's :class:`~focus_middleware.paid_request.PaidRequest`; this
module reports to it what happened to the response. Reservations and settlements run to their
end even when the request is cancelled (a client that leaves must not take the refund with
it); from async code they run in a worker thread that the request's task waits out
(:func:`await_despite_cancel`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from focus_middleware import events
from focus_middleware.bodies import SettlingAsyncIterable, SettlingIterable
from focus_middleware.jobs import FocusJob, PaidRoute
from focus_middleware.outcome import Outcome
from focus_middleware.paid_request import PaidRequest, decide, one_per_request
from focus_middleware.responses import ResponseSpec
from focus_middleware.deprecation import renamed

from django_focus.idempotency import idempotency_of
from django_focus.request import FocusContext, focus_context

T = TypeVar("T")
JOB_ATTR = "focus_job"
"""``request.focus_job``: the request's :class:`~focus_middleware.jobs.FocusJob`."""


OpenJob = PaidRequest
"""The request's paid work as this adapter opened it (the core's
:class:`~focus_middleware.paid_request.PaidRequest`)."""


# -- opening ------------------------------------------------------------------------------------


def _decide(ctx: FocusContext, route: PaidRoute, outcome: Outcome) -> PaidRequest | HttpResponse:
    decided = decide(ctx.facts, outcome, ctx.runtime.config, route, page=ctx.insufficient_credits_page)
    if isinstance(decided, ResponseSpec):
        return ctx.respond(decided)
    once = idempotency_of(ctx.request, ctx.facts)
    if isinstance(once, ResponseSpec):
        return ctx.respond(once)
    decided.once = once
    ctx.open_job = decided  # before reserving: a cancellation during the call still refunds
    return decided


def _reserve(ctx: FocusContext, opened: PaidRequest) -> HttpResponse | None:
    refused = opened.reserve(ctx.runtime.jobs, ctx.facts, ctx.runtime.config, page=ctx.insufficient_credits_page)
    if refused is not None:
        ctx.open_job = None
        return ctx.respond(refused)
    setattr(ctx.request, JOB_ATTR, opened.job)
    return None


def open_job(request: HttpRequest, route: PaidRoute) -> PaidRequest | HttpResponse:
    """Reserve the route's credits for this request, or return the response to send
    instead (sign-in, 401, 402, 403, 503). One job per request."""
    ctx = focus_context(request)
    opened = one_per_request(ctx.open_job, route)
    if opened is not None:
        return opened
    decided = _decide(ctx, route, ctx.resolve().outcome)
    if isinstance(decided, HttpResponse):
        return decided
    refused = _reserve(ctx, decided)
    return decided if refused is None else refused


async def aopen_job(request: HttpRequest, route: PaidRoute) -> PaidRequest | HttpResponse:
    """:func:`open_job` for async views; the reservation runs to its end even if the
    request is cancelled meanwhile (the middleware then refunds it)."""
    ctx = focus_context(request)
    opened = one_per_request(ctx.open_job, route)
    if opened is not None:
        return opened
    decided = _decide(ctx, route, (await ctx.aresolve()).outcome)
    if isinstance(decided, HttpResponse):
        return decided
    refused = await await_despite_cancel(sync_to_async(_reserve, thread_sensitive=False)(ctx, decided))
    return decided if refused is None else refused


def run_paid(opened: PaidRequest, call: Callable[[], T]) -> T:
    """Run a paid view's work, telling ``opened`` what it raised: work that raised is
    refunded, whatever response an exception handler (Django's, DRF's) makes of it."""
    try:
        return call()
    except BaseException as exc:
        opened.handler_raised(exc)
        raise


async def arun_paid(opened: PaidRequest, pending: Awaitable[T]) -> T:
    """:func:`run_paid` for an async view's work."""
    try:
        return await pending
    except BaseException as exc:
        opened.handler_raised(exc)
        raise


# -- settling -------------------------------------------------------------------------------------


def settle_after(ctx: FocusContext, response: HttpResponseBase, *, in_loop: bool) -> None:
    """Arrange for the request's paid job (if any) to be settled when ``response`` is over.
    ``in_loop``: the middleware runs in the event loop (Django's async path)."""
    opened = ctx.open_job
    if opened is None or opened.job is None:
        return
    jobs = ctx.runtime.jobs
    meta = ctx.request.META
    opened.response_started(response.status_code)
    request_id = events.request_id_to_keep()  # gone by the time it settles

    def finish(complete: bool, error: BaseException | None) -> None:
        if error is not None:
            opened.ended_by(error)
        if complete:
            _delivered(opened, meta)
        opened.body_cut()  # no effect once the body finished
        events.in_request(request_id, lambda: opened.settle(jobs))

    def exhausted() -> None:
        finish(True, None)

    if isinstance(response, StreamingHttpResponse):
        if response.is_async or in_loop:
            content: AsyncIterable[bytes] = (response.streaming_content if response.is_async  # type: ignore[assignment]
                                             else _pull_in_thread(iter(response.streaming_content)))  # type: ignore[arg-type]
            response.streaming_content = _watched(content, finish, _content_length(response))
            # The watch settles at the end of iteration; close() covers a body never iterated.
            _on_close(response, lambda: finish(False, None))
        else:
            # Settled when the server has taken the last chunk (a test client reading the
            # body settles too), or at close() if it never did.
            response.streaming_content = SettlingIterable(response.streaming_content, finish,  # type: ignore[arg-type]
                                                          on_exhausted=exhausted)
    elif in_loop:
        # Django's ASGI handler sends ``response.content`` whole, then closes the response.
        _on_close(response, exhausted)
    else:
        # Django's WSGI handler hands the response itself to the server as the body, and
        # the server iterates it (``HttpResponse.__iter__``: ``iter(self._container)``),
        # writing each chunk before it asks for the next: delivered once the server took
        # the last chunk. A write into a socket the client closed raises in the server,
        # which then closes the response half-read: a refund.
        body = _WatchedContainer(response._container, exhausted, opened)  # type: ignore[attr-defined]
        response._container = body  # type: ignore[attr-defined]
        _on_close(response, lambda: body.closed(finish))


class _WatchedContainer(list[bytes]):
    """A non-streaming response's chunks (Django's ``HttpResponse._container``) that tell
    when the WSGI server has iterated them to the end.

    Never iterated before ``close()`` (Django's test client closes the response and the
    test reads ``.content``; a body replaced meanwhile): the whole body was handed over
    at once, as before. Iterated part-way: the server stopped writing (the client left).
    """

    def __init__(self, chunks: Iterable[bytes], on_exhausted: Callable[[], None], opened: PaidRequest) -> None:
        super().__init__(chunks)
        self.started = False
        self.exhausted = False
        self._on_exhausted = on_exhausted
        self._opened = opened

    def __iter__(self) -> Iterator[bytes]:
        self.started = True
        for chunk in super().__iter__():
            if not self._opened.may_deliver():  # refunded at shutdown: it must not arrive now
                raise ConnectionAbortedError("the paid job was refunded at shutdown")
            yield chunk
        if not self.exhausted:
            self.exhausted = True
            self._on_exhausted()

    def closed(self, finish: Callable[[bool, BaseException | None], None]) -> None:
        finish(self.exhausted or not self.started, None)


def _delivered(opened: PaidRequest, meta: Mapping[str, object]) -> None:
    """The whole body went to the server; waitress (with ``channel_request_lookahead``)
    can tell whether the client is still there."""
    gone = meta.get("waitress.client_disconnected")
    if callable(gone) and gone():
        opened.client_left()
    opened.body_finished()


def settle_now(ctx: FocusContext, error: BaseException) -> None:
    """The response never came (the view's exception escaped, or the request was
    cancelled): fail with a refund, blocking."""
    opened = ctx.open_job
    if opened is not None:
        opened.ended_by(error)
        opened.settle(ctx.runtime.jobs)


async def asettle_now(ctx: FocusContext, error: BaseException) -> None:
    if ctx.open_job is not None and ctx.open_job.job is not None:
        await await_despite_cancel(sync_to_async(settle_now, thread_sensitive=False)(ctx, error))


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


def _content_length(response: HttpResponseBase) -> int | None:
    value = response.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


async def _watched(body: AsyncIterable[bytes], finish: Callable[[bool, BaseException | None], None],
                   length: int | None = None) -> AsyncIterator[bytes]:
    """``body`` as it is sent, settling at its end: complete if it was exhausted, else fail.

    With a ``Content-Length`` (a ``FileResponse``), the body is delivered once its last byte
    was handed to Django's handler, as the core's ASGI adapter decides: a client that reads
    the last byte and closes at once makes Django's handler cancel the response before it
    asks for the (empty) end, which is no reason to refund what arrived."""
    watch = SettlingAsyncIterable(body)
    chunks = aiter(watch)
    handed = 0
    try:
        async for chunk in chunks:
            handed += len(chunk)
            yield chunk
    finally:
        try:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            complete, error = watch.outcome()
            if length is not None and handed >= length and not isinstance(error, Exception):
                complete, error = True, None  # all of it went out; only the end was cut
            await await_despite_cancel(sync_to_async(finish, thread_sensitive=False)(complete, error))


async def await_despite_cancel(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to its end even if this task is cancelled meanwhile (the work
    runs in a thread, which cannot be stopped anyway); the cancellation is re-raised after.

    Unlike the core's :func:`focus_middleware.shielding.shielded`, whose cancelled caller
    stops waiting while the work goes on, the caller here waits: what runs after the
    cancellation (:func:`asettle_now`) must see the reservation landed.
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


def focus_job(request: HttpRequest) -> FocusJob:
    """The request's paid job (what ``request.focus_job`` holds)."""
    job = getattr(request, JOB_ATTR, None)
    if not isinstance(job, FocusJob):
        raise RuntimeError("no paid job is open for this request (decorate the view with @paid or use PaidMixin)")
    return job


__all__ = ["JOB_ATTR", "OpenJob", "aopen_job", "arun_paid", "asettle_now", "await_despite_cancel", "focus_job",
           "open_job", "run_paid", "settle_after", "settle_now"]

__getattr__ = renamed(__name__, {"current_job": "focus_job", "shielded": "await_despite_cancel"}, globals())
