"""Two worker processes sharing a real redis-server get one request each with the same
Idempotency-Key at the same moment: one reservation, one charge; the other answers 409
(issue 20). The emulator holds each reservation for a moment (``set_latency``), so the
second process arrives while the first holds the key's lock in Redis.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from focus_middleware.testing import FocusEmulator

from .conftest import ORIGIN, ROOT, RedisServer


@pytest.mark.parametrize("kinds", [("wsgi", "wsgi"), ("asgi", "wsgi"), ("asgi", "asgi")])
def test_one_key_from_two_processes_is_one_reservation(redis_server: RedisServer, emu: FocusEmulator,
                                                       kinds: tuple[str, str]) -> None:
    redis_server.client().flushall()
    user = emu.create_user(credits=20)
    settings = {"api_url": emu.url, "issuer": emu.issuer, "app": "video", "public_origin": ORIGIN,
                "cache_url": redis_server.url, "handle_signals": False}
    headers = {"authorization": f"Bearer {user.pat()}", "accept": "application/json", "content-type": "application/json", "idempotency-key": "two-procs"}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.redis.idempotency_worker", kind, json.dumps(settings),
                               json.dumps(headers)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for kind in kinds]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert json.loads(proc.stdout.readline()) == {"ready": True}
        emu.set_latency(0.5, "POST /api/jobs")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        statuses = []
        for proc in procs:
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err[-2000:]
            statuses.append(json.loads(out.strip().splitlines()[-1])["status"])
    finally:
        emu.set_latency(0.0)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sorted(statuses) == [200, 409]
    assert len(emu.jobs(user)) == 1 and user.credits == 15
    emu.check_books()
