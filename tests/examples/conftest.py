"""Each example app against a real emulator on ``localhost`` (another site than the app on
127.0.0.1, as in the demo), with a user seeded as ``focus demo`` seeds one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest

from focus_middleware.clock import Clock, FakeClock, SystemClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .servers import APP, FAST_STEPS, fastapi_served, flask_served, module_served

FRAMEWORKS = ["fastapi", "flask", "django"]


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock(framework: str) -> Clock:
    # Django runs in a process of its own, on the system clock.
    return SystemClock() if framework == "django" else FakeClock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock, host="localhost") as emulator:
        emulator.create_app(APP, starter_credits=0)
        yield emulator
        emulator.check_books()


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=12, email="walker@example.com", name="Wanda Walker")


@pytest.fixture
def serve(framework: str, emu: FocusEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch
          ) -> AbstractContextManager[str]:
    for name, value in FAST_STEPS.items():
        monkeypatch.setenv(name, value)
    if framework == "fastapi":
        return fastapi_served(emu, clock)
    if framework == "flask":
        return flask_served(emu, clock)
    return module_served("example_apps.django_app", emu)
