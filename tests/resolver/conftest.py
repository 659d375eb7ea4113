from __future__ import annotations

import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=50)
