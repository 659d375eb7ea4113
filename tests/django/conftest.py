"""The Django test project: settings for this folder's tests, and a FOCUS setting pointed at
each test's emulator (tests/conftest.py) on the fake clock it shares with the app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import django
import pytest

# pytest-django reads DJANGO_SETTINGS_MODULE before any conftest is imported; setting it
# here (and setting Django up) keeps the project's settings to the runs that collect this
# folder. Other folders never import Django, so the rest of the suite is unaffected.
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django.settings"
django.setup()

from focus_middleware.clock import FakeClock  # noqa: E402
from focus_middleware.testing import EmulatedUser, FocusEmulator  # noqa: E402

from tests.django.settings import ORIGIN  # noqa: E402

NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
SAME_ORIGIN = {"sec-fetch-mode": "cors", "sec-fetch-site": "same-origin", "accept": "application/json"}
CROSS_SITE = {"sec-fetch-mode": "cors", "sec-fetch-site": "cross-site", "origin": "https://evil.example"}
API = {"accept": "application/json"}


def focus_settings(emu: FocusEmulator, clock: FakeClock, **extra: Any) -> dict[str, Any]:
    return {"api_url": emu.url, "issuer": emu.issuer, "app": "video", "public_origin": ORIGIN, "clock": clock,
            "timeout": 2.0, "max_retries": 0, "settle_timeout": 2.0, **extra}


@pytest.fixture(autouse=True)
def focus(settings: Any, emu: FocusEmulator, clock: FakeClock) -> Iterator[dict[str, Any]]:
    settings.FOCUS = focus_settings(emu, clock)
    yield settings.FOCUS


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)
