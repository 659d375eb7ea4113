"""What the library did, as typed events an operator's subscribers turn into logs, metrics
or signals (issue 27).

Why events, once, here: every adapter runs the same core, so the core is the one place that
knows each decision and each call to Focus. Subscribers (:mod:`focus_middleware.telemetry`,
django-focus's signals) translate; adapters add nothing but a request id.

Cost with no subscriber: each emission site is guarded by ``if events.active:`` (one
module attribute read and one truthiness check), so no event object is built on the hot
path unless someone listens. ``bench`` measures it.

No event holds a credential: reasons are the resolver's short codes, calls carry their
endpoint template (``GET /api/oauthToken/{provider}``) and a URL whose query values are
redacted, never the URL that was sent. This module imports no framework.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlsplit

from focus_middleware.outcome import Authenticated, Expired, Outcome, Rejected, Unavailable

logger = logging.getLogger("focus_middleware.events")

T = TypeVar("T")

CacheLevel = Literal["l1", "l2"]
CacheKind = Literal["jwt", "remote", "wallet"]
Settlement = Literal["complete", "fail"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The resolver's answer for a request that presented credentials. ``outcome`` is
    ``authenticated``, ``expired``, ``rejected`` or ``unavailable``; ``reason`` the short
    code of a refusal (``signature``, ``azp``, ``refused``, ``rate_limited``...)."""

    outcome: str
    reason: str | None = None
    source: str | None = None
    kind: str | None = None

    @property
    def refused(self) -> bool:
        return self.outcome != "authenticated"


