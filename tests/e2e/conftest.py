"""Fixtures of the browser walk: one chromium per module (a fresh context, so fresh
cookies and storage, per test), the emulator on ``localhost`` on a fake clock that the app
shares, and the collectors a walk reads (console, traffic)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.testing import FocusEmulator

from .browser import CHROMIUM_ARGS, Console, Traffic, chromium_executable, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    path = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e .[test])")
    playwright = sync_playwright().start()
    try:
        try:
            browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:
            unavailable(f"chromium at {path} did not start: {exc}")
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[FocusEmulator]:
    """The emulator on ``localhost`` and the app on ``127.0.0.1``: two sites, so the
    sign-in's return trip is a real cross-site one, as with the real service."""
    with FocusEmulator(db=":memory:", clock=clock, host="localhost") as emulator:
        yield emulator
        emulator.check_books()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def page(chromium: Browser, console: Console, traffic: Traffic) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1000, "height": 760}, locale="en-US")
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    page = context.new_page()
    console.attach(page)
    traffic.attach(page)
    yield page
    context.close()
