"""Which request carries a user's kept settlements, and the blocking drain at exit."""

from __future__ import annotations

import pytest

from focus_middleware.client import AsyncFocusClient
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.jobs import _AT_EXIT, AsyncPaidJobs, PaidRoute
from focus_middleware.outcome import ANONYMOUS, Authenticated
from focus_middleware.resolver import Resolver
from focus_middleware.testing import EmulatedUser, FocusEmulator

RENDER = PaidRoute(action="render", cost_estimate=5)


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=20)


def sign_in(resolver: Resolver, token: str) -> Authenticated:
    out = resolver.resolve(RequestFacts(method="GET", path="/", headers={"authorization": f"Bearer {token}"}))
    assert isinstance(out, Authenticated)
    return out


@pytest.mark.anyio
async def test_only_the_users_own_requests_carry_their_kept_settlements_and_exit_drains_them(
    config: FocusConfig, resolver: Resolver, user: EmulatedUser, emu: FocusEmulator
) -> None:
    jobs = AsyncPaidJobs(config, AsyncFocusClient.from_config(config), wallets=resolver)
    auth = sign_in(resolver, user.pat())
    other = sign_in(resolver, emu.create_user(credits=1).pat())
    assert jobs.due_for_retry(auth) is None  # nothing kept: a dict lookup says no
    job = await jobs.reserve(RENDER, auth)
    emu.fail_next("POST /api/jobs/complete", status=503)
    await jobs.settle(job, auth.credential, "complete")
    assert jobs.due_for_retry(auth) is auth
    assert jobs.due_for_retry(other) is None and jobs.due_for_retry(ANONYMOUS) is None
    assert jobs in _AT_EXIT
    await jobs.client.aclose()  # the loop's client is gone, as at interpreter exit
    assert jobs.drain_blocking() == 0
    assert emu.jobs(user, status="completed") and user.credits == 15
    assert jobs.drain_blocking() == 0 and len(jobs.pending) == 0  # nothing twice
