"""The walk (walk.py) in Chromium, against apps served for real on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from focus_middleware.clock import FakeClock
from focus_middleware.testing import FocusEmulator
from tests.asgi.server import Served
from tests.wsgi.server import ServedWSGI

from . import apps
from .browser import ARTIFACTS, Console, Steps, Traffic
from .walk import AppUnderTest, Walk


@pytest.mark.parametrize("framework", ["starlette", "flask"])
def test_the_walk_on_the_librarys_own_pages(framework: str, page: Page, emu: FocusEmulator, clock: FakeClock,
                                            console: Console, traffic: Traffic) -> None:
    """The decorators and the middleware with no example app in between (apps.py)."""
    emu.create_app(apps.APP, starter_credits=0)
    user = emu.create_user(credits=10, name="Ada Lovelace", email="ada@example.test")
    factory = apps.starlette_app if framework == "starlette" else apps.flask_app
    server: Any = Served if framework == "starlette" else ServedWSGI
    with server(lambda origin: factory(emu, clock, origin)) as served:
        target = AppUnderTest(framework=f"{framework}-minimal", url=served.url, app=apps.APP,
                              account_path="/account", action_path="/render", action_button="#render",
                              action_url=f"{served.url}/render", action=apps.ACTION, estimate=apps.ESTIMATE,
                              cost=apps.COST)
        steps = Steps(page, ARTIFACTS / target.framework)
        walk = Walk(page, target, emu, clock, user, steps, console, traffic)
        walk.run()
        if walk.stale_after_purchase:
            print("note: back from buying credits, the app showed the balance from before the purchase")
        if framework == "flask":
            served.app.extensions["focus"].close()
    for line in console.tolerated():
        print("tolerated console error:", line)
