"""The paid lifecycle past the handler: cancellation, streams, tokens that expire mid-work,
settlements Focus cannot take yet, and shutdown. In process (the app called as ASGI)."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.jobs import UndeliveredSettlement
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN
from tests.paid import apps
from tests.paid.conftest import bearer, client_for, only_job

pytestmark = pytest.mark.anyio


def _scope(path: str, token: str) -> dict[str, Any]:
    path, _, query = path.partition("?")
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"),
                        (b"authorization", f"Bearer {token}".encode())],
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}


async def test_a_cancelled_request_is_refunded(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    """The server cancels the request (shutdown, a timeout middleware...) while the work
    runs: the refund still goes out, shielded, even though Focus answers slowly."""
    app = apps.paid_app(config)
    apps.reserved["c"] = anyio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    emu.set_latency(0.2, endpoint="POST /api/jobs/fail")
    async with anyio.create_task_group() as tg:
        tg.start_soon(app, _scope("/hold?key=c", user.pat()), receive, send)
        await apps.reserved["c"].wait()
        assert only_job(emu, user)["status"] == "started" and user.credits == 15
        tg.cancel_scope.cancel()
    assert sent == []
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


async def test_a_streamed_response_is_charged_once_the_last_chunk_went_out(config: FocusConfig, user: EmulatedUser,
                                                                          emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config)) as client:
        r = await client.get("/stream?chunks=5&cost=7", headers=bearer(user.pat()))
    assert r.status_code == 200 and r.text.count("chunk") == 5
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 7 and user.credits == 13


async def test_a_stream_that_breaks_is_refunded(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    async with client_for(apps.paid_app(config), raise_app_exceptions=False) as client:
        r = await client.get("/stream?chunks=5&fail_at=2", headers=bearer(user.pat()))
    assert r.status_code == 200  # the status went out before the stream broke
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


async def test_a_stream_that_outlives_its_token_is_settled_with_the_next_one(
    config: FocusConfig, clock: FakeClock, user: EmulatedUser, emu: FocusEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    kept: list[UndeliveredSettlement] = []
    app = apps.paid_app(config, clock, on_undelivered=kept.append)
    caplog.set_level(logging.WARNING, "focus_middleware.jobs")
    async with client_for(app) as client:
        token = user.session_jwt(azp=ORIGIN, lifetime=60)
        r = await client.get("/stream?chunks=3&cost=4&outlive=90", headers=bearer(token))
        assert r.status_code == 200 and r.text.count("chunk") == 3
        [job] = emu.jobs(user, status="started")  # the token died before the end: nothing to settle with
        assert [k.job_id for k in kept] == [job["id"]] and kept[0].settlement == "complete"
        assert job["id"] in caplog.text and token not in caplog.text
        assert len(apps.middleware_of(app).jobs.pending) == 1
        # The user comes back (any route, a fresh session token): the settlement goes out after the answer.
        fresh = user.session_jwt(azp=ORIGIN)
        assert (await client.get("/", headers=bearer(fresh))).status_code == 200
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 4 and user.credits == 16
    assert len(apps.middleware_of(app).jobs.pending) == 0


async def test_focus_failing_the_settlement_and_recovering(config: FocusConfig, user: EmulatedUser,
                                                           emu: FocusEmulator, caplog: pytest.LogCaptureFixture) -> None:
    kept: list[UndeliveredSettlement] = []
    app = apps.paid_app(config, on_undelivered=kept.append)
    caplog.set_level(logging.WARNING, "focus_middleware.jobs")
    async with client_for(app) as client:
        token = user.pat()
        # The second request also tries the first one's kept settlement (Focus still down).
        emu.fail_next("POST /api/jobs/complete", status=503, times=2)
        emu.fail_next("POST /api/jobs/fail", status=503, times=1)
        done = await client.post("/render?cost=2", headers=bearer(token))
        failed = await client.post("/render?end=500", headers=bearer(token))
        assert done.status_code == 200 and failed.status_code == 500
        assert len(emu.jobs(user, status="started")) == 2 and user.credits == 10
        assert [k.job_id for k in kept] == [done.json()["job_id"]] * 2 + [failed.json()["job_id"]]
        assert done.json()["job_id"] in caplog.text
        # Another user's request does not carry this user's settlements.
        other = emu.create_user(credits=1)
        assert (await client.get("/", headers=bearer(other.pat()))).status_code == 200
        assert len(emu.jobs(user, status="started")) == 2
        # Focus is back; the user's next request delivers both.
        assert (await client.get("/", headers=bearer(token))).status_code == 200
    statuses = {j["id"]: (j["status"], j["actual_cost"]) for j in emu.jobs(user)}
    assert statuses[done.json()["job_id"]] == ("completed", 2)
    assert statuses[failed.json()["job_id"]][0] == "failed"
    assert user.credits == 18
    # Delivered once: a later request finds nothing to resend.
    calls = emu.calls("POST /api/jobs/complete")
    async with client_for(app) as client:
        await client.get("/", headers=bearer(token))
    assert emu.calls("POST /api/jobs/complete") == calls


async def test_a_settlement_still_failing_stays_kept(config: FocusConfig, user: EmulatedUser,
                                                     emu: FocusEmulator) -> None:
    app = apps.paid_app(config)
    async with client_for(app) as client:
        token = user.pat()
        emu.fail_next("POST /api/jobs/complete", status=503, times=2)
        assert (await client.post("/render", headers=bearer(token))).status_code == 200
        assert (await client.get("/", headers=bearer(token))).status_code == 200  # retried, failed again
        assert len(apps.middleware_of(app).jobs.pending) == 1 and emu.jobs(user, status="started")
        assert (await client.get("/", headers=bearer(token))).status_code == 200
    assert only_job(emu, user)["status"] == "completed" and user.credits == 15


async def test_an_unreachable_focus_does_not_slow_the_users_next_answer(config: FocusConfig, user: EmulatedUser,
                                                                        emu: FocusEmulator) -> None:
    """Kept settlements are delivered after the response, not before it."""
    app = apps.paid_app(config)
    got_answer = anyio.Event()
    async with client_for(app) as client:
        token = user.pat()
        emu.fail_next("POST /api/jobs/complete", status=503)
        assert (await client.post("/render", headers=bearer(token))).status_code == 200
        emu.set_latency(0.5, endpoint="POST /api/jobs/complete")
        scope = _scope("/", token)
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                got_answer.set()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(app, scope, receive, send)
                await got_answer.wait()
                assert emu.jobs(user, status="started")  # answered while the settlement is still under way
    assert only_job(emu, user)["status"] == "completed"
