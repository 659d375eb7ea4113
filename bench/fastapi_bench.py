"""A full request through a FastAPI app, bare and behind FocusMiddleware with the
``current_account`` dependency.

Measured as ``asgi_bench`` measures Starlette: the ASGI app called directly inside one
running event loop, so the rows hold FastAPI, the middleware and the dependency only.
The hot path is a request whose JWT claims and wallet are cached (no network).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, FastAPI

from bench.asgi_bench import ORIGIN, _per_call, _request, _scope
from bench.timing import table
from focus_middleware import FocusAccount, FocusConfig, FocusMiddleware
from focus_middleware.fastapi import RequireCredits, current_account, optional_account
from focus_middleware.resolver import AsyncResolver
from focus_middleware.testing import FocusEmulator


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


def run() -> str:
    with FocusEmulator(db=":memory:") as emu:
        emu.create_app("bench", starter_credits=0)
        user = emu.create_user(credits=100)
        config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="bench", public_origin=ORIGIN)
        token = user.session_jwt(azp=ORIGIN, lifetime=3600).encode()
        auth: list[tuple[bytes, bytes]] = [(b"authorization", b"Bearer " + token)]
        resolver = AsyncResolver(config)
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
            for call in cases.values():  # warm: JWKS, claims and wallet cached
                loop.run_until_complete(call())
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
