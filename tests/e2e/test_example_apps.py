"""The walk (walk.py) in Chromium through the example apps (example_apps/, issue 12),
served for real on 127.0.0.1 as tests/examples serves them: FastAPI and Flask in this
process on the emulator's fake clock, Django in its own process on the system's clock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page

from focus_middleware.clock import Clock, FakeClock, SystemClock
from focus_middleware.testing import FocusEmulator
from tests.examples.servers import APP, FAST_STEPS

from .browser import ARTIFACTS, Console, Steps, Traffic
from .walk import AppUnderTest, Walk

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_apps"
# Django runs in a process of its own on the system's clock, so its sessions expire for
# real: tokens live DJANGO_TOKEN_LIFETIME seconds, and the app takes one whose life left is
# above 2 s for a paid job (30 s by default) with no leeway, so the walk waits at most that.
DJANGO_TOKEN_LIFETIME = 20.0
DJANGO_FOCUS = {"FOCUS_MIN_TOKEN_LIFE": "2", "FOCUS_LEEWAY": "0"}


def server_for(framework: str) -> Callable[[FocusEmulator, Clock], AbstractContextManager[str]]:
    if not (EXAMPLES / f"{framework}_app").is_dir():
        pytest.skip(f"example_apps/{framework}_app has not landed yet")
    from tests.examples import servers

    served: Callable[[FocusEmulator, Clock], AbstractContextManager[str]] = getattr(servers, f"{framework}_served")
    return served


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_the_walk_through_clip_studio(framework: str, page: Page, emu: FocusEmulator, clock: FakeClock,
                                      console: Console, traffic: Traffic, monkeypatch: pytest.MonkeyPatch) -> None:
    serve = server_for(framework)
    for name, value in FAST_STEPS.items():
        monkeypatch.setenv(name, value)
    emu.create_app(APP, starter_credits=0)
    user = emu.create_user(credits=10, email="walker@example.com", name="Wanda Walker")
    with serve(emu, clock) as url:
        walk = Walk(page, clip_studio(framework, url), emu, clock, user, Steps(page, ARTIFACTS / framework),
                    console, traffic)
        walk.run()
    report(walk, console)


def clip_studio(framework: str, url: str) -> AppUnderTest:
    """Clip Studio: /studio shows the wallet (#credits, #clerk-id) and the render form
    (#render posts to /render: 5 reserved, 3 charged); GET /render leads back to it."""
    return AppUnderTest(framework=framework, url=url, app=APP, account_path="/studio", action_path="/studio",
                        action_button="#render", action_url=f"{url}/render", action="render", estimate=5, cost=3,
                        identity="#clerk-id", action_label="Preview render")


def report(walk: Walk, console: Console) -> None:
    if walk.stale_after_purchase:
        print("note: back from buying credits, the app showed the balance from before the purchase")
    for line in console.tolerated():
        print("tolerated console error:", line)


@contextmanager
def django_served(emu: FocusEmulator, log: Path) -> Iterator[str]:
    """``python -m example_apps.django_app --port P`` as ``focus demo`` starts it, with the
    emulator and DJANGO_FOCUS in its environment; its output goes to ``log``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOCUS_", "DJANGO_"))}
    env.update(FOCUS_API_URL=emu.url, FOCUS_ISSUER=emu.issuer, FOCUS_APP=APP, FOCUS_PUBLIC_ORIGIN=url,
               **DJANGO_FOCUS, **FAST_STEPS)
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "example_apps.django_app", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, f"the Django app exited {process.returncode}: {log.read_text()}"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"the Django app did not start: {log.read_text()}"
                    time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_walk_through_clip_studio_on_django(page: Page, console: Console, traffic: Traffic,
                                                tmp_path: Path) -> None:
    if not (EXAMPLES / "django_app").is_dir():
        pytest.skip("example_apps/django_app has not landed yet")
    clock = SystemClock()
    with FocusEmulator(db=":memory:", clock=clock, host="localhost", token_lifetime=DJANGO_TOKEN_LIFETIME) as emu:
        emu.create_app(APP, starter_credits=0)
        user = emu.create_user(credits=10, email="walker@example.com", name="Wanda Walker")
        with django_served(emu, tmp_path / "django.log") as url:
            walk = Walk(page, clip_studio("django", url), emu, clock, user, Steps(page, ARTIFACTS / "django"),
                        console, traffic)
            walk.run()
        emu.check_books()
    report(walk, console)
