"""Under a real server, a request through FocusMiddleware leaves nothing for the cyclic
garbage collector, as the same app without it leaves nothing.

uvicorn and hypercorn hand the app ``receive`` and ``send`` as bound methods of their
per-request state, which holds the scope (uvicorn 0.55, ``uvicorn/protocols/http/h11_impl.py``:
``RequestResponseCycle.run_asgi`` calls ``app(self.scope, self.receive, self.send)``;
hypercorn 0.18, ``hypercorn/protocol/http_stream.py``: ``HTTPStream`` keeps ``self.scope``
and spawns the app with ``self.app_send``); the scope holds the request's ``FocusContext``.
A context that kept them after the response made every request a reference cycle: found
under ``wrk`` (``python -m bench --only wrk``), where the Focus server ran 30 times the bare
app's collections, a full one every few thousand requests, and its p99 latency was five
times the bare app's. The in-process harness could not show it: its ``send`` holds no
scope. So these requests go through the servers themselves, over loopback.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from focus_middleware import FocusConfig, FocusMiddleware
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.asgi.server import Served
from tests.helpers import ORIGIN, unreachable_per_request


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=5)


async def who(request: Request) -> Response:
    user = request.scope.get("user")  # the bare app has none
    # The headers Focus sets, set by the app too: the server keeps a response's headers in
    # its own per-request cycle (h11), and both apps' answers should cost it the same.
    return PlainTextResponse(user.identity if user is not None and user.is_authenticated else "anonymous",
                             headers={"vary": "Cookie, Authorization", "cache-control": "private"})


def bare() -> Starlette:
    return Starlette(routes=[Route("/", who)])


@contextmanager
def served_by_hypercorn(app: Any) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = config.errorlog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, daemon=True,
                              args=(hypercorn_serve(app, config, shutdown_trigger=stop.wait),))
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:  # up once it answers
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError("hypercorn did not start") from None
            time.sleep(0.02)
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextmanager
def served_by_uvicorn(app: Any) -> Iterator[str]:
    with Served(lambda url: app) as served:
        yield served.url


SERVERS: dict[str, Callable[[Any], Any]] = {"uvicorn": served_by_uvicorn, "hypercorn": served_by_hypercorn}


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("credentials", ["none", "bearer"])
def test_a_request_under_a_real_server_leaves_no_cycle(server: str, credentials: str, config: FocusConfig,
                                                       user: EmulatedUser) -> None:
    headers = {"authorization": f"Bearer {user.session_jwt(azp=ORIGIN, lifetime=600)}"} if credentials == "bearer" else {}
    counts = {}
    for name, app in (("bare", bare()), ("focus", FocusMiddleware(bare(), config=config))):
        with SERVERS[server](app) as url:
            if name == "focus" and credentials == "bearer":
                assert httpx.get(url, headers=headers).text == user.clerk_id  # signed in, not anonymous
            with httpx.Client(base_url=url, headers=headers, timeout=5) as client:
                counts[name] = unreachable_per_request(lambda: client.get("/").raise_for_status())
    # Whatever the server and the client leave themselves (a connection's own cycles) is the
    # same with Focus: Focus adds none per request (a cycle of its own is ~17 objects).
    assert counts["focus"] <= counts["bare"] + 0.5, counts


@pytest.mark.anyio
async def test_receive_and_send_kept_past_the_response_say_it_is_over(config: FocusConfig) -> None:
    """Once the app returned, the context holds nothing of the server's: a ``receive`` kept
    by the app says the client is gone (as servers say once a response is complete), a
    ``send`` kept by it fails with a clear error instead of reaching the server."""
    kept: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        kept.update(receive=receive, send=send)
        await PlainTextResponse("hi")(scope, receive, send)

    sent: list[MutableMapping[str, Any]] = []

    async def server_receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def server_send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "", "headers": [],
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}
    await FocusMiddleware(app, config=config)(scope, server_receive, server_send)
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert await kept["receive"]() == {"type": "http.disconnect"}
    with pytest.raises(RuntimeError, match="response is over"):
        await kept["send"]({"type": "http.response.body", "body": b"late"})
    assert len(sent) == 2
