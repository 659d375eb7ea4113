"""The Redis backend on its own: format, expiry, invalidation feed, locks, outages."""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Iterator

import anyio
import pytest
import redis

from focus_middleware.cache import (
    AsyncCacheBackend,
    CacheBackend,
    CacheUnavailable,
    InvalidationFeed,
    async_backend,
    sync_backend,
)
from focus_middleware.cache_redis import CHANNEL, RedisCache, decode, describe, encode

from .conftest import RedisServer, free_port


@pytest.fixture
def cache(redis_server: RedisServer, rds: redis.Redis) -> Iterator[RedisCache]:
    c = RedisCache(redis_server.url)
    yield c
    c.close()


def test_it_is_a_cache_backend_with_an_async_face(cache: RedisCache) -> None:
    assert isinstance(cache, CacheBackend) and isinstance(cache, InvalidationFeed)
    assert isinstance(cache.as_async(), AsyncCacheBackend)
    assert sync_backend(cache) is cache and async_backend(cache) is cache.as_async()
    assert sync_backend(cache.as_async()) is cache


def test_values_are_versioned_json_and_every_key_expires(cache: RedisCache, rds: redis.Redis) -> None:
    cache.set("k", {"a": [1, "x"], "b": None}, 2.5)
    assert cache.get("k") == {"a": [1, "x"], "b": None}
    raw = rds.get("k")
    assert raw == b'focus1:{"a":[1,"x"],"b":null}'
    assert 2000 < rds.pttl("k") <= 2500
    cache.set("short", 1, 0.0009)  # under a millisecond: not stored, never rounded up
    cache.set("k", {"a": 1}, 0)  # ttl <= 0 drops the entry
    assert rds.exists("k", "short") == 0
    assert cache.get("missing") is None


def test_another_format_or_damage_reads_as_a_miss(cache: RedisCache, rds: redis.Redis) -> None:
    rds.set("old", b'{"clerk_id":"u"}', px=10_000)
    rds.set("next", b'focus2:{"clerk_id":"u"}', px=10_000)
    rds.set("broken", b"focus1:{not json", px=10_000)
    assert cache.get("old") is None and cache.get("next") is None and cache.get("broken") is None
    assert decode(encode([1, 2])) == [1, 2] and decode(None) is None


def test_delete_tells_every_subscriber_the_key(cache: RedisCache, redis_server: RedisServer, rds: redis.Redis) -> None:
    other = RedisCache(redis_server.url)  # another process's connection
    seen: list[str] = []
    arrived = threading.Event()

    def on_key(key: str) -> None:
        seen.append(key)
        arrived.set()

    subscription = other.subscribe(on_key)
    cache.set("focus:v1:ns:wallet:user_1", {"v": 1}, 10)
    cache.delete("focus:v1:ns:wallet:user_1")
    assert arrived.wait(2)
    assert seen == ["focus:v1:ns:wallet:user_1"] and rds.exists("focus:v1:ns:wallet:user_1") == 0
    subscription.close()
    arrived.clear()
    cache.delete("focus:v1:ns:wallet:user_2")
    assert not arrived.wait(0.3)  # closed: no more calls
    other.close()


def test_a_lock_is_owned_expires_and_is_released_only_by_its_owner(cache: RedisCache, rds: redis.Redis) -> None:
    first, second = cache.lock("key", 0.3), cache.lock("key", 0.3)
    assert first.acquire(blocking=False)
    assert 0 < rds.pttl("key:lock") <= 300
    assert not second.acquire(blocking=False)
    second.release()  # not held: does nothing
    assert rds.exists("key:lock") == 1
    started = time.monotonic()
    assert second.acquire(timeout=1.0)  # the first holder "crashed": its lease runs out
    assert 0.1 < time.monotonic() - started < 0.8
    first._held = True  # a late release by the old owner must not free the new owner's lock
    first.release()
    assert rds.exists("key:lock") == 1
    second.release()
    assert rds.exists("key:lock") == 0
    with cache.lock("key", 1) as held:
        assert held
    assert rds.exists("key:lock") == 0


def test_a_default_waiter_outlasts_a_crashed_holders_lease(cache: RedisCache) -> None:
    # Redis may keep a key up to a millisecond past its PX (https://redis.io/commands/expire/,
    # "Expire accuracy": the error is from 0 to 1 milliseconds), so a waiter that gave up
    # exactly one ttl after the holder took the lock often gave up first: 44 in 100 here
    # before the default wait became the ttl plus one poll. CI once failed on it.
    for attempt in range(20):
        holder, waiter = cache.lock(f"lease{attempt}", 0.05), cache.lock(f"lease{attempt}", 0.05)
        assert holder.acquire(blocking=False)
        assert waiter.acquire(), f"gave up before the lease ran out (attempt {attempt})"
        waiter.release()


@pytest.mark.anyio
async def test_an_async_default_waiter_outlasts_a_crashed_holders_lease(cache: RedisCache) -> None:
    face = cache.as_async()
    for attempt in range(20):
        holder, waiter = face.lock(f"lease{attempt}", 0.05), face.lock(f"lease{attempt}", 0.05)
        assert await holder.acquire(blocking=False)
        assert await waiter.acquire(), f"gave up before the lease ran out (attempt {attempt})"
        await waiter.release()
    await face.aclose()


