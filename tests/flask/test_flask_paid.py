"""Paid Flask views: reserve, run, settle the actual cost once the response went out,
refund on any failure; checked in the emulator's ledger (books audited at teardown)."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from flask import Flask

from flask_focus import Focus, state_of
from flask_focus.testing import login
from focus_middleware.clock import FakeClock
from focus_middleware.jobs import UndeliveredSettlement
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.wsgi.server import ServedWSGI

from .conftest import API, NAV, SAME_ORIGIN, bearer, create_app, settings_for


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    from tests.wsgi.conftest import wait_for as wait

    wait(predicate, timeout)


def test_complete_charges_the_actual_cost(client: Any, user: EmulatedUser, emu: FocusEmulator) -> None:
    login(client, user)
    r = client.post("/render?cost=3", headers=SAME_ORIGIN)
    assert r.status_code == 200
    [job] = emu.jobs(user)
    assert job["id"] == r.json["job_id"] and job["status"] == "completed" and job["actual_cost"] == 3
    assert job["metadata"]["previewUrl"] == "https://example.test/p.png" and user.credits == 17
    assert client.get("/").json["credits"] == 17  # the cached wallet was dropped


def test_async_paid_view(client: Any, user: EmulatedUser, emu: FocusEmulator) -> None:
    assert client.post("/render-async", headers=bearer(user.pat())).status_code == 200
    assert emu.jobs(user)[0]["status"] == "completed" and user.credits == 19


def test_too_few_credits_is_402_and_the_view_never_runs(client: Any, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=4)
    login(client, poor)
    r = client.post("/render", headers=SAME_ORIGIN)
    assert r.status_code == 402 and r.json["required"] == 5 and r.json["available"] == 4
    assert emu.jobs(poor) == [] and poor.credits == 4
    page = client.get("/render", headers=NAV)
    assert page.status_code == 402 and "render" in page.text


def test_no_account_and_cross_origin_are_refused_before_reserving(client: Any, user: EmulatedUser,
                                                                 emu: FocusEmulator) -> None:
    assert client.post("/render", headers=API).status_code == 401
    login(client, user)
    assert client.get("/render", headers={"sec-fetch-site": "cross-site", **API}).status_code == 403
    assert emu.jobs(user) == []


def test_abort_fails_the_job_with_refund(client: Any, user: EmulatedUser, emu: FocusEmulator) -> None:
    assert client.post("/render-abort", headers=bearer(user.pat())).status_code == 422
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20
    assert [row["kind"] for row in emu.ledger(user)][-2:] == ["reserve", "refund"]


def test_an_exception_fails_the_job_with_refund(client: Any, app: Flask, user: EmulatedUser,
                                                emu: FocusEmulator) -> None:
    with pytest.raises(RuntimeError, match="renderer crashed"):  # TESTING propagates it
        client.post("/render-boom", headers=bearer(user.pat()))
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20
    app.config["TESTING"] = False  # in production Flask answers 500: refunded all the same
    assert client.post("/render-boom", headers=bearer(user.pat())).status_code == 500
    assert [j["status"] for j in emu.jobs(user)] == ["failed", "failed"] and user.credits == 20


def test_an_error_handler_answering_2xx_does_not_charge_work_that_raised(emu: FocusEmulator, clock: FakeClock,
                                                                       user: EmulatedUser) -> None:
    app = create_app(settings_for(emu, clock), Focus())

    @app.errorhandler(RuntimeError)
    def forgive(error: RuntimeError) -> Any:
        return {"forgiven": True}, 200

    r = app.test_client().post("/render-boom", headers=bearer(user.pat()))
    assert r.status_code == 200 and emu.jobs(user)[0]["status"] == "failed" and user.credits == 20
    state_of(app).close()


def test_blueprint_paid_view(client: Any, user: EmulatedUser, emu: FocusEmulator) -> None:
    login(client, user)
    assert client.post("/studio/publish", headers=SAME_ORIGIN).status_code == 200
    assert emu.jobs(user)[0]["action"] == "publish" and user.credits == 18


def test_stream_with_context_settles_after_the_last_chunk(client: Any, user: EmulatedUser,
                                                          emu: FocusEmulator) -> None:
    r = client.post("/render-stream", headers=bearer(user.pat()), buffered=False)
    chunks = iter(r.response)
    assert next(chunks) == b"chunk 0\n" and emu.jobs(user)[0]["status"] == "started"
    assert b"".join(chunks) == b"chunk 1\nchunk 2\n"
    r.close()
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 2 and user.credits == 18


def test_a_stream_closed_early_fails_with_refund(client: Any, user: EmulatedUser, emu: FocusEmulator) -> None:
    r = client.post("/render-stream?chunks=10", headers=bearer(user.pat()), buffered=False)
    assert next(iter(r.response)) == b"chunk 0\n"
    r.close()
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20


def test_kept_settlement_is_delivered_on_the_users_next_request(emu: FocusEmulator, clock: FakeClock,
                                                               user: EmulatedUser) -> None:
    kept: list[UndeliveredSettlement] = []
    app = create_app(settings_for(emu, clock), Focus(on_undelivered=kept.append))
    client = app.test_client()
    login(client, user)
    emu.fail_next("POST /api/jobs/complete", status=503, times=3)
    assert client.post("/render?cost=4", headers=SAME_ORIGIN).status_code == 200
    assert len(kept) == 1 and emu.jobs(user, status="started")
    emu.clear_faults()
    client.get("/")
    assert emu.jobs(user)[0]["status"] == "completed" and user.credits == 16
    state_of(app).close()


# -- a real server: streaming and a client that leaves ----------------------------------------------------------


def test_real_server_stream_and_disconnect(emu: FocusEmulator, clock: FakeClock, user: EmulatedUser) -> None:
    with ServedWSGI(lambda origin: create_app(settings_for(emu, clock, FOCUS_PUBLIC_ORIGIN=origin), Focus())) as app:
        pat = user.pat()
        with httpx.Client() as http, http.stream("POST", f"{app.url}/render-stream?chunks=20&delay=0.005",
                                                 headers={"authorization": f"Bearer {pat}"}) as r:
            assert b"".join(r.iter_raw()).count(b"chunk") == 20
        wait_for(lambda: emu.jobs(user)[0]["status"] == "completed")
        assert user.credits == 18

        host, port = app.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(f"POST /render-stream?chunks=2000&delay=0.002 HTTP/1.1\r\nHost: {host}\r\n"
                     f"Authorization: Bearer {pat}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        seen = b""
        while b"chunk 0" not in seen:
            seen += sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
        wait_for(lambda: emu.jobs(user)[0]["status"] != "started", timeout=10)
        assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 18
        state_of(app.app).close()
