"""The smallest apps each server of test_access_logs.py serves: one protected page,
``/studio``, and ``/boom``, which raises (so a server that logs only failures logs).
Configured from ``FOCUS_*`` in the environment, as a deployed app is."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from focus_middleware import FocusConfig, FocusMiddleware, require_account
from focus_middleware.wsgi import FocusWSGIMiddleware


class Boom(Exception):
    """Raised by ``/boom``; its message holds nothing of the request."""


@require_account
async def studio(request: Request) -> Response:
    return PlainTextResponse("studio")


async def boom(request: Request) -> Response:
    raise Boom("boom")


asgi_app = Starlette(routes=[Route("/studio", studio), Route("/boom", boom)])
asgi_app.add_middleware(FocusMiddleware, config=FocusConfig.from_env())


def _plain(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/boom":
        raise Boom("boom")
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"studio"]


wsgi_app = FocusWSGIMiddleware(_plain, config=FocusConfig.from_env())
