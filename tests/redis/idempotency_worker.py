"""One app process for tests/redis/test_idempotency_shared.py: a paid route behind the ASGI
or WSGI middleware with Redis as the shared cache. Prints ``{"ready": true}``, waits for a
line on stdin, sends one keyed POST through its framework's test client and prints the status."""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

from focus_middleware import FocusConfig, FocusMiddleware
from focus_middleware import paid as asgi_paid
from focus_middleware.wsgi import FocusWSGIMiddleware, focus_job
from focus_middleware.wsgi import paid as wsgi_paid


BODY = b'{"clip": 1}'  # the same bytes from both clients: the key's body hash is over the bytes sent


def main() -> None:
    kind, settings, headers = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    config = FocusConfig(**settings)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    status = asgi(config, headers) if kind == "asgi" else wsgi(config, headers)
    print(json.dumps({"status": status}), flush=True)


def asgi(config: FocusConfig, headers: dict[str, str]) -> int:
    @asgi_paid(action="export", cost_estimate=5)
    async def export(request: Request) -> JSONResponse:
        return JSONResponse({"job_id": request.state.focus_job.job_id})

    app = Starlette(routes=[Route("/export", export, methods=["POST"])])
    app.add_middleware(FocusMiddleware, config=config)

    async def send() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=config.public_origin or "") as client:
            return (await client.post("/export", content=BODY, headers=headers)).status_code

    return anyio.run(send)


def wsgi(config: FocusConfig, headers: dict[str, str]) -> int:
    @wsgi_paid(action="export", cost_estimate=5)
    def export(request: WRequest) -> WResponse:
        return WResponse(json.dumps({"job_id": focus_job(request.environ).job_id}), mimetype="application/json")

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return export(WRequest(environ))(environ, start_response)

    return Client(FocusWSGIMiddleware(app, config=config)).post("/export", data=BODY, headers=headers,
                                                                 buffered=True).status_code


if __name__ == "__main__":
    main()
