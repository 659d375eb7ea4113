"""The ASGI adapter: Starlette and FastAPI apps on Focus.

``FocusMiddleware`` is pure ASGI, not ``BaseHTTPMiddleware`` (which runs the app in a
separate task: context variables set by the app do not come back, cancellation and
streaming get harder to reason about, and every request pays for a task and a memory
stream). It translates the scope into
:class:`~focus_middleware.facts.RequestFacts`, drives the core's
:func:`~focus_middleware.request_plan.request_plan`, and either sends the response the core
decided (its own endpoints, the sign-in return trip) or attaches the outcome and calls the
app. It never reads a body it passes on, and never buffers a response.

Where the account appears (``docs/architecture.md``), as Starlette's ``AuthenticationMiddleware``
fills them:

- ``request.state.focus_account``: the :class:`~focus_middleware.models.FocusAccount`, or
  None;
- ``request.user``: :class:`FocusUser` (``is_authenticated`` True, ``.account``) or
  :class:`AnonymousFocusUser` (``.reason`` says why: anonymous, expired, rejected,
  unavailable, cross_origin), both Starlette ``BaseUser``\\ s;
- ``request.auth``: ``AuthCredentials(["authenticated"])`` or empty, so Starlette's own
  ``requires("authenticated")`` works too;
- ``scope["focus"]``: the :class:`FocusContext` the guards (and paid jobs) work from.

Paid jobs (``focus_middleware.asgi.paid_endpoints``, the FastAPI ``PaidJob`` dependency) are opened inside
the app and settled here, by the outermost wrapper, once the response is over: see
:class:`Finish`. The middleware also delivers a user's kept settlements after any of their
requests, and drains what is left at lifespan shutdown (``atexit`` covers servers that
run no lifespan: :mod:`focus_middleware.jobs`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import anyio
from starlette.authentication import AuthCredentials, BaseUser
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from focus_middleware import events
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts, parse_cookie_header
from focus_middleware.fast_path import remember, scope_proceed
from focus_middleware.jobs import AsyncPaidJobs, UndeliveredHook
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import Authenticated
from focus_middleware.pages import template_page
from focus_middleware.resolver import AsyncResolver, config_of
from focus_middleware.asgi.preserve import KeepingResponse, keep_body
from focus_middleware.preserve import may_bounce_form
from focus_middleware.responses import InsufficientCreditsPage, ResponseSpec
from focus_middleware.request_plan import (
    Proceed,
    ProceedView,
    Reason,
    Respond,
    adrive,
    header_names,
    quick_proceed,
    request_plan,
    with_cache_headers,
)
from focus_middleware.sessions import clear_session_cookies
from focus_middleware.shielding import shielded
from focus_middleware.shutdown import install_signal_handlers
from focus_middleware.urls import scrubbed_return_trip_query

if TYPE_CHECKING:
    from focus_middleware.paid_request import PaidRequest

logger = logging.getLogger("focus_middleware")

SCOPE_KEY = "focus"
"""``scope["focus"]``: the request's :class:`FocusContext`."""


# -- user objects -----------------------------------------------------------------------------


class FocusUser(BaseUser):
    """``request.user`` for a request with a Focus account."""

    __slots__ = ("account",)

    def __init__(self, account: FocusAccount) -> None:
        self.account = account

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.account.display_name

    @property
    def identity(self) -> str:
        return self.account.identity

    def __repr__(self) -> str:
        return f"FocusUser({self.account!r})"


