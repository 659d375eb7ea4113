"""The chaos suite's emulator runs on the system's clock: the servers are other processes,
and their clocks are the system's too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.chaos.harness import APP

START = 1000


@pytest.fixture
def emu() -> Iterator[FocusEmulator]:
    with FocusEmulator() as emulator:
        emulator.create_app(APP, starter_credits=0)
        yield emulator


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=START)
