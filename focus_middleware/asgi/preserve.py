"""Keeping a form across a sign-in bounce, the ASGI side (see :mod:`focus_middleware.preserve`).

A framework's form parser (FastAPI's for ``Form`` parameters, which runs before any
dependency) consumes the body before a guard refuses, and Starlette keeps no parsed form
between ``Request`` objects. So :class:`~focus_middleware.asgi.FocusMiddleware` reads a
bounded body up front, only for a request the core says a bounce would keep (an expired
session posting a same-origin form), keeps its :class:`~focus_middleware.preserve.Posted`
in the scope and replays the body to the app untouched.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from focus_middleware.facts import RequestFacts
from focus_middleware.preserve import (
    KEEP_LIMIT,
    TOO_LARGE,
    FormKeeper,
    Posted,
    declared_too_large,
    keeps_form_for,
    posted_from_body,
)
from focus_middleware.responses import ResponseSpec

POSTED_KEY = "focus.posted"


async def keep_body(scope: Scope, receive: Receive, facts: RequestFacts) -> Receive:
    """Read up to :data:`KEEP_LIMIT` of the body into ``scope[POSTED_KEY]``; the returned
    ``receive`` gives the app every message read here, then the rest."""
    if declared_too_large(facts):
        scope[POSTED_KEY] = TOO_LARGE
        return receive
    read: deque[Message] = deque()
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            break  # the client went away: nothing to keep
        size += len(message.get("body", b""))
        if size > KEEP_LIMIT or not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in read)
            scope[POSTED_KEY] = posted_from_body(facts.headers.get("content-type", ""),
                                                 body if size <= KEEP_LIMIT else None)
            break

    async def replay() -> Message:
        return read.popleft() if read else await receive()

    return replay


class KeepingResponse(Response):
    """The refusal of a form post with an expired session: becomes, when called, the
    interstitial (or the must-resend page) for the form read up front, or the bare
    sign-in redirect for a route that turned keeping off or a form not read."""

    def __init__(self, keeper: FormKeeper, convert: Callable[[ResponseSpec], Response]) -> None:
        super().__init__(b"", status_code=keeper.plain.status)
        self.keeper = keeper
        self.convert = convert

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        posted = scope.get(POSTED_KEY)
        spec = self.keeper.respond(posted if isinstance(posted, Posted) else None,
                                   allowed=keeps_form_for(scope.get("endpoint")))
        await self.convert(spec)(scope, receive, send)


__all__ = ["POSTED_KEY", "KeepingResponse", "keep_body"]
