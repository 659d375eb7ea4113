"""Keys: rotation, unknown-kid storms and JWKS outages, judged by the emulator's counters."""

from __future__ import annotations

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.outcome import Authenticated, Rejected, Unavailable
from focus_middleware.resolver import Resolver
from focus_middleware.testing import EmulatedUser, FocusEmulator

from tests.helpers import ORIGIN, facts

JWKS = "GET /.well-known/jwks.json"


def resolve(resolver: Resolver, token: str) -> object:
    return resolver.resolve(facts(bearer=token))


def test_keys_are_fetched_once(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    emu.reset_calls()
    for _ in range(5):
        assert isinstance(resolve(resolver, user.session_jwt(azp=ORIGIN)), Authenticated)
    assert emu.calls(JWKS) == 1


def test_rotation_refetches_once_and_old_key_works_during_grace(
    resolver: Resolver, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock
) -> None:
    old = user.session_jwt(azp=ORIGIN, lifetime=3600)
    assert isinstance(resolve(resolver, old), Authenticated)
    emu.rotate_keys(grace=600)
    clock.advance(31)  # past the refresh cooldown
    emu.reset_calls()
    new = user.session_jwt(azp=ORIGIN)
    assert isinstance(resolve(resolver, new), Authenticated)
    assert emu.calls(JWKS) == 1
    assert isinstance(resolve(resolver, user.session_jwt(azp=ORIGIN)), Authenticated)
    assert emu.calls(JWKS) == 1
    # The old key still verifies (cached claims aside: a new token signed by it).
    assert isinstance(resolve(resolver, old), Authenticated)


def test_old_key_stops_verifying_after_grace(emu: FocusEmulator, user: EmulatedUser, clock: FakeClock) -> None:
    config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                         jwks_ttl=60, jwks_refresh_cooldown=10)
    r = Resolver(config)
    by_old_key = [user.session_jwt(azp=ORIGIN, lifetime=3600, jti=str(i)) for i in range(2)]
    emu.rotate_keys(grace=30)
    assert isinstance(r.resolve(facts(bearer=by_old_key[0])), Authenticated)  # within grace
    clock.advance(120)  # grace over; our copy of the JWKS is stale, so it is fetched again
    assert isinstance(r.resolve(facts(bearer=user.session_jwt(azp=ORIGIN))), Authenticated)
    out = r.resolve(facts(bearer=by_old_key[1]))
    assert isinstance(out, Rejected) and out.reason == "unknown_kid"
    r.close()


def test_unknown_kid_storm_costs_one_fetch(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    assert isinstance(resolve(resolver, user.session_jwt(azp=ORIGIN)), Authenticated)
    emu.reset_calls()
    for i in range(100):
        out = resolve(resolver, user.session_jwt(azp=ORIGIN, headers={"kid": f"forged-{i}"}))
        assert isinstance(out, Rejected) and out.reason == "unknown_kid"
    assert emu.calls(JWKS) <= 1


def test_unknown_kid_refreshes_again_after_cooldown(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock) -> None:
    assert isinstance(resolve(resolver, user.session_jwt(azp=ORIGIN)), Authenticated)
    emu.reset_calls()
    resolve(resolver, user.session_jwt(azp=ORIGIN, headers={"kid": "forged"}))
    resolve(resolver, user.session_jwt(azp=ORIGIN, headers={"kid": "forged"}))
    first = emu.calls(JWKS)
    clock.advance(31)
    resolve(resolver, user.session_jwt(azp=ORIGIN, headers={"kid": "forged-2"}))
    assert emu.calls(JWKS) == first + 1


def test_jwks_outage_serves_last_good_keys_for_a_bounded_window(emu: FocusEmulator, user: EmulatedUser, clock: FakeClock) -> None:
    config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                         jwks_ttl=60, jwks_refresh_cooldown=10, jwks_stale_window=300)
    r = Resolver(config)
    assert isinstance(r.resolve(facts(bearer=user.session_jwt(azp=ORIGIN))), Authenticated)
    emu.set_jwks_down(True)
    clock.advance(120)  # keys stale; refresh fails; last good set still serves
    assert isinstance(r.resolve(facts(bearer=user.session_jwt(azp=ORIGIN))), Authenticated)
    clock.advance(300)  # beyond ttl + stale window
    out = r.resolve(facts(bearer=user.session_jwt(azp=ORIGIN)))
    assert isinstance(out, Unavailable)
    emu.set_jwks_down(False)
    clock.advance(11)
    assert isinstance(r.resolve(facts(bearer=user.session_jwt(azp=ORIGIN))), Authenticated)
    r.close()


def test_jwks_never_fetched_is_unavailable_not_anonymous(emu: FocusEmulator, user: EmulatedUser, clock: FakeClock) -> None:
    config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock)
    r = Resolver(config)
    emu.set_jwks_down(True)
    assert isinstance(r.resolve(facts(bearer=user.session_jwt(azp=ORIGIN))), Unavailable)
    r.close()


def test_first_requests_wait_for_the_keys_being_fetched(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    """Concurrent first verifications: the ones arriving during the JWKS fetch wait for it
    instead of being refused (a 503 right after start-up, or a genuine token refused
    right after a rotation)."""
    import threading

    emu.set_latency(0.3, endpoint=JWKS)
    tokens = [user.session_jwt(azp=ORIGIN, jti=str(i)) for i in range(20)]
    results: list[object] = []
    barrier = threading.Barrier(len(tokens))

    def call(token: str) -> None:
        barrier.wait()
        results.append(resolve(resolver, token))

    threads = [threading.Thread(target=call, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(o, Authenticated) for o in results), results
    assert emu.calls(JWKS) == 1


@pytest.mark.anyio
async def test_first_requests_wait_for_the_keys_being_fetched_async(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    import anyio

    from focus_middleware.resolver import AsyncResolver

    r = AsyncResolver(config)
    emu.set_latency(0.3, endpoint=JWKS)
    results: list[object] = []

    async def call(i: int) -> None:
        results.append(await r.resolve(facts(bearer=user.session_jwt(azp=ORIGIN, jti=str(i)))))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(call, i)
    assert all(isinstance(o, Authenticated) for o in results), results
    assert emu.calls(JWKS) == 1
    await r.aclose()
