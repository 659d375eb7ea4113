"""Shared fixtures: emulators (system or fake clock), a small HTTP client for them, and a
cookie-keeping browser that clicks the emulator's buttons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from emulator_browser import Browser


class Api:
    """The emulator's endpoints over real HTTP, one method per endpoint."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def auth(token: str | None) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def wallet(self, token: str | None, app: str | None = None) -> httpx.Response:
        params = {} if app is None else {"app": app}
        return self.client.get("/api/wallet", params=params, headers=self.auth(token))

    def create_job(
        self, token: str | None, cost: Any = 5, app: str = "video", **extra: Any
    ) -> httpx.Response:
        body = {"app": app, "action": "render", "cost_estimate": cost, **extra}
        return self.client.post("/api/jobs", json=body, headers=self.auth(token))

    def start(self, token: str, cost: int = 5, **extra: Any) -> str:
        response = self.create_job(token, cost, **extra)
        assert response.status_code == 200, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    def complete(self, token: str | None, job_id: str, actual_cost: Any, **extra: Any) -> httpx.Response:
        body = {"job_id": job_id, "actual_cost": actual_cost, **extra}
        return self.client.post("/api/jobs/complete", json=body, headers=self.auth(token))

    def fail(self, token: str | None, job_id: str, **extra: Any) -> httpx.Response:
        body = {"job_id": job_id, **extra}
        return self.client.post("/api/jobs/fail", json=body, headers=self.auth(token))

    def jobs(self, token: str | None, **params: Any) -> httpx.Response:
        return self.client.get("/api/jobs", params=params, headers=self.auth(token))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_emulator(clock: FakeClock) -> Iterator[FocusEmulator]:
    """An emulator whose time only moves when the test says so."""
    with FocusEmulator(clock=clock) as emulator:
        yield emulator
        emulator.check_books()


@pytest.fixture
def api(focus_emulator: FocusEmulator) -> Iterator[Api]:
    with httpx.Client(base_url=focus_emulator.url, timeout=10) as client:
        yield Api(client)


@pytest.fixture
def fake_api(fake_emulator: FocusEmulator) -> Iterator[Api]:
    with httpx.Client(base_url=fake_emulator.url, timeout=10) as client:
        yield Api(client)


@pytest.fixture
def pat(focus_user: EmulatedUser) -> str:
    return focus_user.pat()


@pytest.fixture
def browser(focus_emulator: FocusEmulator) -> Iterator[Browser]:
    b = Browser(focus_emulator)
    yield b
    b.close()


@pytest.fixture
def fake_browser(fake_emulator: FocusEmulator) -> Iterator[Browser]:
    b = Browser(fake_emulator)
    yield b
    b.close()
