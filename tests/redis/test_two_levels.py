"""The resolver with Redis behind its in-process cache, on a fake clock.

Two resolvers in this process stand for two worker processes: each has its own first
level and its own Redis connections; tests/redis/test_workers.py does it with real ones.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from focus_middleware.cache import Subscription
from focus_middleware.cache_redis import RedisCache
from focus_middleware.clock import FakeClock
from focus_middleware.config import ConfigError, FocusConfig
from focus_middleware.outcome import Authenticated, Rejected, Unavailable
from focus_middleware.resolver import (
    AsyncResolver,
    CheckRemotely,
    Coalesce,
    Effect,
    FetchWallet,
    Resolver,
    VerifyJWT,
)
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import ORIGIN, WALLET, RedisServer, facts, free_port


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def femu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock) as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator


@pytest.fixture
def config(femu: FocusEmulator, clock: FakeClock, redis_server: RedisServer, rds: redis.Redis) -> FocusConfig:
    # The fake clock never refills the per-client remote-check budget (tests/conftest.py).
    return FocusConfig(api_url=femu.url, issuer=femu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0, cache_url=redis_server.url, remote_checks_per_client=50)


@pytest.fixture
def user(femu: FocusEmulator) -> EmulatedUser:
    return femu.create_user(credits=50)


@pytest.fixture
def make() -> Iterator[Callable[..., Resolver]]:
    made: list[Resolver] = []

    def new(config: FocusConfig, **kwargs: Any) -> Resolver:
        r = Resolver(config, **kwargs)
        made.append(r)
        return r

    yield new
    for r in made:
        r.close()


class Counting:
    """A shared backend that counts what reaches it."""

    def __init__(self, inner: RedisCache) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def get(self, key: str) -> Any:
        self.calls["get"] += 1
        return self.inner.get(key)

    def set(self, key: str, value: Any, ttl: float) -> None:
        self.calls["set"] += 1
        self.inner.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.calls["delete"] += 1
        self.inner.delete(key)

    def lock(self, key: str, ttl: float) -> Any:
        self.calls["lock"] += 1
        return self.inner.lock(key, ttl)

    def subscribe(self, on_key: Callable[[str], None], on_reset: Callable[[], None] | None = None) -> Subscription:
        return self.inner.subscribe(on_key, on_reset)


def test_a_second_process_reads_the_first_ones_answers(make: Callable[..., Resolver], config: FocusConfig,
                                                      user: EmulatedUser, femu: FocusEmulator) -> None:
    a, b = make(config), make(config)
    pat, token = user.pat(), user.session_jwt(azp=ORIGIN, lifetime=600)
    femu.reset_calls()
    assert isinstance(a.resolve(facts(bearer=pat)), Authenticated)
    out = b.resolve(facts(bearer=pat))
    assert isinstance(out, Authenticated) and out.account.credits == 50
    out = b.resolve(facts(bearer=token))  # verified locally; the wallet comes from Redis
    assert isinstance(out, Authenticated) and out.account.clerk_id == user.clerk_id
    assert femu.calls(WALLET) == 1


def test_the_hot_path_touches_no_shared_backend(make: Callable[..., Resolver], config: FocusConfig,
                                                user: EmulatedUser, redis_server: RedisServer) -> None:
    shared = Counting(RedisCache(redis_server.url))
    r = make(config, shared=shared)
    for token in (user.pat(), user.session_jwt(azp=ORIGIN, lifetime=600)):
        assert isinstance(r.resolve(facts(bearer=token)), Authenticated)
        before = sum(shared.calls.values())
        for _ in range(100):
            assert isinstance(r.resolve(facts(bearer=token)), Authenticated)
        assert sum(shared.calls.values()) == before
    shared.inner.close()


def test_the_first_level_lives_l1_ttl_at_most(make: Callable[..., Resolver], config: FocusConfig,
                                              user: EmulatedUser, clock: FakeClock, redis_server: RedisServer) -> None:
    shared = Counting(RedisCache(redis_server.url))
    a, b = make(config), make(config.replace(l1_ttl=2.0), shared=shared)
    pat = user.pat()
    a.resolve(facts(bearer=pat))
    b.resolve(facts(bearer=pat))
    reads = shared.calls["get"]
    clock.advance(1.9)
    b.resolve(facts(bearer=pat))
    assert shared.calls["get"] == reads  # still in the first level
    clock.advance(0.2)
    assert isinstance(b.resolve(facts(bearer=pat)), Authenticated)
    assert shared.calls["get"] > reads  # read from Redis again
    shared.inner.close()


def test_a_copy_from_redis_never_outlives_the_entry(make: Callable[..., Resolver], config: FocusConfig,
                                                   femu: FocusEmulator, clock: FakeClock) -> None:
    cfg = config.replace(l1_ttl=30.0, negative_ttl=2.0)
    a, b = make(cfg), make(cfg)
    bogus = "focus_pat_" + "C" * 43
    femu.reset_calls()
    assert isinstance(a.resolve(facts(bearer=bogus)), Rejected)
    assert isinstance(b.resolve(facts(bearer=bogus)), Rejected)
    assert femu.calls(WALLET) == 1
    clock.advance(2.1)  # Redis (real time) still has it; its own deadline has passed
    assert isinstance(b.resolve(facts(bearer=bogus)), Rejected)
    assert femu.calls(WALLET) == 2


def test_negative_entries_only_for_a_401_and_briefly(make: Callable[..., Resolver], config: FocusConfig,
                                                      user: EmulatedUser, femu: FocusEmulator, rds: redis.Redis) -> None:
    a, b = make(config), make(config)
    bogus = "focus_pat_" + "D" * 43
    a.resolve(facts(bearer=bogus))
    key = a.core._key("remote", bogus)
    assert b'"refused":true' in (rds.get(key) or b"") and 0 < rds.pttl(key) <= 5000
    pat = user.pat()
    femu.fail_next(WALLET, status=503)
    assert isinstance(a.resolve(facts(bearer=pat)), Unavailable)
    assert rds.exists(a.core._key("remote", pat)) == 0
    assert isinstance(b.resolve(facts(bearer=pat)), Authenticated)


def test_redis_down_falls_back_to_the_first_level_without_extending_anything(
    make: Callable[..., Resolver], config: FocusConfig, user: EmulatedUser, femu: FocusEmulator, clock: FakeClock
) -> None:
    r = make(config.replace(cache_url=f"redis://127.0.0.1:{free_port()}/0"))
    pat, bogus = user.pat(), "focus_pat_" + "E" * 43
    femu.reset_calls()
    assert isinstance(r.resolve(facts(bearer=pat)), Authenticated)
    assert isinstance(r.resolve(facts(bearer=bogus)), Rejected)
    clock.advance(4)  # within negative_ttl (5): both still answered here
    assert isinstance(r.resolve(facts(bearer=bogus)), Rejected)
    assert femu.calls(WALLET) == 2
    clock.advance(2)
    r.resolve(facts(bearer=bogus))
    assert femu.calls(WALLET, credential=bogus) == 2  # the refusal was not kept longer
    clock.advance(20)  # past l1_ttl, within pat_ttl: the in-process entry keeps its full life
    assert isinstance(r.resolve(facts(bearer=pat)), Authenticated)
    assert femu.calls(WALLET, credential=pat) == 1
    user.revoke_pats()
    clock.advance(35)  # past pat_ttl: checked again, and the revocation is seen
    assert isinstance(r.resolve(facts(bearer=pat)), Rejected)


def test_wallet_freshness_and_stale_if_error_are_shared(make: Callable[..., Resolver], config: FocusConfig,
                                                        user: EmulatedUser, femu: FocusEmulator, clock: FakeClock) -> None:
    a, b, c = make(config), make(config), make(config)
    token = user.session_jwt(azp=ORIGIN, lifetime=3600)
    a.resolve(facts(bearer=token))
    femu.set_credits(user, 12)
    clock.advance(31)  # past wallet_ttl: b's read of Redis is stale, so b fetches
    femu.reset_calls()
    out = b.resolve(facts(bearer=token))
    assert isinstance(out, Authenticated) and out.account.credits == 12 and not out.account.stale
    assert femu.calls(WALLET) == 1
    clock.advance(31)
    femu.fail_next(WALLET, status=502, times=3)
    out = c.resolve(facts(bearer=token))  # c never saw it: Redis's stale copy, marked stale
    assert isinstance(out, Authenticated) and out.account.credits == 12 and out.account.stale


def test_a_value_in_another_format_is_a_miss(make: Callable[..., Resolver], config: FocusConfig,
                                             user: EmulatedUser, femu: FocusEmulator, rds: redis.Redis) -> None:
    r = make(config)
    pat = user.pat()
    key = r.core._key("remote", pat)
    rds.set(key, b'focus0:{"clerk_id":"user_someone_else"}', px=60_000)
    out = r.resolve(facts(bearer=pat))
    assert isinstance(out, Authenticated) and out.account.clerk_id == user.clerk_id
    assert (rds.get(key) or b"").startswith(b"focus1:")


class Recording(Resolver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.effects: list[str] = []

    def perform(self, effect: Effect) -> object:
        self.effects.append(type(effect).__name__)
        return super().perform(effect)


def test_without_a_shared_backend_no_shared_effect_is_yielded(config: FocusConfig, user: EmulatedUser) -> None:
    r = Recording(config.replace(cache_url=None))
    for token in (user.pat(), user.session_jwt(azp=ORIGIN), "focus_pat_" + "F" * 43):
        r.resolve(facts(bearer=token))
    r.forget_wallet(user.clerk_id)
    assert set(r.effects) <= {VerifyJWT.__name__, Coalesce.__name__, CheckRemotely.__name__, FetchWallet.__name__}
    assert r.shared is None
    r.close()


def test_configuration_selects_the_backend(config: FocusConfig, redis_server: RedisServer) -> None:
    env = {"FOCUS_API_URL": config.api_url, "FOCUS_APP": "video", "FOCUS_CACHE_URL": redis_server.url,
           "FOCUS_L1_TTL": "2.5"}
    from_env = FocusConfig.from_env(env)
    assert from_env.l1_ttl == 2.5 and from_env.shared_cache
    r = Resolver(from_env)
    assert isinstance(r.shared, RedisCache)
    r.close()
    mine = RedisCache(redis_server.url)
    r = Resolver(config.replace(cache_url=None, cache_backend=mine))
    assert r.shared is mine
    r.close()
    assert mine.get("nothing") is None  # a backend passed in is not closed by the resolver
    mine.close()
    with pytest.raises(ConfigError, match="cache_url"):
        FocusConfig(cache_url="http://cache:6379")
    with pytest.raises(ConfigError, match="l1_ttl"):
        FocusConfig(l1_ttl=0)
    with pytest.raises(ConfigError, match="cache_backend"):
        FocusConfig.from_env({"FOCUS_CACHE_BACKEND": "redis://x"})
    assert "hunter2" not in repr(FocusConfig(cache_url="redis://:hunter2@cache:6379/0"))


@pytest.mark.anyio
async def test_the_async_driver_shares_with_the_sync_one(config: FocusConfig, user: EmulatedUser,
                                                         femu: FocusEmulator, rds: redis.Redis) -> None:
    sync = Resolver(config.replace(l1_ttl=60.0))
    pat, token = user.pat(), user.session_jwt(azp=ORIGIN, lifetime=600)
    femu.reset_calls()
    sync.resolve(facts(bearer=pat))
    r = AsyncResolver(config)
    out = await r.resolve(facts(bearer=pat))
    assert isinstance(out, Authenticated) and femu.calls(WALLET) == 1
    assert isinstance(await r.resolve(facts(bearer=token)), Authenticated)
    assert femu.calls(WALLET) == 1

    femu.set_credits(user, 4)
    await r.aforget_wallet(user.clerk_id)
    await _until(lambda: sync.core.cache.get(sync.core.wallet_key(user.clerk_id)) is None)
    out2 = sync.resolve(facts(bearer=token))
    assert isinstance(out2, Authenticated) and out2.account.credits == 4

    femu.set_credits(user, 6)
    r.forget_wallet(user.clerk_id)  # the blocking spelling (paid jobs' WalletSink): a task
    await _until(lambda: sync.core.cache.get(sync.core.wallet_key(user.clerk_id)) is None)
    assert rds.exists(r.core.wallet_key(user.clerk_id)) == 0
    out3 = await r.resolve(facts(bearer=token))
    assert isinstance(out3, Authenticated) and out3.account.credits == 6
    await r.aclose()
    sync.close()


async def _until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.mark.anyio
async def test_the_async_driver_with_redis_down(config: FocusConfig, user: EmulatedUser, femu: FocusEmulator) -> None:
    r = AsyncResolver(config.replace(cache_url=f"redis://127.0.0.1:{free_port()}/0"))
    pat = user.pat()
    femu.reset_calls()
    for _ in range(3):
        assert isinstance(await r.resolve(facts(bearer=pat)), Authenticated)
    assert femu.calls(WALLET) == 1
    r.forget_wallet(user.clerk_id)
    await r.aforget_wallet(user.clerk_id)  # a failed shared delete is not an error
    await r.aclose()


def test_forget_outside_a_loop_uses_the_blocking_face(config: FocusConfig, user: EmulatedUser, rds: redis.Redis) -> None:
    sync = Resolver(config)
    sync.resolve(facts(bearer=user.session_jwt(azp=ORIGIN)))
    key = sync.core.wallet_key(user.clerk_id)
    assert rds.exists(key) == 1
    r = AsyncResolver(config)
    r.forget_wallet(user.clerk_id)
    assert rds.exists(key) == 0
    sync.close()
    asyncio.run(r.aclose())


def test_concurrent_misses_in_two_resolvers_make_one_call(make: Callable[..., Resolver], config: FocusConfig,
                                                          user: EmulatedUser, femu: FocusEmulator) -> None:
    resolvers = [make(config) for _ in range(3)]
    pat = user.pat()
    femu.set_latency(0.2, endpoint=WALLET)
    femu.reset_calls()
    barrier = threading.Barrier(30)
    results: list[object] = []

    def call(r: Resolver) -> None:
        barrier.wait()
        results.append(r.resolve(facts(bearer=pat)))

    threads = [threading.Thread(target=call, args=(resolvers[i % 3],)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 30 and all(isinstance(o, Authenticated) for o in results)
    assert femu.calls(WALLET) == 1



def test_a_redis_that_stops_answering_costs_one_timeout_per_retry_interval(
    make: Callable[..., Resolver], config: FocusConfig, user: EmulatedUser, femu: FocusEmulator, redis_binary: str
) -> None:
    server = RedisServer(redis_binary).start()
    assert server.proc is not None
    try:
        r = make(config.replace(cache_url=server.url))
        assert isinstance(r.resolve(facts(bearer=user.pat())), Authenticated)
        server.proc.send_signal(signal.SIGSTOP)  # connections stay open, nothing answers
        started = time.monotonic()
        pats = [femu.create_user().pat() for _ in range(10)]
        assert all(isinstance(r.resolve(facts(bearer=p)), Authenticated) for p in pats)
        assert time.monotonic() - started < 1.5  # one socket timeout (0.5 s), not ten
        server.proc.send_signal(signal.SIGCONT)
    finally:
        if server.proc is not None:
            server.proc.send_signal(signal.SIGCONT)
        server.kill()
