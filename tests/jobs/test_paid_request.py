"""The core's one paid-request object: every combination of reported facts gives the
settlement docs/architecture.md's lifecycle names, and a job is settled exactly once whoever asks
(the response's end, a cancellation, a shutdown). Settlements go to a real emulator."""

from __future__ import annotations

import asyncio
import itertools
import threading

import anyio
import pytest

from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.jobs import AsyncPaidJobs, PaidJobs, PaidRoute
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import Authenticated, Credential
from focus_middleware.paid_request import PaidRequest, decide, one_per_request
from focus_middleware.responses import ResponseSpec
from focus_middleware.testing import EmulatedUser, FocusEmulator

ROUTE = PaidRoute(action="render", cost_estimate=5)
FACTS = RequestFacts(method="POST", path="/render", query_string="", headers={"accept": "application/json"},
                     cookies={}, root_path="", scheme="http", host="127.0.0.1:8000", client_addr="127.0.0.1")


def auth_for(user: EmulatedUser, token: str) -> Authenticated:
    account = FocusAccount(id=user.account_id, clerk_id=user.clerk_id, credits=user.credits, credential_kind="pat")
    return Authenticated(account, Credential(kind="pat", source="bearer", token=token))


def offline() -> PaidRequest:
    account = FocusAccount(id="a", clerk_id="user_x", credits=10, credential_kind="pat")
    return PaidRequest(ROUTE, Authenticated(account, Credential(kind="pat", source="bearer", token="focus_pat_" + "x" * 40)))


STATUSES = [None, 200, 204, 303, 399, 400, 404, 500]
DELIVERIES = ["none", "body", "file", "cut", "cut_then_body"]


@pytest.mark.parametrize(("status", "delivery", "raised", "ended", "left_before", "left_after"),
                         list(itertools.product(STATUSES, DELIVERIES, [False, True], [False, True], [False, True],
                                                [False, True])))
def test_every_combination_of_facts(status: int | None, delivery: str, raised: bool, ended: bool,
                                    left_before: bool, left_after: bool) -> None:
    """Complete only when the handler succeeded (nothing raised, nothing ended the request,
    status < 400) and the whole answer went out (body finished, or a file handed over) to
    a client still there. A disconnect after the end is the response's end, not a leaver;
    a body cut short stays cut (the end cannot come after it)."""
    paid = offline()
    if status is not None:
        paid.response_started(status)
    if left_before:
        paid.client_left()
    if raised:
        paid.handler_raised(RuntimeError("handled by the app"))
    if delivery == "body":
        paid.body_finished()
    elif delivery == "file":
        paid.file_sent()
    elif delivery == "cut":
        paid.body_cut()
    elif delivery == "cut_then_body":
        paid.body_cut()
        paid.body_finished()
    if left_after:
        paid.client_left()
    if ended:
        paid.ended_by(TimeoutError())
    delivered = delivery in ("body", "file")
    gone = left_before or (left_after and not delivered)
    ok = status is not None and status < 400 and delivered and not raised and not ended and not gone
    assert paid.settlement() == ("complete" if ok else "fail"), paid


def test_a_cancellation_is_a_failure() -> None:
    paid = offline()
    paid.response_started(200)
    paid.body_finished()
    paid.ended_by(asyncio.CancelledError())
    assert paid.settlement() == "fail"


def test_one_paid_request_per_request() -> None:
    paid = offline()
    assert one_per_request(None, ROUTE) is None
    assert one_per_request(paid, ROUTE) is paid
    with pytest.raises(RuntimeError, match="already open"):
        one_per_request(paid, PaidRoute(action="other", cost_estimate=1))


def test_decide_refuses_without_an_account(config: FocusConfig) -> None:
    from focus_middleware.outcome import Anonymous

    spec = decide(FACTS, Anonymous(), config, ROUTE)
    assert isinstance(spec, ResponseSpec) and spec.status == 401


