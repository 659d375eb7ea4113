"""Lower bounds for issue 22's rows: what any middleware costs that does no more than the
issue requires of Focus on a cached request, in each framework, measured in the same run.

- :class:`EmptyMiddleware` is one pure-ASGI layer that only awaits the app: no middleware
  can add less. It bounds the "no credentials" row from below.
- The required-surface floors do the least the issue asks of every request, and nothing
  else: find the bearer, look its verified claims up in a dict keyed by the header's
  ``hash`` (the token compared, its expiry checked: :class:`VerifiedBearers`), put the
  account where the framework's users read it, and add ``Vary`` (and ``Cache-Control:
  private`` when credentialed) to the answer, appended without merging with the app's own.
  No wallet, no cookie, no events, no paid-work watch, no refusals, no laziness.

  - :class:`RequiredSurfaceMiddleware` (Starlette, FastAPI): ``request.user``,
    ``request.auth`` and ``request.state`` as Starlette's ``AuthenticationMiddleware``
    contract has them, the headers through a wrapped ``send``; FastAPI's route reads the
    account through :func:`fastapi_account`, a dependency taking the request;
  - :class:`WSGIRequiredSurface` (Werkzeug, Flask): ``environ["focus.account"]``, the
    headers through a wrapped ``start_response``; Flask's view reads it through
    :data:`flask_account`, a Werkzeug ``LocalProxy`` as ``current_account`` is;
  - :class:`DjangoRequiredSurface`: ``request.focus_account``, the headers written into
    the response's header store.

Focus's added microseconds minus the floor's are what its other features cost per request.
A ratio goal below the floor's ratio cannot be met by any middleware with that surface.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from starlette.authentication import AuthCredentials, SimpleUser, UnauthenticatedUser
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from werkzeug.local import LocalProxy

Claims = dict[str, Any]
Verify = Callable[[str], Claims]

_VARY = ("Vary", "Cookie, Authorization")
_CACHE_CONTROL = ("Cache-Control", "private")
_ADDED_ANONYMOUS = [(b"vary", _VARY[1].encode())]
_ADDED_CREDENTIALED = [*_ADDED_ANONYMOUS, (b"cache-control", _CACHE_CONTROL[1].encode())]


class EmptyMiddleware:
    """One middleware layer that does nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class FloorAccount:
    """The account as the floors attach it: what the benchmarks' views read."""

    __slots__ = ("clerk_id",)

    def __init__(self, clerk_id: str) -> None:
        self.clerk_id = clerk_id


class _Verified:
    __slots__ = ("claims", "expires", "token")

    def __init__(self, token: str, claims: Claims) -> None:
        self.token = token
        self.claims = claims
        self.expires = float(claims["exp"])


class VerifiedBearers:
    """Verified claims by the ``Authorization`` header's ``hash``, given only to the same
    token while it has not expired; a miss verifies (and blocks: acceptable in a floor,
    which is timed on hits only)."""

    def __init__(self, verify: Verify) -> None:
        self._verify = verify
        self._verified: dict[int, _Verified] = {}

    def claims(self, header: bytes | str) -> Claims | None:
        key = hash(header)
        token = header[7:]
        if isinstance(token, bytes):
            token = token.decode("latin-1")
        found = self._verified.get(key)
        if found is not None and found.token == token and time.time() < found.expires:
            return found.claims
        try:
            found = self._verified[key] = _Verified(token, self._verify(token))
        except jwt.PyJWTError:
            return None
        return found.claims


class RequiredSurfaceMiddleware:
    """Starlette's required surface from a cached bearer: see the module."""

    def __init__(self, app: ASGIApp, verify: Verify) -> None:
        self.app = app
        self._bearers = VerifiedBearers(verify)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        claims = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if value.startswith(b"Bearer "):
                    claims = self._bearers.claims(value)
                break
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        if claims is not None:
            state["focus_account"] = FloorAccount(claims["sub"])
            scope["user"] = SimpleUser(claims["sub"])
            scope["auth"] = AuthCredentials(["authenticated"])
            added = _ADDED_CREDENTIALED
        else:
            state["focus_account"] = None
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            added = _ADDED_ANONYMOUS

        def send_with_headers(message: Message) -> Any:
            if message["type"] == "http.response.start":
                return send({**message, "headers": [*message.get("headers", ()), *added]})
            return send(message)

        await self.app(scope, receive, send_with_headers)


async def fastapi_account(request: Request) -> FloorAccount:
    """FastAPI's dependency on the floor: the account the middleware attached."""
    account: FloorAccount | None = request.scope["state"]["focus_account"]
    if account is None:
        raise RuntimeError("the floor's FastAPI route is timed signed in only")
    return account


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WSGIRequiredSurface:
    """The WSGI required surface from a cached bearer: see the module."""

    def __init__(self, app: WSGIApp, verify: Verify) -> None:
        self.app = app
        self._bearers = VerifiedBearers(verify)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        header = environ.get("HTTP_AUTHORIZATION")
        claims = self._bearers.claims(header) if header is not None and header.startswith("Bearer ") else None
        environ["focus.account"] = None if claims is None else FloorAccount(claims["sub"])
        added = [_VARY] if claims is None else [_VARY, _CACHE_CONTROL]

        def start_with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *added], exc_info)

        return self.app(environ, start_with_headers)


def _flask_account() -> FloorAccount | None:
    from flask import request

    account: FloorAccount | None = request.environ.get("focus.account")
    return account


flask_account: FloorAccount | None = LocalProxy(_flask_account)  # type: ignore[assignment]
"""Flask's view on the floor reads the account through this proxy, as through ``current_account``."""


class DjangoRequiredSurface:
    """Django's required surface from a cached bearer: see the module. Django builds its
    middleware from a dotted path, so the verifier is set on the class first (:meth:`using`)."""

    bearers: VerifiedBearers | None = None

    @classmethod
    def using(cls, verify: Verify) -> None:
        cls.bearers = VerifiedBearers(verify)

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        assert self.bearers is not None, "DjangoRequiredSurface.using(verify) first"
        header = request.META.get("HTTP_AUTHORIZATION")
        claims = self.bearers.claims(header) if header is not None and header.startswith("Bearer ") else None
        request.focus_account = None if claims is None else FloorAccount(claims["sub"])
        response = self.get_response(request)
        store = response.headers._store  # the cheapest write, as django-focus's own (see its _finish)
        store["vary"] = _VARY
        if claims is not None:
            store["cache-control"] = _CACHE_CONTROL
        return response
