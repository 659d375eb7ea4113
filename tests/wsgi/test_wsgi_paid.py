"""Paid views behind FocusWSGIMiddleware: reserve, run, settle the actual cost, refund on
any failure, checked in the emulator's ledger (the books are audited at teardown too)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from focus_middleware.config import FocusConfig
from focus_middleware.jobs import UndeliveredSettlement
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import FocusWSGIMiddleware, paid
from tests.helpers import ORIGIN

from .conftest import API, NAV, SAME_ORIGIN, BufferedClient as Client, bearer, make_app, wait_for
from .server import ServedWSGI

COMPLETE = "POST /api/jobs/complete"


def kinds(emu: FocusEmulator, user: EmulatedUser) -> list[tuple[str, int]]:
    return [(row["kind"], row["amount"]) for row in emu.ledger(user)]


def test_complete_charges_the_actual_cost(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    r = client.post("/render?cost=3", headers=bearer(user.session_jwt(azp=ORIGIN)))
    assert r.status_code == 200
    [job] = emu.jobs(user)
    assert job["id"] == r.json["job_id"] and job["status"] == "completed" and job["actual_cost"] == 3
    assert job["metadata"]["previewUrl"] == "https://example.test/p.png"
    assert job["metadata"]["description"] == "render" and job["metadata"]["request_id"]
    assert user.credits == 17
    # The cached wallet was dropped: the next request sees the new balance.
    assert client.get("/", headers=bearer(user.pat())).json["credits"] == 17


def test_default_cost_is_the_estimate(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    assert client.post("/render", headers=bearer(user.pat())).status_code == 200
    assert emu.jobs(user)[0]["actual_cost"] == 5 and user.credits == 15


def test_too_few_credits_is_402_and_the_view_never_runs(client: Client, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    r = client.post("/render", headers=bearer(poor.pat()))
    assert r.status_code == 402 and r.json["required"] == 5 and r.json["available"] == 2
    assert r.json["action"] == "render" and emu.jobs(poor) == [] and poor.credits == 2
    page = client.get("/render", headers={**NAV, "authorization": f"Bearer {poor.pat()}"})
    assert page.status_code == 402 and page.mimetype == "text/html"


def test_no_account_is_refused_before_anything_is_reserved(client: Client, emu: FocusEmulator) -> None:
    assert client.post("/render", headers=API).status_code == 401
    assert client.get("/render", headers=NAV).status_code == 303


def test_a_session_about_to_expire_cannot_start_paid_work(client: Client, user: EmulatedUser,
                                                          emu: FocusEmulator) -> None:
    r = client.post("/render", headers=bearer(user.session_jwt(azp=ORIGIN, lifetime=20)))
    assert r.status_code == 401 and emu.jobs(user) == []


def test_cookie_paid_calls_must_be_same_origin_even_for_get(client: Client, user: EmulatedUser,
                                                            emu: FocusEmulator) -> None:
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN))
    assert client.get("/render", headers={"sec-fetch-site": "cross-site", **API}).status_code == 403
    assert client.get("/render", headers={"sec-fetch-site": "same-site", **API}).status_code == 403
    assert emu.jobs(user) == []
    assert client.get("/render", headers=SAME_ORIGIN).status_code == 200
    assert emu.jobs(user, status="completed")


def test_focus_down_at_reservation_is_503_and_nothing_is_started(client: Client, user: EmulatedUser,
                                                                 emu: FocusEmulator) -> None:
    pat = user.pat()
    assert client.get("/", headers=bearer(pat)).status_code == 200  # identity and wallet cached
    emu.fail_next("POST /api/jobs", status=503, times=5)
    r = client.post("/render", headers=bearer(pat))
    assert r.status_code == 503 and r.headers["retry-after"]
    assert not emu.jobs(user, status="started") and user.credits == 20


def test_an_exception_fails_the_job_with_refund(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    with pytest.raises(RuntimeError, match="renderer crashed"):
        client.post("/render_boom", headers=bearer(user.pat()))
    [job] = emu.jobs(user)
    assert job["status"] == "failed" and user.credits == 20
    assert kinds(emu, user)[-2:] == [("reserve", -5), ("refund", 5)]


def test_an_error_status_fails_the_job_with_refund(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    r = client.post("/render_abort", headers=bearer(user.pat()))
    assert r.status_code == 422
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20


def test_a_body_closed_early_fails_the_job_with_refund(app: FocusWSGIMiddleware, user: EmulatedUser,
                                                        emu: FocusEmulator) -> None:
    from werkzeug.test import create_environ, run_wsgi_app

    environ = create_environ("/render_stream?chunks=5", method="POST",
                             headers={"authorization": f"Bearer {user.pat()}"})
    body, status, _ = run_wsgi_app(app, environ, buffered=False)
    assert status.startswith("200") and next(iter(body)) == b"chunk 0\n"
    assert emu.jobs(user)[0]["status"] == "started"
    body.close()  # type: ignore[attr-defined]
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20


def test_a_streamed_body_settles_after_its_last_chunk(app: FocusWSGIMiddleware, user: EmulatedUser,
                                                      emu: FocusEmulator) -> None:
    from werkzeug.test import create_environ, run_wsgi_app

    environ = create_environ("/render_stream", method="POST", headers={"authorization": f"Bearer {user.pat()}"})
    body, _, _ = run_wsgi_app(app, environ, buffered=False)
    assert b"".join(body) == b"chunk 0\nchunk 1\nchunk 2\n"
    # Exhausted: the server has taken the last chunk (servers write each chunk before they
    # ask for the next), so the job is settled now, before close() (issue 19: test clients
    # that read the body without closing it settle too).
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 2 and user.credits == 18
    body.close()  # type: ignore[attr-defined]
    assert emu.calls("POST /api/jobs/complete") == 1 and emu.calls("POST /api/jobs/fail") == 0


def test_a_bare_wsgi_generator_app_is_paid_too(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    r = client.get("/raw-paid", headers=bearer(user.pat()))
    assert r.text == "raw paid" and emu.jobs(user)[0]["status"] == "completed" and user.credits == 19


def test_one_job_per_request(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    @paid(action="render", cost_estimate=2)
    @paid(action="render", cost_estimate=2)
    def twice(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    @paid(action="outer", cost_estimate=2)
    @paid(action="inner", cost_estimate=3)
    def two_routes(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    one = FocusWSGIMiddleware(twice, config=config)
    assert Client(one).get("/", headers=bearer(user.pat())).status_code == 200
    assert [j["status"] for j in emu.jobs(user)] == ["completed"] and user.credits == 18
    two = FocusWSGIMiddleware(two_routes, config=config)
    with pytest.raises(RuntimeError, match="already open"):
        Client(two).get("/", headers=bearer(user.pat()))
    assert [j["status"] for j in emu.jobs(user)] == ["failed", "completed"] and user.credits == 18
    one.close(), two.close()


def test_work_that_raised_is_not_charged_even_if_answered_2xx(config: FocusConfig, user: EmulatedUser,
                                                              emu: FocusEmulator) -> None:
    @paid(action="render", cost_estimate=2)
    def crashes(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise ValueError("bad input")

    def forgiving(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            return crashes(environ, start_response)  # type: ignore[return-value]
        except ValueError:
            start_response("200 OK", [])
            return [b"handled"]

    app = FocusWSGIMiddleware(forgiving, config=config)
    assert Client(app).get("/", headers=bearer(user.pat())).text == "handled"
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20
    app.close()


def test_a_job_opened_after_the_response_began_is_a_clear_error(config: FocusConfig, user: EmulatedUser,
                                                                 emu: FocusEmulator) -> None:
    @paid(action="late", cost_estimate=1)
    def late(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"late"]

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        yield from late(environ, start_response)  # the paid view runs during iteration

    with pytest.raises(RuntimeError, match="only be opened while FocusWSGIMiddleware runs the app"):
        Client(FocusWSGIMiddleware(app, config=config)).get("/", headers=bearer(user.pat()))
    assert emu.jobs(user) == []


def test_undelivered_settlement_is_kept_and_retried_on_the_users_next_request(
        config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    kept: list[UndeliveredSettlement] = []
    app = make_app(config, on_undelivered=kept.append)
    client = Client(app)
    emu.fail_next(COMPLETE, status=503, times=10)
    assert client.post("/render?cost=4", headers=bearer(user.pat())).status_code == 200
    assert [k.job_id for k in kept] == [emu.jobs(user)[0]["id"]] and emu.jobs(user, status="started")
    emu.clear_faults()
    client.get("/untouched", headers=bearer(user.pat()))  # the account is never looked at: nothing yet
    assert emu.jobs(user, status="started")
    r = client.get("/", headers=bearer(user.pat()), buffered=False)  # the user's next resolved request...
    assert r.json["authenticated"] and emu.jobs(user, status="started")  # ...answered first, not delayed
    r.close()  # ...and once its response is over, delivers it
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 4 and user.credits == 16
    app.close()


def test_a_remembered_users_kept_settlement_goes_out_after_a_request_that_never_reads_the_account(
        config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    """A credential the core remembers (issue 22's fast path) has its account known as the
    request comes in, without I/O: its user's kept settlements go out once that response is
    over, though the app never looks at the account."""
    kept: list[UndeliveredSettlement] = []
    app = make_app(config, on_undelivered=kept.append)
    client = Client(app)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    emu.fail_next(COMPLETE, status=503, times=10)
    assert client.post("/render?cost=4", headers=bearer(token)).status_code == 200
    emu.clear_faults()
    # Every delivery attempt drops the user's cached wallet (credits may have moved), and with
    # it the remembered answer: so the settlement is set aside while the credential is
    # remembered, and kept again after, as one kept by another thread meanwhile would be.
    [item] = app.paid_jobs.pending.take(user.clerk_id)
    assert client.get("/", headers=bearer(token)).json["authenticated"]  # read: remembered
    app.paid_jobs.pending.add(item)
    r = client.get("/untouched", headers=bearer(token), buffered=False)
    assert r.status_code == 200 and emu.jobs(user, status="started")  # answered first, not delayed
    r.close()
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 4 and [k.job_id for k in kept] == [job["id"]]
    app.close()


def test_close_drains_what_is_kept(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    app = make_app(config)
    emu.fail_next("POST /api/jobs/fail", status=502, times=1)
    with pytest.raises(RuntimeError):
        Client(app).post("/render_boom", headers=bearer(user.pat()))
    assert emu.jobs(user, status="started") and len(app.paid_jobs.pending) == 1
    app.close()
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20


# -- a real server: streaming and clients that leave ------------------------------------------------------------


def _raw_request(url: str, path: str, token: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
    return sock


def test_real_server_streams_then_completes(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    import httpx

    with ServedWSGI(lambda origin: make_app(config)) as served:
        with httpx.Client() as http, http.stream("POST", f"{served.url}/render_stream?chunks=20&delay=0.005",
                                                 headers={"authorization": f"Bearer {user.pat()}"}) as r:
            chunks = list(r.iter_raw())
        assert b"".join(chunks).count(b"chunk") == 20
        wait_for(lambda: emu.jobs(user)[0]["status"] == "completed")
        assert emu.jobs(user)[0]["actual_cost"] == 2 and user.credits == 18
        served.app.close()


def test_real_server_client_disconnect_fails_with_refund(config: FocusConfig, user: EmulatedUser,
                                                         emu: FocusEmulator) -> None:
    with ServedWSGI(lambda origin: make_app(config)) as served:
        sock = _raw_request(served.url, "/render_stream?chunks=2000&delay=0.002", user.pat())
        first = b""
        while b"chunk 0" not in first:
            first += sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST: the server's next writes fail
        wait_for(lambda: emu.jobs(user)[0]["status"] != "started", timeout=10)
        assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20
        served.app.close()


def test_a_process_that_exits_drains_what_is_kept(user: EmulatedUser, emu: FocusEmulator) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    emu.fail_next(COMPLETE, status=503)
    done = subprocess.run([sys.executable, "-m", "tests.wsgi.exit_worker", emu.url, user.pat()], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "1"]  # answered; the settlement kept when the process ended
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 2 and user.credits == 18
