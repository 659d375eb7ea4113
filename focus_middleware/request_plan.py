"""One request, as the core sees it: the plan, the quick checks in front of it, the two
drivers that run it, and the cache headers its response leaves with.

Every adapter (ASGI, WSGI, Flask, Django) does the same three things with a request:

1. **The quick checks.** :func:`quick_proceed` answers the common request that needs no
   plan (no credentials, not ours); :func:`up_front` says whether the core may answer a
   request itself, for the adapters that resolve the account lazily (WSGI, Flask, Django).
   A fast path for requests whose every answer is cached belongs here too, in front of the
   plan: a function of the facts returning a :class:`Proceed` without starting a generator.
2. **The plan.** :func:`request_plan` (everything decided before the app runs) or its
   account part alone, :func:`account_plan`, is a generator that yields what it needs (a
   resolver :class:`~focus_middleware.resolver.Effect`, or :class:`ReadBody`) and ends
   with :class:`Respond` (send this, the app is not called) or :class:`Proceed` (call the
   app with this outcome). The session rules it calls live in :mod:`focus_middleware.sessions`.
3. **A driver.** :func:`drive` (blocking) or :func:`adrive` (awaited) runs a plan with the
   adapter's way of performing an effect and of reading the body. They are the only plan
   loops: the resolvers' own ``run`` is :func:`drive`/:func:`adrive` without a body.

The response of a request the app answered then gets ``Vary: Cookie, Authorization``, and
``Cache-Control: private`` when the request presented credentials: :func:`cache_headers`
decides both, :func:`with_cache_headers` merges them into a header list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeAlias, TypeVar

from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import ANONYMOUS, Anonymous, Authenticated, Expired, Outcome, Rejected
from focus_middleware.responses import ResponseSpec, is_same_origin
from focus_middleware.sessions import (
    FOCUS_PREFIX,
    PRESERVE_PATH,
    REFRESH_PATH,
    SCRIPT_PATH,
    SIGNED_OUT_PATH,
    SIGNIN_PATH,
    SIGNOUT_PATH,
    STATE_PARAM,
    ReadBody,
    billing_return,
    billing_return_plan,
    preserve_script,
    refresh_plan,
    refresh_script,
    return_trip,
    return_trip_plan,
    signed_out_page,
    signin_start,
    signout_plan,
)
from focus_middleware.urls import BILLED_PARAM

if TYPE_CHECKING:
    from focus_middleware.resolver import Effect, ResolverCore

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


# -- what a plan ends with ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer the request with this response; the app is not called."""

    response: ResponseSpec


Reason = Literal["authenticated", "anonymous", "expired", "rejected", "unavailable", "cross_origin"]


@dataclass(frozen=True, slots=True)
class Proceed:
    """Call the app. ``outcome`` is the resolver's (guards decide from it); ``account`` and
    ``reason`` are what unprotected code sees: on any refusal no account, and the reason
    why, so an app can tell "Focus is down" from "signed out" without guessing.
    ``credentialed`` says whether the request presented any credential, so its response
    may depend on the account (see :func:`cache_headers`)."""

    outcome: Outcome
    reason: Reason
    credentialed: bool
    account: FocusAccount | None = field(init=False, compare=False, repr=False)
    """The account unprotected code sees, or None: worked out once, since an answer the
    fast path remembers is read by many requests, each of which may ask several times."""

    def __post_init__(self) -> None:
        outcome = self.outcome
        account = outcome.account if self.reason == "authenticated" and isinstance(outcome, Authenticated) else None
        object.__setattr__(self, "account", account)


class _Proceeding(Protocol):
    @property
    def proceed(self) -> Proceed: ...


class ProceedView:
    """What an adapter's per-request context shows of its :class:`Proceed` (however it
    holds it: the ASGI context at once, the WSGI one on first use)."""

    __slots__ = ()

    @property
    def outcome(self: _Proceeding) -> Outcome:
        return self.proceed.outcome

    @property
    def account(self: _Proceeding) -> FocusAccount | None:
        return self.proceed.account


RequestPlan: TypeAlias = Generator["Effect | ReadBody", Any, "Respond | Proceed"]

PROCEED_ANONYMOUS = Proceed(ANONYMOUS, "anonymous", credentialed=False)


# -- the quick checks ------------------------------------------------------------------------------


