"""A real redis-server on loopback, and real worker processes that share it.

The session's server is started on a free port with no persistence. Without the
``redis-server`` binary the tests are skipped with the reason, except in CI
(``CI=true``), where that is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from focus_middleware.facts import RequestFacts
from focus_middleware.testing import FocusEmulator

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://127.0.0.1:8000"
WALLET = "GET /api/wallet"


def facts(*, bearer: str) -> RequestFacts:
    return RequestFacts(method="GET", path="/", headers={"authorization": f"Bearer {bearer}"}, cookies={},
                        host="127.0.0.1:8000")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1; can be killed and started again on its port."""

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
        client.close()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server); .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def redis_binary() -> str:
    return _redis_binary()


@pytest.fixture(scope="session")
def redis_server(redis_binary: str) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary).start()
    yield server
    server.kill()


@pytest.fixture
def rds(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on the session's server, emptied before each test."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def emu_real() -> Iterator[FocusEmulator]:
    """One emulator on the system clock for the worker processes (each test uses its own
    users and tokens, and resets the counters)."""
    with FocusEmulator(db=":memory:") as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator


@pytest.fixture
def emu(emu_real: FocusEmulator) -> Iterator[FocusEmulator]:
    emu_real.clear_faults()
    emu_real.reset_calls()
    yield emu_real
    emu_real.clear_faults()


# -- worker processes ------------------------------------------------------------------------------


class Worker:
    """A real process running one resolver (tests/redis/worker.py), driven over its pipes."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.redis.worker", json.dumps(settings)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )

    def wait_ready(self) -> None:
        line = self._line()
        assert line == {"ready": True}, line

    def _line(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr is not None else ""
            raise RuntimeError(f"worker exited: {err[-2000:]}")
        return json.loads(line)

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def result(self) -> Any:
        return self._line()

    def ask(self, **command: Any) -> Any:
        self.send(**command)
        return self.result()

    def resolve(self, token: str, n: int = 1) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.ask(op="resolve", bearer=token, n=n)
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(op="exit")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


@pytest.fixture
def start_workers(emu: FocusEmulator) -> Iterator[Any]:
    """``start_workers(n, **settings)``: n ready worker processes of one app."""
    started: list[Worker] = []

    def start(n: int, **settings: Any) -> list[Worker]:
        base = {"api_url": emu.url, "issuer": emu.issuer, "app": "video", "public_origin": ORIGIN}
        workers = [Worker({**base, **settings, "index": i}) for i in range(n)]
        started.extend(workers)
        for w in workers:
            w.wait_ready()
        return workers

    yield start
    for w in started:
        w.stop()


def resolve_all(workers: list[Worker], token: str, n: int = 1) -> list[dict[str, Any]]:
    """Every worker resolves ``token`` ``n`` times concurrently, all workers at once."""
    for w in workers:
        w.send(op="resolve", bearer=token, n=n)
    results: list[dict[str, Any]] = []
    for w in workers:
        results.extend(w.result())
    return results


def scan(client: redis.Redis) -> dict[str, tuple[bytes | None, int]]:
    """Every key with its raw value and its remaining TTL in ms."""
    found: dict[str, tuple[bytes | None, int]] = {}
    for key in client.scan_iter(count=1000):
        found[key.decode()] = (client.get(key), int(client.pttl(key)))
    return found
