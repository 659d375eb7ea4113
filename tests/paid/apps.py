"""A Starlette app of paid endpoints, one per way paid work can end.

Query parameters steer the work so one route covers many outcomes: ``cost`` sets the
actual cost, ``end`` picks how it ends (``raise``, ``handled`` (raises, turned into a 200
by an exception handler), ``http`` (an ``HTTPException``) or a status code to return).
``ran`` counts the handlers that started, so a test can tell a refusal from a failure.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from focus_middleware import FakeClock, FocusConfig, FocusMiddleware, paid
from focus_middleware.jobs import FocusJob


class Handled(Exception):
    """Raised by a handler and turned into a 200 by the app's exception handler."""


ran: Counter[str] = Counter()
threads: dict[str, int] = {}  # the thread a sync handler ran in
gates: dict[str, threading.Event] = {}  # a test opens a gate to let a held handler go on
reserved: dict[str, anyio.Event] = {}  # set by /hold once its job is reserved


def _job(request: Request) -> FocusJob:
    job = request.state.focus_job
    assert isinstance(job, FocusJob)
    return job


def _finish(request: Request, job: FocusJob) -> Response:
    """Apply ``cost`` and ``end`` from the query."""
    params = request.query_params
    if "cost" in params:
        job.actual_cost = int(params["cost"])
    job.metadata["previewUrl"] = f"https://cdn.example.test/{job.job_id}.png"
    end = params.get("end", "ok")
    if end == "raise":
        raise RuntimeError("the work failed")
    if end == "handled":
        raise Handled()
    if end == "http":
        raise HTTPException(409, "conflicting work")
    status = 200 if end == "ok" else int(end)
    return JSONResponse({"job_id": job.job_id, "cost": job.cost_to_charge(), "clerk_id": job.clerk_id}, status_code=status)


@paid(action="render", cost_estimate=5, description="Render a video")
async def render(request: Request) -> Response:
    ran["render"] += 1
    return _finish(request, _job(request))


@paid(action="render", cost_estimate=5)
def render_sync(request: Request) -> Response:
    ran["render_sync"] += 1
    threads["render_sync"] = threading.get_ident()
    return _finish(request, _job(request))


class Renders(HTTPEndpoint):
    @paid(action="render", cost_estimate=5)
    async def post(self, request: Request) -> Response:
        ran["endpoint_post"] += 1
        return _finish(request, _job(request))

    @paid(action="render", cost_estimate=5)
    def put(self, request: Request) -> Response:
        ran["endpoint_put"] += 1
        return _finish(request, _job(request))


@paid(action="expensive", cost_estimate=10_000)
async def expensive(request: Request) -> Response:
    ran["expensive"] += 1
    return PlainTextResponse("never")


@paid(action="stream", cost_estimate=5)
async def stream(request: Request) -> Response:
    """``chunks`` chunks; ``fail_at`` raises before that chunk; ``slow`` waits between
    chunks (a client can leave meanwhile); ``outlive`` moves the fake clock past the
    session token's expiry before the last chunk, as a long stream would."""
    ran["stream"] += 1
    job = _job(request)
    params = request.query_params
    count = int(params.get("chunks", "3"))
    fail_at = int(params.get("fail_at", "-1"))
    slow = float(params.get("slow", "0"))
    outlive = float(params.get("outlive", "0"))
    clock: FakeClock | None = request.app.state.clock
    if "cost" in params:
        job.actual_cost = int(params["cost"])

    async def body() -> AsyncIterator[bytes]:
        for i in range(count):
            if i == fail_at:
                raise RuntimeError("the stream broke")
            if i == count - 1 and outlive and clock is not None:
                clock.advance(outlive)
            yield f"chunk {i}\n".encode()
            if slow:
                await anyio.sleep(slow)

    return StreamingResponse(body(), media_type="text/plain")


@paid(action="hold", cost_estimate=5)
async def hold(request: Request) -> Response:
    """Waits: for a gate a test opens from its thread (``gate``), or until cancelled."""
    ran["hold"] += 1
    key = request.query_params["key"]
    if key in reserved:
        reserved[key].set()
    gate = gates.get(key)
    if gate is None:
        await anyio.sleep_forever()
    else:
        await anyio.to_thread.run_sync(gate.wait, 10.0)
    return JSONResponse({"job_id": _job(request).job_id})


async def public(request: Request) -> Response:
    account = request.state.focus_account
    return JSONResponse({"credits": account.credits if account else None})


async def on_handled(request: Request, exc: Exception) -> Response:
    return JSONResponse({"handled": True})


ROUTES = [
    Route("/", public),
    Route("/render", render, methods=["GET", "POST"]),
    Route("/render-sync", render_sync, methods=["GET", "POST"]),
    Route("/renders", Renders),
    Route("/expensive", expensive, methods=["GET", "POST"]),
    Route("/stream", stream),
    Route("/hold", hold),
]


def paid_app(config: FocusConfig, clock: FakeClock | None = None, **options: Any) -> Starlette:
    app = Starlette(routes=list(ROUTES), exception_handlers={Handled: on_handled})
    app.state.clock = clock
    app.add_middleware(FocusMiddleware, config=config, **options)
    return app


def middleware_of(app: Starlette) -> FocusMiddleware:
    """The app's FocusMiddleware instance (built on first call of the app)."""
    stack: Any = app.middleware_stack
    if stack is None:
        app.middleware_stack = stack = app.build_middleware_stack()
    while not isinstance(stack, FocusMiddleware):
        stack = stack.app
    return stack
