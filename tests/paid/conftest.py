"""Paid endpoints behind FocusMiddleware, against a real emulator whose ledger is the judge.

The root conftest gives each test its own emulator on a fake clock shared with the app's
config, and checks the emulator's books when the test ends. ``settled`` adds the other
half of the verdict: no job of the test's users is left ``started``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN
from tests.paid import apps

API = {"accept": "application/json"}
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
SAME_ORIGIN = {"sec-fetch-mode": "cors", "sec-fetch-site": "same-origin", "accept": "application/json"}
CROSS_SITE = {"sec-fetch-mode": "cors", "sec-fetch-site": "same-site", "accept": "application/json"}


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    apps.ran.clear()
    apps.gates.clear()
    apps.reserved.clear()
    yield
    for gate in apps.gates.values():
        gate.set()  # never leave a held handler (or its server) waiting


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=20)


def bearer(token: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or API), "authorization": f"Bearer {token}"}


def client_for(app: Any, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000), raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """For settlements that run after the client already has its answer (real servers)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def settled(emu: FocusEmulator, *users: EmulatedUser, timeout: float = 20.0) -> None:
    """Wait until none of the users' jobs is ``started``, then check the books."""
    wait_until(lambda: all(not emu.jobs(u, status="started") for u in users), timeout, "every job settled")
    emu.check_books()


def only_job(emu: FocusEmulator, user: EmulatedUser) -> dict[str, Any]:
    jobs = emu.jobs(user)
    assert len(jobs) == 1, jobs
    return jobs[0]
