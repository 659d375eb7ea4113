"""The DRF test project (tests/django_drf/settings.py): Django set up with it for this
folder, as tests/django/conftest.py does with its own (DJANGO_SETTINGS_MODULE only while
Django is set up, then restored).

Django's settings are once per process. When another folder's project was set up first
(the whole suite collects tests/conformance and tests/django before this folder), this
folder's tests are not collected here: test_own_process.py runs them in a fresh
interpreter instead, and fails if they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings as django_settings

MODULE = "tests.django_drf.settings"
RUNNER = "test_own_process.py"
OTHER_PROJECT = django_settings.configured and getattr(django_settings, "SETTINGS_MODULE", None) != MODULE

if not OTHER_PROJECT:
    _previous = os.environ.get("DJANGO_SETTINGS_MODULE")
    os.environ["DJANGO_SETTINGS_MODULE"] = MODULE
    try:
        django.setup()
    finally:
        if _previous is None:
            del os.environ["DJANGO_SETTINGS_MODULE"]
        else:
            os.environ["DJANGO_SETTINGS_MODULE"] = _previous


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.parent != Path(__file__).parent or not collection_path.name.startswith("test_"):
        return None
    if OTHER_PROJECT:
        return collection_path.name != RUNNER
    return True if collection_path.name == RUNNER else None


if not OTHER_PROJECT:
    from focus_middleware.clock import FakeClock
    from focus_middleware.testing import EmulatedUser, FocusEmulator

    from tests.django_drf.settings import ORIGIN

    def focus_settings(emu: FocusEmulator, clock: FakeClock, **extra: Any) -> dict[str, Any]:
        return {"api_url": emu.url, "issuer": emu.issuer, "app": "video", "public_origin": ORIGIN, "clock": clock,
                "timeout": 2.0, "max_retries": 0, "settle_timeout": 2.0, "link_users": True, **extra}

    @pytest.fixture(autouse=True)
    def focus(settings: Any, emu: FocusEmulator, clock: FakeClock) -> Iterator[dict[str, Any]]:
        settings.FOCUS = focus_settings(emu, clock)
        yield settings.FOCUS

    @pytest.fixture
    def user(emu: FocusEmulator) -> EmulatedUser:
        return emu.create_user(credits=10)
