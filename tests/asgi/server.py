"""Serve an ASGI app with uvicorn on a loopback port, in a thread, for one test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn


class Served:
    """``with Served(make_app) as served:`` serves ``make_app(served.url)`` on 127.0.0.1.

    The socket is bound first so the app can be configured with its own public origin.
    """

    def __init__(self, make_app: Callable[[str], Any], *, root_path: str = "") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(make_app(self.url), log_level="warning", log_config=None, access_log=False,
                                lifespan="on", root_path=root_path, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> Served:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app's server did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
