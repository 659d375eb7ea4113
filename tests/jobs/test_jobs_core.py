"""The paid-job lifecycle's core, against the emulator's ledger."""

from __future__ import annotations

import anyio
import pytest

from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.errors import InsufficientCreditsError
from focus_middleware.facts import RequestFacts
from focus_middleware.jobs import (
    AsyncPaidJobs,
    PaidJobs,
    PaidRoute,
    UndeliveredSettlement,
    reservation_outcome,
    settlement_for,
)
from focus_middleware.outcome import Authenticated, Expired
from focus_middleware.resolver import Resolver
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN

RENDER = PaidRoute(action="render", cost_estimate=5)


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=20)


def sign_in(resolver: Resolver, token: str) -> Authenticated:
    out = resolver.resolve(RequestFacts(method="POST", path="/render", headers={"authorization": f"Bearer {token}"}))
    assert isinstance(out, Authenticated)
    return out


def jobs_for(config: FocusConfig, resolver: Resolver, kept: list[UndeliveredSettlement] | None = None) -> PaidJobs:
    return PaidJobs(config, FocusClient.from_config(config), wallets=resolver,
                    on_undelivered=kept.append if kept is not None else None)


def test_settlement_rule() -> None:
    assert settlement_for(status=200, body_complete=True, error=None) == "complete"
    assert settlement_for(status=200, body_complete=False, error=None) == "fail"
    assert settlement_for(status=404, body_complete=True, error=None) == "fail"
    assert settlement_for(status=500, body_complete=True, error=None) == "fail"
    assert settlement_for(status=None, body_complete=False, error=None) == "fail"
    assert settlement_for(status=200, body_complete=True, error=RuntimeError()) == "fail"