def decision_of(outcome: Outcome) -> Decision:
    """The event of one resolution: the outcome's kind and short codes, never its token."""
    if isinstance(outcome, Authenticated):
        credential = outcome.credential
        return Decision("authenticated", None, credential.source, credential.kind)
    if isinstance(outcome, Rejected):
        return Decision("rejected", outcome.reason, outcome.source)
    if isinstance(outcome, Expired):
        return Decision("expired", "expired", outcome.source)
    if isinstance(outcome, Unavailable):
        return Decision("unavailable", outcome.reason)
    return Decision("anonymous")


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """One cache read: which entry kind, which level, hit or miss."""

    kind: CacheKind
    level: CacheLevel
    hit: bool


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One HTTP exchange with Focus (or the issuer's JWKS). ``endpoint`` is the template
    (``POST /api/jobs``); ``url`` has every query value redacted; ``status`` is None when no
    answer came (``error`` then names the failure)."""

    endpoint: str
    method: str
    url: str
    server_address: str
    server_port: int | None
    status: int | None
    duration: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobReserved:
    app: str
    action: str
    cost_estimate: int
    job_id: str


@dataclass(frozen=True, slots=True)
class JobCompleted:
    """A completion the service confirmed: ``amount`` credits charged."""

    job_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class JobFailed:
    """A failure (with refund) the service confirmed."""

    job_id: str
    refunded: bool = True


@dataclass(frozen=True, slots=True)
class SettlementKept:
    """A settlement not delivered now; kept for the user's next request or shutdown."""

    job_id: str
    settlement: Settlement
    reason: str
    attempts: int


@dataclass(frozen=True, slots=True)
class SettlementDelivered:
    """A settlement kept earlier, delivered now."""

    job_id: str
    settlement: Settlement
    attempts: int


@dataclass(frozen=True, slots=True)
class SettlementGivenUp:
    """A settlement that will never land from here (refused for good, or still undelivered
    at shutdown: the service releases the reservation after 24 h)."""

    job_id: str
    settlement: Settlement
    reason: str


@dataclass(frozen=True, slots=True)
class BudgetExhausted:
    """A remote credential check turned away by the remote-check budget."""


@dataclass(frozen=True, slots=True)
class JwksRefresh:
    """A fetch of the issuer's keys: ``ok`` when it brought a usable key set."""

    ok: bool
    keys: int


Event: TypeAlias = (Decision | CacheLookup | UpstreamCall | JobReserved | JobCompleted | JobFailed | SettlementKept
                    | SettlementDelivered | SettlementGivenUp | BudgetExhausted | JwksRefresh)
Subscriber: TypeAlias = Callable[[Event], None]

_subscribers: tuple[Subscriber, ...] = ()
active: bool = False
"""True while at least one subscriber listens: emission sites check it before building an event."""

request_id: ContextVar[str | None] = ContextVar("focus_request_id", default=None)
"""The framework's request id, when an adapter or app sets it; subscribers may read it."""

REQUEST_ID_MAX = 128
"""Longest ``X-Request-ID`` taken: a proxy's id fits (UUIDs, Heroku's, nginx's $request_id);
a client cannot make every log line of its request arbitrarily long."""


def enter_request(header: str | bytes | None) -> Token[str | None] | None:
    """Set :data:`request_id` to an ``X-Request-ID`` header's value for the request an
    adapter is serving; the returned token goes to :func:`leave_request` once it is served.

    Only while someone subscribes (otherwise nobody reads it and the hot path stays as it
    was), and only a value that is safe to put on a log line: 1 to :data:`REQUEST_ID_MAX`
    printable ASCII characters without spaces. Anything else leaves :data:`request_id` as
    it was (an app's own outer middleware may have set it), rather than logging a client's
    arbitrary bytes."""
    if not active or not header:
        return None
    value = header.decode("latin-1") if isinstance(header, bytes) else header
    if len(value) > REQUEST_ID_MAX or not value.isascii() or not value.isprintable() or " " in value:
        return None
    return request_id.set(value)


def leave_request(token: Token[str | None] | None) -> None:
    """Put :data:`request_id` back as it was before :func:`enter_request`: a server's worker
    thread or task serving the next request must not carry this one's id."""
    if token is not None:
        request_id.reset(token)


def request_id_to_keep() -> str | None:
    """The request id to hand :func:`in_request` once the adapter has left the request:
    the current one while someone subscribes, else None (nobody would read it)."""
    return request_id.get() if active else None


def in_request(kept_id: str | None, work: Callable[[], T]) -> T:
    """``work()`` with a request's id (read from :data:`request_id` while it was served) in
    force again: a settlement the server runs once the body is over (its end, ``close()``)
    comes after the adapter left the request, and its events belong to it all the same."""
    if kept_id is None:
        return work()
    token = request_id.set(kept_id)
    try:
        return work()
    finally:
        request_id.reset(token)


def subscribe(callback: Subscriber) -> Callable[[], None]:
    """Call ``callback`` with every event from now on; returns the function that stops it.
    A callback runs inline where the event happens: it should be quick and must not raise
    (an exception is logged and swallowed, never turned into a failed request)."""
    global _subscribers, active
    _subscribers = (*_subscribers, callback)
    active = True

    def unsubscribe() -> None:
        global _subscribers, active
        _subscribers = tuple(s for s in _subscribers if s is not callback)
        active = bool(_subscribers)

    return unsubscribe


def emit(event: Event) -> None:
    """Hand ``event`` to every subscriber. Sites call it under ``if events.active:``."""
    for callback in _subscribers:
        try:
            callback(event)
        except Exception:
            logger.exception("focus: event subscriber %r failed on %s", callback, type(event).__name__)


def redacted_url(url: str) -> str:
    """``url`` without userinfo or fragment and with each query value replaced by
    ``REDACTED`` (OpenTelemetry's ``url.full`` rule): a ``device_code`` or ``token`` in a
    query never leaves the process through telemetry."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    query = "&".join(f"{key}=REDACTED" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def upstream_call(endpoint: str, method: str, url: str, params: tuple[tuple[str, str], ...], status: int | None,
                  started: float, error: str | None = None) -> UpstreamCall:
    """Build the event of one exchange; ``url`` is the absolute URL without its query,
    ``params`` the query (only its keys are kept)."""
    parts = urlsplit(url)
    query = "&".join(f"{key}=REDACTED" for key, _ in params)
    full = redacted_url(url) + (("&" if parts.query else "?") + query if query else "")
    return UpstreamCall(endpoint, method, full, parts.hostname or "", parts.port, status, time.monotonic() - started, error)


__all__ = [
    "REQUEST_ID_MAX", "BudgetExhausted", "CacheLookup", "Decision", "Event", "JobCompleted", "JobFailed", "JobReserved",
    "JwksRefresh",
    "SettlementDelivered", "SettlementGivenUp", "SettlementKept", "Subscriber", "UpstreamCall", "active", "emit",
    "enter_request", "in_request", "leave_request", "redacted_url", "request_id", "request_id_to_keep", "subscribe",
    "upstream_call",
]
