"""Serve a WSGI app with Werkzeug's own server on a loopback port, in a thread, for one
test: the real server is what streams a body chunk by chunk, notices a client that went
away (a failed write) and calls ``close()`` on the body either way."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


class ServedWSGI:
    """``with ServedWSGI(make_app) as served:`` serves ``make_app(served.url)`` on
    127.0.0.1 (threaded), the port chosen first so the app knows its own public origin."""

    def __init__(self, make_app: Callable[[str], Any]) -> None:
        self._holder: dict[str, Any] = {}
        # Bind first with a placeholder app, then hand the server the real one.
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.app = make_app(self.url)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def __enter__(self) -> ServedWSGI:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._thread.join(10)
        self._server.server_close()
