"""The cache interface and the in-process backend: TTLs on the injected clock, bounds,
the short lock, the async facade, and keys that never hold a secret."""

from __future__ import annotations

import threading
import time

import pytest

from focus_middleware.cache import (
    KEY_PREFIX,
    AsyncCacheBackend,
    AsyncCacheLock,
    AsyncMemoryCache,
    CacheBackend,
    CacheLock,
    MemoryCache,
    cache_key,
    hash_secret,
    namespace_for,
    secret_key,
)
from focus_middleware.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> MemoryCache:
    return MemoryCache(maxsize=3, clock=clock)


def test_implements_the_protocols(cache: MemoryCache) -> None:
    assert isinstance(cache, CacheBackend)
    assert isinstance(cache.as_async(), AsyncCacheBackend)
    assert isinstance(cache.lock("k", 1), CacheLock)
    assert isinstance(cache.as_async().lock("k", 1), AsyncCacheLock)


def test_get_set_delete(cache: MemoryCache) -> None:
    assert cache.get("a") is None
    cache.set("a", {"x": [1, "two", None, True, 1.5]}, ttl=10)
    assert cache.get("a") == {"x": [1, "two", None, True, 1.5]}
    cache.delete("a")
    cache.delete("never-there")
    assert cache.get("a") is None


def test_each_entry_expires_at_its_own_ttl(cache: MemoryCache, clock: FakeClock) -> None:
    cache.set("short", 1, ttl=5)
    cache.set("long", 2, ttl=60)
    clock.advance(4.9)
    assert cache.get("short") == 1
    clock.advance(0.2)
    assert cache.get("short") is None and cache.get("long") == 2
    clock.advance(60)
    assert cache.get("long") is None and len(cache) == 0


def test_overwrite_resets_the_ttl(cache: MemoryCache, clock: FakeClock) -> None:
    cache.set("k", 1, ttl=5)
    clock.advance(4)
    cache.set("k", 2, ttl=5)
    clock.advance(4)
    assert cache.get("k") == 2


def test_non_positive_ttl_or_none_stores_nothing(cache: MemoryCache) -> None:
    cache.set("k", 1, ttl=10)
    cache.set("k", 2, ttl=0)
    assert cache.get("k") is None
    cache.set("n", None, ttl=10)
    assert cache.get("n") is None and len(cache) == 0


def test_bounded_least_recently_used_goes_first(cache: MemoryCache) -> None:
    for key in "abc":
        cache.set(key, key, ttl=60)
    assert cache.get("a") == "a"  # a is now the most recently used
    cache.set("d", "d", ttl=60)
    assert cache.get("b") is None
    assert {k: cache.get(k) for k in "acd"} == {"a": "a", "c": "c", "d": "d"}
    assert len(cache) == 3 == cache.maxsize


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MemoryCache(maxsize=0)


def test_thread_safe_under_contention() -> None:
    cache = MemoryCache(maxsize=100)
    errors: list[BaseException] = []

    def hammer(n: int) -> None:
        try:
            for i in range(2000):
                key = f"k{(i * n) % 150}"
                cache.set(key, i, ttl=30)
                cache.get(key)
                if i % 7 == 0:
                    cache.delete(key)
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) <= 100


# -- the lock --------------------------------------------------------------------------------


def test_lock_is_exclusive_and_released_by_its_owner(cache: MemoryCache) -> None:
    first, second = cache.lock("k", ttl=5), cache.lock("k", ttl=5)
    assert first.acquire(blocking=False)
    assert not second.acquire(blocking=False)
    second.release()  # not the owner: no effect
    assert not cache.lock("k", ttl=5).acquire(blocking=False)
    first.release()
    assert second.acquire(blocking=False)
    assert cache.lock("other", ttl=5).acquire(blocking=False)  # per key


def test_an_expired_lock_is_taken_over(cache: MemoryCache, clock: FakeClock) -> None:
    crashed = cache.lock("k", ttl=5)
    assert crashed.acquire(blocking=False)
    clock.advance(5.1)
    taker = cache.lock("k", ttl=5)
    assert taker.acquire(blocking=False)
    crashed.release()  # the crashed holder coming back must not release the new owner's lock
    assert not cache.lock("k", ttl=5).acquire(blocking=False)


def test_blocking_acquire_waits_for_release() -> None:
    cache = MemoryCache()
    holder = cache.lock("k", ttl=10)
    assert holder.acquire()
    threading.Timer(0.1, holder.release).start()
    started = time.monotonic()
    with cache.lock("k", ttl=10) as held:
        assert held
        assert time.monotonic() - started >= 0.09


def test_blocking_acquire_gives_up_after_its_timeout() -> None:
    cache = MemoryCache()
    assert cache.lock("k", ttl=10).acquire()
    started = time.monotonic()
    assert not cache.lock("k", ttl=10).acquire(timeout=0.1)
    assert 0.09 <= time.monotonic() - started < 1.0


def test_lock_needs_a_ttl(cache: MemoryCache) -> None:
    with pytest.raises(ValueError):
        cache.lock("k", ttl=0)


# -- async facade ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_facade_shares_entries(cache: MemoryCache, clock: FakeClock) -> None:
    acache = cache.as_async()
    await acache.set("k", [1], ttl=5)
    assert cache.get("k") == [1] and await acache.get("k") == [1]
    clock.advance(6)
    assert await acache.get("k") is None
    await acache.set("k", 1, ttl=5)
    await acache.delete("k")
    assert await acache.get("k") is None
    assert (await AsyncMemoryCache(maxsize=2).get("x")) is None


@pytest.mark.anyio
async def test_async_lock(cache: MemoryCache) -> None:
    acache = cache.as_async()
    async with acache.lock("k", ttl=5) as held:
        assert held
        other = acache.lock("k", ttl=5)
        assert not await other.acquire(blocking=False)
        assert not await other.acquire(timeout=0.05)
    assert await acache.lock("k", ttl=5).acquire(blocking=False)


# -- keys --------------------------------------------------------------------------------------------


def test_keys_are_namespaced_and_quoted() -> None:
    assert cache_key("ns", "wallet", "user_1") == f"{KEY_PREFIX}:ns:wallet:user_1"
    assert cache_key("ns", "k", "a:b", "c%d") == f"{KEY_PREFIX}:ns:k:a%3Ab:c%25d"
    assert cache_key("ns", "k", "a:b") != cache_key("ns", "k", "a", "b")


def test_secret_keys_hold_a_hash_only() -> None:
    token = "focus_pat_abcdefghijklmnop"
    key = secret_key("ns", "pat", token)
    assert token not in key and key.endswith(hash_secret(token))
    assert len(hash_secret(token)) == 64


def test_namespace_depends_on_every_setting() -> None:
    a = namespace_for("https://account.thefocus.ai", None, "video")
    assert a == namespace_for("https://account.thefocus.ai", None, "video") and len(a) == 16
    assert a != namespace_for("https://account.thefocus.ai", None, "audio")
    assert a != namespace_for("http://localhost:8080", None, "video")