class AnonymousFocusUser(BaseUser):
    """``request.user`` without a usable account; ``reason`` tells an unprotected page why
    (``"unavailable"`` means Focus could not be asked: not the same as signed out)."""

    __slots__ = ("reason",)
    account: FocusAccount | None = None

    def __init__(self, reason: Reason = "anonymous") -> None:
        self.reason = reason

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""

    @property
    def identity(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"AnonymousFocusUser(reason={self.reason!r})"


class _SignedInCredentials(AuthCredentials):
    """``request.auth`` of a request with an account: Starlette's ``AuthCredentials(
    ["authenticated"])``, whose list is made when first read (most requests never read it;
    made per request all the same, since an app may change its own). Half the cost."""

    __init__ = object.__init__  # Starlette's builds the list at once

    @cached_property
    def scopes(self) -> list[str]:  # type: ignore[override]  # mypy: "read-only"; it is writable
        return ["authenticated"]


class _AnonymousCredentials(AuthCredentials):
    """``request.auth`` without an account: ``AuthCredentials()``, made as lazily."""

    __init__ = object.__init__

    @cached_property
    def scopes(self) -> list[str]:  # type: ignore[override]  # mypy: "read-only"; it is writable
        return []


# -- the per-request context -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finish:
    """How a response ended, for code that must act after it (settling a paid job):
    ``status`` sent (None if the app never started a response), whether the last body
    chunk went out to a client that was still there, and the exception the app raised, if
    any (cancellation included)."""

    status: int | None
    complete: bool
    error: BaseException | None


FinishHook = Callable[[Finish], Awaitable[None]]


class FocusContext(ProceedView):
    """What the middleware knows about one request, at ``scope["focus"]``.

    Guards read ``outcome`` (the resolver's verdict, before any downgrade) and ``facts``.
    Code that must run once the response is over (a paid job's settlement) registers with
    :meth:`on_finish`: the middleware, the outermost wrapper, calls it with the
    :class:`Finish`, shielded from cancellation.

    It is also the request's run of the app: the ``receive`` and ``send`` the app is given
    are its (private) bound methods, which add the cache headers to the answer, notice the
    client leaving and report a paid answer's progress to its
    :class:`~focus_middleware.paid_request.PaidRequest`. One object per request, and none
    pointing back at it; once the app has returned it lets go of the server's ``receive``
    and ``send`` too (a server's request state holds the scope, which holds this): a
    request leaves nothing for the cyclic garbage collector, under a real server as in a
    test (``tests/servers/test_asgi_cycles.py``).
    """

    __slots__ = ("_answered", "_finish_hooks", "_inbox", "_length", "_receive", "_scope", "_send",
                 "_stash", "complete", "disconnected", "known_facts", "middleware", "paid", "proceed", "status")

    def __init__(self, scope: Scope, proceed: Proceed, middleware: FocusMiddleware,
                 known_facts: RequestFacts | None = None, receive: Receive | None = None,
                 send: Send | None = None) -> None:
        """The context of the request of ``scope``, attached to it (see the module docstring
        for where), with the account ``proceed`` gives; ``receive`` and ``send`` are the
        server's, for the app's run."""
        self.known_facts = known_facts
        """The facts, once built (a request answered by the fast path builds them on first use)."""
        self._scope = dict(scope) if known_facts is None else None
        """A copy of the scope as it came in (routing changes the scope itself), for the facts."""
        self.proceed = proceed
        self.middleware = middleware
        self.status: int | None = None
        """The answer's status, once the app started it."""
        self.complete = False
        """Whether the answer's last byte went out to a client that was still there."""
        self.disconnected = False
        self.paid: PaidRequest | None = None
        """The request's paid work, once a paid guard opened it: the middleware reports to it."""
        self._finish_hooks: list[FinishHook] | None = None
        self._receive = receive
        self._send = send
        self._stash: list[Message] | None = None
        """A request message a disconnect poll took, for the app's next read (rarely any)."""
        self._inbox: _Inbox | None = None
        # The last message was handed to the server: a disconnect from now on is the answer's
        # end. hypercorn reports it while that very send runs, to a receive the app awaited
        # before the response started (Starlette's listen_for_disconnect, on spec < 2.4).
        self._answered = False
        self._length: int | None = None  # the answer's Content-Length, counted down as it goes out
        # Attached here rather than by a function of the middleware's: a call less on every request.
        account = proceed.account
        scope[SCOPE_KEY] = self
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["focus_account"] = account
        if account is not None:
            scope["user"] = FocusUser(account)
            scope["auth"] = _SignedInCredentials()
        else:
            scope["user"] = AnonymousFocusUser(proceed.reason)
            scope["auth"] = _AnonymousCredentials()

    def __repr__(self) -> str:
        return f"FocusContext({self.proceed.reason}, status={self.status})"

    @property
    def facts(self) -> RequestFacts:
        facts = self.known_facts
        if facts is None:
            assert self._scope is not None
            facts = self.known_facts = facts_from_scope(self._scope)
        return facts

    @property
    def config(self) -> FocusConfig:
        return self.middleware.config

    @property
    def resolver(self) -> AsyncResolver:
        return self.middleware.resolver

    def on_finish(self, hook: FinishHook) -> None:
        if self._finish_hooks is None:
            self._finish_hooks = []
        self._finish_hooks.append(hook)

    def watch_client(self) -> None:
        """Paid work begins: listen for the client leaving from now on, not only once the
        answer starts. A server that hands ``http.disconnect`` over from another thread
        (Granian) may not get it to us between the answer's start and its last chunk."""
        if self._inbox is None and not self._answered and self._receive is not None:
            self._inbox = _Inbox.listening(self._receive, self._stash, self)
            if self._inbox is not None:
                self._stash = None  # the inbox holds them now

    def client_left(self) -> None:
        """The server said the client went away (``http.disconnect``, a failed send)."""
        self.disconnected = True
        if self.paid is not None:
            self.paid.client_left()

    # -- the app's run ---------------------------------------------------------------------------

    async def _end(self, error: BaseException | None) -> None:
        """The app returned, or raised ``error``, and something watched its answer: stop
        listening, run the finish hooks, let go of the server's ``receive`` and ``send``."""
        try:
            inbox, self._inbox = self._inbox, None  # the listener points back here: no cycle kept
            if inbox is not None:
                inbox.stop()
            if self._finish_hooks:
                await _run_finish_hooks(self, Finish(self.status, self.complete, error))
        finally:
            # A server's receive and send are bound methods of its request's state, which
            # holds the scope, which holds this context: let go of them, or every request
            # under uvicorn or hypercorn is a reference cycle, left for the collector.
            self._receive = self._send = None

    async def _app_receive(self) -> Message:
        if self._inbox is not None:
            return await self._inbox.receive()
        receive = self._receive
        if receive is None:
            return {"type": "http.disconnect"}  # the answer is over, as servers then say
        stash = self._stash
        message = stash.pop() if stash else await receive()
        if message["type"] == "http.disconnect" and not self._answered:
            self.client_left()
        return message

    def _app_send(self, message: Message) -> Awaitable[None]:
        """The app's ``send``: a plain function returning what the app awaits, so an answer
        with nothing to watch (no paid job, no finish hook) goes to the server's ``send``
        without a coroutine of ours in between."""
        send = self._send
        if send is None:
            raise RuntimeError("this request's response is over: nothing more can be sent")
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.paid is not None:
                return self._start_paid(message)
            # dict(message, headers=...): a third less than {**message, "headers": ...}, which builds two.
            return send(dict(message, headers=with_cache_headers(message.get("headers", ()), _CACHE_HEADER_NAMES,
                                                                 self.proceed.credentialed)))
        if self.paid is None and not self._finish_hooks:
            return send(message)
        return self._send_watched(message)

    async def _start_paid(self, message: Message) -> None:
        assert self.paid is not None and self.status is not None and self._send is not None
        self.paid.response_started(self.status)
        self._length = _content_length(message.get("headers", ()))
        # Watch for the client leaving while the paid answer is under way: the app may
        # never call receive (Starlette's StreamingResponse does).
        self.watch_client()
        await self._send(dict(message, headers=with_cache_headers(message.get("headers", ()), _CACHE_HEADER_NAMES,
                                                                  self.proceed.credentialed)))

    async def _send_watched(self, message: Message) -> None:
        """A body message of an answer whose end matters: a paid one (did the client get
        all of it?) or one with finish hooks."""
        assert self._send is not None
        kind = message["type"]
        paid = self.paid
        if paid is not None and paid.delivery == "finished":
            # Every byte the client was told of went out (the empty last message of a
            # FileResponse whose size is a multiple of its chunk): a client that has all
            # of it may close already, and nothing here can take the answer back.
            try:
                await self._send(message)
            except (OSError, ClientDisconnect):
                pass
        elif kind == "http.response.body" and (not message.get("more_body", False) or self._length is not None and
                                              self._length - len(message.get("body", b"")) <= 0):
            await self._send_last(message)
            if paid is not None:
                paid.body_finished()
        elif kind in _FILE_SENDS:
            await self._send_last(message)
            if paid is not None:
                paid.file_sent()
        else:
            if kind == "http.response.body" and self._length is not None:
                self._length -= len(message.get("body", b""))
            await _send_noticing_departure(self._send, message, self)

    async def _send_last(self, message: Message) -> None:
        """The answer's last message: sent only to a client still there, as far as the
        server knows (a refunded paid answer is not sent at all)."""
        assert self._send is not None and self._receive is not None
        paid = self.paid
        if paid is not None and not paid.may_deliver():
            raise ConnectionAbortedError("the paid job was refunded at shutdown")
        # Servers may drop what is sent to a client that left without saying so: learn
        # what the server already knows before counting the answer delivered.
        inbox = self._inbox
        if inbox is not None:
            await inbox.catch_up()
            # From here a disconnect is the answer's end, which servers report too (uvicorn
            # and hypercorn while this very send runs): a client that left now shows as a
            # failed send.
            inbox.stop()
        elif not self.disconnected and message["type"] == "http.response.body":
            await _poll_disconnect(self._receive, self)
        self._answered = True
        await _send_noticing_departure(self._send, message, self)
        self.complete = not self.disconnected


class FocusRefusal(Exception):
    """Raised by code that cannot return a response (a FastAPI dependency) to have the
    middleware send the core's refusal instead of the app's answer: the same status, body,
    headers and cookies a decorator would return. Only before the response has started."""

    def __init__(self, response: ResponseSpec) -> None:
        super().__init__(f"Focus refused the request ({response.status})")
        self.response = response


def focus_context(conn: HTTPConnection | Scope) -> FocusContext:
    """The request's :class:`FocusContext`; a clear error when the middleware is missing."""
    # Not isinstance(conn, HTTPConnection): a Mapping, so that check goes through the ABC
    # machinery, on every guarded request.
    scope: Any = getattr(conn, "scope", conn)  # no typing.cast: a call on every guarded request
    ctx = scope.get(SCOPE_KEY)
    if not isinstance(ctx, FocusContext):
        raise RuntimeError("FocusMiddleware is not installed: add it with app.add_middleware(FocusMiddleware, config=...)")
    return ctx


# -- translating in: scope -> facts --------------------------------------------------------------


_DEFAULT_PORTS = {"http": 80, "https": 443}


def facts_from_scope(scope: Scope) -> RequestFacts:
    """The core's view of an HTTP or WebSocket scope.

    ``host`` is the server's own address (``scope["server"]``), never the ``Host`` header:
    URLs are built from the configured public origin, or a trusted proxy's headers.
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            value = headers[name] + ("; " if name == "cookie" else ", ") + value
        headers[name] = value
    scheme = scope.get("scheme", "http")
    if scheme == "ws":
        scheme = "http"
    elif scheme == "wss":
        scheme = "https"
    root_path: str = scope.get("root_path", "")
    path: str = scope.get("path", "/")
    if root_path and path.startswith(root_path) and (len(path) == len(root_path) or path[len(root_path)] == "/"):
        path = path[len(root_path):] or "/"
    server = scope.get("server")
    host = None
    if server:
        address, port = server[0], server[1]
        if ":" in address:
            address = f"[{address}]"
        host = address if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{address}:{port}"
    client = scope.get("client")
    return RequestFacts(
        method=scope.get("method", "GET"),
        path=path,
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        cookies=parse_cookie_header(headers.get("cookie")),
        root_path=root_path,
        scheme=scheme,
        host=host,
        client_addr=client[0] if client else None,
    )


# -- translating out: ResponseSpec -> Response ---------------------------------------------------


def to_response(spec: ResponseSpec) -> Response:
    """The one place a core response becomes a Starlette one (every header, every cookie)."""
    if spec.keep_form is not None:
        return KeepingResponse(spec.keep_form, to_response)
    response = Response(spec.body, status_code=spec.status)
    raw = response.raw_headers
    raw.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in spec.headers)
    raw.extend((b"set-cookie", cookie.encode("latin-1")) for cookie in spec.set_cookies)
    return response


def clear_focus_session(response: Response, conn: HTTPConnection) -> Response:
    """Add the ``Set-Cookie`` headers that sign this browser out of the app (for an app's
    own sign-out view; ``POST /_focus/signout`` does the same)."""
    ctx = focus_context(conn)
    for cookie in clear_session_cookies(ctx.facts, ctx.config):
        response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
    return response


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``limit`` (only the middleware's own
    endpoints read a body, and only a small one)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client went away
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


# -- the middleware -------------------------------------------------------------------------------


_CACHE_HEADER_NAMES = header_names(b"vary", b"cache-control")


class FocusMiddleware:
    """Every request knows its Focus account; see the module docstring.

    ``config`` defaults to ``FocusConfig.from_env()``; ``resolver`` to an
    :class:`~focus_middleware.resolver.AsyncResolver` of that config (pass one to share its
    caches). ``insufficient_credits_page`` replaces the 402 HTML page: a callable taking
    :class:`~focus_middleware.responses.InsufficientCredits` and returning HTML (escape what
    you print), or template text (``$action``, ``$required``, ``$available``,
    ``$purchase_url``, escaped for you). ``on_undelivered`` is called with each paid-job
    settlement Focus could not take yet (kept and retried; see :mod:`focus_middleware.jobs`).
    """

    def __init__(
        self,
        app: ASGIApp,
        config: FocusConfig | None = None,
        resolver: AsyncResolver | None = None,
        *,
        insufficient_credits_page: InsufficientCreditsPage | str | None = None,
        on_undelivered: UndeliveredHook | None = None,
    ) -> None:
        self.app = app
        self.config = config = config_of(config, resolver, "FocusMiddleware")
        self._owns_resolver = resolver is None
        self._resolver = resolver
        if isinstance(insufficient_credits_page, str):
            insufficient_credits_page = template_page(insufficient_credits_page)
        self.insufficient_credits_page: InsufficientCreditsPage | None = insufficient_credits_page
        self.on_undelivered = on_undelivered
        self._jobs: AsyncPaidJobs | None = None
        if config.handle_signals:
            install_signal_handlers(config.shutdown_timeout)

    @property
    def resolver(self) -> AsyncResolver:
        """Created on first use (and again after a lifespan shutdown closed it), so that
        an app served, stopped and served again gets a working client."""
        if self._resolver is None:
            self._resolver = AsyncResolver(self.config)
        return self._resolver

    @property
    def jobs(self) -> AsyncPaidJobs:
        """The paid-job lifecycle, on the resolver's client (so credits moves drop its cached
        wallets); created on first use. Settlements kept for later survive a new resolver."""
        resolver = self.resolver
        jobs = self._jobs
        if jobs is None or jobs.client is not resolver.client:
            fresh = AsyncPaidJobs(self.config, resolver.client, wallets=resolver, on_undelivered=self.on_undelivered)
            if jobs is not None:
                fresh.pending = jobs.pending
            self._jobs = jobs = fresh
        return jobs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                await self._websocket(scope, receive, send)
            elif kind == "lifespan":
                await self.app(scope, receive, self._lifespan_send(send))
            else:
                await self.app(scope, receive, send)
            return
        # The proxy's or client's request id on this request's events (logging, OTel, signals).
        mark = events.enter_request(_raw_header(scope, b"x-request-id")) if events.active else None
        try:
            proceed = scope_proceed((self._resolver or self.resolver).core, scope)
            if proceed is not None:  # the fast path: the facts are built if something asks
                ctx: FocusContext | None = FocusContext(scope, proceed, self, None, receive, send)
            else:
                ctx = await self._planned(scope, receive, send)
            if ctx is None:
                return  # answered by the core
            jobs = self._jobs
            if jobs is not None and ctx.proceed.credentialed:
                due = jobs.due_for_retry(ctx.proceed.outcome)
                if due is not None:
                    ctx.on_finish(self._deliver_kept(due))
            # The app's run, here rather than in a coroutine of the context's: one more
            # coroutine around every request cost ~0.3 µs, near a tenth of what Focus adds.
            error: BaseException | None = None
            try:
                await self.app(scope, ctx._app_receive, ctx._app_send)
            except FocusRefusal as refused:
                if ctx.status is not None:
                    error = refused
                    raise
                await to_response(refused.response)(scope, ctx._app_receive, ctx._app_send)
            except BaseException as exc:
                error = exc
                raise
            finally:
                if ctx._inbox is None and not ctx._finish_hooks:
                    ctx._receive = ctx._send = None  # as FocusContext._end does
                else:
                    await ctx._end(error)
        finally:
            if mark is not None:
                events.leave_request(mark)

    async def _planned(self, scope: Scope, receive: Receive, send: Send) -> FocusContext | None:
        """The full plan, for a request the fast path did not answer: the context to run
        the app with (its ``receive`` replays a form kept for a bounce); None if the core
        answered the request itself."""
        facts = facts_from_scope(scope)
        _scrub_return_trip_token(scope)
        proceed = quick_proceed(facts)
        if proceed is None:
            resolver = self.resolver
            result = await adrive(request_plan(resolver.core, facts), resolver.perform,
                                  lambda limit: read_body(receive, limit))
            if isinstance(result, Respond):
                await to_response(result.response)(scope, receive, send)
                return None
            proceed = result
            remember(resolver.core, facts, proceed)
            if may_bounce_form(facts, self.config, proceed.outcome):
                receive = await keep_body(scope, receive, facts)
        return FocusContext(scope, proceed, self, facts, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake: the plan decides (its refusals are sent as HTTP answers
        through the ASGI denial extension, by Starlette's ``Response``)."""
        facts = facts_from_scope(scope)
        mark = events.enter_request(facts.headers.get("x-request-id")) if events.active else None
        try:
            proceed = quick_proceed(facts, websocket=True)
            if proceed is None:
                resolver = self.resolver
                result = await adrive(request_plan(resolver.core, facts, websocket=True), resolver.perform,
                                      lambda limit: read_body(receive, limit))
                if isinstance(result, Respond):
                    await to_response(result.response)(scope, receive, send)
                    return
                proceed = result
            FocusContext(scope, proceed, self, facts)  # attaches itself to the scope
            await self.app(scope, receive, send)
        finally:
            if mark is not None:
                events.leave_request(mark)

    def _deliver_kept(self, due: Authenticated) -> FinishHook:
        """After this response: deliver the user's kept settlements with this credential."""

        async def deliver(finish: Finish) -> None:
            await self.jobs.retry_pending(due.account.clerk_id, due.credential)

        return deliver

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return lifespan_send

    async def aclose(self) -> None:
        """Settle what is left of the paid jobs, then close the resolver's HTTP client if
        this middleware created it (done for you at lifespan shutdown, after the server has
        let the requests in flight finish or cancelled them): settlements under way are
        awaited, jobs still in flight failed with refund, kept settlements drained (or
        logged and handed to ``on_undelivered``), within ``shutdown_timeout``."""
        if self._jobs is not None:
            with anyio.CancelScope(shield=True):
                await self._jobs.ashutdown()
        if self._owns_resolver and self._resolver is not None:
            resolver, self._resolver = self._resolver, None
            await resolver.aclose()


