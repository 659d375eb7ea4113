"""The walk (walk.py) in Chromium through the example apps (example_apps/, issue 12),
served for real on 127.0.0.1 as tests/examples serves them, on the emulator's fake clock."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from playwright.sync_api import Page

from focus_middleware.clock import Clock, FakeClock
from focus_middleware.testing import FocusEmulator
from tests.examples.servers import APP, FAST_STEPS

from .browser import ARTIFACTS, Console, Steps, Traffic
from .walk import AppUnderTest, Walk

EXAMPLES = Path(__file__).resolve().parents[2] / "example_apps"


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
        # Clip Studio: /studio shows the wallet (#credits, #clerk-id) and the render form
        # (#render posts to /render: 5 reserved, 3 charged); GET /render leads back to it.
        target = AppUnderTest(framework=framework, url=url, app=APP, account_path="/studio",
                              action_path="/studio", action_button="#render", action_url=f"{url}/render",
                              action="render", estimate=5, cost=3, identity="#clerk-id")
        walk = Walk(page, target, emu, clock, user, Steps(page, ARTIFACTS / framework), console, traffic)
        walk.run()
    if walk.stale_after_purchase:
        print("note: back from buying credits, the app showed the balance from before the purchase")
    for line in console.tolerated():
        print("tolerated console error:", line)
