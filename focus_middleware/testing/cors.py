"""Credentialed CORS for ``/api/*``, as the service answers browsers on other origins.

An app's page calls ``/api/sessionToken`` (and others) with ``credentials: "include"``.
For an allow-listed ``Origin`` the answer names that origin exactly and allows
credentials; never ``*`` (browsers refuse ``*`` with credentials, and it would hand the
user's tokens to any site). Other origins get no CORS headers at all, so their scripts
cannot read the answer. ``Vary: Origin`` keeps caches from mixing the two.

Preflights are answered here, before the fault knobs and counters: they are the browser's
bookkeeping, not calls of the endpoint.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from focus_middleware.testing.origins import Origins

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
MAX_AGE = "600"
API_PREFIX = "/api/"


class CORSMiddleware:
    def __init__(self, app: ASGIApp, origins: Origins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin if self.origins.allows(origin) else None
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(allowed)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_cors(MutableHeaders(scope=message), allowed)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(allowed: str | None) -> Response:
        response = Response(status_code=204)
        _add_cors(response.headers, allowed)
        if allowed is not None:
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
        return response


def _add_cors(headers: MutableHeaders, allowed: str | None) -> None:
    headers.add_vary_header("Origin")
    if allowed is not None:
        headers["Access-Control-Allow-Origin"] = allowed
        headers["Access-Control-Allow-Credentials"] = "true"
