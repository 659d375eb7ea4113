"""A full request through a Starlette app, bare and behind FocusMiddleware.

The ASGI app is called directly with a prepared scope and no-op receive/send, many times
inside one running event loop, so the figures hold the app and the middleware only: no
HTTP client, no server, no event-loop start-up per call. Rows are ratios against the bare
app; the hot path is a request whose JWT claims and wallet are cached (no network).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bench.env import ORIGIN, BenchEnv, bench_env
from bench.floors import EmptyMiddleware, RequiredSurfaceMiddleware
from bench.sketch import SketchMiddleware, jwks_verifier
from bench.timing import Batch, as_parsed, async_batch, table
from focus_middleware.asgi import FocusMiddleware, require_credits
from focus_middleware.resolver import AsyncResolver

__all__ = ["ORIGIN", "goal_batches", "run"]


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


@require_credits(1)
async def guarded(request: Request) -> Response:
    return PlainTextResponse("hello")


def _app(resolver: AsyncResolver | None) -> Starlette:
    app = Starlette(routes=[Route("/", hello), Route("/guarded", guarded)])
    if resolver is not None:
        app.add_middleware(FocusMiddleware, config=resolver.config, resolver=resolver)
    return app


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"), *headers],
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


_CREDENTIAL_HEADERS = (b"authorization", b"cookie")


def _request(app: Any, scope: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    """One request to ``app`` per call. The credential headers' values are new objects
    each time, as a server's parser makes them: a ``bytes`` object keeps its hash once
    computed, and code that hashes the header (Focus finds its remembered answers so)
    must not be timed on a hash worked out once for all requests. The copy (about 0.1 µs
    for a JWT) is counted against the case that carries credentials, never the bare app."""
    headers = scope["headers"]
    credentials = [(index, name, value) for index, (name, value) in enumerate(headers) if name in _CREDENTIAL_HEADERS]
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def call() -> None:
        received = headers
        if credentials:
            received = headers.copy()
            for index, name, value in credentials:
                received[index] = (name, as_parsed(value))
        await app({**scope, "headers": received}, _receive, send)
        if statuses.pop() != 200:
            raise RuntimeError(f"{scope['path']} did not answer 200")

    return call


def _per_call(loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[None]], *, number: int = 2000,
              repeat: int = 7) -> float:
    """Seconds per call, the best of ``repeat`` batches run inside the loop."""
    batch = async_batch(loop, call)
    return min(batch(number) for _ in range(repeat)) / number


def _warm(loop: asyncio.AbstractEventLoop, calls: dict[str, Callable[[], Awaitable[None]]]) -> None:
    for call in calls.values():  # JWKS, claims and wallet cached
        loop.run_until_complete(call())


def goal_batches(env: BenchEnv, loop: asyncio.AbstractEventLoop, stack: ExitStack) -> dict[str, Batch]:
    """Issue 22's Starlette cases, the bare app and the reference sketch, warmed."""
    resolver = AsyncResolver(env.config)
    stack.callback(lambda: loop.run_until_complete(resolver.aclose()))
    assert env.config.jwks_url is not None and env.config.issuer is not None
    verify = jwks_verifier(env.config.jwks_url, env.config.issuer)
    sketch = Starlette(routes=[Route("/", hello)])
    sketch.add_middleware(SketchMiddleware, verify=verify)
    empty = Starlette(routes=[Route("/", hello)])
    empty.add_middleware(EmptyMiddleware)
    floor = Starlette(routes=[Route("/", hello)])
    floor.add_middleware(RequiredSurfaceMiddleware, verify=verify)
    token = env.token.encode()
    bare, focus = _app(None), _app(resolver)
    bearer = [(b"authorization", b"Bearer " + token)]
    calls = {
        "starlette.bare": _request(bare, _scope("/", [])),
        "starlette.bearer": _request(focus, _scope("/", bearer)),
        "starlette.cookie": _request(focus, _scope("/", [(b"cookie", b"theme=dark; focus_session=" + token)])),
        "starlette.anonymous": _request(focus, _scope("/", [])),
        "starlette.sketch": _request(sketch, _scope("/", bearer)),
        "starlette.empty": _request(empty, _scope("/", [])),
        "starlette.floor.bearer": _request(floor, _scope("/", bearer)),
        "starlette.floor.anonymous": _request(floor, _scope("/", [])),
    }
    _warm(loop, calls)
    return {name: async_batch(loop, call) for name, call in calls.items()}


def run() -> str:
    with bench_env() as env:
        token = env.token.encode()
        resolver = AsyncResolver(env.config)
        bare, focus = _app(None), _app(resolver)
        loop = asyncio.new_event_loop()
        try:
            cases = {
                "bare": _request(bare, _scope("/", [])),
                "anonymous": _request(focus, _scope("/", [])),
                "bearer": _request(focus, _scope("/", [(b"authorization", b"Bearer " + token)])),
                "cookie": _request(focus, _scope("/", [(b"cookie", b"theme=dark; focus_session=" + token)])),
                "guarded": _request(focus, _scope("/guarded", [(b"authorization", b"Bearer " + token)])),
            }
            _warm(loop, cases)
            baseline = _per_call(loop, cases["bare"])
            rows = [
                ("bare Starlette app", baseline, baseline),
                ("FocusMiddleware, no credentials", _per_call(loop, cases["anonymous"]), baseline),
                ("FocusMiddleware, hot path (bearer JWT)", _per_call(loop, cases["bearer"]), baseline),
                ("FocusMiddleware, hot path (app cookie)", _per_call(loop, cases["cookie"]), baseline),
                ("hot path + @require_credits(1)", _per_call(loop, cases["guarded"]), baseline),
            ]
            loop.run_until_complete(resolver.aclose())
        finally:
            loop.close()
    return table("full request, in-process ASGI (bench/asgi_bench.py)", rows)
