"""Paid endpoints on a real uvicorn server on loopback: clients that leave, shutdown with a
settlement still kept, a process that exits without a lifespan, and hundreds of concurrent
mixed requests whose books must balance to the credit."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.asgi.server import Served
from tests.paid import apps
from tests.paid.conftest import bearer, only_job, settled, wait_until

ROOT = Path(__file__).resolve().parents[2]


def serve(config: FocusConfig, built: list[Starlette] | None = None) -> Served:
    def make(url: str) -> Starlette:
        app = apps.paid_app(config.replace(public_origin=url))
        if built is not None:
            built.append(app)
        return app

    return Served(make)


def open_request(url: str, target: str, token: str) -> socket.socket:
    """A raw HTTP/1.1 request on a socket the test closes whenever it likes."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall((f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed before {marker!r}: {data!r}")
        data += chunk
    return data


def test_a_client_that_leaves_mid_stream_is_refunded(config: FocusConfig, user: EmulatedUser,
                                                     emu: FocusEmulator) -> None:
    with serve(config) as served:
        sock = open_request(served.url, "/stream?chunks=400&slow=0.02&cost=3", user.pat())
        head = read_until(sock, b"chunk 1")
        assert head.startswith(b"HTTP/1.1 200")
        sock.close()  # gone, 398 chunks early
        wait_until(lambda: not emu.jobs(user, status="started"), what="the stream's job settled")
    job = only_job(emu, user)
    assert job["status"] == "failed" and user.credits == 20
    settled(emu, user)


def test_a_client_that_leaves_while_the_work_runs_is_refunded(config: FocusConfig, user: EmulatedUser,
                                                              emu: FocusEmulator) -> None:
    """Not a stream: the handler answers after the client left. uvicorn drops that answer
    silently; the middleware asks the connection before counting it delivered."""
    apps.gates["left"] = threading.Event()
    with serve(config) as served:
        sock = open_request(served.url, "/hold?key=left", user.pat())
        wait_until(lambda: bool(emu.jobs(user, status="started")), what="the job reserved")
        sock.close()
        time.sleep(0.3)  # the server notices the closed connection
        apps.gates["left"].set()
        wait_until(lambda: not emu.jobs(user, status="started"), what="the job settled")
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20
    assert apps.ran["hold"] == 1


