"""Many worker processes of one app: upstream calls and throughput, with and without Redis.

4 worker processes (real ones, each with its own resolver and threads) serve the same load
against the emulator on loopback: every worker resolves each of the users' PATs and session
JWTs many times, starting at different points of the list so that misses overlap across
workers. Once with the in-process cache only, once with a shared Redis behind it (a
redis-server on a free loopback port, started and stopped here). The emulator answers the
wallet call after a fixed delay, standing in for the network between an app and Focus.

Bounded: a fixed number of requests per worker, loopback only, and a time cap.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.outcome import Authenticated
from focus_middleware.resolver import Resolver
from focus_middleware.testing import FocusEmulator

ORIGIN = "http://127.0.0.1:8000"
WORKERS = 4
THREADS = 4
USERS = 40
REQUESTS_PER_WORKER = 4000
LATENCY = 0.02
TIME_CAP = 120.0
ROOT = Path(__file__).resolve().parents[1]


def _facts(token: str) -> RequestFacts:
    return RequestFacts(method="GET", path="/", headers={"authorization": f"Bearer {token}"}, host="127.0.0.1:8000")


# -- the worker process ------------------------------------------------------------------------


def worker(settings: dict[str, Any]) -> None:
    """Build a resolver, say ready, warm its keys, wait for the tokens, serve the load, report."""
    resolver = Resolver(FocusConfig(**settings))
    print(json.dumps({"ready": True}), flush=True)
    # One request first: the JWKS is fetched before the threads start (concurrent first
    # verifications in one process race that fetch: a KeyRing issue of its own).
    resolver.resolve(_facts(json.loads(sys.stdin.readline())["warm"]))
    print(json.dumps({"warm": True}), flush=True)
    go = json.loads(sys.stdin.readline())
    tokens: list[str] = go["tokens"]
    per_thread = go["requests"] // THREADS
    failures = [0] * THREADS
    barrier = threading.Barrier(THREADS)

    def serve(t: int) -> None:
        offset = go["offset"] + t * len(tokens) // THREADS
        barrier.wait()
        for i in range(per_thread):
            if not isinstance(resolver.resolve(_facts(tokens[(offset + i) % len(tokens)])), Authenticated):
                failures[t] += 1

    threads = [threading.Thread(target=serve, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps({"requests": per_thread * THREADS, "failures": sum(failures)}), flush=True)
    resolver.close()


# -- the parent --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_redis(binary: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.02)
    client.close()
    return proc, f"redis://127.0.0.1:{port}/0"


def _round(emu: FocusEmulator, cache_url: str | None) -> tuple[int, float, int]:
    """One run of the load: (upstream wallet calls, requests per second, failures)."""
    users = [emu.create_user(credits=100) for _ in range(USERS)]
    tokens = [u.pat() for u in users] + [u.session_jwt(azp=ORIGIN, lifetime=3600) for u in users]
    settings = {"api_url": emu.url, "issuer": emu.issuer, "app": "bench", "public_origin": ORIGIN, "cache_url": cache_url}
    procs = [
        subprocess.Popen([sys.executable, "-m", "bench.multiprocess_bench", "--worker", json.dumps(settings)],
                         cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            if json.loads(p.stdout.readline() or "{}") != {"ready": True}:
                raise RuntimeError("a bench worker failed to start")
        # Keys warm in every worker first (one request each), then count from zero.
        warm = emu.create_user().session_jwt(azp=ORIGIN, lifetime=3600)
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(json.dumps({"warm": warm}) + "\n")
            p.stdin.flush()
            p.stdout.readline()
        emu.reset_calls()
        started = time.perf_counter()
        for i, p in enumerate(procs):
            assert p.stdin is not None
            p.stdin.write(json.dumps({"tokens": tokens, "requests": REQUESTS_PER_WORKER,
                                      "offset": i * len(tokens) // WORKERS}) + "\n")
            p.stdin.flush()
        total = failures = 0
        for p in procs:
            assert p.stdout is not None
            report = json.loads(p.stdout.readline() or "{}")
            total += report["requests"]
            failures += report["failures"]
        elapsed = time.perf_counter() - started
        if elapsed > TIME_CAP:
            raise RuntimeError("the bench ran past its time cap")
        return emu.calls("GET /api/wallet"), total / elapsed, failures
    finally:
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run() -> str:
    title = (f"multi-process (bench/multiprocess_bench.py): {WORKERS} workers x {THREADS} threads, "
             f"{USERS} users (a PAT and a session JWT each), {REQUESTS_PER_WORKER} requests per worker, "
             f"Focus latency {LATENCY * 1000:.0f} ms")
    binary = shutil.which("redis-server")
    if binary is None:
        return title + "\n  skipped: redis-server is not installed (apt-get install redis-server)"
    redis_proc, url = _start_redis(binary)
    try:
        with FocusEmulator(db=":memory:") as emu:
            emu.create_app("bench", starter_credits=0)
            emu.set_latency(LATENCY, endpoint="GET /api/wallet")
            rows = [("in-process cache only", *_round(emu, None)),
                    ("shared Redis behind it (l1_ttl 5 s)", *_round(emu, url))]
    finally:
        redis_proc.kill()
        redis_proc.wait()
    out = [title, f"{'case':<44}{'upstream calls':>16}{'requests/s':>12}"]
    for name, calls, rate, failures in rows:
        out.append(f"{name:<44}{calls:>16}{rate:>12.0f}" + (f"  ({failures} failed)" if failures else ""))
    out.append(f"  {2 * USERS} distinct credentials: at most one upstream call each with Redis, "
               f"up to {WORKERS} each ({2 * USERS * WORKERS}) without")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
    else:
        print(run())
