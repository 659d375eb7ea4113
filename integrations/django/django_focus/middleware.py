"""``FocusMiddleware``: every Django request knows its Focus account.

Add it to ``MIDDLEWARE`` (high up: above anything that may answer for the views, so it
sees every response it must settle a paid job for)::

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django_focus.middleware.FocusMiddleware",
        ...,
    ]

Sync and async capable: under WSGI it runs synchronously, under ASGI in the event loop
(when the middleware below it are async capable too, as Django's own are).

What it does, per request (the decisions are the core's, see ``focus_middleware.request_plan``):

- Requests the core answers itself are answered here, before any view: its endpoints
  under ``<SCRIPT_NAME>/_focus/`` (``refresh.js``, the ``session`` refresh endpoint,
  ``signout``, ``signin``) and the return trip from sign-in (a GET with ``focus_state``),
  the same paths as every other adapter.
- Every other request gets ``request.focus_account``, lazy like ``request.user``: nothing
  is resolved until something reads it (a request without credentials costs almost
  nothing, and one whose token and wallet are cached touches no network; the core's
  remembered answer for such a request is a dict lookup, so its account is attached as it
  is, not behind a lazy object). It is a
  :class:`~focus_middleware.models.FocusAccount`, or a falsy
  :class:`~django_focus.request.AnonymousFocusAccount` whose ``reason`` says why, never
  None (a lazy object cannot be ``None``): test it with ``if request.focus_account:`` or
  ``.is_authenticated``. Async code awaits ``request.afocus_account()``, like
  ``request.auser()``.
- Responses get ``Vary: Cookie, Authorization``, and ``Cache-Control: private`` when the
  request presented credentials (the core's rule).
- A paid view's job is settled once its response is over (:mod:`django_focus.paid`), and a
  user's kept settlements are delivered after any later request of theirs whose account
  was resolved.

**CSRF.** The core's endpoints are answered before Django's view layer, so
``CsrfViewMiddleware`` (whose check runs on the view) never sees them and no
``csrf_exempt`` is involved: they carry their own protection. The refresh endpoint answers
only same-origin requests (``Sec-Fetch-Site`` or an exact ``Origin``) that carry the custom
header ``X-Focus-Refresh: 1``, which no cross-origin page can send without a CORS preflight
that is never granted; sign-out is POST only and same-origin only (a form with or without
``{% csrf_token %}`` works). Your own views keep Django's CSRF protection as usual: a
paid POST from a form needs its token like any other POST, and the core adds its own
same-origin rule for every cookie-authenticated paid call (GET included). An API view
called with a bearer token only may be ``csrf_exempt``: a bearer token is not sent by a
browser on its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import NamedTuple

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from focus_middleware import events
from focus_middleware.facts import RequestFacts, presents_credentials
from focus_middleware.request_plan import (
    PROCEED_ANONYMOUS,
    Proceed,
    RequestPlan,
    Respond,
    cache_headers,
    may_answer_up_front,
    quick_proceed,
    request_plan,
    up_front,
)
from focus_middleware.shutdown import install_signal_handlers

from django_focus.lazy_account import LazyAccount
from django_focus.paid import asettle_now, settle_after, settle_now
from django_focus.request import (
    CONTEXT_ATTR,
    AnonymousFocusAccount,
    FocusContext,
    facts_from_request,
    remembered,
    run_async,
    run_sync,
    to_response,
)
from django_focus.runtime import FocusRuntime, get_runtime

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class FocusMiddleware:
    """See the module docstring."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AGetResponse) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
        # Django's handlers build their middleware when the WSGI/ASGI module is imported, in
        # the main thread before the server starts: the moment to catch SIGTERM for servers
        # that run no shutdown hook (Django refuses the ASGI lifespan protocol).
        config = get_runtime().config
        if config.handle_signals:
            install_signal_handlers(config.shutdown_timeout)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self._async:
            return self.__acall__(request)
        # The proxy's or client's request id (Django has none of its own) on this request's
        # events; not on a streamed answer's, settled as the server iterates it afterwards.
        mark = events.enter_request(request.META.get("HTTP_X_REQUEST_ID")) if events.active else None
        try:
            begun = _begin(request)
            if isinstance(begun, FocusContext):
                ctx = begun
            else:
                answered = _after_plan(request, begun, run_sync(begun.plan, request, begun.runtime))
                if not isinstance(answered, FocusContext):
                    return answered  # the core answered
                ctx = answered
            get_response: GetResponse = self.get_response  # type: ignore[assignment]
            try:
                response = get_response(request)
            except BaseException as exc:
                settle_now(ctx, exc)
                raise
            return _finish(ctx, response, in_loop=False)
        finally:
            if mark is not None:
                events.leave_request(mark)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        mark = events.enter_request(request.META.get("HTTP_X_REQUEST_ID")) if events.active else None
        try:
            begun = _begin(request)
            if isinstance(begun, FocusContext):
                ctx = begun
            else:
                answered = _after_plan(request, begun, await run_async(begun.plan, request, begun.runtime))
                if not isinstance(answered, FocusContext):
                    return answered  # the core answered
                ctx = answered
            get_response: AGetResponse = self.get_response  # type: ignore[assignment]
            try:
                response = await get_response(request)
            except BaseException as exc:  # CancelledError included: the client left mid-view
                await asettle_now(ctx, exc)
                raise
            return _finish(ctx, response, in_loop=True)
        finally:
            if mark is not None:
                events.leave_request(mark)


