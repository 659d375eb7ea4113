"""How hypercorn and Granian report ``http.disconnect``, in process (issue 19): the chaos
suite found both over the real servers (tests/chaos, ``-k "hypercorn or granian"``); these
pin the two behaviours down with a raw ASGI ``receive``/``send`` that does what each server
does, so a regression shows without starting a server.

- hypercorn closes a ``Connection: close`` stream once the app's last body message is
  handed over and puts ``http.disconnect`` in the app's queue while that very send runs
  (hypercorn/protocol/http_stream.py ``HTTPStream.app_send``: ``EndBody`` then
  ``StreamClosed``, whose handling calls ``app_put({"type": "http.disconnect"})``).
  Starlette's StreamingResponse (spec < 2.4: starlette/responses.py
  ``StreamingResponse.__call__``) awaits ``receive`` in ``listen_for_disconnect`` from
  before the answer starts, so that disconnect reaches a receive that was waiting all along.
  A fully received stream must be charged.
- Granian delivers ``http.disconnect`` to ``receive`` (emmett-framework/granian PR #524,
  "Add client disconnection handling in ASGI and RSGI"), but resolves the awaited future
  from its Rust runtime thread: a receive first awaited when the answer starts does not
  get it within a few turns of the loop (seen in the chaos suite's log: awaited at the
  answer's start, cancelled 0.6 ms later at the last chunk with nothing, the client gone
  for a second). A client that left while the work ran must be refunded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from focus_middleware import FocusMiddleware, paid
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.paid.conftest import only_job
from tests.paid.test_middleware_order import scope

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Granian and hypercorn (here) run the app on asyncio


def app_for(config: FocusConfig, work: anyio.Event | None = None) -> Starlette:
    @paid(action="render", cost_estimate=5)
    async def stream(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"chunk {i}\n".encode()

        return StreamingResponse(body(), media_type="text/plain")

    @paid(action="render", cost_estimate=5)
    async def render(request: Request) -> Response:
        assert work is not None
        await work.wait()  # the client leaves meanwhile
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/stream", stream, methods=["POST"]), Route("/render", render, methods=["POST"])])
    app.add_middleware(FocusMiddleware, config=config)
    return app


class HypercornStream:
    """One ``Connection: close`` request: the body, then ``http.disconnect`` put in the
    queue during the send of the answer's last message."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})
        self.body = b""

    async def receive(self) -> dict[str, Any]:
        return await self.queue.get()

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.body += message.get("body", b"")
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.queue.put_nowait({"type": "http.disconnect"})
            await asyncio.sleep(0)  # the server's write: the app's listener runs meanwhile


async def test_a_stream_received_whole_on_hypercorn_is_charged(config: FocusConfig, user: EmulatedUser,
                                                               emu: FocusEmulator) -> None:
    conn = HypercornStream()
    await app_for(config)(scope("/stream", user.pat()), conn.receive, conn.send)
    assert conn.body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert only_job(emu, user)["status"] == "completed" and user.credits == 15


class GranianConnection:
    """``receive`` after the body: a future the server's own thread resolves with
    ``http.disconnect`` once the client is gone, through ``call_soon_threadsafe``, some
    time after it is awaited (the hop from the runtime's thread). Sends after the client
    left are dropped, as Granian drops them (no error: granian issue #650)."""

    HOP = 0.02  # seconds from the awaited receive to the runtime's answer

    def __init__(self) -> None:
        self.body_sent = False
        self.gone = threading.Event()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()

        def runtime() -> None:
            self.gone.wait()
            time.sleep(self.HOP)
            loop.call_soon_threadsafe(answer)

        def answer() -> None:
            if not future.done():
                future.set_result({"type": "http.disconnect"})

        threading.Thread(target=runtime, daemon=True).start()
        return await future

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if not self.gone.is_set():
            self.sent.append(dict(message))


async def test_a_client_that_left_during_the_work_on_granian_is_refunded(config: FocusConfig, user: EmulatedUser,
                                                                         emu: FocusEmulator) -> None:
    work = anyio.Event()
    conn = GranianConnection()
    async with anyio.create_task_group() as tg:
        tg.start_soon(app_for(config, work).__call__, scope("/render", user.pat()), conn.receive, conn.send)
        with anyio.fail_after(5):
            while not emu.jobs(user):
                await anyio.sleep(0.01)
        conn.gone.set()  # the client times out while the work runs
        await anyio.sleep(0.2)  # Granian has long known by the time the answer is ready
        work.set()
    assert conn.sent == []
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20
