"""Translating between Django and the core: ``HttpRequest`` → ``RequestFacts``, the core's
``ResponseSpec`` → ``HttpResponse``, and the per-request :class:`FocusContext`.

**Where URLs come from.** Every URL the core emits (the sign-in ``redirect_to``, the clean
URL after a return trip, sign-out's default target, the purchase link) is built from the
app's public origin:

- ``FOCUS["public_origin"]`` when set: the recommended production setting.
- Otherwise ``request.scheme`` and ``request.get_host()``: Django's own answer, which
  honours ``SECURE_PROXY_SSL_HEADER`` and ``USE_X_FORWARDED_HOST`` and validates the host
  against ``ALLOWED_HOSTS`` (a host it does not list is Django's 400, never a URL of ours).
  ``ALLOWED_HOSTS = ["*"]`` validates nothing, so then no host is taken from the request:
  the core falls back to ``localhost`` and the system check ``django_focus.E006`` asks for
  ``public_origin``. A forged ``Host`` can therefore never steer where a sign-in returns.

Every redirect to this app that the core decides is checked once more the Django way
(``url_has_allowed_host_and_scheme`` against the public origin's host) before it leaves.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import (
    DisallowedRedirect,
    ImproperlyConfigured,
    RequestDataTooBig,
    SynchronousOnlyOperation,
)
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.http import url_has_allowed_host_and_scheme

from focus_middleware.facts import RequestFacts, parse_cookie_header, presents_credentials
from focus_middleware.fast_path import cached_proceed, remember
from focus_middleware.models import FocusAccount
from focus_middleware.responses import InsufficientCredits, ResponseSpec, public_origin
from focus_middleware.request_plan import Proceed, Reason, Respond, RequestPlan, account_plan, adrive, drive

from django_focus import pages
from django_focus.preserve import resolve as keep_form

if TYPE_CHECKING:
    from focus_middleware.resolver import Effect

    from django_focus.paid import OpenJob
    from django_focus.runtime import FocusRuntime

CONTEXT_ATTR = "_focus"


# -- the request ------------------------------------------------------------------------------


class MetaHeaders(Mapping[str, str]):
    """``request.META``'s HTTP headers under lower-case names, read on demand: the core
    looks at a handful of headers, so none are copied."""

    __slots__ = ("_meta",)

    def __init__(self, meta: Mapping[str, Any]) -> None:
        self._meta = meta

    @staticmethod
    def _key(name: str) -> str:
        key = name.upper().replace("-", "_")
        return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key

    def __getitem__(self, name: str) -> str:
        value = self._meta[self._key(name)]
        if not isinstance(value, str):
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        value = self._meta.get(self._key(name))
        return value if isinstance(value, str) else default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and isinstance(self._meta.get(self._key(name)), str)

    def __iter__(self) -> Iterator[str]:
        for key in self._meta:
            if key.startswith("HTTP_"):
                yield key[5:].lower().replace("_", "-")
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                yield key.lower().replace("_", "-")

    def __len__(self) -> int:
        return sum(1 for _ in self)


def trusted_host(request: HttpRequest) -> str | None:
    """The request's host if ``ALLOWED_HOSTS`` vouches for it (see the module docstring)."""
    if "*" in settings.ALLOWED_HOSTS:
        return None
    return request.get_host()


def facts_from_request(request: HttpRequest, runtime: FocusRuntime) -> RequestFacts:
    """The core's view of a Django request. ``path`` excludes ``SCRIPT_NAME``, kept apart
    in ``root_path`` like ASGI's ``root_path``."""
    meta = request.META
    path_info = request.path_info or "/"
    full = request.path
    root = full[: len(full) - len(path_info)] if full.endswith(path_info) else ""
    host = None if runtime.config.public_origin is not None else trusted_host(request)
    return RequestFacts(
        method=request.method or "GET",
        path=path_info,
        query_string=meta.get("QUERY_STRING", ""),
        headers=MetaHeaders(meta),
        cookies=parse_cookie_header(meta.get("HTTP_COOKIE")),
        root_path=root,
        scheme=request.scheme or "http",
        host=host,
        client_addr=meta.get("REMOTE_ADDR"),
    )


def read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The body for the core's own endpoints, or None past ``limit``. Read through
    ``request.body`` so it stays readable by anyone after us."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return None if len(body) > limit else body


# -- the response -----------------------------------------------------------------------------