_FILE_SENDS = frozenset({"http.response.pathsend", "http.response.zerocopysend"})
# How many turns of the event loop a listener already started gets to bring in what the
# server knows (a disconnect crosses a BaseHTTPMiddleware outside us in a few turns).
_CATCH_UP_TURNS = 32
# A request body the app never read is kept for it up to this size while listening.
_MAX_UNREAD = 1 << 20


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The answer's declared length: once that many bytes went out the client has it all
    (and may close before the app's last, empty, message)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _raw_header(scope: Scope, name: bytes) -> bytes | None:
    value: bytes
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def _send_noticing_departure(send: Send, message: Message, ctx: FocusContext) -> None:
    """A send that fails because the client is gone (ASGI lets servers raise an
    ``OSError`` then; Starlette's ``ClientDisconnect``) is the client leaving."""
    try:
        await send(message)
    except (OSError, ClientDisconnect):
        ctx.client_left()
        raise


class _Inbox:
    """The app's ``receive`` while a paid response is in flight, shared with a listener
    task that watches for ``http.disconnect`` (as Starlette's StreamingResponse listens
    while it streams), so a client that leaves is noticed even if the app never reads.
    Request messages the listener takes are kept for the app; a disconnect is repeated."""

    __slots__ = ("_arrived", "_ctx", "_messages", "_receive", "_task", "_unread", "_watching")

    def __init__(self, receive: Receive, stash: list[Message] | None, ctx: FocusContext) -> None:
        self._receive = receive
        self._ctx = ctx
        self._messages: deque[Message] = deque(stash or ())
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unread = 0
        self._watching = True

    @classmethod
    def listening(cls, receive: Receive, stash: list[Message] | None, ctx: FocusContext) -> _Inbox | None:
        """An inbox with its listener running, on asyncio (elsewhere: None, and the final
        send polls instead)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        inbox = cls(receive, stash, ctx)
        if not (inbox._messages and inbox._messages[-1]["type"] == "http.disconnect"):
            task = inbox._task = loop.create_task(inbox._listen())
            task.add_done_callback(inbox._wake)
        return inbox

    def _wake(self, task: asyncio.Task[None]) -> None:
        self._arrived.set()  # an app waiting on the listener reads for itself from now on
        if not task.cancelled():
            task.exception()  # retrieved: a receive that failed is the app's to see next

    async def _listen(self) -> None:
        body_done = False
        while True:
            message = await self._receive()
            if message["type"] == "http.request" and body_done:
                return  # a request message after the body's end: this receive cannot tell us more
            self._messages.append(message)
            self._arrived.set()
            if message["type"] != "http.request":
                if message["type"] == "http.disconnect" and self._watching:
                    self._ctx.client_left()
                return
            body_done = not message.get("more_body", False)
            self._unread += len(message.get("body", b""))
            if self._unread > _MAX_UNREAD:
                return  # too much to keep for an app that does not read: stop listening
            await asyncio.sleep(0)

    async def receive(self) -> Message:
        while True:
            if self._messages:
                message = self._messages[0]
                if message["type"] == "http.disconnect":
                    return message  # said again for every later receive, as servers do
                return self._messages.popleft()
            task = self._task
            if task is None or task.done():
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    if self._watching:
                        self._ctx.client_left()
                    self._messages.append(message)
                return message
            self._arrived.clear()
            await self._arrived.wait()

    async def catch_up(self) -> None:
        """Give the listener a few turns of the loop to bring in a disconnect the server
        already knows of, before the last chunk counts as delivered."""
        task = self._task
        for _ in range(_CATCH_UP_TURNS):
            if task is None or task.done() or self._ctx.disconnected:
                return
            await asyncio.sleep(0)

    def stop(self) -> None:
        """The answer is out: a disconnect reported from now on is its end (uvicorn says
        ``http.disconnect`` once a response is complete), not a client that left."""
        self._watching = False
        task = self._task
        if task is not None and not task.done():
            task.cancel()


async def _poll_disconnect(receive: Receive, ctx: FocusContext) -> None:
    """Has the client left? A receive that may not wait (Starlette's ``is_disconnected``
    does the same); a request message it takes instead is kept for the app's next read."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        message = await receive()
        if message["type"] == "http.disconnect":
            ctx.client_left()
        elif ctx._stash is None:
            ctx._stash = [message]
        else:
            ctx._stash.append(message)


async def _run_finish_hooks(ctx: FocusContext, finish: Finish) -> None:
    """The hooks run to their end even if the request is cancelled meanwhile, natively
    (``asyncio.timeout`` around the app) included: see :mod:`focus_middleware.shielding`."""
    await shielded(_finish_hooks(ctx, finish))


async def _finish_hooks(ctx: FocusContext, finish: Finish) -> None:
    for hook in ctx._finish_hooks or ():
        try:
            await hook(finish)
        except Exception:
            logger.exception("focus: a finish hook failed")


def _scrub_return_trip_token(scope: MutableMapping[str, Any]) -> None:
    """Take the return trip's ``token`` out of the scope itself, in place, before anything
    is answered: uvicorn and hypercorn write their access log line from this very dict
    (``query_string``, and ``raw_path`` where a server puts the query in it), after the
    response has started. The core already holds the token in its facts."""
    query = scope.get("query_string", b"")
    scrubbed = scrubbed_return_trip_query(scope.get("method", ""), query)
    if scrubbed is None:
        return
    scope["query_string"] = scrubbed
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes) and b"?" in raw_path:
        scope["raw_path"] = raw_path.partition(b"?")[0] + (b"?" + scrubbed if scrubbed else b"")