Endpoint = Literal["refresh", "script", "signout", "signin", "preserve", "signed_out"]
_ENDPOINTS: dict[str, Endpoint] = {REFRESH_PATH: "refresh", SCRIPT_PATH: "script", SIGNOUT_PATH: "signout",
                                   SIGNIN_PATH: "signin", PRESERVE_PATH: "preserve", SIGNED_OUT_PATH: "signed_out"}


def endpoint_for(facts: RequestFacts) -> Endpoint | None:
    """Which of the middleware's own endpoints this request is for, if any."""
    if not facts.path.startswith(FOCUS_PREFIX):
        return None
    return _ENDPOINTS.get(facts.path)


def may_answer_up_front(path: str, query_string: str) -> bool:
    """A necessary condition of :func:`up_front` from the raw path and query alone (one of
    our paths, or our state parameter, or the billing marker), so a lazy adapter can skip
    building the facts of the many requests that are neither."""
    return path.startswith(FOCUS_PREFIX) or STATE_PARAM in query_string or BILLED_PARAM in query_string


def up_front(facts: RequestFacts, config: FocusConfig) -> bool:
    """Whether :func:`request_plan` may answer this request itself (one of the middleware's
    endpoints, or a return trip from sign-in). An adapter that resolves the account lazily
    (WSGI, Flask, Django) runs the plan before the app only for these; for every other
    request the plan can wait until someone asks for the account, and then only resolves
    (:func:`account_plan`)."""
    if not may_answer_up_front(facts.path, facts.query_string):
        return False
    return endpoint_for(facts) is not None or return_trip(facts, config) is not None or billing_return(facts)


def quick_proceed(facts: RequestFacts, *, websocket: bool = False) -> Proceed | None:
    """The answer for the common request that needs no plan at all: no credentials, not
    one of our endpoints, not a return trip. Lets adapters skip the generator machinery, so
    a request without credentials costs almost nothing. None means: run :func:`request_plan`.
    """
    if facts.has_credentials:
        return None
    if not websocket and may_answer_up_front(facts.path, facts.query_string):
        return None
    return PROCEED_ANONYMOUS


# -- the plan ------------------------------------------------------------------------------------


def request_plan(core: ResolverCore, facts: RequestFacts, *, websocket: bool = False) -> RequestPlan:
    """Everything the middleware decides before the app runs, for one request.

    WebSocket handshakes get their identity resolved but none of the endpoints, return
    trips or refusals: a handshake cannot follow a redirect. A cookie-authenticated
    handshake from another origin is treated like a cross-origin state change (it opens a
    channel that acts as the user), so the socket sees no account.
    """
    config = core.config
    # One cheap test rules out every answer of ours for most requests.
    if not websocket and may_answer_up_front(facts.path, facts.query_string):
        endpoint = endpoint_for(facts)
        if endpoint == "script":
            return Respond(refresh_script(facts, config))
        if endpoint == "preserve":
            return Respond(preserve_script(facts))
        if endpoint == "refresh":
            return Respond((yield from refresh_plan(core, facts)))
        if endpoint == "signout":
            return Respond((yield from signout_plan(facts, config)))
        if endpoint == "signin":
            return Respond(signin_start(facts, config))
        if endpoint == "signed_out":
            return Respond(signed_out_page(facts, config))
        trip = return_trip(facts, config)
        if trip is not None:
            return Respond((yield from return_trip_plan(core, facts, trip)))
        if billing_return(facts):
            return Respond((yield from billing_return_plan(core, facts)))
    return (yield from account_plan(core, facts, websocket=websocket))


def account_plan(core: ResolverCore, facts: RequestFacts, *, websocket: bool = False) -> Generator[Effect, Any, Proceed]:
    """The account part of :func:`request_plan` alone, never a response: what an adapter
    that resolves lazily runs when someone first asks for the account (having answered
    the :func:`up_front` requests before the app ran)."""
    if not facts.has_credentials:
        return PROCEED_ANONYMOUS
    outcome = yield from core.plan(facts)
    return proceed_with(facts, core.config, outcome, websocket=websocket)


