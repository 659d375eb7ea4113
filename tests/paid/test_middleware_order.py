"""A client that leaves is not charged whatever wraps FocusMiddleware (issue 19, item 3):
a pure ASGI middleware, ``@app.middleware("http")`` and a ``BaseHTTPMiddleware`` added
after FocusMiddleware, so outside it. In process, with a raw ASGI ``receive`` that says
``http.disconnect`` as a server does once the client is gone (uvicorn sets it on
connection loss and then drops what the app sends: uvicorn/protocols/http/
httptools_impl.py ``RequestResponseCycle.send``/``receive``). The chaos suite does the same
over real servers.

Starlette's BaseHTTPMiddleware (starlette/middleware/base.py) runs the inner app in a task
of its own and forwards ``http.disconnect`` through ``receive_or_disconnect`` only while
someone inside is receiving; the paid endpoint never reads, so FocusMiddleware listens
itself while the paid answer is in flight."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from fastapi import FastAPI, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse, Response

from focus_middleware import FocusMiddleware, paid
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.paid.conftest import bearer, only_job

pytestmark = pytest.mark.anyio


def scope(path: str, token: str) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), *[(k.encode(), v.encode()) for k, v in bearer(token).items()]]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}


def build(config: FocusConfig, wrapper: str, gate: anyio.Event) -> Any:
    app = FastAPI()

    @app.post("/render")
    @paid(action="render", cost_estimate=5)
    async def render(request: Request) -> Response:
        await gate.wait()  # the client gives up meanwhile
        return JSONResponse({"done": True})

    app.add_middleware(FocusMiddleware, config=config)
    if wrapper == "http_decorator":

        @app.middleware("http")
        async def timing(request: Request, call_next: Any) -> Response:
            response: Response = await call_next(request)
            response.headers["x-took"] = "1"
            return response

    elif wrapper == "base_http":

        class Outer(BaseHTTPMiddleware):
            async def dispatch(self, request: Request, call_next: Any) -> Response:
                return await call_next(request)  # type: ignore[no-any-return]

        app.add_middleware(Outer)
    elif wrapper == "pure_asgi":
        inner = app

        async def outer(scope: Any, receive: Any, send: Any) -> None:
            await inner(scope, receive, send)

        return outer
    return app


class Connection:
    """A server's side of one connection: the request body, then ``http.disconnect`` once
    the client left; sends after that are dropped, as uvicorn drops them."""

    def __init__(self) -> None:
        self.gone = anyio.Event()
        self.body_sent = False
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if not self.gone.is_set():
            self.sent.append(message)


WRAPPERS = ["none", "pure_asgi", "http_decorator", "base_http"]


@pytest.mark.parametrize("wrapper", WRAPPERS)
async def test_a_client_that_left_before_the_answer_is_not_charged(config: FocusConfig, user: EmulatedUser,
                                                                   emu: FocusEmulator, wrapper: str) -> None:
    gate = anyio.Event()
    app = build(config, wrapper, gate)
    conn = Connection()
    async with anyio.create_task_group() as tg:
        tg.start_soon(app, scope("/render", user.pat()), conn.receive, conn.send)
        with anyio.fail_after(5):
            while not emu.jobs(user):
                await anyio.sleep(0.01)
        conn.gone.set()  # the client times out while the work runs
        await anyio.sleep(0.05)
        gate.set()
    assert conn.sent == []
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


@pytest.mark.parametrize("wrapper", WRAPPERS)
async def test_a_client_still_there_is_charged(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator,
                                               wrapper: str) -> None:
    """The other half: a disconnect the server reports only after the answer (uvicorn says
    ``http.disconnect`` once a response is complete) is the end, not a leaver."""
    gate = anyio.Event()
    gate.set()
    app = build(config, wrapper, gate)
    conn = Connection()

    async def send(message: dict[str, Any]) -> None:
        await conn.send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            conn.gone.set()

    await app(scope("/render", user.pat()), conn.receive, send)
    assert conn.sent[0]["status"] == 200
    assert only_job(emu, user)["status"] == "completed" and user.credits == 15


async def test_a_file_sent_with_pathsend_is_delivered(config: FocusConfig, user: EmulatedUser,
                                                      emu: FocusEmulator, tmp_path: Any) -> None:
    """A server with the ``http.response.pathsend`` extension (Granian) sends the file
    itself: the answer went out whole (https://asgi.readthedocs.io/en/latest/extensions.html#path-send)."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Route

    target = tmp_path / "video.bin"
    target.write_bytes(b"x" * 1000)

    @paid(action="render", cost_estimate=5)
    async def download(request: Request) -> Response:
        return FileResponse(target)

    app = Starlette(routes=[Route("/render", download, methods=["POST"])])
    app.add_middleware(FocusMiddleware, config=config)
    conn = Connection()
    request = scope("/render", user.pat())
    request["extensions"] = {"http.response.pathsend": {}}
    await app(request, conn.receive, conn.send)
    assert [m["type"] for m in conn.sent] == ["http.response.start", "http.response.pathsend"]
    assert only_job(emu, user)["status"] == "completed" and user.credits == 15
