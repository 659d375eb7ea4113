"""The WSGI adapter: any WSGI app (Werkzeug, Flask, Bottle, Pyramid, ...) on Focus.

``FocusWSGIMiddleware`` translates the environ into
:class:`~focus_middleware.facts.RequestFacts` and drives the core with the blocking
:class:`~focus_middleware.resolver.Resolver`. It is the WSGI twin of
:class:`~focus_middleware.asgi.FocusMiddleware` with one difference the WSGI world expects:
the account is resolved **lazily**, on first access, like Django's ``request.user``. An app
(or a route: static files, health checks) that never looks pays for its context and the
cache headers and nothing else: no facts, no JWT check, no cache lookup, no network.

What the middleware does up front is only what cannot wait: its own endpoints
(``/_focus/session``, ``/_focus/refresh.js``, ``/_focus/signout``, ``/_focus/signin``) and
the return trip from sign-in answer before the app runs (:func:`~focus_middleware.request_plan.up_front`).
When the account is asked for, a credential whose answer the core remembers gets it from
the raw headers in one lookup (:mod:`focus_middleware.fast_path`), without the facts; any
other runs the account part of the plan, whose answer is then remembered.

The context holds the environ only while the app runs, and the environ holds the context
for as long as it lives (:meth:`WSGIFocusContext.let_go`): a request leaves no reference
cycle of ours for the garbage collector, and an answer with nothing to settle goes back to
the server as the app made it. The context, the account and the environ all keep reading
the account after the response.

Where the account appears:

- ``environ["focus.account"]``: a Werkzeug ``LocalProxy`` that resolves on first use
  (:class:`~focus_middleware.wsgi.proxy.AccountProxy`); it is truthy only for a request with
  an account, and forwards attribute access to the
  :class:`~focus_middleware.models.FocusAccount` (PEP 3333 forbids a lazy dict, so the
  laziness lives in the value). :func:`focus_account` returns the object itself, or None.
- ``environ["focus"]``: the request's :class:`WSGIFocusContext` (facts, the lazily resolved
  :class:`~focus_middleware.request_plan.Proceed`, its ``reason``), which the guards use.
- ``environ["focus.job"]``: the :class:`~focus_middleware.jobs.FocusJob` of a paid view.

Paid views: the ``paid`` decorator (``focus_middleware.wsgi.guards``) reserves and opens the
job; this middleware, the outermost wrapper, settles it, because only it sees how the
response ended: completed only when the body iterable was exhausted before ``close()``
(:class:`~focus_middleware.bodies.SettlingIterable`), failed with refund when the app
raised, answered >= 400, or the client went away first. Settlements that cannot be
delivered are kept, retried with the credential of the user's next request whose account
is resolved (after its response, so it is never delayed), and drained at interpreter exit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response
from werkzeug.wsgi import get_content_length, get_input_stream

from focus_middleware.access import ACCOUNT, Requirement, admits, refusal
from focus_middleware.bodies import SettlingIterable
from focus_middleware import events
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts, parse_cookie_header, presents_credentials
from focus_middleware.fast_path import cached_proceed, remember
from focus_middleware.jobs import FocusJob, PaidJobs, PaidRoute, UndeliveredHook
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import Authenticated
from focus_middleware.paid_request import PaidRequest, decide, one_per_request
from focus_middleware.wsgi.idempotency import idempotency_of
from focus_middleware.wsgi.proxy import new_account_proxy
from focus_middleware.pages import template_page
from focus_middleware.resolver import Resolver, config_of
from focus_middleware.responses import InsufficientCreditsPage, ResponseSpec
from focus_middleware.shutdown import install_signal_handlers
from focus_middleware.request_plan import (
    BodyReader,
    Proceed,
    ProceedView,
    Reason,
    Respond,
    account_plan,
    drive,
    endpoint_for,
    header_names,
    may_answer_up_front,
    request_plan,
    up_front,
    with_cache_headers,
)
from focus_middleware.sessions import clear_session_cookies

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
else:
    OptExcInfo = Any
    StartResponse = Callable[..., Any]
    WSGIApplication = Callable[..., Iterable[bytes]]
    WSGIEnvironment = dict[str, Any]

logger = logging.getLogger("focus_middleware")

ENVIRON_KEY = "focus"
"""``environ["focus"]``: the request's :class:`WSGIFocusContext`."""
ACCOUNT_KEY = "focus.account"
"""``environ["focus.account"]``: the account, resolved on first use."""
JOB_KEY = "focus.job"
"""``environ["focus.job"]``: the paid view's :class:`~focus_middleware.jobs.FocusJob`."""


