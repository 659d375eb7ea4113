"""The apps ``bench/wrk_bench.py`` serves under uvicorn (``--factory``): one Starlette app,
bare and behind FocusMiddleware configured from the ``FOCUS_*`` variables."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from focus_middleware.asgi import FocusMiddleware


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def bare() -> Starlette:
    return Starlette(routes=[Route("/", hello)])


def focus() -> Starlette:
    app = bare()
    app.add_middleware(FocusMiddleware)
    return app
