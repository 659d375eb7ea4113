"""Fixtures shared by the core's tests: an emulator on a fake clock, and a configuration
and resolver pointed at it. Folders with other needs override them in their conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.resolver import Resolver
from focus_middleware.testing import FocusEmulator
from tests.helpers import ORIGIN


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock) as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator
        emulator.check_books()


@pytest.fixture
def config(emu: FocusEmulator, clock: FakeClock) -> FocusConfig:
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0, settle_timeout=2.0)


@pytest.fixture
def resolver(config: FocusConfig) -> Iterator[Resolver]:
    r = Resolver(config)
    yield r
    r.close()