# -- translating in: environ -> facts ------------------------------------------------------------


_DEFAULT_PORTS = {"http": "80", "https": "443"}
# environ key -> header name, "" for keys that are not headers: spelling the name out once
# per key instead of once per request halves the cost of the facts. Bounded, since clients
# choose header names.
_HEADER_NAMES: dict[str, str] = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}
_MAX_HEADER_NAMES = 1024


def _header_name(key: str) -> str:
    name = key[5:].replace("_", "-").lower() if key.startswith("HTTP_") else ""
    if len(_HEADER_NAMES) < _MAX_HEADER_NAMES:
        _HEADER_NAMES[key] = name
    return name


def _text(value: str) -> str:
    """PEP 3333 strings are bytes decoded as latin-1; paths are UTF-8 underneath (as in
    ASGI's ``scope["path"]``)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def facts_from_environ(environ: WSGIEnvironment) -> RequestFacts:
    """The core's view of a WSGI request.

    ``host`` is the server's own address (``SERVER_NAME``/``SERVER_PORT``), never the
    ``Host`` header: URLs are built from the configured public origin, or a trusted proxy's
    headers. ``root_path`` is ``SCRIPT_NAME``, so every URL the core emits carries it.
    """
    headers: dict[str, str] = {}
    names = _HEADER_NAMES
    for key, value in environ.items():
        name = names.get(key)
        if name is None:
            name = _header_name(key)
        if name and (value or key[0] == "H"):  # CGI's CONTENT_* may be present and empty
            headers[name] = value
    scheme = environ.get("wsgi.url_scheme", "http")
    server = environ.get("SERVER_NAME")
    host = None
    if server:
        if ":" in server and not server.startswith("["):
            server = f"[{server}]"
        port = str(environ.get("SERVER_PORT", ""))
        host = server if not port or port == _DEFAULT_PORTS.get(scheme) else f"{server}:{port}"
    return RequestFacts(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=_text(environ.get("PATH_INFO", "")) or "/",
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        cookies=parse_cookie_header(headers.get("cookie")),
        root_path=_text(environ.get("SCRIPT_NAME", "")).rstrip("/"),
        scheme=scheme,
        host=host,
        client_addr=environ.get("REMOTE_ADDR") or None,
    )


def read_body(environ: WSGIEnvironment, limit: int) -> bytes | None:
    """The request body, or None if it exceeds ``limit`` (only the middleware's own
    endpoints read one). Werkzeug's input stream never blocks past the declared length, and
    reads a chunked body only when the server says it is terminated."""
    length = get_content_length(environ)
    if length is not None and length > limit:
        return None
    data = get_input_stream(environ, safe_fallback=True).read(limit + 1)
    return None if len(data) > limit else data


# -- translating out: ResponseSpec -> WSGI / Werkzeug ------------------------------------------------


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def spec_headers(spec: ResponseSpec) -> list[tuple[str, str]]:
    """Every header of a core response, ``Set-Cookie`` included, with ``Content-Length``."""
    headers = [*spec.headers, *(("set-cookie", cookie) for cookie in spec.set_cookies)]
    headers.append(("content-length", str(len(spec.body))))
    return headers


def send_spec(spec: ResponseSpec, start_response: StartResponse) -> list[bytes]:
    """Answer with a core response, straight through WSGI (no Werkzeug objects)."""
    start_response(_status_line(spec.status), spec_headers(spec))
    return [spec.body] if spec.body else []


def to_response(spec: ResponseSpec, response_class: type[Response] = Response) -> Response:
    """The one place a core response becomes a Werkzeug (or Flask) response. A core
    response without a ``Content-Type`` (a redirect) gets none, as in the ASGI adapter."""
    response = response_class(spec.body, status=spec.status)
    if not any(name == "content-type" for name, _ in spec.headers):
        del response.headers["content-type"]
    for name, value in spec.headers:
        response.headers.set(name, value) if name == "content-type" else response.headers.add(name, value)
    for cookie in spec.set_cookies:
        response.headers.add("set-cookie", cookie)
    return response


_CACHE_HEADER_NAMES = header_names("Vary", "Cache-Control")


# -- the per-request context ---------------------------------------------------------------------------


class WSGIFocusContext(ProceedView):
    """What the middleware knows about one request, at ``environ["focus"]``.

    ``proceed`` (and with it ``outcome``, ``account``, ``reason``) is resolved on first
    access and kept for the rest of the request. Paid jobs opened by the guards are settled
    by the middleware when the response is over.
    """

    __slots__ = ("_facts", "_proceed", "credentialed", "due", "engine", "environ", "paid", "request_id", "sealed",
                 "watched")

    def __init__(self, engine: FocusWSGIMiddleware, environ: WSGIEnvironment, credentialed: bool,
                 proceed: Proceed | None = None) -> None:
        self.engine = engine
        self.environ: WSGIEnvironment | None = environ
        """The request's environ while the app runs; afterwards what is left of it to build
        the facts from, if anything (:meth:`let_go`)."""
        self.credentialed = credentialed
        """Whether the request presented any credential (its response is then private)."""
        self._facts: RequestFacts | None = None
        self._proceed = proceed
        self.paid: PaidRequest | None = None
        """The request's paid work, once a paid guard opened it: the middleware reports to it."""
        self.due: Authenticated | None = None
        """A fresh credential of a user with kept settlements, to deliver them with once
        this response is over (so they never delay it)."""
        # Whether the middleware's run of the app is watching this request (so a job opened
        # now will be settled), and whether it already stopped watching.
        self.watched = False
        self.sealed = False
        self.request_id: str | None = None
        """The request's id (:data:`~focus_middleware.events.request_id`) while someone
        subscribes to events: back in force when the server ends the body, after the call."""

    @property
    def job(self) -> FocusJob | None:
        """The request's paid job, once a paid guard opened it."""
        return self.paid.job if self.paid is not None else None

    @property
    def raised(self) -> BaseException | None:
        """What the paid view raised, even if an error handler then answered 2xx: work
        that raised is not charged."""
        return self.paid.raised if self.paid is not None else None

    @raised.setter
    def raised(self, error: BaseException | None) -> None:
        if self.paid is not None and error is not None:
            self.paid.handler_raised(error)

    @property
    def facts(self) -> RequestFacts:
        """The core's view of the request, built on first need."""
        facts = self._facts
        if facts is None:
            facts = self._facts = facts_from_environ(self._live_environ())
        return facts

    def _live_environ(self) -> WSGIEnvironment:
        environ = self.environ
        if environ is None:
            raise RuntimeError(LET_GO_MESSAGE)
        return environ

    @property
    def answers_up_front(self) -> bool:
        """Whether the core answers this request itself, before the app (an endpoint, a
        return trip): see :func:`~focus_middleware.request_plan.up_front`."""
        environ = self._live_environ()
        if not may_answer_up_front(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")):
            return False
        return up_front(self.facts, self.engine.config)

    @property
    def resolved(self) -> bool:
        """Whether the account has been looked up for this request (tests, metrics)."""
        return self._proceed is not None

    @property
    def proceed(self) -> Proceed:
        proceed = self._proceed
        if proceed is None:
            proceed = self._proceed = self.engine.resolve(self)
        return proceed

    @property
    def account(self) -> FocusAccount | None:
        """The account unprotected code sees (resolved now if nobody asked yet), or None."""
        return (self._proceed or self.proceed).account

    @property
    def reason(self) -> Reason:
        return self.proceed.reason

    @property
    def config(self) -> FocusConfig:
        return self.engine.config

    def admits(self, requirement: Requirement = ACCOUNT) -> bool:
        """Whether a protected view runs, known without the facts: an account, enough fresh
        credits, no same-origin check due (:func:`~focus_middleware.access.admits`). False
        means: ask :meth:`check`."""
        environ = self.environ
        method = environ.get("REQUEST_METHOD", "GET") if environ is not None else self.facts.method
        return admits(self.outcome, method, requirement)

    def check(self, requirement: Requirement = ACCOUNT, *, page: InsufficientCreditsPage | None = None,
              signin_page: str | None = None) -> ResponseSpec | None:
        """The core's refusal for a protected view, or None to run it (resolves the account).
        The common case is decided without the facts (:meth:`admits`)."""
        if self.admits(requirement):
            return None
        engine = self.engine
        return refusal(self.facts, self.outcome, engine.config, requirement,
                       page=page or engine.insufficient_credits_page,
                       signin_page=signin_page if signin_page is not None else engine.signin_page,
                       wallets=engine.resolver)

    def open_job(self, route: PaidRoute, *, page: InsufficientCreditsPage | None = None,
                 signin_page: str | None = None) -> FocusJob | ResponseSpec:
        """Reserve the credits of a paid view: the job to run it with, or the refusal to
        send instead (the view never runs). The middleware settles the job afterwards.

        One job per request, as in every adapter: opening the same route again returns
        the job already open; another route is a programming error.
        """
        opened = one_per_request(self.paid, route)
        if opened is not None and opened.job is not None:
            return opened.job
        if not self.watched or self.sealed:
            raise RuntimeError("a paid job can only be opened while FocusWSGIMiddleware runs the app, before it "
                               "returns its response (is the middleware installed, outermost?)")
        engine = self.engine
        page = page or engine.insufficient_credits_page
        signin_page = signin_page if signin_page is not None else engine.signin_page
        decided = decide(self.facts, self.outcome, engine.config, route, page=page, signin_page=signin_page)
        if isinstance(decided, ResponseSpec):
            return decided
        environ = self._live_environ()
        once = idempotency_of(environ, self.facts)
        if isinstance(once, ResponseSpec):
            return once
        decided.once = once
        refused = decided.reserve(engine.paid_jobs, self.facts, engine.config, page=page, signin_page=signin_page)
        if refused is not None:
            return refused
        assert decided.job is not None
        self.paid = decided
        environ[JOB_KEY] = decided.job
        return decided.job

    def body_finished(self) -> None:
        """The server took the body's last chunk (the iterable is exhausted): a server
        writes each chunk before it asks for the next, so the whole answer went out, unless
        the server knows the client left (waitress, with ``channel_request_lookahead``).
        Settled now, so a test client that reads the body without closing it settles too."""
        paid = self.paid
        if paid is not None:
            gone = self._live_environ().get("waitress.client_disconnected")
            if callable(gone) and gone():
                paid.client_left()
            paid.body_finished()
            events.in_request(self.request_id, lambda: paid.settle(self.engine.paid_jobs))
        # Kept settlements wait for close(): the response's end must not wait for them.

    def finish(self, error: BaseException | None) -> None:
        """The response is over (or ended by ``error``): settle the request's paid work, if
        any (the core decides how), then deliver the user's kept settlements, if due; once."""
        self.sealed = True
        paid, due = self.paid, self.due
        self.due = None
        jobs = self.engine.paid_jobs
        if paid is not None:
            if error is not None:
                paid.ended_by(error)
            paid.body_cut()  # no effect once the body finished
            paid.settle(jobs)
        if due is not None:
            jobs.retry_pending(due.account.clerk_id, due.credential)

    def closed(self, complete: bool, error: BaseException | None) -> None:
        """The server closed the body: :meth:`finish`, then :meth:`let_go`."""
        try:
            events.in_request(self.request_id, lambda: self.finish(error))
        finally:
            self.let_go()

    def let_go(self) -> None:
        """Nothing of the request needs its environ any more (the app returned an answer
        with nothing to settle, or the server closed a paid one): keep only what may still
        be needed of it, so that the environ, which holds this context, is not held back.

        Left linked, every request would leave a reference cycle for the garbage collector.
        A context that still has to resolve its account keeps the environ's plain values
        (the CGI and header variables, all the facts are made of: strings, or a number where
        a server or test gives ``SERVER_PORT`` so; nothing that could lead back here); one
        that already knows its account, nothing. Either way the environ, the context and the
        account keep reading the account after the response."""
        environ = self.environ
        if environ is not None and self._proceed is None and self._facts is None:
            self.environ = {key: value for key, value in environ.items() if type(value) in _PLAIN_VALUES}
        else:
            self.environ = None

    def __repr__(self) -> str:
        state = self._proceed.reason if self._proceed is not None else "unresolved"
        facts = self._facts
        environ = self.environ
        if facts is not None:
            return f"WSGIFocusContext({facts.method} {facts.path}, {state})"
        if environ is not None:
            return f"WSGIFocusContext({environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}, {state})"
        return f"WSGIFocusContext({state})"


_PLAIN_VALUES = (str, int)
LET_GO_MESSAGE = ("Focus let go of this request's environ when the app returned its answer: build what needs "
                  "the request (a refusal, a paid job, a sign-out's cookies) before returning")


def wsgi_context(environ: WSGIEnvironment) -> WSGIFocusContext:
    """The request's :class:`WSGIFocusContext`; a clear error when the middleware is missing."""
    ctx = environ.get(ENVIRON_KEY)
    if not isinstance(ctx, WSGIFocusContext):
        raise RuntimeError("FocusWSGIMiddleware is not installed: wrap the app with "
                           "FocusWSGIMiddleware(app, config=...)")
    return ctx


def focus_account(environ: WSGIEnvironment) -> FocusAccount | None:
    """The request's account (resolved now if nobody asked yet), or None."""
    return wsgi_context(environ).account


def clear_focus_session(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """The ``Set-Cookie`` headers that sign this browser out of the app, for an app's own
    sign-out view (``POST /_focus/signout`` does the same)."""
    ctx = wsgi_context(environ)
    return [("Set-Cookie", cookie) for cookie in clear_session_cookies(ctx.facts, ctx.config)]


# -- the middleware ----------------------------------------------------------------------------------


class FocusWSGIMiddleware:
    """Every request knows its Focus account, on first asking; see the module docstring.

    ``config`` defaults to ``FocusConfig.from_env()``; ``resolver`` to a blocking
    :class:`~focus_middleware.resolver.Resolver` of that config (pass one to share its
    caches). ``insufficient_credits_page`` replaces the 402 HTML page (a callable taking
    :class:`~focus_middleware.responses.InsufficientCredits` and returning HTML, or template
    text with ``$action``, ``$required``, ``$available``, ``$purchase_url``, escaped for
    you). ``signin_page`` is the app's own sign-in page (a path or URL) for navigations
    without a session; its button should link to ``/_focus/signin?next=...``.
    ``on_undelivered`` hears of every settlement kept for a later retry.

    ``endpoints=False`` leaves the middleware's endpoints (``/_focus/...``) to the framework
    (Flask-Focus answers them from blueprint routes through :meth:`answer`); the return
    trip from sign-in, which may come back to any URL, is answered here either way.
    """

    def __init__(
        self,
        app: WSGIApplication,
        config: FocusConfig | None = None,
        resolver: Resolver | None = None,
        *,
        insufficient_credits_page: InsufficientCreditsPage | str | None = None,
        signin_page: str | None = None,
        on_undelivered: UndeliveredHook | None = None,
        endpoints: bool = True,
    ) -> None:
        self.app = app
        self.config = config = config_of(config, resolver, "FocusWSGIMiddleware")
        self._owns_resolver = resolver is None
        self.resolver = resolver if resolver is not None else Resolver(config)
        if isinstance(insufficient_credits_page, str):
            insufficient_credits_page = template_page(insufficient_credits_page)
        self.insufficient_credits_page: InsufficientCreditsPage | None = insufficient_credits_page
        self.signin_page = signin_page
        self.endpoints = endpoints
        self.paid_jobs = PaidJobs(config, self.resolver.client, wallets=self.resolver, on_undelivered=on_undelivered)
        if config.handle_signals:
            install_signal_handlers(config.shutdown_timeout)
        self._closed = False
        self._close_lock = threading.Lock()

    # -- per request ---------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # The proxy's or client's request id on the events of this call (not on those of the
        # body's iteration and close(), which the server runs after it returned).
        mark = events.enter_request(environ.get("HTTP_X_REQUEST_ID")) if events.active else None
        try:
            ctx = self.context(environ)
            if events.active:  # the header's, or an outer middleware's
                ctx.request_id = events.request_id.get()
            # Most requests are not ours, as the raw path and query tell. A context whose answer
            # is known from the start is none of ours: anonymous, it has neither credentials nor
            # one of our paths; remembered, the fast path ruled our paths and parameters out.
            ours = (ctx._proceed is None
                    and may_answer_up_front(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
                    and ctx.answers_up_front)
            if ours and (self.endpoints or endpoint_for(ctx.facts) is None):
                return send_spec(self.answer(ctx, lambda limit: read_body(environ, limit)), start_response)
            return self.run_app(self.app, ctx, start_response)
        finally:
            if mark is not None:
                events.leave_request(mark)

    def context(self, environ: WSGIEnvironment) -> WSGIFocusContext:
        """This request's context, created and attached on first call. Nothing that could
        need I/O is looked up: the account is left for whoever asks, unless the core
        remembers the answer for these credentials (a dict lookup), which is then attached
        as it is (``environ["focus.account"]`` the account itself, not a proxy to read it
        through)."""
        ctx = environ.get(ENVIRON_KEY)
        if ctx is not None and isinstance(ctx, WSGIFocusContext) and ctx.engine is self:
            return ctx
        query = environ.get("QUERY_STRING", "")
        authorization, cookie = environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_COOKIE")
        # Known from the raw environ: a remembered credential's answer, or anonymous for a
        # request without credentials outside our paths.
        known = cached_proceed(self.resolver.core, environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""),
                               query, authorization, cookie)
        if known is None:
            ctx = WSGIFocusContext(self, environ, presents_credentials(authorization, cookie, query))
            account = None
        else:
            ctx = WSGIFocusContext(self, environ, known.credentialed, known)
            account = known.account
            if account is not None:
                # Its user's kept settlements go out once this response is over, as for an
                # account resolved while the app runs.
                ctx.due = self.paid_jobs.due_for_retry(known.outcome)
        environ[ENVIRON_KEY] = ctx
        environ[ACCOUNT_KEY] = new_account_proxy(ctx) if account is None else account
        return ctx

    def answer(self, ctx: WSGIFocusContext, read: BodyReader) -> ResponseSpec:
        """Drive the core's plan for a request it answers itself (an endpoint, a return
        trip); body reads go to ``read``. A request the core would pass on gets a 404."""
        result = drive(request_plan(self.resolver.core, ctx.facts), self.resolver.perform, read)
        if isinstance(result, Respond):
            return result.response
        ctx._proceed = result
        return ResponseSpec(404, (("content-type", "text/plain; charset=utf-8"),), b"Not Found")

    def resolve(self, ctx: WSGIFocusContext) -> Proceed:
        """The account of a request whose answer :meth:`context` could not take from the
        core's remembered answers: the account part of its plan, driven now, whose answer is
        offered to the table. A user with kept settlements has them delivered with this
        fresh credential once the response is over (at once if it already is)."""
        core, facts = self.resolver.core, ctx.facts
        result = drive(account_plan(core, facts), self.resolver.perform)
        remember(core, facts, result)
        if result.credentialed:
            due = self.paid_jobs.due_for_retry(result.outcome)
            if due is not None:
                if ctx.watched and not ctx.sealed:
                    ctx.due = due
                else:
                    self.paid_jobs.retry_pending(due.account.clerk_id, due.credential)
        return result

    def run_app(self, app: WSGIApplication, ctx: WSGIFocusContext, start_response: StartResponse) -> Iterable[bytes]:
        """Call ``app`` with the cache headers merged into its response; then the context
        lets go of the environ (:meth:`WSGIFocusContext.let_go`), at once when there is
        nothing to settle (the app's body goes back to the server untouched: its length, a
        ``wsgi.file_wrapper``), else once the server closes the body, which settles first."""

        def start(status: str, headers: list[tuple[str, str]],
                  exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
            if ctx.paid is not None:
                ctx.paid.response_started(int(status[:3]))
            return start_response(status, with_cache_headers(headers, _CACHE_HEADER_NAMES, ctx.credentialed),
                                  exc_info)

        ctx.watched = True
        environ = ctx.environ
        assert environ is not None  # let go of only once the app has returned
        try:
            body: Iterable[bytes] = app(environ, start)
        except BaseException as error:
            # The environ kept: an error reporter outside may still ask the context about it.
            ctx.finish(error)
            raise
        paid = ctx.paid
        if paid is not None and paid.cannot_complete():
            paid.settle(self.paid_jobs)  # a refund need not wait for the body to be read
        if paid is not None or ctx.due is not None:
            return _Finishing(body, ctx)
        ctx.sealed = True  # nothing to settle at the end
        ctx.let_go()
        return body

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Deliver what can still be delivered of the kept settlements, then close the
        resolver if this middleware created it. (At interpreter exit the kept settlements
        are drained anyway.)"""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        left = self.paid_jobs.drain()
        if left:
            logger.error("focus: %d settlement(s) still undelivered at close", left)
        if self._owns_resolver:
            self.resolver.close()


class _Finishing(SettlingIterable):
    """The response body of a request with a paid job or kept settlements to deliver:
    :meth:`WSGIFocusContext.body_finished` runs when the server has taken the last chunk,
    :meth:`WSGIFocusContext.finish` at ``close()`` otherwise (cut short, or raised); then
    the context is let go of."""

    def __init__(self, body: Iterable[bytes], ctx: WSGIFocusContext) -> None:
        super().__init__(body, ctx.closed, on_exhausted=ctx.body_finished)
        self._ctx = ctx

    def __next__(self) -> bytes:
        paid = self._ctx.paid
        if paid is not None and not paid.may_deliver():  # refunded at shutdown: it must not arrive now
            raise ConnectionAbortedError("the paid job was refunded at shutdown")
        return super().__next__()
