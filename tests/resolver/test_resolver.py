"""Credential order, PATs, the wallet cache and unavailability, against the emulator."""

from __future__ import annotations

import logging
import threading

import anyio
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.outcome import Anonymous, Authenticated, Expired, Rejected, Unavailable
from focus_middleware.resolver import AsyncResolver, Resolver
from focus_middleware.testing import EmulatedUser, FocusEmulator

from tests.helpers import ORIGIN, facts

WALLET = "GET /api/wallet"


def test_no_credentials_is_anonymous_and_free(resolver: Resolver, emu: FocusEmulator) -> None:
    emu.reset_calls()
    assert isinstance(resolver.resolve(facts()), Anonymous)
    assert isinstance(resolver.resolve(facts(headers={"authorization": "Basic dXNlcjpwYXNz"})), Anonymous)
    assert emu.calls(WALLET) == 0


def test_bearer_alone_decides(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    other = emu.create_user(credits=7)
    cookies = {"focus_session": other.session_jwt(azp=ORIGIN)}
    out = resolver.resolve(facts(bearer=user.session_jwt(azp=ORIGIN), cookies=cookies))
    assert isinstance(out, Authenticated) and out.account.clerk_id == user.clerk_id
    # A forged bearer does not fall through to a valid cookie.
    out = resolver.resolve(facts(bearer=user.session_jwt(azp=ORIGIN, key="foreign"), cookies=cookies))
    assert isinstance(out, Rejected) and out.source == "bearer"


def test_other_schemes_are_ignored(resolver: Resolver, user: EmulatedUser) -> None:
    out = resolver.resolve(facts(headers={"authorization": "Basic abc"}, cookies={"__session": user.session_jwt(azp=ORIGIN)}))
    assert isinstance(out, Authenticated) and out.credential.source == "clerk_cookie"


def test_app_cookie_before_clerk_cookie(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    other = emu.create_user()
    out = resolver.resolve(facts(cookies={"focus_session": user.session_jwt(azp=ORIGIN),
                                          "__session": other.session_jwt(azp=ORIGIN)}))
    assert isinstance(out, Authenticated) and out.account.clerk_id == user.clerk_id
    assert out.credential.source == "app_cookie"


def test_expired_cookie_falls_through(resolver: Resolver, user: EmulatedUser, clock: FakeClock) -> None:
    stale = user.session_jwt(azp=ORIGIN, lifetime=10)
    clock.advance(30)
    out = resolver.resolve(facts(cookies={"focus_session": stale, "__session": user.session_jwt(azp=ORIGIN)}))
    assert isinstance(out, Authenticated) and out.credential.source == "clerk_cookie"
    out = resolver.resolve(facts(cookies={"focus_session": stale}))
    assert isinstance(out, Expired) and out.source == "app_cookie"


def test_malformed_cookie_is_a_refusal_not_a_fall_through(resolver: Resolver, user: EmulatedUser) -> None:
    out = resolver.resolve(facts(cookies={"focus_session": "garbage%%%", "__session": user.session_jwt(azp=ORIGIN)}))
    assert isinstance(out, Rejected) and out.source == "app_cookie"


def test_clerk_cookie_suffix_only_when_configured(config: FocusConfig, user: EmulatedUser) -> None:
    cookies = {"__session_abc": user.session_jwt(azp=ORIGIN)}
    assert isinstance(Resolver(config).resolve(facts(cookies=cookies)), Anonymous)
    suffixed = Resolver(config.replace(clerk_cookie_suffix="abc"))
    assert isinstance(suffixed.resolve(facts(cookies=cookies)), Authenticated)


def test_pat_is_checked_once_and_cached(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    pat = user.pat()
    emu.reset_calls()
    for _ in range(5):
        out = resolver.resolve(facts(bearer=pat))
        assert isinstance(out, Authenticated)
        assert out.credential.kind == "pat" and out.account.clerk_id == user.clerk_id
    assert emu.calls(WALLET, credential=pat) == 1


def test_implausible_pat_costs_no_upstream_call(resolver: Resolver, emu: FocusEmulator) -> None:
    emu.reset_calls()
    for bad in ["short", "has spaces in it but long enough", "x" * 600, "\u00e9" * 30]:
        assert isinstance(resolver.resolve(facts(bearer=bad)), Rejected)
    assert emu.calls(WALLET) == 0


def test_refused_pat_is_negatively_cached_briefly(resolver: Resolver, emu: FocusEmulator, clock: FakeClock) -> None:
    bogus = "focus_pat_" + "A" * 43
    emu.reset_calls()
    assert isinstance(resolver.resolve(facts(bearer=bogus)), Rejected)
    assert isinstance(resolver.resolve(facts(bearer=bogus)), Rejected)
    assert emu.calls(WALLET) == 1
    clock.advance(6)
    resolver.resolve(facts(bearer=bogus))
    assert emu.calls(WALLET) == 2


def test_revoked_pat_stops_working_within_the_positive_ttl(resolver: Resolver, user: EmulatedUser, clock: FakeClock) -> None:
    pat = user.pat()
    assert isinstance(resolver.resolve(facts(bearer=pat)), Authenticated)
    user.revoke_pats()
    clock.advance(61)
    assert isinstance(resolver.resolve(facts(bearer=pat)), Rejected)


def test_a_5xx_is_not_negatively_cached(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    pat = user.pat()
    emu.fail_next(WALLET, status=503)
    assert isinstance(resolver.resolve(facts(bearer=pat)), Unavailable)
    assert isinstance(resolver.resolve(facts(bearer=pat)), Authenticated)


def test_wallet_is_shared_by_every_credential_of_a_user(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    emu.reset_calls()
    for _ in range(3):
        assert isinstance(resolver.resolve(facts(bearer=user.session_jwt(azp=ORIGIN))), Authenticated)
    assert emu.calls(WALLET) == 1


def test_wallet_ttl_and_forget(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    resolver.resolve(facts(bearer=token))
    emu.set_credits(user, 3)
    out = resolver.resolve(facts(bearer=token))
    assert isinstance(out, Authenticated) and out.account.credits == 50  # cached
    resolver.forget_wallet(user.clerk_id)
    out = resolver.resolve(facts(bearer=token))
    assert isinstance(out, Authenticated) and out.account.credits == 3
    emu.set_credits(user, 9)
    clock.advance(31)
    out = resolver.resolve(facts(bearer=token))
    assert isinstance(out, Authenticated) and out.account.credits == 9


def test_stale_wallet_serves_briefly_when_focus_fails_but_is_marked(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    resolver.resolve(facts(bearer=token))
    clock.advance(31)
    emu.fail_next(WALLET, status=502, times=5)
    out = resolver.resolve(facts(bearer=token))
    assert isinstance(out, Authenticated) and out.account.stale
    clock.advance(61)
    emu.fail_next(WALLET, status=502, times=5)
    assert isinstance(resolver.resolve(facts(bearer=token)), Unavailable)


def test_unavailable_when_focus_is_down(config: FocusConfig, user: EmulatedUser) -> None:
    dead = config.replace(api_url="http://127.0.0.1:9", issuer=None, jwks_url=None, timeout=0.5)
    r = Resolver(dead)
    assert isinstance(r.resolve(facts(bearer=user.pat())), Unavailable)
    r.close()


def test_without_issuer_jwts_are_checked_remotely_and_cached_until_exp(
    config: FocusConfig, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock
) -> None:
    r = Resolver(config.replace(issuer=None, jwks_url=None))
    token = user.session_jwt(azp=ORIGIN, lifetime=60)
    emu.reset_calls()
    assert isinstance(r.resolve(facts(bearer=token)), Authenticated)
    assert isinstance(r.resolve(facts(bearer=token)), Authenticated)
    assert emu.calls(WALLET, credential=token) == 1
    assert emu.calls("GET /.well-known/jwks.json") == 0
    clock.advance(70)
    assert isinstance(r.resolve(facts(bearer=token)), Expired)
    r.close()


def test_remote_checks_are_rate_limited(config: FocusConfig, emu: FocusEmulator) -> None:
    r = Resolver(config.replace(remote_checks_per_second=5))
    emu.reset_calls()
    outcomes = [r.resolve(facts(bearer=f"focus_pat_{i:043d}")) for i in range(20)]
    assert emu.calls(WALLET) <= 5
    assert any(isinstance(o, Unavailable) for o in outcomes)
    r.close()


def test_single_flight_threads(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    pat = user.pat()
    emu.set_latency(0.2, endpoint=WALLET)
    emu.reset_calls()
    results: list[object] = []
    barrier = threading.Barrier(200)

    def call() -> None:
        barrier.wait()
        results.append(resolver.resolve(facts(bearer=pat)))

    threads = [threading.Thread(target=call) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and all(isinstance(o, Authenticated) for o in results)
    assert emu.calls(WALLET) == 1


@pytest.mark.anyio
async def test_single_flight_asyncio(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    r = AsyncResolver(config)
    token = user.session_jwt(azp=ORIGIN)
    emu.set_latency(0.2, endpoint=WALLET)
    emu.reset_calls()
    results: list[object] = []

    async def call() -> None:
        results.append(await r.resolve(facts(bearer=token)))

    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(call)
    assert all(isinstance(o, Authenticated) for o in results) and len(results) == 200
    assert emu.calls(WALLET) == 1
    assert emu.calls("GET /.well-known/jwks.json") == 1
    await r.aclose()


def test_tokens_never_reach_logs_or_reprs(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pat, jwt_ = user.pat(), user.session_jwt(azp=ORIGIN)
    emu.fail_next(WALLET, status=503)
    outcomes = [resolver.resolve(facts(bearer=t)) for t in (pat, jwt_, pat, user.session_jwt(key="foreign"))]
    text = caplog.text + "".join(repr(o) for o in outcomes)
    assert pat not in text and jwt_ not in text and jwt_.split(".")[1] not in text


def test_a_wallet_read_overtaken_by_a_forget_is_not_kept(config: FocusConfig, user: EmulatedUser,
                                                          emu: FocusEmulator) -> None:
    """A page reads the wallet while a paid job is open; the job settles (Focus moves the
    credits, the settlement forgets the cached wallet) before that read's answer is stored.
    Stored after the forget, the old balance would be shown for ``wallet_ttl`` (forever on a
    frozen clock: the demo walk caught it). The request keeps what it read; the next reads
    afresh."""

    class SettledMeanwhile(Resolver):
        overtake = True

        def _fetch(self, effect: object) -> object:  # type: ignore[override]
            read = super()._fetch(effect)  # type: ignore[arg-type]
            if self.overtake:
                self.overtake = False
                emu.set_credits(user, 3)
                self.forget_wallet(user.clerk_id)
            return read

    resolver = SettledMeanwhile(config)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    first = resolver.resolve(facts(bearer=token))
    assert isinstance(first, Authenticated) and first.account.credits == 50
    emu.reset_calls()
    again = resolver.resolve(facts(bearer=token))
    assert isinstance(again, Authenticated) and again.account.credits == 3
    assert emu.calls(WALLET) == 1
    resolver.resolve(facts(bearer=token))
    assert emu.calls(WALLET) == 1  # a read that began after the forget is kept as before
    resolver.close()