def proceed_with(facts: RequestFacts, config: FocusConfig, outcome: Outcome, *, websocket: bool = False) -> Proceed:
    """What unprotected code sees for ``outcome``. A cookie-authenticated request that must
    be same-origin (a state change, a WebSocket) but is not, is seen as anonymous: a page
    from another site never acts as the user, even on a route that forgot a guard."""
    if isinstance(outcome, Authenticated):
        if outcome.credential.source != "bearer" and (websocket or facts.method not in _SAFE_METHODS):
            if not is_same_origin(facts, config):
                return Proceed(outcome, "cross_origin", credentialed=True)
        return Proceed(outcome, "authenticated", credentialed=True)
    if isinstance(outcome, Anonymous):
        return Proceed(outcome, "anonymous", credentialed=True)
    if isinstance(outcome, Expired):
        return Proceed(outcome, "expired", credentialed=True)
    if isinstance(outcome, Rejected):
        return Proceed(outcome, "rejected", credentialed=True)
    return Proceed(outcome, "unavailable", credentialed=True)


# -- the drivers -----------------------------------------------------------------------------------


T = TypeVar("T")
Step: TypeAlias = "Effect | ReadBody"
BodyReader: TypeAlias = Callable[[int], "bytes | None"]
AsyncBodyReader: TypeAlias = Callable[[int], Awaitable["bytes | None"]]


def _no_body(limit: int) -> bytes | None:
    raise TypeError("this plan asked for the request body, and its driver was given no way to read it")


async def _no_abody(limit: int) -> bytes | None:
    return _no_body(limit)


def drive(plan: Generator[Step, Any, T], perform: Callable[[Effect], object], read_body: BodyReader = _no_body) -> T:
    """Run ``plan`` with blocking I/O: each effect by ``perform`` (a resolver's), each
    :class:`ReadBody` by ``read_body`` (the request's body up to the limit, or None)."""
    try:
        step = next(plan)
        while True:
            step = plan.send(read_body(step.limit) if isinstance(step, ReadBody) else perform(step))
    except StopIteration as done:
        result: T = done.value
        return result


async def adrive(plan: Generator[Step, Any, T], perform: Callable[[Effect], Awaitable[object]],
                 read_body: AsyncBodyReader = _no_abody) -> T:
    """:func:`drive`, awaited: a plan that needs nothing (everything cached) runs inline."""
    try:
        step = next(plan)
        while True:
            step = plan.send(await (read_body(step.limit) if isinstance(step, ReadBody) else perform(step)))
    except StopIteration as done:
        result: T = done.value
        return result


# -- caching of responses that may carry the account -------------------------------------------------


VARY_CREDENTIALS = "Cookie, Authorization"


def cache_control(existing: str | None) -> str:
    """``Cache-Control`` for a response to a request that presented credentials: never
    stored by a shared cache. ``no-store`` and ``private`` are kept as they are; ``public``
    is dropped (the response may carry the account)."""
    if existing is None or not existing.strip():
        return "private"
    directives = [d.strip() for d in existing.split(",") if d.strip()]
    lowered = [d.lower() for d in directives]
    if "no-store" in lowered or "private" in lowered:
        return existing
    kept = [d for d, low in zip(directives, lowered, strict=True) if low != "public" and not low.startswith("s-maxage")]
    return ", ".join(["private", *kept])


def vary(existing: str | None) -> str:
    """``Vary`` with ``Cookie`` and ``Authorization`` added (every response behind the
    middleware may depend on them)."""
    if existing is None or not existing.strip():
        return VARY_CREDENTIALS
    names = [n.strip() for n in existing.split(",") if n.strip()]
    lowered = {n.lower() for n in names}
    if "*" in lowered:
        return existing
    names += [n for n in ("Cookie", "Authorization") if n.lower() not in lowered]
    return ", ".join(names)


def cache_headers(vary_value: str | None, cache_control_value: str | None, *, credentialed: bool) -> tuple[str, str | None]:
    """The ``Vary`` and ``Cache-Control`` values a response leaves with, given the app's
    (None: it set none): ``Cache-Control`` is None when the app's may stay as it is (the
    request presented no credential, so its response cannot depend on an account)."""
    return vary(vary_value), cache_control(cache_control_value) if credentialed else None


H = TypeVar("H", str, bytes)


