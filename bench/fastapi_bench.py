"""A full request through a FastAPI app, bare and behind FocusMiddleware with the
``current_account`` dependency.

Measured as ``asgi_bench`` measures Starlette: the ASGI app called directly inside one
running event loop, so the rows hold FastAPI, the middleware and the dependency only.
The hot path is a request whose JWT claims and wallet are cached (no network).

For issue 22's goals the baseline is the same app with a no-op ``Depends``, and
fastapi-clerk-auth (the ``bench`` extra) runs on that same app too: its dependency
verifies the JWT's signature on every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from fastapi import Depends, FastAPI

from bench.asgi_bench import _per_call, _request, _scope, _warm
from bench.env import BenchEnv, bench_env
from bench.floors import RequiredSurfaceMiddleware, fastapi_account
from bench.sketch import jwks_verifier
from bench.timing import Batch, async_batch, table
from focus_middleware import FocusAccount
from focus_middleware.asgi import FocusMiddleware
from focus_middleware.fastapi import RequireCredits, current_account, optional_account
from focus_middleware.resolver import AsyncResolver

CLERK_INSTALL = "pip install 'focus-middleware[bench]'  (or: pip install fastapi-clerk-auth)"


def _app(resolver: AsyncResolver | None) -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    if resolver is not None:

        @app.get("/me")
        async def me(account: FocusAccount = Depends(current_account)) -> dict[str, str]:
            return {"hello": "world"}

        @app.get("/maybe")
        async def maybe(account: FocusAccount | None = Depends(optional_account)) -> dict[str, str]:
            return {"hello": "world"}

        @app.get("/credits")
        async def credits(account: FocusAccount = Depends(RequireCredits(1))) -> dict[str, str]:
            return {"hello": "world"}

        app.add_middleware(FocusMiddleware, config=resolver.config, resolver=resolver)
    return app


async def _noop() -> None:
    return None


def _one_dependency_app(dependency: Callable[..., Any]) -> FastAPI:
    """The goals' FastAPI app: one route whose only work is its dependency."""
    app = FastAPI()

    @app.get("/me")
    async def me(account: Any = Depends(dependency)) -> dict[str, str]:
        return {"hello": "world"}

    return app


def clerk_dependency(env: BenchEnv) -> Callable[..., Any] | None:
    """fastapi-clerk-auth's bearer dependency against the emulator's JWKS, if installed."""
    try:
        from fastapi_clerk_auth import ClerkConfig, ClerkHTTPBearer  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    assert env.config.jwks_url is not None
    dependency: Callable[..., Any] = ClerkHTTPBearer(ClerkConfig(jwks_url=env.config.jwks_url))
    return dependency


def goal_batches(env: BenchEnv, loop: asyncio.AbstractEventLoop, stack: ExitStack) -> dict[str, Batch]:
    """The no-op ``Depends`` baseline, ``Depends(current_account)`` behind FocusMiddleware and,
    when installed, fastapi-clerk-auth's dependency: one app shape, warmed."""
    resolver = AsyncResolver(env.config)
    stack.callback(lambda: loop.run_until_complete(resolver.aclose()))
    focus = _one_dependency_app(current_account)
    focus.add_middleware(FocusMiddleware, config=resolver.config, resolver=resolver)
    scope = _scope("/me", [(b"authorization", b"Bearer " + env.token.encode())])
    assert env.config.jwks_url is not None and env.config.issuer is not None
    floor = _one_dependency_app(fastapi_account)
    floor.add_middleware(RequiredSurfaceMiddleware, verify=jwks_verifier(env.config.jwks_url, env.config.issuer))
    calls = {
        "fastapi.noop": _request(_one_dependency_app(_noop), scope),
        "fastapi.current_account": _request(focus, scope),
        "fastapi.floor": _request(floor, scope),
    }
    clerk = clerk_dependency(env)
    if clerk is not None:
        calls["fastapi.clerk"] = _request(_one_dependency_app(clerk), scope)
    _warm(loop, calls)
    return {name: async_batch(loop, call) for name, call in calls.items()}


def run() -> str:
    with bench_env() as env:
        auth: list[tuple[bytes, bytes]] = [(b"authorization", b"Bearer " + env.token.encode())]
        resolver = AsyncResolver(env.config)
        bare, focus = _app(None), _app(resolver)
        loop = asyncio.new_event_loop()
        try:
            cases: dict[str, Any] = {
                "bare": _request(bare, _scope("/", [])),
                "anonymous": _request(focus, _scope("/", [])),
                "bearer": _request(focus, _scope("/", auth)),
                "me": _request(focus, _scope("/me", auth)),
                "maybe": _request(focus, _scope("/maybe", auth)),
                "credits": _request(focus, _scope("/credits", auth)),
            }
            _warm(loop, cases)
            baseline = _per_call(loop, cases["bare"])
            rows = [
                ("bare FastAPI app", baseline, baseline),
                ("FocusMiddleware, no credentials", _per_call(loop, cases["anonymous"]), baseline),
                ("FocusMiddleware, hot path (bearer JWT)", _per_call(loop, cases["bearer"]), baseline),
                ("hot path + Depends(current_account)", _per_call(loop, cases["me"]), baseline),
                ("hot path + Depends(optional_account)", _per_call(loop, cases["maybe"]), baseline),
                ("hot path + Depends(RequireCredits(1))", _per_call(loop, cases["credits"]), baseline),
            ]
            loop.run_until_complete(resolver.aclose())
        finally:
            loop.close()
    return table("full request, in-process FastAPI (bench/fastapi_bench.py)", rows)


if __name__ == "__main__":
    print(run())
