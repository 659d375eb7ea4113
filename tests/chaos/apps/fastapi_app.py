"""The paid FastAPI app (``app``), and ``wrapped``: the same with an ``@app.middleware("http")``
added after ``FocusMiddleware``, which therefore wraps it (Starlette's ``add_middleware`` and
``@app.middleware`` put the last added outermost), as a timing or logging middleware often is."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

from focus_middleware import FocusConfig, FocusMiddleware
from focus_middleware.fastapi import FocusJob, PaidJob
from tests.chaos.apps import ESTIMATE, payload_path

render_job = PaidJob(action="render", cost_estimate=ESTIMATE)
boom_job = PaidJob(action="boom", cost_estimate=ESTIMATE)
stream_job = PaidJob(action="stream", cost_estimate=ESTIMATE)
file_job = PaidJob(action="file", cost_estimate=ESTIMATE)
Job = Annotated[FocusJob, Depends(render_job)]


def create_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(FocusMiddleware, config=FocusConfig.from_env())

    @app.get("/render")
    async def render(job: Job, ref: str, cost: int = ESTIMATE, sleep: float = 0.0) -> Response:
        job.metadata["ref"] = ref
        job.actual_cost = cost
        if sleep:
            await anyio.sleep(sleep)
        return PlainTextResponse(f"ok {ref} END\n")

    @app.get("/boom")
    async def boom(job: Annotated[FocusJob, Depends(boom_job)], ref: str) -> Response:
        job.metadata["ref"] = ref
        raise RuntimeError("the work failed")

    @app.get("/stream")
    async def stream(job: Annotated[FocusJob, Depends(stream_job)], ref: str, chunks: int = 3,
                     slow: float = 0.0) -> Response:
        job.metadata["ref"] = ref

        async def body() -> AsyncIterator[bytes]:
            for i in range(chunks):
                yield f"chunk {i}\n".encode()
                if slow:
                    await anyio.sleep(slow)
            yield f"{ref} END\n".encode()

        return StreamingResponse(body(), media_type="text/plain")

    @app.get("/file")
    async def file(job: Annotated[FocusJob, Depends(file_job)], ref: str) -> Response:
        job.metadata["ref"] = ref
        return FileResponse(payload_path(), media_type="text/plain")

    return app


app = create_app()

wrapped = create_app()


@wrapped.middleware("http")
async def timing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    began = time.perf_counter()
    response = await call_next(request)
    response.headers["x-elapsed"] = f"{time.perf_counter() - began:.4f}"
    return response
