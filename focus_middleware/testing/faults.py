"""Call counters and fault knobs, applied by a pure ASGI middleware in front of the app.

Clients are judged by how they behave when the service misbehaves (a 503, a 429 with
``Retry-After``, a slow JWKS, an answer lost after the call took effect) and by how many upstream calls they make (caching, single
flight). This module lets a test arrange the first and count the second, without the
emulator's endpoints knowing anything about it.

Endpoints are named ``"METHOD /route/template"`` (``"GET /api/wallet"``). Credentials are
counted by their SHA-256 only: the raw token is never stored here. Every call is counted,
including those answered by a fault.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CredentialOf = Callable[[Scope], str | None]
EndpointOf = Callable[[Scope], str]


def credential_hash(token: str | None) -> str | None:
    return None if token is None else hashlib.sha256(token.encode()).hexdigest()


def _default_error(status: int) -> str:
    if status == 429:
        return "rate_limited"
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


@dataclass(frozen=True)
class InjectedFailure:
    """One planned answer that replaces the endpoint's real one."""

    status: int
    body: dict[str, Any] | None = None
    retry_after: int | None = None

    def response(self) -> JSONResponse:
        body = self.body
        if body is None:
            body = {"error": _default_error(self.status), "message": "injected by the emulator"}
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return JSONResponse(body, status_code=self.status, headers=headers)


UNAVAILABLE = InjectedFailure(503, {"error": "unavailable", "message": "endpoint is down"})


@dataclass
class Faults:
    """Thread-safe state: tests change it from their thread, the server reads it."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _calls: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    _planned: dict[str, deque[InjectedFailure]] = field(default_factory=dict)
    _latency: dict[str | None, float] = field(default_factory=dict)
    _response_delay: dict[str | None, float] = field(default_factory=dict)
    _down: set[str] = field(default_factory=set)

    # -- counters ---------------------------------------------------------------------

    def calls(self, endpoint: str, token: str | None = None) -> int:
        """Calls of ``endpoint`` made with ``token`` (any credential, or none, if None)."""
        with self._lock:
            if token is not None:
                return self._calls[(endpoint, credential_hash(token))]
            return sum(n for (name, _), n in self._calls.items() if name == endpoint)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- knobs ------------------------------------------------------------------------

    def fail_next(self, endpoint: str, failure: InjectedFailure, times: int = 1) -> None:
        with self._lock:
            self._planned.setdefault(endpoint, deque()).extend([failure] * times)

    def set_latency(self, seconds: float, endpoint: str | None = None) -> None:
        """Delay ``endpoint`` (every endpoint if None; a specific setting wins)."""
        with self._lock:
            if seconds > 0:
                self._latency[endpoint] = seconds
            else:
                self._latency.pop(endpoint, None)

    def set_response_delay(self, seconds: float, endpoint: str | None = None) -> None:
        """Hold ``endpoint``'s answer (every endpoint's if None) ``seconds`` after the
        handler has run: the call takes effect, the answer comes late or, for a client
        that gives up first, never. A specific setting wins over the global one."""
        with self._lock:
            if seconds > 0:
                self._response_delay[endpoint] = seconds
            else:
                self._response_delay.pop(endpoint, None)

    def set_down(self, endpoint: str, down: bool) -> None:
        with self._lock:
            if down:
                self._down.add(endpoint)
            else:
                self._down.discard(endpoint)

    def clear(self) -> None:
        """Remove every fault and latency; counters are kept (see ``reset_calls``)."""
        with self._lock:
            self._planned.clear()
            self._latency.clear()
            self._response_delay.clear()
            self._down.clear()

    # -- what the middleware asks -----------------------------------------------------

    def arrive(self, endpoint: str, token: str | None) -> Arrival:
        """Count a call and decide, at arrival, its delays and its injected answer."""
        with self._lock:
            self._calls[(endpoint, credential_hash(token))] += 1
            delay = self._latency.get(endpoint, self._latency.get(None, 0.0))
            hold = self._response_delay.get(endpoint, self._response_delay.get(None, 0.0))
            failure: InjectedFailure | None = None
            if endpoint in self._down:
                failure = UNAVAILABLE
            elif self._planned.get(endpoint):
                failure = self._planned[endpoint].popleft()
            return Arrival(delay, hold, failure)


@dataclass(frozen=True)
class Arrival:
    """What the knobs say about one call: wait before it, hold its answer, replace it."""

    delay: float
    response_delay: float
    failure: InjectedFailure | None


class FaultMiddleware:
    """Counts each HTTP call, then delays it and/or answers it as the knobs say."""

    def __init__(
        self, app: ASGIApp, faults: Faults, endpoint_of: EndpointOf, credential_of: CredentialOf
    ) -> None:
        self.app = app
        self.faults = faults
        self.endpoint_of = endpoint_of
        self.credential_of = credential_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrival = self.faults.arrive(self.endpoint_of(scope), self.credential_of(scope))
        if arrival.delay:
            await anyio.sleep(arrival.delay)
        if arrival.response_delay:
            send = _holding(send, arrival.response_delay)
        if arrival.failure is not None:
            await arrival.failure.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _holding(send: Send, seconds: float) -> Send:
    """``send``, with the start of the response held back ``seconds`` (the handler has
    run by then: a response starts only once the endpoint has returned it)."""

    async def held(message: Message) -> None:
        if message["type"] == "http.response.start":
            await anyio.sleep(seconds)
        await send(message)

    return held