def test_down_redis_fails_fast_and_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    dead = RedisCache(f"redis://:s3cret@127.0.0.1:{free_port()}/0", retry_interval=0.2, log_interval=60)
    caplog.set_level(logging.WARNING, logger="focus_middleware")
    started = time.monotonic()
    for _ in range(200):
        with pytest.raises(CacheUnavailable):
            dead.get("k")
        with pytest.raises(CacheUnavailable):
            dead.lock("k", 1).acquire(blocking=False)
    assert time.monotonic() - started < 1.0
    time.sleep(0.25)
    with pytest.raises(CacheUnavailable):
        dead.set("k", 1, 10)  # tried again after the interval, failed again: not logged again
    warnings = [r for r in caplog.records if "shared cache" in r.getMessage()]
    assert len(warnings) == 1
    assert "s3cret" not in caplog.text and "s3cret" not in repr(dead)
    assert describe("rediss://user:pw@cache.internal:6380/2") == "rediss://cache.internal:6380/2"
    dead.close()


def test_it_recovers_when_redis_comes_back(redis_binary: str, caplog: pytest.LogCaptureFixture) -> None:
    server = RedisServer(redis_binary)
    cache = RedisCache(server.url, retry_interval=0.1)
    try:
        with pytest.raises(CacheUnavailable):
            cache.get("k")
        server.start()
        time.sleep(0.15)
        caplog.set_level(logging.WARNING, logger="focus_middleware")
        cache.set("k", 1, 5)
        assert cache.get("k") == 1
        assert "reachable again" in caplog.text
    finally:
        cache.close()
        server.kill()


def test_the_listener_resets_subscribers_after_an_outage(redis_binary: str) -> None:
    server = RedisServer(redis_binary).start()
    cache = RedisCache(server.url)
    resets = threading.Event()
    keys: list[str] = []
    cache.subscribe(keys.append, resets.set)
    try:
        server.kill()
        time.sleep(0.3)
        server.start()
        assert resets.wait(5)  # messages may have been missed: drop what came from Redis
        client = server.client()
        deadline = time.monotonic() + 5
        while client.pubsub_numsub(CHANNEL)[0][1] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        cache.delete("k")
        deadline = time.monotonic() + 2
        while not keys and time.monotonic() < deadline:
            time.sleep(0.01)
        assert keys == ["k"]
        client.close()
    finally:
        cache.close()
        server.kill()


@pytest.mark.anyio
async def test_the_async_face(cache: RedisCache, rds: redis.Redis) -> None:
    face = cache.as_async()
    await face.set("a", {"x": 1}, 1.5)
    assert await face.get("a") == {"x": 1} and cache.get("a") == {"x": 1}
    assert 0 < rds.pttl("a") <= 1500
    first, second = face.lock("a", 0.3), face.lock("a", 0.3)
    assert await first.acquire(blocking=False)
    assert not await second.acquire(blocking=False)
    with anyio.fail_after(3):
        assert await second.acquire()
    await second.release()
    assert rds.exists("a:lock") == 0
    seen = threading.Event()
    subscribers = rds.pubsub_numsub(CHANNEL)[0][1]
    cache.subscribe(lambda key: seen.set() if key == "a" else None)
    # The listener subscribes in its own thread: publish only once it is listening.
    with anyio.fail_after(5):
        while rds.pubsub_numsub(CHANNEL)[0][1] <= subscribers:
            await anyio.sleep(0.01)
    await face.delete("a")
    assert await face.get("a") is None
    assert await anyio.to_thread.run_sync(seen.wait, 2)
    await face.aclose()


@pytest.mark.anyio
async def test_the_async_face_fails_fast_when_down() -> None:
    face = RedisCache(f"redis://127.0.0.1:{free_port()}/0").as_async()
    with anyio.fail_after(1):
        for _ in range(50):
            with pytest.raises(CacheUnavailable):
                await face.get("k")
    await face.aclose()
    face.sync.close()


def _sleep_a_while() -> None:
    time.sleep(5)


def test_a_forked_worker_keeps_receiving_invalidations(cache: RedisCache, rds: redis.Redis) -> None:
    # A pre-forking server builds the resolver (and subscribes) before it forks its workers.
    read_end, write_end = os.pipe()
    cache.subscribe(lambda key: os.write(write_end, f"{os.getpid()} {key}\n".encode()))
    before = rds.pubsub_numsub(CHANNEL)[0][1]  # this cache, and any other still subscribed
    child = multiprocessing.get_context("fork").Process(target=_sleep_a_while)
    child.start()
    try:
        deadline = time.monotonic() + 5
        while rds.pubsub_numsub(CHANNEL)[0][1] < before + 1:
            assert time.monotonic() < deadline, "the child did not subscribe"
            time.sleep(0.02)
        seen = b""
        # Published again until the child has it (a subscription counted by Redis may still be
        # settling in the child), and read without blocking past the deadline.
        while f"{child.pid} after-fork".encode() not in seen:
            assert time.monotonic() < deadline, seen
            cache.delete("after-fork")
            if select.select([read_end], [], [], 0.1)[0]:
                seen += os.read(read_end, 4096)
    finally:
        child.kill()
        child.join()
        os.close(read_end)
        os.close(write_end)