def test_settled_exactly_once_whoever_comes_first(config: FocusConfig, emu: FocusEmulator) -> None:
    """The response's end and a shutdown race for the same request: one settlement."""
    user = emu.create_user(credits=20)
    token = user.pat()
    with FocusClient.from_config(config) as client:
        jobs = PaidJobs(config, client)
        paid = PaidRequest(ROUTE, auth_for(user, token))
        assert paid.reserve(jobs, FACTS, config) is None and paid.job is not None
        assert jobs.in_flight() == [paid] and user.credits == 15
        paid.response_started(200)
        paid.body_finished()
        go = threading.Barrier(4)

        def settle() -> None:
            go.wait()
            paid.settle(jobs)

        threads = [threading.Thread(target=settle) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert emu.calls("POST /api/jobs/complete") == 1 and emu.calls("POST /api/jobs/fail") == 0
    assert jobs.in_flight() == [] and user.credits == 15


def test_a_refused_reservation_is_a_response_and_nothing_in_flight(config: FocusConfig, emu: FocusEmulator) -> None:
    user = emu.create_user(credits=2)
    with FocusClient.from_config(config) as client:
        jobs = PaidJobs(config, client)
        paid = PaidRequest(ROUTE, auth_for(user, user.pat()))
        spec = paid.reserve(jobs, FACTS, config)
        assert isinstance(spec, ResponseSpec) and spec.status == 402
        assert paid.job is None and jobs.in_flight() == []
        paid.settle(jobs)  # nothing reserved: nothing to settle
    assert emu.jobs(user) == []


def test_shutdown_fails_jobs_in_flight_and_drains_what_is_kept(config: FocusConfig, emu: FocusEmulator) -> None:
    """What a signal or interpreter exit runs (blocking, a client of its own)."""
    user = emu.create_user(credits=20)
    token = user.pat()
    with FocusClient.from_config(config) as client:
        jobs = PaidJobs(config, client)
        running = PaidRequest(ROUTE, auth_for(user, token))
        assert running.reserve(jobs, FACTS, config) is None
        done = PaidRequest(ROUTE, auth_for(user, token))
        assert done.reserve(jobs, FACTS, config) is None
        done.response_started(200)
        done.body_finished()
        emu.fail_next("POST /api/jobs/complete", status=503)
        done.settle(jobs)  # kept
        assert len(jobs.pending) == 1 and user.credits == 10
        assert jobs.shutdown_blocking() == 0
        running.settle(jobs)  # the request ends after the shutdown settled it: nothing more
    statuses = sorted(j["status"] for j in emu.jobs(user))
    assert statuses == ["completed", "failed"] and user.credits == 15
    assert emu.calls("POST /api/jobs/fail") == 1


@pytest.mark.anyio
async def test_async_shutdown_awaits_settlements_under_way(config: FocusConfig, emu: FocusEmulator) -> None:
    """A settlement still running in its shielded task when the lifespan ends is waited
    for; a job still in flight is failed with refund."""
    user = emu.create_user(credits=20)
    token = user.pat()
    client = AsyncFocusClient.from_config(config)
    jobs = AsyncPaidJobs(config, client)
    settling = PaidRequest(ROUTE, auth_for(user, token))
    assert await settling.areserve(jobs, FACTS, config) is None
    running = PaidRequest(ROUTE, auth_for(user, token))
    assert await running.areserve(jobs, FACTS, config) is None
    settling.response_started(200)
    settling.body_finished()
    emu.set_latency(0.5, endpoint="POST /api/jobs/complete")
    async with anyio.create_task_group() as tg:
        tg.start_soon(settling.asettle, jobs)
        await anyio.sleep(0.1)
        tg.cancel_scope.cancel()  # the request is cancelled; its settlement runs on
    assert emu.jobs(user, status="started")
    assert await jobs.ashutdown(timeout=5) == 0
    await client.aclose()
    assert sorted(j["status"] for j in emu.jobs(user)) == ["completed", "failed"] and user.credits == 15


def test_what_can_only_fail_is_known_before_the_body() -> None:
    paid = offline()
    assert not paid.cannot_complete()
    paid.response_started(200)
    assert not paid.cannot_complete()
    paid.response_started(422)
    assert paid.cannot_complete() and paid.settlement() == "fail"
    other = offline()
    other.handler_raised(RuntimeError())
    assert other.cannot_complete()
