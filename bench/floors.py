"""Lower bounds for issue 22's Starlette rows: what any middleware costs that does no more
than the issue requires of Focus on a cached request, measured in the same run.

- :class:`EmptyMiddleware` is one pure-ASGI layer that only awaits the app: no middleware
  can add less. It bounds the "no credentials" row from below.
- :class:`RequiredSurfaceMiddleware` does the least the issue asks of every request, and
  nothing else: it finds the bearer, looks its verified claims up in a dict keyed by the
  header's ``hash`` (the token compared, its expiry checked), fills ``request.user``,
  ``request.auth`` and ``request.state`` as Starlette's ``AuthenticationMiddleware``
  contract has them, and adds ``Vary`` (and ``Cache-Control: private`` when credentialed)
  to the answer through a wrapped ``send``, appended without merging with the app's own.
  No wallet, no cookie, no events, no paid-work watch, no refusals.

Focus's added microseconds minus the floor's are what its other features cost per request.
A ratio goal below the floor's ratio cannot be met by any middleware with that surface.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
from starlette.authentication import AuthCredentials, SimpleUser, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Claims = dict[str, Any]

_VARY = (b"vary", b"Cookie, Authorization")
_ADDED_ANONYMOUS = [_VARY]
_ADDED_CREDENTIALED = [_VARY, (b"cache-control", b"private")]


class EmptyMiddleware:
    """One middleware layer that does nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _Verified:
    __slots__ = ("claims", "expires", "token")

    def __init__(self, token: str, claims: Claims) -> None:
        self.token = token
        self.claims = claims
        self.expires = float(claims["exp"])


class RequiredSurfaceMiddleware:
    """``request.user`` from a cached bearer, with ``Vary``/``Cache-Control``: see the module."""

    def __init__(self, app: ASGIApp, verify: Callable[[str], Claims]) -> None:
        self.app = app
        self._verify = verify
        self._verified: dict[int, _Verified] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        claims = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if value.startswith(b"Bearer "):
                    claims = self._claims(value)
                break
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["claims"] = claims
        if claims is not None:
            scope["user"] = SimpleUser(claims["sub"])
            scope["auth"] = AuthCredentials(["authenticated"])
            added = _ADDED_CREDENTIALED
        else:
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            added = _ADDED_ANONYMOUS

        def send_with_headers(message: Message) -> Any:
            if message["type"] == "http.response.start":
                return send({**message, "headers": [*message.get("headers", ()), *added]})
            return send(message)

        await self.app(scope, receive, send_with_headers)

    def _claims(self, header: bytes) -> Claims | None:
        key = hash(header)
        token = header[7:].decode("latin-1")
        found = self._verified.get(key)
        if found is not None and found.token == token and time.time() < found.expires:
            return found.claims
        try:  # a miss blocks the loop: acceptable in a floor, which is timed on hits only
            found = self._verified[key] = _Verified(token, self._verify(token))
        except jwt.PyJWTError:
            return None
        return found.claims
