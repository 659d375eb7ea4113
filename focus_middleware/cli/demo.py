"""``focus demo``: the emulator, a seeded user and an example app, all on this machine.

The emulator serves on ``localhost`` and the example app (Clip Studio, from this
repository's ``example_apps/``) on ``127.0.0.1``: cookies ignore ports but not host names,
so the app is another site than Focus and the sign-in return trip is the real one. The app
is started as a user would start it (``python -m example_apps.<framework>_app``), with its
configuration in the environment. Ctrl-C stops both.

Nothing secret is printed: the demo user signs in on the emulator's page, and the CLI gets
its own token with ``focus login --base-url <emulator>``.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from focus_middleware.testing.emulator import EmulatedUser, FocusEmulator

DEMO_APP = "clip-studio"
DEMO_CLERK_ID = "user_2demo"
DEMO_EMAIL = "demo@example.com"
DEMO_NAME = "Demo User"
DEMO_CREDITS = 12
"""Enough for three renders (5 reserved, 3 charged each) before the fourth meets the 402."""
STARTER_CREDITS = 10
"""What a new user who signs in with another email gets from the app."""
DEFAULT_APP_PORT = 8000
APP_HOST = "127.0.0.1"

FRAMEWORKS = {
    "fastapi": ("example_apps.fastapi_app", "FastAPI"),
    "starlette": ("example_apps.fastapi_app", "FastAPI"),  # the ASGI example is the FastAPI one
    "flask": ("example_apps.flask_app", "Flask"),
    "django": ("example_apps.django_app", "Django"),
}
DEFAULT_FRAMEWORK = "fastapi"
STARTUP_TIMEOUT = 30.0


def examples_root() -> Path | None:
    """The checkout holding ``example_apps/`` (an editable install of this repository), or
    None when focus-middleware was installed from a package."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "example_apps" / "__init__.py").is_file() else None


