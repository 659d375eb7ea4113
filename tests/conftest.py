"""Fixtures shared by the core's tests: an emulator on a fake clock, and a configuration
and resolver pointed at it. Folders with other needs override them in their conftest."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator

import pytest

from focus_middleware import events
from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.resolver import Resolver
from focus_middleware.testing import FocusEmulator, minted
from tests import secret_watch
from tests.helpers import ORIGIN


def pytest_configure(config: pytest.Config) -> None:
    """Tests interrupt their CLI subprocesses with SIGINT, as a person's Ctrl-C would. A
    suite started in the background of a script inherits SIGINT *ignored*, and an ignored
    signal stays ignored across exec, so every child would ignore it too; give the session
    Python's usual handler, which children get back as the default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _no_secret_in_telemetry() -> Iterator[None]:
    """Issue 27: for the whole run, every log record and every event is kept, and the run
    fails at the end if one holds a credential the emulator minted or a ``?token=`` value
    (see tests/secret_watch.py). CI runs the whole suite, so CI has it on."""
    capture = secret_watch.Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    stop = events.subscribe(capture.event)
    minted.recording = True
    yield
    minted.recording = False
    stop()
    root.removeHandler(capture)
    found = secret_watch.leaks(capture.texts, minted.SEEN)
    minted.SEEN.clear()
    assert not found, "credentials in telemetry:\n" + "\n".join(sorted(set(found)))


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