class _UpFront(NamedTuple):
    """A request the core may answer itself (one of its paths, a return trip): the plan to
    run before the view, and what it needs."""

    runtime: FocusRuntime
    facts: RequestFacts
    plan: RequestPlan


def _begin(request: HttpRequest) -> FocusContext | _UpFront:
    """The request's context, attached, with the verdict if it is known now (no
    credentials: anonymous; else resolved when something asks for it); or, for a request
    the core may answer itself, the plan to run first. Read from the raw ``META``: most
    requests are none of ours, and need no facts."""
    runtime = get_runtime()
    # The fast path first: a remembered credential's answer, or anonymous without any, known
    # from the raw request, which rules out our paths and parameters on the way. Known now,
    # the account needs no lazy object (whose every use goes through Django's Python-level
    # __getattribute__).
    known = remembered(request, runtime)
    if known is not None:
        return _attach(request, None, runtime, known)
    meta = request.META
    query = meta.get("QUERY_STRING", "")
    if may_answer_up_front(request.path_info, query):
        facts = facts_from_request(request, runtime)
        proceed = quick_proceed(facts)
        if proceed is None and up_front(facts, runtime.config):
            return _UpFront(runtime, facts, request_plan(runtime.core, facts))
        return _attach(request, facts, runtime, proceed)
    if presents_credentials(meta.get("HTTP_AUTHORIZATION"), meta.get("HTTP_COOKIE"), query):
        return _attach(request, None, runtime, None)  # the plan answers, if something reads it
    return _attach(request, None, runtime, PROCEED_ANONYMOUS)


def _after_plan(request: HttpRequest, up: _UpFront, verdict: Respond | Proceed) -> FocusContext | HttpResponse:
    """The core's answer as Django's response (its endpoints, a return trip), or the
    request's context attached with the plan's verdict."""
    if isinstance(verdict, Respond):
        return to_response(verdict.response, up.facts, up.runtime)
    return _attach(request, up.facts, up.runtime, verdict)


def _attach(request: HttpRequest, facts: RequestFacts | None, runtime: FocusRuntime,
            verdict: Proceed | None) -> FocusContext:
    """The request's context, attached, with the verdict if known (else resolved on first use)."""
    ctx = FocusContext(request, facts, runtime, verdict)
    setattr(request, CONTEXT_ATTR, ctx)
    # A verdict known now (anonymous, or remembered) needs no lazy object: the account is what
    # it would hold.
    request.focus_account = (  # type: ignore[attr-defined]
        LazyAccount(ctx.account) if verdict is None else verdict.account or AnonymousFocusAccount(verdict.reason))
    request.afocus_account = ctx.aaccount  # type: ignore[attr-defined]
    return ctx


def _header_store(vary: str, cache_control: str | None) -> dict[str, tuple[str, str]]:
    """:func:`~focus_middleware.request_plan.cache_headers`' answer as entries of Django's
    header store (see :func:`_finish`)."""
    store = {"vary": ("Vary", vary)}
    if cache_control is not None:
        store["cache-control"] = ("Cache-Control", cache_control)
    return store


# The core's Vary and Cache-Control for a response that set neither, as Django stores them,
# by whether the request presented credentials.
_CACHE_HEADERS_ALONE = {credentialed: _header_store(*cache_headers(None, None, credentialed=credentialed))
                        for credentialed in (False, True)}


def _finish(ctx: FocusContext, response: HttpResponseBase, *, in_loop: bool) -> HttpResponseBase:
    """The response with the core's ``Vary`` and ``Cache-Control``
    (:func:`~focus_middleware.request_plan.cache_headers`) merged into its own, its paid
    job (if any) settled once it is over, and the user's kept settlements delivered after.

    The headers are read and written in Django's header store itself (``ResponseHeaders.
    _store``: lower-case name to ``(name, value)``): ``headers.get`` raises and catches a
    ``KeyError`` for each header the app did not set (most responses set neither), and
    ``headers[...] =`` checks again what is already checked (the app's values, validated
    when it set them, joined with header names of ours). Through the public mapping the
    two headers cost as much as the rest of the hot path together (issue 22)."""
    store = response.headers._store
    proceed = ctx.proceed
    credentialed = proceed.credentialed if proceed is not None else ctx.credentialed
    if "vary" not in store and "cache-control" not in store:  # most responses: the core's answer is known
        store.update(_CACHE_HEADERS_ALONE[credentialed])
    else:
        app_vary = store.get("vary")
        app_cache_control = store.get("cache-control")
        store.update(_header_store(*cache_headers(app_vary[1] if app_vary is not None else None,
                                                  app_cache_control[1] if app_cache_control is not None else None,
                                                  credentialed=credentialed)))
    if ctx.open_job is not None:
        settle_after(ctx, response, in_loop=in_loop)
    if proceed is not None and proceed.credentialed:
        jobs = ctx.runtime.jobs
        due = jobs.due_for_retry(proceed.outcome)
        if due is not None:
            # After the response went out (close()), so the user does not wait for it.
            deliver = partial(events.in_request, events.request_id_to_keep(),
                              partial(jobs.retry_pending, due.account.clerk_id, due.credential))
            response._resource_closers.append(deliver)  # type: ignore[attr-defined]
    return response


__all__ = ["FocusMiddleware"]