def to_response(spec: ResponseSpec, facts: RequestFacts | None = None, runtime: FocusRuntime | None = None) -> HttpResponse:
    """The one place a core response becomes a Django one (every header, every cookie)."""
    response = HttpResponse(spec.body, status=spec.status)
    for name, value in spec.headers:
        if name == "location" and facts is not None and runtime is not None:
            _check_redirect(value, facts, runtime)
        response[name] = value
    if not any(name == "content-type" for name, _ in spec.headers):
        del response["Content-Type"]
    for raw in spec.set_cookies:
        set_core_cookie(response, raw)
    return response


def _check_redirect(location: str, facts: RequestFacts, runtime: FocusRuntime) -> None:
    """A redirect to this app must pass Django's own test; redirects to Focus (sign-in,
    billing) go to the configured service."""
    config = runtime.config
    if location.startswith((f"{config.signin_url}?", f"{config.purchase_url}?")):
        return
    origin = public_origin(facts, config)
    host = urlsplit(origin).netloc
    if not url_has_allowed_host_and_scheme(location, allowed_hosts={host}, require_https=origin.startswith("https:")):
        raise DisallowedRedirect("focus: refused to redirect outside this app")


def set_core_cookie(response: HttpResponseBase, raw: str) -> None:
    """A core ``Set-Cookie`` value into ``response.cookies`` (Django's handlers and test
    client read cookies only from there)."""
    first, *attributes = (part.strip() for part in raw.split(";"))
    name, _, value = first.partition("=")
    response.cookies[name] = value
    morsel = response.cookies[name]
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        key = key.lower()
        if key in ("httponly", "secure"):
            morsel[key] = True
        elif key in ("path", "max-age", "expires", "samesite", "domain"):
            morsel[key] = val


# -- the account as views see it ---------------------------------------------------------------


class AnonymousFocusAccount:
    """``request.focus_account`` without a usable account, like Django's ``AnonymousUser``:
    falsy, ``is_authenticated`` False, and ``reason`` saying why (``"unavailable"`` means
    Focus could not be asked: not the same as signed out)."""

    __slots__ = ("reason",)
    is_authenticated = False
    credits = 0
    clerk_id = ""

    def __init__(self, reason: Reason = "anonymous") -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousFocusAccount) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)

    def __repr__(self) -> str:
        return f"AnonymousFocusAccount(reason={self.reason!r})"


AccountView: TypeAlias = FocusAccount | AnonymousFocusAccount


# -- the per-request context --------------------------------------------------------------------


def remembered(request: HttpRequest, runtime: FocusRuntime) -> Proceed | None:
    """The core's remembered answer for this request (:mod:`focus_middleware.fast_path`),
    from the raw request: a dict lookup, no I/O (None: the plan must answer). ``request.path``
    holds ``SCRIPT_NAME``, as the fast path wants."""
    meta = request.META
    return cached_proceed(runtime.core, request.method or "GET", request.path, meta.get("QUERY_STRING", ""),
                          meta.get("HTTP_AUTHORIZATION"), meta.get("HTTP_COOKIE"))


