"""Native asyncio cancellation (task.cancel(): asyncio.timeout or wait_for around the app, a
server's forced shutdown) is not stopped by anyio's shield on asyncio: the reservation and
the settlement must still run to their end."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.paid import apps
from tests.paid.conftest import bearer, only_job

pytestmark = pytest.mark.anyio


def with_deadline(app: Any, seconds: float) -> Any:
    """A timeout middleware as apps write them: asyncio.wait_for around the rest."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.wait_for(app(scope, receive, send), seconds)

    return guarded


def scope(path: str, token: str) -> dict[str, Any]:
    path, _, query = path.partition("?")
    headers = [(b"host", b"127.0.0.1:8000"), *[(k.encode(), v.encode()) for k, v in bearer(token).items()]]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": headers, "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}


async def call(app: Any, path: str, token: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(TimeoutError):
        await app(scope(path, token), receive, send)
    return sent


async def eventually(check: Any, seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not check():
            await anyio.sleep(0.02)


async def test_cancelled_while_settling(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    app = apps.paid_app(config)
    token = user.pat()
    emu.set_latency(0.6, endpoint="POST /api/jobs/complete")
    sent = await call(with_deadline(app, 0.4), "/render?cost=3", token)
    assert sent[0]["status"] == 200  # the answer went out; the settlement was under way
    await eventually(lambda: not emu.jobs(user, status="started"))
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 3 and user.credits == 17


async def test_cancelled_while_reserving(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    app = apps.paid_app(config)
    token = user.pat()
    emu.set_latency(0.6, endpoint="POST /api/jobs")
    sent = await call(with_deadline(app, 0.4), "/render?cost=3", token)
    assert sent == [] and apps.ran["render"] == 0
    await eventually(lambda: bool(emu.jobs(user)) and not emu.jobs(user, status="started"))
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


async def test_cancelled_while_working(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    app = apps.paid_app(config)
    sent = await call(with_deadline(app, 0.5), "/hold?key=n", user.pat())
    assert sent == [] and apps.ran["hold"] == 1
    await eventually(lambda: not emu.jobs(user, status="started"))
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20