def test_the_same_request_kept_open_is_charged(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    """The control for the two above: the client stays to the end."""
    apps.gates["stay"] = threading.Event()
    with serve(config) as served:
        sock = open_request(served.url, "/hold?key=stay", user.pat())
        wait_until(lambda: bool(emu.jobs(user, status="started")), what="the job reserved")
        apps.gates["stay"].set()
        assert read_until(sock, b"job_id").startswith(b"HTTP/1.1 200")
        sock.close()
        streamed = httpx.get(served.url + "/stream?chunks=50&cost=2", headers=bearer(user.pat()), timeout=10)
        assert streamed.text.count("chunk") == 50
        wait_until(lambda: not emu.jobs(user, status="started"), what="the jobs settled")
    assert sorted(j["actual_cost"] for j in emu.jobs(user)) == [2, 5] and user.credits == 13


def test_shutdown_drains_a_kept_settlement(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    built: list[Starlette] = []
    with serve(config, built) as served:
        emu.fail_next("POST /api/jobs/complete", status=503)
        r = httpx.post(served.url + "/render?cost=4", headers=bearer(user.pat()), timeout=10)
        assert r.status_code == 200
        wait_until(lambda: len(apps.middleware_of(built[0]).jobs.pending) == 1, what="the settlement kept")
        assert emu.jobs(user, status="started")
    # uvicorn ran the lifespan shutdown: the middleware drained before closing its client.
    assert len(apps.middleware_of(built[0]).jobs.pending) == 0
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 4 and user.credits == 16


def test_shutdown_with_focus_still_down_leaves_it_to_the_service(config: FocusConfig, user: EmulatedUser,
                                                                 emu: FocusEmulator,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with serve(config) as served:
        emu.fail_next("POST /api/jobs/fail", status=503, times=2)  # the settlement and the drain
        assert httpx.post(served.url + "/render?end=404", headers=bearer(user.pat()), timeout=10).status_code == 404
        wait_until(lambda: emu.calls("POST /api/jobs/fail") == 1, what="the settlement tried")
    [job] = emu.jobs(user, status="started")
    assert f"job {job['id']} still unsettled at shutdown" in caplog.text
    assert emu.release_stale_jobs(0) == 1  # what the service does after 24 h
    assert only_job(emu, user)["status"] == "failed" and user.credits == 20


def test_a_process_without_lifespan_drains_at_exit(user: EmulatedUser, emu: FocusEmulator) -> None:
    emu.fail_next("POST /api/jobs/complete", status=503)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tests.paid.exit_worker", emu.url, user.pat()], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "1"]  # answered, settlement kept when the loop ended
    job = only_job(emu, user)
    assert job["status"] == "completed" and job["actual_cost"] == 2 and user.credits == 18


# -- many at once ----------------------------------------------------------------------------------

KINDS = ["ok"] * 10 + ["stream"] * 2 + ["raise", "handled", "http", "400", "404", "500", "expensive"]


@dataclass
class Sent:
    user: int
    kind: str
    cost: int
    status: int = 0


def plan(rng: random.Random, users: int, count: int) -> list[Sent]:
    return [Sent(rng.randrange(users), rng.choice(KINDS), rng.randrange(10)) for _ in range(count)]


def target(sent: Sent) -> tuple[str, str]:
    if sent.kind == "ok":
        return "POST", f"/render?cost={sent.cost}"
    if sent.kind == "stream":
        return "GET", f"/stream?chunks=4&cost={sent.cost}"
    if sent.kind == "expensive":
        return "POST", "/expensive"
    return "POST", f"/render-sync?end={sent.kind}&cost={sent.cost}"


def test_hundreds_of_concurrent_mixed_paid_requests_balance_to_the_credit(config: FocusConfig,
                                                                           emu: FocusEmulator) -> None:
    """Four users with plenty and one with little (whose reservations start to bounce as the
    credits run out, concurrently): for each, the balance is the start minus the actual
    costs of the answers that were charged, computed from the responses alone."""
    rng = random.Random(7)
    start = [2000, 2000, 2000, 2000, 40]
    users = [emu.create_user(credits=c) for c in start]
    tokens = [u.pat() for u in users]
    requests = plan(rng, 4, 300) + [Sent(4, rng.choice(["ok", "ok", "stream", "400"]), rng.randrange(10))
                                    for _ in range(40)]
    rng.shuffle(requests)

    async def run(url: str) -> None:
        limiter = anyio.CapacityLimiter(48)
        limits = httpx.Limits(max_connections=48, max_keepalive_connections=48)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

            async def one(sent: Sent) -> None:
                async with limiter:
                    method, path = target(sent)
                    headers = bearer(tokens[sent.user])
                    if sent.kind == "raise":
                        # uvicorn closes the connection after an app exception, even once the
                        # 500 went out: a keep-alive client could race it with its next request.
                        headers["connection"] = "close"
                    r = await client.request(method, path, headers=headers)
                    sent.status = r.status_code
                    if sent.kind == "stream" and r.status_code == 200:
                        assert r.text.count("chunk") == 4
                    if sent.kind == "ok" and r.status_code == 200:
                        assert r.json()["cost"] == sent.cost

            async with anyio.create_task_group() as tg:
                for sent in requests:
                    tg.start_soon(one, sent)

    began = time.monotonic()
    with serve(config) as served:
        anyio.run(run, served.url)
        settled(emu, *users, timeout=60)
    elapsed = time.monotonic() - began

    expected_status = {"ok": 200, "stream": 200, "raise": 500, "handled": 200, "http": 409, "400": 400, "404": 404,
                       "500": 500, "expensive": 402}
    for i, u in enumerate(users):
        mine = [s for s in requests if s.user == i]
        for s in mine:
            assert s.status in (expected_status[s.kind], 402), s
            if i < 4:
                assert s.status == expected_status[s.kind], s  # plenty of credits: only /expensive bounces
        charged = [s.cost for s in mine if s.kind in ("ok", "stream") and s.status == 200]
        refunded = [s for s in mine if s.status != 402 and not (s.kind in ("ok", "stream") and s.status == 200)]
        jobs = emu.jobs(u)
        assert u.credits == start[i] - sum(charged), (i, Counter(s.kind for s in mine))
        assert sorted(j["actual_cost"] for j in jobs if j["status"] == "completed") == sorted(charged)
        assert sum(1 for j in jobs if j["status"] == "failed") == len(refunded)
        assert len(jobs) == len(charged) + len(refunded)  # a 402 reserved nothing
    poor = [s for s in requests if s.user == 4]
    assert any(s.status == 402 for s in poor) and any(s.status == 200 for s in poor)
    emu.check_books()
    assert elapsed < 60, elapsed