class FocusContext:
    """What the middleware knows about one request (``request._focus``).

    ``proceed`` is the core's verdict once resolved: the middleware resolves it up front
    only when the core answers the request itself (its endpoints, a return trip); otherwise
    on first use (``request.focus_account``, ``await request.afocus_account()``, a guard),
    from the core's remembered answers when it has one (:mod:`focus_middleware.fast_path`),
    else by the account plan. ``facts`` are built on first use too: most requests need
    none.

    The request holds its context (``request._focus``), the context holds the request only
    weakly: a strong link back made a reference cycle per request, left for the cyclic
    garbage collector to find. Code that keeps the request after the response keeps its
    context with it; code that keeps only the context gets a clear error from ``request``.
    """

    __slots__ = ("_facts", "_request", "runtime", "proceed", "open_job", "__weakref__")

    def __init__(self, request: HttpRequest, facts: RequestFacts | None, runtime: FocusRuntime,
                 proceed: Proceed | None) -> None:
        self._request = weakref.ref(request)
        self._facts = facts
        self.runtime = runtime
        self.proceed = proceed
        self.open_job: OpenJob | None = None

    @property
    def request(self) -> HttpRequest:
        request = self._request()
        if request is None:
            raise RuntimeError("focus: the request of this FocusContext is gone (keep the request, not only "
                               "its context, to use it after the response)")
        return request

    @property
    def facts(self) -> RequestFacts:
        """The core's view of the request, built on first use."""
        facts = self._facts
        if facts is None:
            facts = self._facts = facts_from_request(self.request, self.runtime)
        return facts

    @property
    def credentialed(self) -> bool:
        """Whether the request presented any credential (its response is then private):
        :attr:`RequestFacts.has_credentials`, without building the facts."""
        proceed = self.proceed
        if proceed is not None:
            return proceed.credentialed
        facts = self._facts
        if facts is not None:
            return facts.has_credentials
        meta = self.request.META
        cookie = meta.get("HTTP_COOKIE")
        if presents_credentials(meta.get("HTTP_AUTHORIZATION"), None, meta.get("QUERY_STRING", "")):
            return True
        return bool(cookie) and bool(parse_cookie_header(cookie))  # as the facts parse it

    # -- resolving -------------------------------------------------------------------------

    def resolve(self) -> Proceed:
        """The verdict, resolved with blocking I/O if it is not known yet. Inside a running
        event loop a cache miss raises ``SynchronousOnlyOperation`` (use ``await
        request.afocus_account()`` there): blocking the loop would stall every request."""
        proceed = self.proceed
        if proceed is None:
            proceed = self._remembered()
            if proceed is None:
                core, facts = self.runtime.core, self.facts
                proceed = drive(account_plan(core, facts), self._perform_outside_loop)
                remember(core, facts, proceed)
            self.proceed = proceed
        return proceed

    async def aresolve(self) -> Proceed:
        proceed = self.proceed
        if proceed is None:
            proceed = self._remembered()
            if proceed is None:
                core, facts = self.runtime.core, self.facts
                proceed = await adrive(account_plan(core, facts), _perform_in_thread(self.runtime))
                remember(core, facts, proceed)
            self.proceed = proceed
        return proceed

    def _remembered(self) -> Proceed | None:
        return remembered(self.request, self.runtime)

    def _perform_outside_loop(self, effect: Effect) -> object:
        if _in_event_loop():
            raise SynchronousOnlyOperation(
                "request.focus_account needs to ask Focus, which would block the event loop: "
                "use `await request.afocus_account()` in async code"
            )
        return self.runtime.resolver.perform(effect)

    def account(self) -> AccountView:
        proceed = self.resolve()
        return proceed.account or AnonymousFocusAccount(proceed.reason)

    async def aaccount(self) -> AccountView:
        proceed = await self.aresolve()
        return proceed.account or AnonymousFocusAccount(proceed.reason)

    # -- responding --------------------------------------------------------------------------

    def respond(self, spec: ResponseSpec) -> HttpResponse:
        # The refusal of a form post keeps the form (focus_middleware.preserve).
        return to_response(keep_form(spec, self.request), self.facts, self.runtime)

    def insufficient_credits_page(self, info: InsufficientCredits) -> str:
        """The 402 page for this request (see :mod:`django_focus.pages`)."""
        return pages.insufficient_credits_page(info, self.request)


def focus_context(request: HttpRequest) -> FocusContext:
    """The request's :class:`FocusContext`; a clear error when the middleware is missing."""
    ctx = getattr(request, CONTEXT_ATTR, None)
    if not isinstance(ctx, FocusContext):
        raise ImproperlyConfigured(
            "django_focus.middleware.FocusMiddleware is not in MIDDLEWARE (or this request did not pass through it)"
        )
    return ctx


# -- driving core plans -------------------------------------------------------------------------


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _perform_in_thread(runtime: FocusRuntime) -> Callable[[Effect], Awaitable[object]]:
    """The blocking resolver's effects from async code, each (a cache miss) in a worker thread."""
    return sync_to_async(runtime.resolver.perform, thread_sensitive=False)


def run_sync(plan: RequestPlan, request: HttpRequest, runtime: FocusRuntime) -> Respond | Proceed:
    """Drive a core plan with blocking I/O: body reads from the request, the rest by the
    resolver."""
    return drive(plan, runtime.resolver.perform, partial(read_body, request))


async def run_async(plan: RequestPlan, request: HttpRequest, runtime: FocusRuntime) -> Respond | Proceed:
    """Drive a core plan from async code: inline while it needs nothing (the hot path),
    and each effect (a cache miss) in a worker thread."""

    async def read(limit: int) -> bytes | None:
        return read_body(request, limit)

    return await adrive(plan, _perform_in_thread(runtime), read)


__all__ = [
    "AnonymousFocusAccount",
    "FocusContext",
    "MetaHeaders",
    "facts_from_request",
    "focus_context",
    "read_body",
    "remembered",
    "run_async",
    "run_sync",
    "set_core_cookie",
    "to_response",
    "trusted_host",
]