def test_route_validation() -> None:
    for bad in (-1, 1.5, True, "5"):
        with pytest.raises(ValueError):
            PaidRoute(action="x", cost_estimate=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PaidRoute(action="", cost_estimate=1)


def test_complete_charges_the_actual_cost(config: FocusConfig, resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    jobs = jobs_for(config, resolver)
    auth = sign_in(resolver, user.session_jwt(azp=ORIGIN))
    job = jobs.reserve(RENDER, auth)
    assert user.credits == 15
    [row] = emu.jobs(user)
    assert row["metadata"]["request_id"] == job.request_id and row["metadata"]["description"] == "render"
    job.actual_cost = 3
    job.metadata["previewUrl"] = "https://example.test/p.png"
    jobs.settle(job, auth.credential, "complete")
    assert job.state == "completed" and user.credits == 17
    [row] = emu.jobs(user)
    assert row["status"] == "completed" and row["actual_cost"] == 3 and row["metadata"]["previewUrl"].endswith("p.png")
    # The cached wallet was dropped, so the next request sees the new balance.
    assert sign_in(resolver, user.session_jwt(azp=ORIGIN)).account.credits == 17


def test_fail_refunds(config: FocusConfig, resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    jobs = jobs_for(config, resolver)
    auth = sign_in(resolver, user.session_jwt(azp=ORIGIN))
    job = jobs.reserve(RENDER, auth)
    jobs.settle(job, auth.credential, "fail")
    assert job.state == "failed" and user.credits == 20
    assert emu.jobs(user, status="failed")
    jobs.settle(job, auth.credential, "complete")  # settling twice does nothing
    assert user.credits == 20


def test_insufficient_credits_raises_before_anything_runs(config: FocusConfig, resolver: Resolver, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    jobs = jobs_for(config, resolver)
    with pytest.raises(InsufficientCreditsError) as info:
        jobs.reserve(RENDER, sign_in(resolver, poor.session_jwt(azp=ORIGIN)))
    assert info.value.required == 5 and info.value.available == 2
    assert emu.jobs(poor) == [] and poor.credits == 2


def test_a_nearly_expired_session_cannot_start_paid_work(config: FocusConfig, resolver: Resolver, user: EmulatedUser) -> None:
    auth = sign_in(resolver, user.session_jwt(azp=ORIGIN, lifetime=20))
    assert isinstance(reservation_outcome(auth, config), Expired)
    long = sign_in(resolver, user.session_jwt(azp=ORIGIN, lifetime=60))
    assert reservation_outcome(long, config) is long
    pat = sign_in(resolver, user.pat())
    assert reservation_outcome(pat, config) is pat


def test_undeliverable_settlement_is_kept_reported_and_retried_with_the_next_credential(
    config: FocusConfig, resolver: Resolver, user: EmulatedUser, emu: FocusEmulator
) -> None:
    kept: list[UndeliveredSettlement] = []
    jobs = jobs_for(config, resolver, kept)
    auth = sign_in(resolver, user.session_jwt(azp=ORIGIN))
    job = jobs.reserve(RENDER, auth)
    job.actual_cost = 4
    emu.fail_next("POST /api/jobs/complete", status=503, times=10)
    jobs.settle(job, auth.credential, "complete")
    assert job.state == "pending" and len(jobs.pending) == 1
    assert [k.job_id for k in kept] == [job.job_id] and "token" not in repr(kept[0]).lower().replace("credential", "")
    assert emu.jobs(user, status="started")
    emu.clear_faults()
    later = sign_in(resolver, user.pat())
    jobs.retry_pending(user.clerk_id, later.credential)
    assert len(jobs.pending) == 0
    [row] = emu.jobs(user)
    assert row["status"] == "completed" and row["actual_cost"] == 4 and user.credits == 16


def test_a_stream_that_outlives_its_token_settles_with_the_next_one(
    config: FocusConfig, resolver: Resolver, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock
) -> None:
    jobs = jobs_for(config, resolver)
    auth = sign_in(resolver, user.session_jwt(azp=ORIGIN, lifetime=60))
    job = jobs.reserve(RENDER, auth)
    clock.advance(90)  # the stream ran longer than the token lived
    jobs.settle(job, auth.credential, "complete")
    assert job.state == "pending" and emu.jobs(user, status="started")
    fresh = sign_in(resolver, user.session_jwt(azp=ORIGIN))
    jobs.retry_pending(user.clerk_id, fresh.credential)
    assert emu.jobs(user, status="completed") and user.credits == 15


def test_drain_at_shutdown(config: FocusConfig, resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    jobs = jobs_for(config, resolver)
    auth = sign_in(resolver, user.pat())
    done, stuck = jobs.reserve(RENDER, auth), jobs.reserve(RENDER, auth)
    emu.fail_next("POST /api/jobs/fail", status=502, times=2)
    jobs.settle(done, auth.credential, "fail")
    jobs.settle(stuck, auth.credential, "fail")
    assert len(jobs.pending) == 2
    assert jobs.drain() == 0
    assert not emu.jobs(user, status="started") and user.credits == 20


def test_a_conflicting_settlement_is_not_retried(config: FocusConfig, resolver: Resolver, user: EmulatedUser) -> None:
    jobs = jobs_for(config, resolver)
    auth = sign_in(resolver, user.pat())
    job = jobs.reserve(RENDER, auth)
    FocusClient.from_config(config, token=user.pat()).fail_job(job.job_id)
    jobs.settle(job, auth.credential, "complete")
    assert job.state == "refused" and len(jobs.pending) == 0  # 409: final, logged, not kept
    assert user.credits == 20


@pytest.mark.anyio
async def test_async_settlement_survives_cancellation(config: FocusConfig, resolver: Resolver, user: EmulatedUser,
                                                      emu: FocusEmulator) -> None:
    jobs = AsyncPaidJobs(config, AsyncFocusClient.from_config(config), wallets=resolver)
    auth = sign_in(resolver, user.pat())
    job = await jobs.reserve(RENDER, auth)
    emu.set_latency(0.3, endpoint="POST /api/jobs/fail")
    with anyio.CancelScope() as scope:
        scope.cancel()  # the request was cancelled: the refund must still go out
        await jobs.settle(job, auth.credential, "fail")
    assert job.state == "failed" and user.credits == 20


@pytest.mark.anyio
async def test_async_settlement_timeout_keeps_it(config: FocusConfig, resolver: Resolver, user: EmulatedUser,
                                                 emu: FocusEmulator) -> None:
    short = config.replace(settle_timeout=0.3)
    jobs = AsyncPaidJobs(short, AsyncFocusClient.from_config(short), wallets=resolver)
    auth = sign_in(resolver, user.pat())
    job = await jobs.reserve(RENDER, auth)
    emu.set_latency(2.0, endpoint="POST /api/jobs/complete")
    await jobs.settle(job, auth.credential, "complete")
    assert job.state == "pending"
    emu.clear_faults()
    emu.set_latency(0, endpoint="POST /api/jobs/complete")
    assert await jobs.drain() == 0
    assert emu.jobs(user, status="completed")