def free_port(host: str = APP_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_taken(port: int, host: str = APP_HOST) -> bool:
    """Whether a server could not listen on ``port``, asked the way the servers themselves
    bind (uvicorn, Werkzeug's and Django's development servers all set ``SO_REUSEADDR``):
    the connections of a demo just stopped linger in TIME-WAIT for a minute, and only a
    bind without that option counts them as taking the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def port_clash(command: str, host: str, port: int, option: str, exc: OSError | None = None) -> str:
    """The one line for a port a server cannot listen on: which port, and the option that
    changes it (never a bare ``[Errno 98]``)."""
    if exc is None or exc.errno == errno.EADDRINUSE:
        why = "is taken (is another demo or emulator still running?)"
    else:
        why = f"cannot be used ({exc.strerror or exc})"
    return f"focus {command}: port {port} on {host} {why}; choose another with {option}"


def make_emulator(args: argparse.Namespace, allowed_origins: Iterable[str] = ()) -> FocusEmulator:
    """The emulator the options describe (not started yet)."""
    # Imported here: the emulator needs the [emulator] extra, other commands do not.
    from focus_middleware.testing.emulator import FocusEmulator
    from focus_middleware.testing.store import default_db_path

    args.db = args.db or default_db_path()
    return FocusEmulator(
        db=args.db,
        host=args.host,
        port=args.port,
        allowed_origins=[*(getattr(args, "allow_origin", None) or ()), *allowed_origins],
        session_cookie_domain=getattr(args, "session_cookie_domain", None),
    )


def seed(emulator: FocusEmulator) -> EmulatedUser:
    """The demo app and its user, with ``DEMO_CREDITS`` credits on every start (the app's
    starter credits already granted, so the balance is exactly that)."""
    from focus_middleware.client import FocusClient

    emulator.create_app(DEMO_APP, starter_credits=STARTER_CREDITS)
    user = emulator.find_user(DEMO_CLERK_ID)
    if user is None:
        user = emulator.create_user(clerk_id=DEMO_CLERK_ID, email=DEMO_EMAIL, name=DEMO_NAME)
    with FocusClient(emulator.url, token=user.session_jwt()) as client:
        client.wallet(app=DEMO_APP)  # the starter grant happens once per user and app: now
    emulator.set_credits(user, DEMO_CREDITS)
    return user


def app_environment(emulator: FocusEmulator, origin: str) -> dict[str, str]:
    """The example app's configuration: the emulator is both the service and the issuer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOCUS_")}
    env.update(
        FOCUS_API_URL=emulator.url,
        FOCUS_ISSUER=emulator.issuer,
        FOCUS_APP=DEMO_APP,
        FOCUS_PUBLIC_ORIGIN=origin,
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_until_serving(app: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if app.poll() is not None:
            return False
        try:
            with socket.create_connection((APP_HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(app: subprocess.Popen[bytes]) -> None:
    """Give the app a moment to stop on the Ctrl-C it got from the terminal too, then ask
    it to (SIGTERM), then make it."""
    for sig, grace in ((None, 1.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if sig is not None and app.poll() is None:
            app.send_signal(sig)
        try:
            app.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _stop_on_signals() -> None:
    """Ctrl-C stops the demo, even when it was started from a script in the background
    (where SIGINT arrives ignored), and so does SIGTERM (a supervisor, ``kill``)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, handler)


def run_demo(args: argparse.Namespace) -> int:
    module, label = FRAMEWORKS[args.framework]
    root = examples_root()
    app_port = args.app_port or free_port()
    origin = f"http://{APP_HOST}:{app_port}"
    if root is not None and port_taken(app_port):
        print(port_clash("demo", APP_HOST, app_port, "--app-port"), file=sys.stderr)
        return 1
    try:
        emulator = make_emulator(args, allowed_origins=[origin]).start()
    except OSError as exc:
        print(port_clash("demo", args.host, args.port, "--port", exc), file=sys.stderr)
        return 1
    app: subprocess.Popen[bytes] | None = None
    try:
        _stop_on_signals()
        user = seed(emulator)
        if root is None:
            print("focus demo: the example apps live in the focus-middleware repository; "
                  "running the emulator alone", file=sys.stderr)
        else:
            command = [sys.executable, "-m", module, "--host", APP_HOST, "--port", str(app_port)]
            app = subprocess.Popen(command, cwd=root, env=app_environment(emulator, origin))
            if not _wait_until_serving(app, app_port):
                code = app.poll()
                print(f"focus demo: the {label} example app did not start"
                      + (f" (exit code {code})" if code is not None else "")
                      + (f"; if port {app_port} on {APP_HOST} is taken, choose another with --app-port"
                         if port_taken(app_port) else ""), file=sys.stderr)
                return 1
        print(
            "\n"
            f"Clip Studio, a Focus app on {label}, with the Focus emulator\n"
            f"open:     {origin + '/' if app is not None else emulator.url + '/signin'}\n"
            f"sign in:  as {DEMO_NAME} <{user.email}> on the emulator's page"
            f" ({DEMO_CREDITS} credits; a render reserves 5 and costs 3)\n"
            f"emulator: {emulator.url}  (database {args.db})\n"
            f"CLI:      focus login --base-url {emulator.url}   then: focus wallet --app {DEMO_APP}\n"
            f"also:     focus demo --framework {'|'.join(FRAMEWORKS)}\n"
            "stop:     Ctrl-C (stops the app and the emulator)",
            flush=True,
        )
        if app is not None:
            code = app.wait()
            if code == 0:  # stopped on purpose (a signal to the app alone): stop the rest too
                print("\nthe example app stopped; stopping the Focus emulator", flush=True)
                return 0
            print(f"focus demo: the example app failed (exit code {code})", file=sys.stderr)
            return 1
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping the example app and the Focus emulator", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if app is not None:
            _stop(app)
        emulator.stop()

