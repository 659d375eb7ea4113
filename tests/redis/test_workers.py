"""Several real worker processes of one app sharing Redis, against the emulator's counters."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from focus_middleware.testing import FocusEmulator

from .conftest import ORIGIN, WALLET, RedisServer, resolve_all, scan


def authenticated(results: list[dict[str, Any]], clerk_id: str, credits: int | None = None) -> bool:
    return all(r["kind"] == "Authenticated" and r["clerk_id"] == clerk_id
               and (credits is None or r["credits"] == credits) for r in results)


def test_one_upstream_call_per_credential_not_one_per_worker(
    start_workers: Any, emu: FocusEmulator, redis_server: RedisServer, rds: redis.Redis
) -> None:
    # Two sync and two async workers; 8 concurrent requests each per credential.
    workers = start_workers(2, cache_url=redis_server.url) + start_workers(2, cache_url=redis_server.url, **{"async": True})
    users = [emu.create_user(credits=10 + i) for i in range(3)]
    pats = [u.pat() for u in users]
    jwts = [u.session_jwt(azp=ORIGIN, lifetime=600) for u in users]
    # Keys first, one request per worker: concurrent first verifications in one process
    # race the initial JWKS fetch (a KeyRing issue of its own, reported separately).
    warm = emu.create_user().session_jwt(azp=ORIGIN)
    for w in workers:
        w.resolve(warm)
    emu.set_latency(0.3, endpoint=WALLET)  # every worker's miss overlaps the first one's call
    emu.reset_calls()
    for user, pat in zip(users, pats):
        assert authenticated(resolve_all(workers, pat, n=8), user.clerk_id, user.credits)
        assert emu.calls(WALLET, credential=pat) == 1
    # Session JWTs verify locally in each worker; the user's wallet is already shared.
    for user, token in zip(users, jwts):
        assert authenticated(resolve_all(workers, token, n=8), user.clerk_id)
        assert emu.calls(WALLET, credential=token) == 0
    assert emu.calls(WALLET) == len(users)


def test_without_the_shared_cache_each_worker_calls(start_workers: Any, emu: FocusEmulator) -> None:
    workers = start_workers(3)
    user = emu.create_user(credits=5)
    pat = user.pat()
    emu.reset_calls()
    assert authenticated(resolve_all(workers, pat, n=4), user.clerk_id)
    assert emu.calls(WALLET, credential=pat) == 3  # single flight per process only


def test_remote_jwts_are_shared_and_never_outlive_exp(
    start_workers: Any, emu: FocusEmulator, redis_server: RedisServer, rds: redis.Redis
) -> None:
    workers = start_workers(3, cache_url=redis_server.url, issuer=None)
    user = emu.create_user(credits=4)
    token = user.session_jwt(azp=ORIGIN, lifetime=20)
    emu.set_latency(0.2, endpoint=WALLET)
    emu.reset_calls()
    assert authenticated(resolve_all(workers, token, n=5), user.clerk_id, 4)
    assert emu.calls(WALLET, credential=token) == 1
    ttls = [ttl for key, (_, ttl) in scan(rds).items() if ":remote:" in key]
    assert ttls and all(0 < ttl <= 20_000 for ttl in ttls)


def test_a_job_in_one_worker_is_seen_by_the_next_request_in_another(
    start_workers: Any, emu: FocusEmulator, redis_server: RedisServer, rds: redis.Redis
) -> None:
    # A first level of 60 s: only the invalidation can make the new balance visible in time.
    a, b, c = start_workers(3, cache_url=redis_server.url, l1_ttl=60.0)
    user = emu.create_user(credits=50)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    assert authenticated(resolve_all([a, b, c], token), user.clerk_id, 50)
    emu.set_credits(user, 7)  # the job moved credits
    assert authenticated(b.resolve(token), user.clerk_id, 50)  # still cached everywhere
    emu.reset_calls()
    a.ask(op="forget", clerk_id=user.clerk_id)
    deadline = time.monotonic() + 1.0
    while True:  # pub/sub is asynchronous: allow it a moment, far below any TTL
        seen = b.resolve(token)
        if seen[0]["credits"] == 7 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert authenticated(seen, user.clerk_id, 7)
    assert authenticated(c.resolve(token) + a.resolve(token), user.clerk_id, 7)
    assert emu.calls(WALLET) == 1  # one refetch, shared by the three


def test_redis_killed_mid_run_requests_still_served_then_recovery(
    start_workers: Any, emu: FocusEmulator, redis_binary: str
) -> None:
    server = RedisServer(redis_binary).start()
    try:
        a, b = start_workers(2, cache_url=server.url)
        user = emu.create_user(credits=9)
        pat = user.pat()
        assert authenticated(resolve_all([a, b], pat, n=4), user.clerk_id, 9)

        server.kill()
        started = time.monotonic()
        for _ in range(5):
            assert authenticated(resolve_all([a, b], pat, n=4), user.clerk_id, 9)  # first level
        fresh = user.pat()
        emu.reset_calls()
        assert authenticated(resolve_all([a, b], fresh, n=4), user.clerk_id, 9)  # from the service
        assert 1 <= emu.calls(WALLET, credential=fresh) <= 2  # more calls, never a refusal
        assert time.monotonic() - started < 3.0  # no request waited on the dead Redis for long

        server.start()  # same port
        client = server.client()
        deadline = time.monotonic() + 10
        while client.pubsub_numsub("focus:v1:invalidate")[0][1] < 2:  # both listeners back
            assert time.monotonic() < deadline, "workers did not resubscribe"
            time.sleep(0.05)
        time.sleep(1.1)  # past the workers' retry interval
        later = user.pat()
        emu.set_latency(0.3, endpoint=WALLET)
        emu.reset_calls()
        assert authenticated(resolve_all([a, b], later, n=4), user.clerk_id, 9)
        assert emu.calls(WALLET, credential=later) == 1  # shared again
        client.close()
    finally:
        server.kill()


def test_a_crashed_lock_holder_blocks_nobody_past_the_lock_expiry(
    start_workers: Any, emu: FocusEmulator, redis_server: RedisServer, rds: redis.Redis
) -> None:
    holder, other = start_workers(2, cache_url=redis_server.url, cache_lock_ttl=1.0)
    user = emu.create_user(credits=3)
    pat = user.pat()
    emu.set_latency(5.0, endpoint=WALLET)
    holder.send(op="resolve", bearer=pat, n=1)  # stalls upstream while holding the lock
    deadline = time.monotonic() + 5
    while not [k for k in rds.scan_iter("*:lock")]:
        assert time.monotonic() < deadline, "the holder never took the lock"
        time.sleep(0.01)
    holder.kill()
    emu.clear_faults()
    started = time.monotonic()
    assert authenticated(other.resolve(pat), user.clerk_id, 3)
    waited = time.monotonic() - started
    assert 0.3 < waited < 2.5, waited  # waited for the expiry, then took over
    assert not list(rds.scan_iter("*:lock"))  # the taker released its own lock


def test_redis_holds_no_token_text_and_every_key_expires(
    start_workers: Any, emu: FocusEmulator, redis_server: RedisServer, rds: redis.Redis
) -> None:
    workers = start_workers(2, cache_url=redis_server.url)
    remote = start_workers(1, cache_url=redis_server.url, issuer=None)
    user = emu.create_user(credits=8)
    tokens = [user.pat(), user.session_jwt(azp=ORIGIN, lifetime=600)]
    bogus = "focus_pat_" + "B" * 43
    for token in tokens + [bogus]:
        resolve_all(workers, token, n=2)
    remote_jwt = user.session_jwt(azp=ORIGIN, lifetime=300)
    assert authenticated(remote[0].resolve(remote_jwt), user.clerk_id, 8)
    keys = scan(rds)
    assert {k.split(":")[3] for k in keys} >= {"wallet", "remote"}
    assert any(b'"refused":true' in (v or b"") for v, _ in keys.values())  # the 401, briefly
    for key, (value, ttl) in keys.items():
        assert ttl > 0, key
        assert value is not None and value.startswith(b"focus1:")
        for token in tokens + [bogus, remote_jwt]:
            for text in (token, *token.split(".")):
                assert text not in key and text.encode() not in value
