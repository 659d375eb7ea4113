"""The example apps served for real on 127.0.0.1, each as its users would serve it.

FastAPI and Flask run in this process (uvicorn, and Werkzeug's threaded server), sharing
the emulator's fake clock, so a test can let a session expire without sleeping. Django
runs as ``python -m example_apps.django_app`` in a process of its own (Django's settings
are per process, and this test session may already hold another project's); its clock is
the system's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from focus_middleware import FocusConfig
from focus_middleware.clock import Clock
from focus_middleware.testing import FocusEmulator
from tests.asgi.server import Served

ROOT = Path(__file__).resolve().parents[2]
APP = "clip-studio"
FAST_STEPS = {"CLIP_STUDIO_STEP_SECONDS": "0.05"}


def config(emu: FocusEmulator, clock: Clock, origin: str) -> FocusConfig:
    # min_token_life: the apps' own default (example_apps.common.focus_settings).
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app=APP, public_origin=origin, clock=clock,
                       min_token_life=10)


@contextmanager
def fastapi_served(emu: FocusEmulator, clock: Clock) -> Iterator[str]:
    from example_apps.fastapi_app import create_app

    with Served(lambda origin: create_app(config(emu, clock, origin))) as served:
        yield served.url


@contextmanager
def flask_served(emu: FocusEmulator, clock: Clock) -> Iterator[str]:
    from example_apps.flask_app import create_app
    from flask_focus.testing import emulator_settings

    holder: list[Callable[..., Any]] = []
    server = make_server("127.0.0.1", 0, lambda environ, start: holder[0](environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app({**emulator_settings(emu), "FOCUS_APP": APP, "FOCUS_PUBLIC_ORIGIN": url, "FOCUS_CLOCK": clock})
    holder.append(app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def module_served(module: str, emu: FocusEmulator, *args: str) -> Iterator[str]:
    """``python -m <module> --port P`` with the emulator in its environment, as ``focus
    demo`` starts it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOCUS_", "DJANGO_"))}
    env.update(FOCUS_API_URL=emu.url, FOCUS_ISSUER=emu.issuer, FOCUS_APP=APP, FOCUS_PUBLIC_ORIGIN=url,
               **FAST_STEPS)
    process = subprocess.Popen([sys.executable, "-m", module, "--port", str(port), *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited {process.returncode}: {process.stdout.read() if process.stdout else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{module} did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
