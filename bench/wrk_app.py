"""The apps ``bench/wrk_bench.py`` serves under uvicorn (``--factory``): one Starlette app,
bare, behind FocusMiddleware configured from the ``FOCUS_*`` variables, and behind the
required-surface floor (:mod:`bench.floors`) verifying against the same issuer."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bench.floors import RequiredSurfaceMiddleware
from bench.sketch import jwks_verifier
from focus_middleware.asgi import FocusMiddleware
from focus_middleware.config import FocusConfig


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def bare() -> Starlette:
    return Starlette(routes=[Route("/", hello)])


def focus() -> Starlette:
    app = bare()
    app.add_middleware(FocusMiddleware)
    return app


def floor() -> Starlette:
    config = FocusConfig.from_env()
    assert config.jwks_url is not None and config.issuer is not None
    app = bare()
    app.add_middleware(RequiredSurfaceMiddleware, verify=jwks_verifier(config.jwks_url, config.issuer))
    return app
