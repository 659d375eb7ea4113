"""``python -m tests.jobs.signal_worker <focus url> <pat> <mode>``: a WSGI process (as under
waitress or ``flask run``, servers that run no shutdown hook) that answers one paid request
while Focus fails the settlement, prints its state, then waits for a signal.

``mode``: ``default`` (SIGTERM at its default: the middleware catches it), ``own`` (the
process set its own SIGTERM handler first: left alone), ``off`` (``handle_signals=False``),
``thread`` (the middleware is built off the main thread: no handler)."""

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
                         handle_signals=mode != "off", shutdown_timeout=5.0)
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
    time.sleep(30)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
