"""The four adapters, each behind the same two routes, and one small function per adapter
that sends a request through the framework's own test tool and returns what came back.

- ASGI: ``FocusMiddleware`` around a tiny Starlette app, driven by ``httpx.ASGITransport``
  in one event loop for the module (an ``anyio`` blocking portal), so the middleware's
  async client and caches live in a single loop, as under a server.
- WSGI: ``FocusWSGIMiddleware`` around a Werkzeug app, with Werkzeug's test ``Client``.
- Flask: ``flask_focus.Focus`` with ``app.test_client()``.
- Django: ``django_focus``'s middleware (tests/django's project, this folder's URLs) with
  ``django.test.Client``; ``FOCUS`` is switched with ``override_settings``, whose
  ``setting_changed`` signal makes django_focus build a runtime for the new settings.

Cookies travel as a ``Cookie`` header and come back as ``Set-Cookie`` values, so every
adapter is compared on the wire rather than through four cookie jars.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from anyio.from_thread import BlockingPortal
from flask import Flask, jsonify, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from flask_focus import Focus, state_of
from focus_middleware import FocusConfig, FocusMiddleware, require_account
from focus_middleware.wsgi import FocusWSGIMiddleware, focus_account
from focus_middleware.wsgi import require_account as wsgi_require_account
from tests.conformance.views import account_view


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    """Lower-case names; the first value of each."""
    set_cookies: list[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Adapter(Protocol):
    name: str

    def open(self, config: FocusConfig, settings: dict[str, Any]) -> Any:
        """An app for this configuration (``settings`` are the same values as field names)."""

    def send(self, app: Any, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Reply: ...

    def close(self, app: Any) -> None: ...


# -- ASGI ---------------------------------------------------------------------------------------


async def _asgi_public(request: Request) -> Response:
    return JSONResponse(account_view(request.state.focus_account, getattr(request.user, "reason", None)))


@require_account
async def _asgi_private(request: Request) -> Response:
    return JSONResponse(account_view(request.state.focus_account, None))


class ASGIAdapter:
    name = "asgi"

    def __init__(self, portal: BlockingPortal, origin: str) -> None:
        self.portal = portal
        self.origin = origin

    def open(self, config: FocusConfig, settings: dict[str, Any]) -> FocusMiddleware:
        routes = [Route("/", _asgi_public), Route("/private", _asgi_private)]
        return FocusMiddleware(Starlette(routes=routes), config=config)

    def send(self, app: FocusMiddleware, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Reply:
        async def call() -> Reply:
            transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
            async with httpx.AsyncClient(transport=transport, base_url=self.origin) as client:
                r = await client.request(method, target, headers=headers, content=body)
            return Reply(r.status_code, {k: v for k, v in reversed(r.headers.multi_items())},
                         r.headers.get_list("set-cookie"), r.content)

        return self.portal.call(call)

    def close(self, app: FocusMiddleware) -> None:
        self.portal.call(app.aclose)


# -- WSGI (Werkzeug) ----------------------------------------------------------------------------------


def _wsgi_public(request: WerkzeugRequest) -> WerkzeugResponse:
    view = account_view(focus_account(request.environ), request.environ["focus"].reason)
    return WerkzeugResponse(json.dumps(view), mimetype="application/json")


@wsgi_require_account
def _wsgi_private(request: WerkzeugRequest) -> WerkzeugResponse:
    view = account_view(focus_account(request.environ), None)
    return WerkzeugResponse(json.dumps(view), mimetype="application/json")


_WSGI_VIEWS: dict[str, Callable[[WerkzeugRequest], Any]] = {"public": _wsgi_public, "private": _wsgi_private}
_WSGI_URLS = Map([Rule("/", endpoint="public"), Rule("/private", endpoint="private")])


def _werkzeug_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    endpoint, _ = _WSGI_URLS.bind_to_environ(environ).match()
    return _WSGI_VIEWS[endpoint](WerkzeugRequest(environ))(environ, start_response)


def _werkzeug_reply(r: Any) -> Reply:
    return Reply(r.status_code, {k.lower(): v for k, v in reversed(list(r.headers.items()))},
                 r.headers.getlist("Set-Cookie"), r.get_data())


class WSGIAdapter:
    name = "wsgi"

    def open(self, config: FocusConfig, settings: dict[str, Any]) -> FocusWSGIMiddleware:
        return FocusWSGIMiddleware(_werkzeug_app, config=config)

    def send(self, app: FocusWSGIMiddleware, method: str, target: str, headers: dict[str, str],
             body: bytes | None) -> Reply:
        r = Client(app, use_cookies=False).open(target, method=method, headers=headers, data=body, buffered=True)
        return _werkzeug_reply(r)

    def close(self, app: FocusWSGIMiddleware) -> None:
        app.close()


# -- Flask ----------------------------------------------------------------------------------------


class FlaskAdapter:
    name = "flask"

    def open(self, config: FocusConfig, settings: dict[str, Any]) -> Flask:
        app = Flask(__name__)
        app.config.update(TESTING=True)
        focus = Focus(config=config)

        @app.get("/")
        def public() -> Any:
            return jsonify(account_view(request.focus_account, request.focus_reason))  # type: ignore[attr-defined]

        @app.get("/private")
        @focus.login_required
        def private() -> Any:
            return jsonify(account_view(request.focus_account, None))  # type: ignore[attr-defined]

        focus.init_app(app)
        return app

    def send(self, app: Flask, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Reply:
        r = app.test_client(use_cookies=False).open(target, method=method, headers=headers, data=body, buffered=True)
        return _werkzeug_reply(r)

    def close(self, app: Flask) -> None:
        state_of(app).close()


# -- Django ---------------------------------------------------------------------------------------


class DjangoAdapter:
    """One Django project per process: the adapter's "app" is the settings override that
    points django_focus at a configuration; only one is active at a time."""

    name = "django"

    def __init__(self) -> None:
        self._active: tuple[int, AbstractContextManager[Any]] | None = None

    def open(self, config: FocusConfig, settings: dict[str, Any]) -> dict[str, Any]:
        return settings

    def _activate(self, settings: dict[str, Any]) -> None:
        from django.test import override_settings

        if self._active is not None and self._active[0] == id(settings):
            return
        self._deactivate()
        override = override_settings(FOCUS=settings, ROOT_URLCONF="tests.conformance.django_urls")
        override.__enter__()
        self._active = (id(settings), override)

    def _deactivate(self) -> None:
        if self._active is not None:
            self._active[1].__exit__(None, None, None)
            self._active = None

    def send(self, app: dict[str, Any], method: str, target: str, headers: dict[str, str],
             body: bytes | None) -> Reply:
        from django.test import Client as DjangoClient

        self._activate(app)
        extra = dict(headers)
        content_type = extra.pop("content-type", "application/octet-stream")
        r = DjangoClient().generic(method, target, data=body or b"", content_type=content_type, headers=extra)
        cookies = [morsel.OutputString() for morsel in r.cookies.values()]
        return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, cookies, r.content)

    def close(self, app: dict[str, Any]) -> None:
        self._deactivate()


def adapters(portal: BlockingPortal, origin: str) -> Iterator[Adapter]:
    yield ASGIAdapter(portal, origin)
    yield WSGIAdapter()
    yield FlaskAdapter()
    yield DjangoAdapter()
