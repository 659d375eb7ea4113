"""``python -m tests.jobs.signal_worker <focus url> <pat> <mode>``: a WSGI process (as under
waitress or ``flask run``, servers that run no shutdown hook) that answers one paid request
while Focus fails the settlement, prints its state, then waits for a signal.

``mode``: ``default`` (SIGTERM at its default: the middleware catches it), ``own`` (the
process set its own SIGTERM handler first: left alone), ``off`` (``handle_signals=False``),
``thread`` (the middleware is built off the main thread: no handler), ``uvicorn`` (the
handler is in place before uvicorn starts, as Django's middleware is under uvicorn: uvicorn
keeps it, shuts down on the signal and raises it again into it; serves on the port printed),
``uvicorn-off`` (the same with ``handle_signals=False``: uvicorn as it is without us)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

from werkzeug.test import Client

from focus_middleware import FocusConfig
from focus_middleware.wsgi import FocusWSGIMiddleware
from tests.wsgi.conftest import make_app

ORIGIN = "http://127.0.0.1:8000"


def main(api_url: str, pat: str, mode: str) -> None:
    config = FocusConfig(api_url=api_url, app="video", public_origin=ORIGIN, max_retries=0, timeout=5.0,
                         handle_signals=mode not in ("off", "uvicorn-off"), shutdown_timeout=5.0)
    if mode == "own":
        def own(signum: int, frame: Any) -> None:
            print("own handler", flush=True)
            sys.exit(3)

        signal.signal(signal.SIGTERM, own)
    built: list[FocusWSGIMiddleware] = []
    if mode == "thread":
        worker = threading.Thread(target=lambda: built.append(make_app(config)))
        worker.start()
        worker.join()
    else:
        built.append(make_app(config))
    app = built[0]
    r = Client(app).post("/render?cost=2", headers={"authorization": f"Bearer {pat}", "accept": "application/json"},
                         buffered=True)
    print(r.status_code, len(app.paid_jobs.pending), signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, flush=True)
    if mode.startswith("uvicorn"):
        serve_with_uvicorn()
    else:
        time.sleep(30)


def serve_with_uvicorn() -> None:
    import socket

    import uvicorn

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"hello"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.run(hello, fd=sock.fileno(), lifespan="off", log_level="warning")  # as the uvicorn command runs it


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
