"""Fixtures shared by the core's tests: an emulator on a fake clock, and a configuration
and resolver pointed at it. Folders with other needs override them in their conftest."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.resolver import Resolver
from focus_middleware.testing import FocusEmulator
from tests.helpers import ORIGIN


def pytest_configure(config: pytest.Config) -> None:
    """Tests interrupt their CLI subprocesses with SIGINT, as a person's Ctrl-C would. A
    suite started in the background of a script inherits SIGINT *ignored*, and an ignored
    signal stays ignored across exec, so every child would ignore it too; give the session
    Python's usual handler, which children get back as the default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def anyio_backend() -> str:
    """asyncio; ``FOCUS_TEST_ANYIO_BACKEND=trio`` runs the async suites on anyio's other
    backend (``.ci/run`` does so once for tests/asgi)."""
    return os.environ.get("FOCUS_TEST_ANYIO_BACKEND", "asyncio")


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
    # The fake clock never refills a remote-check bucket, so one test's many PATs from one
    # address would drain its share; tests of the budget set their own.
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0, settle_timeout=2.0, remote_checks_per_client=50)


@pytest.fixture
def resolver(config: FocusConfig) -> Iterator[Resolver]:
    r = Resolver(config)
    yield r
    r.close()
