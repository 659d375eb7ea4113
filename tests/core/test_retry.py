"""The retry and recovery flows, driven by a script instead of a network.

The flows are sans-I/O generators; the client tests run them against the emulator. These
cover the branches the emulator cannot be made to produce on demand (a 409 for our own
earlier settlement, duplicate reservations visible at once) and the exact pauses taken.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from focus_middleware import api_contract, retry
from focus_middleware.clock import FakeClock
from focus_middleware.api_contract import Reply
from focus_middleware.errors import ConflictError, RateLimitedError, UnavailableError
from focus_middleware.models import CreatedJob, SettledJob
from focus_middleware.retry import Context, Flow, RetryPolicy, Send, Sleep, TransportFailure

POLICY = RetryPolicy(max_retries=2, backoff_base=0.1, backoff_cap=1.0, retry_after_cap=5.0, grace_cap=2.0)
TIMEOUT_AFTER_SENDING = TransportFailure(sent=True, timeout=True, detail="ReadTimeout")
NEVER_SENT = TransportFailure(sent=False, timeout=False, detail="ConnectError")


def reply(status: int, body: Any = None, **headers: str) -> Reply:
    content = b"" if body is None else json.dumps(body).encode()
    return Reply(status, httpx.Headers({k.replace("_", "-"): v for k, v in headers.items()}), content)


def jobs(*rows: dict[str, Any]) -> Reply:
    return reply(200, {"jobs": list(rows)})


class Script:
    """Answers each Send with the next scripted outcome; records sends and sleeps."""

    def __init__(self, outcomes: Iterable[Reply | TransportFailure]) -> None:
        self.outcomes = list(outcomes)
        self.sends: list[str] = []
        self.sleeps: list[float] = []

    def run(self, flow: Flow[Any]) -> Any:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    self.sleeps.append(step.seconds)
                    step = flow.send(None)
                else:
                    assert isinstance(step, Send)
                    call = step.call
                    query = f"?{urlencode(call.params)}" if call.params else ""
                    body = f" {json.dumps(call.body, sort_keys=True)}" if call.body else ""
                    self.sends.append(f"{call.method} {call.path}{query}{body}")
                    step = flow.send(self.outcomes.pop(0))
        except StopIteration as done:
            assert not self.outcomes, f"unused outcomes: {self.outcomes}"
            return done.value


@pytest.fixture
def ctx() -> Context:
    return Context("http://focus.test", POLICY, FakeClock(start=1_000_000.0), timeout=1.0, rng=random.Random(7))


# -- safe calls -------------------------------------------------------------------------------


def test_backoff_is_full_jitter_and_capped() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        for _ in range(50):
            assert 0.0 <= POLICY.backoff(attempt, rng) <= min(1.0, 0.1 * 2**attempt)


def test_get_retries_transport_failures_and_5xx(ctx: Context) -> None:
    script = Script([TIMEOUT_AFTER_SENDING, reply(503), reply(200, {"jobs": []})])
    assert script.run(retry.request(api_contract.list_jobs(), "t", ctx)) == []
    assert len(script.sends) == 3 and len(script.sleeps) == 2


def test_retry_after_is_honoured_within_the_cap(ctx: Context) -> None:
    script = Script([reply(429, retry_after="3"), reply(503, retry_after="4"), reply(200, {"jobs": []})])
    script.run(retry.request(api_contract.list_jobs(), "t", ctx))
    assert script.sleeps[0] == 3.0 and script.sleeps[1] >= 4.0


def test_retry_after_as_an_http_date(ctx: Context) -> None:
    when = httpx.Headers({"retry-after": "Mon, 12 Jan 1970 13:46:42 GMT"})  # clock + 2 s
    script = Script([Reply(429, when, b""), reply(200, {"jobs": []})])
    script.run(retry.request(api_contract.list_jobs(), "t", ctx))
    assert script.sleeps == [pytest.approx(2.0)]


def test_retry_after_beyond_the_cap_is_not_waited_for(ctx: Context) -> None:
    script = Script([reply(429, retry_after="60")])
    with pytest.raises(RateLimitedError) as info:
        script.run(retry.request(api_contract.wallet(), "t", ctx))
    assert info.value.retry_after == 60 and script.sleeps == []


def test_max_retries_zero_means_one_attempt(ctx: Context) -> None:
    ctx.policy = RetryPolicy(max_retries=0)
    script = Script([reply(503)])
    with pytest.raises(UnavailableError):
        script.run(retry.request(api_contract.wallet(), "t", ctx))
    assert len(script.sends) == 1


# -- state-changing calls ------------------------------------------------------------------------


def test_post_is_resent_only_when_it_never_left(ctx: Context) -> None:
    script = Script([NEVER_SENT, reply(200, {"job_id": "j1"})])
    created = script.run(retry.create_job("video", "render", 5, None, "rid", "t", ctx))
    assert created == CreatedJob("j1")
    assert [s.split(" ")[1] for s in script.sends] == ["/api/jobs", "/api/jobs"]


def test_create_is_looked_up_before_a_resend(ctx: Context) -> None:
    script = Script(
        [
            reply(502),  # ambiguous
            jobs({"id": "other", "status": "started", "metadata": {"request_id": "someone-else"}}),
            reply(200, {"job_id": "j1", "status": "started", "credits": 3}),
            jobs({"id": "j1", "status": "started", "metadata": {"request_id": "rid"}}),  # reconciliation
        ]
    )
    created = script.run(retry.create_job("video", "render", 5, {"a": 1}, "rid", "t", ctx))
    assert created == CreatedJob("j1", "started", 3)
    assert script.sends[1] == "GET /api/jobs?app=video&status=started&limit=200"
    assert script.sleeps[0] >= 1.0  # a 502 may still be running upstream: grace before looking


def test_create_found_by_request_id_is_not_resent_and_duplicates_are_released(ctx: Context) -> None:
    script = Script(
        [
            TIMEOUT_AFTER_SENDING,
            jobs(
                {"id": "late", "status": "started", "created_at": "2026-01-01T00:00:02Z", "metadata": {"request_id": "rid"}},
                {"id": "first", "status": "started", "created_at": "2026-01-01T00:00:01Z", "metadata": {"request_id": "rid"}},
            ),
            reply(200, {"job_id": "late", "status": "failed"}),
        ]
    )
    created = script.run(retry.create_job("video", "render", 5, None, "rid", "t", ctx))
    assert created.job_id == "first" and created.credits is None
    assert script.sends[-1] == 'POST /api/jobs/fail {"job_id": "late", "refund": true}'
    assert sum(s.startswith("POST /api/jobs ") for s in script.sends) == 1


def test_a_late_duplicate_seen_after_a_successful_resend_is_released(ctx: Context) -> None:
    script = Script(
        [
            TIMEOUT_AFTER_SENDING,
            jobs(),
            reply(200, {"job_id": "second"}),
            jobs(
                {"id": "second", "status": "started", "metadata": {"request_id": "rid"}},
                {"id": "first", "status": "started", "metadata": {"request_id": "rid"}},
            ),
            reply(200, {}),
        ]
    )
    assert script.run(retry.create_job("video", "render", 5, None, "rid", "t", ctx)).job_id == "second"
    assert script.sends[-1] == 'POST /api/jobs/fail {"job_id": "first", "refund": true}'


def test_create_gives_up_ambiguous_when_the_budget_is_spent(ctx: Context) -> None:
    ctx.policy = RetryPolicy(max_retries=1, backoff_base=0.01)
    script = Script([reply(500), jobs(), reply(500), jobs()])
    with pytest.raises(UnavailableError) as info:
        script.run(retry.create_job("video", "render", 5, None, "rid", "t", ctx))
    assert info.value.ambiguous and info.value.status == 500


def test_settle_409_after_our_own_ambiguous_attempt_is_success(ctx: Context) -> None:
    script = Script(
        [
            reply(500),
            jobs({"id": "j", "status": "started"}),  # not yet: resend
            reply(409, {"error": "job_already_settled"}),  # our first attempt landed meanwhile
            jobs(),
            jobs({"id": "j", "status": "completed", "actual_cost": 3}),
        ]
    )
    settled = script.run(retry.complete_job("j", 3, None, "t", ctx))
    assert settled == SettledJob("j", "completed", 3, None)
    assert script.sends[3] == "GET /api/jobs?status=started&limit=200"
    assert script.sends[4] == "GET /api/jobs?limit=200"


def test_settle_409_for_a_different_settlement_is_a_conflict(ctx: Context) -> None:
    script = Script(
        [reply(500), jobs({"id": "j", "status": "started"}), reply(409), jobs(), jobs({"id": "j", "status": "completed", "actual_cost": 9})]
    )
    with pytest.raises(ConflictError):
        script.run(retry.complete_job("j", 3, None, "t", ctx))


def test_settle_409_without_ambiguity_is_a_conflict_at_once(ctx: Context) -> None:
    script = Script([reply(409)])
    with pytest.raises(ConflictError):
        script.run(retry.fail_job("j", True, "t", ctx))
    assert len(script.sends) == 1


def test_settle_confirmed_by_lookup_is_not_resent(ctx: Context) -> None:
    script = Script([TIMEOUT_AFTER_SENDING, jobs(), jobs({"id": "j", "status": "failed", "actual_cost": 0})])
    assert script.run(retry.fail_job("j", True, "t", ctx)).status == "failed"
    assert sum(s.startswith("POST") for s in script.sends) == 1


def test_settle_of_a_job_nowhere_to_be_found_is_ambiguous_not_resent(ctx: Context) -> None:
    script = Script([TIMEOUT_AFTER_SENDING, jobs(), jobs()])
    with pytest.raises(UnavailableError) as info:
        script.run(retry.complete_job("j", 3, None, "t", ctx))
    assert info.value.ambiguous and "not found" in str(info.value)
