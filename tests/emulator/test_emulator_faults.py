"""Call counters and fault knobs: what other components' tests arrange and measure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator

if TYPE_CHECKING:
    from conftest import Api

WALLET = "GET /api/wallet"
JWKS = "GET /.well-known/jwks.json"


def test_endpoints_are_named_by_method_and_route(focus_emulator: FocusEmulator) -> None:
    assert focus_emulator.endpoints == {
        "GET /api/wallet",
        "POST /api/jobs",
        "GET /api/jobs",
        "POST /api/jobs/complete",
        "POST /api/jobs/fail",
        "GET /api/sessionToken",
        "POST /api/device/start",
        "POST /api/device/complete",
        "GET /api/device/poll",
        "GET /api/xToken",
        "GET /api/oauthToken/{provider}",
        "GET /api/xMe",
        "GET /api/openapi.json",
        "GET /api/docs",
        "GET /.well-known/jwks.json",
        "GET /",
        "GET /signin",
        "POST /signin",
        "GET /signout",
        "POST /signout",
        "GET /device",
        "POST /device",
        "GET /billing",
        "POST /billing",
    }


def test_calls_are_counted_per_endpoint_and_credential(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    pat, jwt = focus_user.pat(), focus_user.session_jwt()
    api.wallet(pat)
    api.wallet(pat, app="video")
    api.wallet(jwt)
    api.client.get("/api/wallet", headers={"Cookie": f"__session={jwt}"})
    api.wallet(None)
    job = api.start(pat)
    api.complete(pat, job, 1)
    assert focus_emulator.calls(WALLET) == 5
    assert focus_emulator.calls(WALLET, pat) == 2
    assert focus_emulator.calls(WALLET, jwt) == 2  # header and cookie are one credential
    assert focus_emulator.calls("POST /api/jobs", pat) == 1
    assert focus_emulator.calls("POST /api/jobs/complete") == 1
    assert focus_emulator.calls("POST /api/jobs/complete", jwt) == 0
    assert focus_emulator.calls(JWKS) == 0
    focus_emulator.reset_calls()
    assert focus_emulator.calls(WALLET) == 0


def test_unknown_endpoint_names_are_an_error(focus_emulator: FocusEmulator) -> None:
    for call in (
        lambda: focus_emulator.calls("GET /api/walet"),
        lambda: focus_emulator.fail_next("/api/wallet", 503),
        lambda: focus_emulator.set_latency(1, "GET /nowhere"),
    ):
        with pytest.raises(ValueError, match="unknown endpoint"):
            call()


def test_fail_next_answers_the_next_calls_then_stops(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    pat = focus_user.pat()
    focus_emulator.fail_next(WALLET, 503, times=2)
    first, second, third = (api.wallet(pat) for _ in range(3))
    assert first.status_code == second.status_code == 503
    assert first.json()["error"] == "service_unavailable"
    assert third.status_code == 200
    assert focus_emulator.calls(WALLET, pat) == 3  # faulted calls count


def test_fail_next_with_body_and_retry_after(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    pat = focus_user.pat()
    focus_emulator.fail_next("POST /api/jobs", 429, retry_after=7)
    limited = api.create_job(pat)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json()["error"] == "rate_limited"
    focus_emulator.fail_next("POST /api/jobs", 402, body={"error": "insufficient_credits", "required": 5, "available": 0})
    refused = api.create_job(pat)
    assert refused.json() == {"error": "insufficient_credits", "required": 5, "available": 0}
    assert focus_user.credits == 100  # an injected answer never reaches the store
    assert api.create_job(pat).status_code == 200


def test_queued_failures_are_served_in_order(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    pat = focus_user.pat()
    focus_emulator.fail_next(WALLET, 500)
    focus_emulator.fail_next(WALLET, 502)
    assert [api.wallet(pat).status_code for _ in range(3)] == [500, 502, 200]


def test_latency_per_endpoint_and_for_all(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    pat = focus_user.pat()

    def elapsed(call: Callable[[], object]) -> float:
        began = time.perf_counter()
        call()
        return time.perf_counter() - began

    focus_emulator.set_latency(0.3, WALLET)
    assert elapsed(lambda: api.wallet(pat)) >= 0.3
    assert elapsed(lambda: api.jobs(pat)) < 0.2
    focus_emulator.set_latency(0.2)
    assert elapsed(lambda: api.jobs(pat)) >= 0.2
    focus_emulator.set_latency(0, WALLET)
    assert 0.2 <= elapsed(lambda: api.wallet(pat)) < 0.3  # the global delay again
    focus_emulator.set_latency(0)
    assert elapsed(lambda: api.wallet(pat)) < 0.2


def test_latency_makes_client_timeouts_real(focus_emulator: FocusEmulator) -> None:
    focus_emulator.set_latency(1.0, JWKS)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(focus_emulator.jwks_url, timeout=0.2)
    assert focus_emulator.calls(JWKS) == 1


def test_jwks_can_be_down(focus_emulator: FocusEmulator) -> None:
    focus_emulator.set_jwks_down(True)
    assert httpx.get(focus_emulator.jwks_url).status_code == 503
    assert httpx.get(focus_emulator.jwks_url).status_code == 503
    focus_emulator.set_jwks_down(False)
    assert httpx.get(focus_emulator.jwks_url).status_code == 200
    assert focus_emulator.calls(JWKS) == 3


def test_clear_faults_removes_every_knob_but_keeps_counts(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    pat = focus_user.pat()
    focus_emulator.fail_next(WALLET, 503, times=5)
    focus_emulator.set_latency(5.0)
    focus_emulator.set_jwks_down(True)
    focus_emulator.clear_faults()
    assert api.wallet(pat).status_code == 200
    assert httpx.get(focus_emulator.jwks_url, timeout=1).status_code == 200
    assert focus_emulator.calls(WALLET) == 1


def test_counters_keep_no_raw_tokens(focus_emulator: FocusEmulator, focus_user: EmulatedUser, api: Api) -> None:
    pat = focus_user.pat()
    api.wallet(pat)
    assert pat not in repr(vars(focus_emulator._faults))


def test_response_delay_applies_the_call_then_loses_the_answer(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    pat = focus_user.pat()
    focus_emulator.set_response_delay(0.6, "POST /api/jobs")
    body = {"app": "video", "action": "render", "cost_estimate": 5, "metadata": {"request_id": "r1"}}
    with pytest.raises(httpx.ReadTimeout):
        api.client.post("/api/jobs", json=body, headers=api.auth(pat), timeout=0.2)
    [job] = focus_emulator.jobs(focus_user)  # applied upstream, answer lost
    assert job["metadata"]["request_id"] == "r1" and focus_user.credits == 95
    assert focus_emulator.calls("POST /api/jobs", pat) == 1
    began = time.perf_counter()
    late = api.client.post("/api/jobs", json=body, headers=api.auth(pat), timeout=5)
    assert late.status_code == 200 and time.perf_counter() - began >= 0.6  # late, not lost
    assert api.wallet(pat).status_code == 200  # other endpoints unaffected
    focus_emulator.set_response_delay(0, "POST /api/jobs")
    began = time.perf_counter()
    api.create_job(pat)
    assert time.perf_counter() - began < 0.3


def test_response_delay_for_all_endpoints_and_cleared_with_the_rest(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    pat = focus_user.pat()
    focus_emulator.set_response_delay(0.3)
    job = api.start(pat, cost=2)
    with pytest.raises(httpx.ReadTimeout):
        api.client.post("/api/jobs/complete", json={"job_id": job, "actual_cost": 1},
                        headers=api.auth(pat), timeout=0.1)
    assert focus_emulator.jobs(focus_user)[0]["status"] == "completed"
    assert [(r["kind"], r["amount"]) for r in focus_emulator.ledger(focus_user)][1:] == [
        ("reserve", -2), ("settle", 1)
    ]
    focus_emulator.clear_faults()
    began = time.perf_counter()
    api.wallet(pat)
    assert time.perf_counter() - began < 0.2
    with pytest.raises(ValueError, match="unknown endpoint"):
        focus_emulator.set_response_delay(1, "POST /api/nothing")
