"""The example apps served on ``localhost``, the emulator's own host name, so that the app and
Focus are one site (cookies and SameSite ignore ports) and the refresh script's call to
Focus carries Focus's SameSite=Lax sign-in cookie, as on ``*.thefocus.ai``.

The demo (and ``walk.py``) put the app on ``127.0.0.1``: another site, where that call goes
without the cookie and only the bounce keeps a browser signed in. Here the refresh path
itself is exercised. Both apps run in this process on the emulator's fake clock; the socket
is bound on 127.0.0.1 (what ``localhost`` resolves to, as for the emulator) and the app is
configured with, and opened at, ``http://localhost:<port>``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from werkzeug.serving import make_server

from focus_middleware.clock import Clock
from focus_middleware.testing import FocusEmulator
from tests.asgi.server import Served
from tests.examples.servers import APP, config


def on_localhost(url: str) -> str:
    return url.replace("://127.0.0.1:", "://localhost:", 1)


@contextmanager
def fastapi_on_localhost(emu: FocusEmulator, clock: Clock) -> Iterator[str]:
    from example_apps.fastapi_app import create_app

    with Served(lambda origin: create_app(config(emu, clock, on_localhost(origin)))) as served:
        yield on_localhost(served.url)


@contextmanager
def flask_on_localhost(emu: FocusEmulator, clock: Clock) -> Iterator[str]:
    from example_apps.flask_app import create_app
    from flask_focus.testing import emulator_settings

    holder: list[Callable[..., Any]] = []
    server = make_server("127.0.0.1", 0, lambda environ, start: holder[0](environ, start), threaded=True)
    url = f"http://localhost:{server.server_port}"
    holder.append(create_app({**emulator_settings(emu), "FOCUS_APP": APP, "FOCUS_PUBLIC_ORIGIN": url,
                               "FOCUS_CLOCK": clock}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def served_on_localhost(framework: str, emu: FocusEmulator, clock: Clock) -> AbstractContextManager[str]:
    return {"fastapi": fastapi_on_localhost, "flask": flask_on_localhost}[framework](emu, clock)