class HeaderNames(Generic[H]):
    """An adapter's spelling of ``Vary`` and ``Cache-Control`` for :func:`with_cache_headers`
    (its case, ``str`` or ``bytes``), with what every answer needs worked out once: the
    lower case the app's headers are matched by, and the headers added to an answer that
    sets neither (most answers), so such an answer costs one scan and one copy."""

    __slots__ = ("cache_control", "lengths", "lowered", "plain", "vary")

    def __init__(self, vary_name: H, cache_control_name: H) -> None:
        self.vary: H = vary_name
        self.cache_control: H = cache_control_name
        self.lowered: frozenset[H] = frozenset((vary_name.lower(), cache_control_name.lower()))
        self.lengths = frozenset((len(vary_name), len(cache_control_name)))
        """Only a name this long can be one of them: ``len`` costs less than lower-casing."""
        self.plain: tuple[list[tuple[H, H]], list[tuple[H, H]]] = (_added(self, None, None, False),
                                                                   _added(self, None, None, True))
        """What is added to an answer that sets neither header, by ``credentialed``."""


def header_names(vary_name: H, cache_control_name: H) -> HeaderNames[H]:
    return HeaderNames(vary_name, cache_control_name)


def with_cache_headers(headers: Iterable[tuple[H, H]], names: HeaderNames[H], credentialed: bool) -> list[tuple[H, H]]:
    """``headers`` (a WSGI list of ``str`` pairs, or ASGI's ``bytes`` pairs, latin-1) with
    :func:`cache_headers` merged in, under ``names``; the app's own values of them are
    joined and replaced."""
    given: list[tuple[H, H]] = headers if type(headers) is list else list(headers)
    lengths, lowered = names.lengths, names.lowered
    for name, _value in given:
        if len(name) in lengths and name.lower() in lowered:
            return _merged(given, names, credentialed)
    # Most answers set neither: the app's headers as they are, then ours.
    return given + names.plain[credentialed]


def _merged(headers: list[tuple[H, H]], names: HeaderNames[H], credentialed: bool) -> list[tuple[H, H]]:
    """:func:`with_cache_headers` of an answer that sets ``Vary`` or ``Cache-Control``."""
    vary_lower, cc_lower = names.vary.lower(), names.cache_control.lower()
    out: list[tuple[H, H]] = []
    found_vary: str | None = None
    found_cc: str | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == vary_lower:
            text = _text(value)
            found_vary = text if found_vary is None else f"{found_vary}, {text}"
        elif credentialed and lowered == cc_lower:
            text = _text(value)
            found_cc = text if found_cc is None else f"{found_cc}, {text}"
        else:
            out.append((name, value))
    out += _added(names, found_vary, found_cc, credentialed)
    return out


def _added(names: HeaderNames[H], found_vary: str | None, found_cc: str | None,
           credentialed: bool) -> list[tuple[H, H]]:
    """The headers :func:`cache_headers` adds to an answer with these values of its own."""
    vary_name, cc_name = names.vary, names.cache_control
    key = (vary_name, found_vary, found_cc, credentialed)
    added: list[tuple[H, H]] | None = _ADDED.get(key)
    if added is None:
        vary_out, cc_out = cache_headers(found_vary, found_cc, credentialed=credentialed)
        added = [(vary_name, _spelled_as(vary_name, vary_out))]
        if cc_out is not None:
            added.append((cc_name, _spelled_as(cc_name, cc_out)))
        if len(_ADDED) < _MAX_ADDED:
            _ADDED[key] = added
    return added


# The headers added for each (spelling, app's Vary, app's Cache-Control, credentialed): an
# app sends a handful of distinct values, and every response pays for them otherwise. Bounded,
# since an app may build a value per request.
_ADDED: dict[tuple[str | bytes, str | None, str | None, bool], Any] = {}
_MAX_ADDED = 256


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


def _spelled_as(like: H, text: str) -> H:
    """``text`` as the same type as ``like`` (ASGI header values are latin-1 bytes)."""
    if isinstance(like, bytes):
        return text.encode("latin-1")
    return text


__all__ = [
    "PROCEED_ANONYMOUS",
    "VARY_CREDENTIALS",
    "AsyncBodyReader",
    "BodyReader",
    "Endpoint",
    "HeaderNames",
    "Proceed",
    "ProceedView",
    "Reason",
    "RequestPlan",
    "Respond",
    "account_plan",
    "adrive",
    "cache_control",
    "cache_headers",
    "header_names",
    "drive",
    "endpoint_for",
    "may_answer_up_front",
    "proceed_with",
    "quick_proceed",
    "request_plan",
    "up_front",
    "vary",
    "with_cache_headers",
]
