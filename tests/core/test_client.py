"""FocusClient and AsyncFocusClient against a running emulator.

Every test runs twice, once per client (``make_client`` is parametrised). Retry rules are
asserted with the emulator's call counters and its ledger: what the service saw, not what
the client believes it did.
"""

from __future__ import annotations

import logging
import socket
import httpx
import jwt
import pytest

from focus_middleware.client import AsyncFocusClient, FocusClient, fingerprint
from focus_middleware.config import FocusConfig
from focus_middleware.errors import (
    ConflictError,
    FocusAPIError,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from focus_middleware.models import CreatedJob, DevicePoll, SettledJob, Wallet
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.testing.app import SIGNIN_COOKIE

from .conftest import ClientFactory
from .proxy import HoldingProxy


def _ledger_for(emu: FocusEmulator, user: EmulatedUser, job_id: str) -> list[tuple[str, int]]:
    return [(row["kind"], row["amount"]) for row in emu.ledger(user) if row["job_id"] == job_id]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- every call ------------------------------------------------------------------------------


def test_wallet_with_app_grants_starter_credits_once(make_client: ClientFactory, user: EmulatedUser) -> None:
    client = make_client(token=user.pat())
    first = client.wallet(app="video")
    assert isinstance(first, Wallet)
    assert first.account.clerk_id == user.clerk_id
    assert first.credits == 70
    assert first.app_grant is not None and first.app_grant.slug == "video" and first.app_grant.granted
    assert [a.slug for a in first.apps] == ["video"]
    assert client.wallet(app="video").credits == 70  # granted once
    plain = client.wallet()
    assert plain.app_grant is None and plain.credits == 70


def test_session_jwt_is_a_credential_too(make_client: ClientFactory, user: EmulatedUser) -> None:
    assert make_client(token=user.session_jwt()).wallet().account.id == user.account_id


def test_per_call_token_overrides_the_clients(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    other = emu.create_user(credits=7)
    client = make_client(token=user.pat())
    other_pat = other.pat()
    assert client.wallet(token=other_pat).account.clerk_id == other.clerk_id
    assert client.wallet().account.clerk_id == user.clerk_id
    assert emu.calls("GET /api/wallet", credential=other_pat) == 1


def test_job_lifecycle_complete(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    client = make_client(token=user.pat())
    created = client.create_job("video", "render", 5, {"description": "Render preview"}, request_id="req-1")
    assert isinstance(created, CreatedJob)
    assert created.status == "started" and created.credits == 45
    [job] = client.list_jobs(app="video", status="started")
    assert job.id == created.job_id and job.action == "render" and job.cost_estimate == 5
    assert dict(job.metadata) == {"description": "Render preview", "request_id": "req-1"}
    assert job.created_at is not None

    settled = client.complete_job(created.job_id, 3, {"previewUrl": "https://x.test/p.jpg"})
    assert settled == SettledJob(created.job_id, "completed", 3, 47)
    [done] = client.list_jobs(status="completed")
    assert done.actual_cost == 3 and done.metadata["previewUrl"] == "https://x.test/p.jpg"
    assert done.metadata["description"] == "Render preview"  # merged, not replaced
    assert user.credits == 47
    # The same settlement again answers as the first did; a different one is a conflict.
    assert client.complete_job(created.job_id, 3, {"previewUrl": "https://x.test/p.jpg"}).credits == 47
    with pytest.raises(ConflictError) as info:
        client.complete_job(created.job_id, 4)
    assert info.value.status == 409 and info.value.error == "job_already_settled"
    assert _ledger_for(emu, user, created.job_id) == [("reserve", -5), ("settle", 2)]


def test_job_lifecycle_fail(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    client = make_client(token=user.pat())
    refunded = client.create_job("video", "render", 5)
    kept = client.create_job("video", "render", 4)
    assert client.fail_job(refunded.job_id).status == "failed"
    assert client.fail_job(kept.job_id, refund=False).credits == 46
    assert {j.id for j in client.list_jobs(status="failed")} == {refunded.job_id, kept.job_id}
    assert client.list_jobs(limit=1)[0].id == kept.job_id  # newest first, limited
    assert _ledger_for(emu, user, refunded.job_id) == [("reserve", -5), ("refund", 5)]


def test_create_job_generates_a_request_id_and_keeps_a_given_one(make_client: ClientFactory, user: EmulatedUser) -> None:
    client = make_client(token=user.pat())
    client.create_job("video", "render", 1)
    client.create_job("video", "render", 1, {"request_id": "from-metadata"})
    ids = [j.request_id for j in client.list_jobs()]
    assert ids[0] == "from-metadata"
    assert isinstance(ids[1], str) and len(ids[1]) == 32


def test_session_token_with_the_browsers_cookie(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    client = make_client()
    token = client.session_token(cookies={SIGNIN_COOKIE: user.signin_cookie()})
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == user.clerk_id and claims["iss"] == emu.issuer
    with pytest.raises(UnauthorizedError) as info:
        client.session_token(cookies={SIGNIN_COOKIE: "sess_unknown"})
    assert info.value.signin_url == f"{emu.issuer}/signin"


def test_json_document_fetches_the_jwks_without_credentials(make_client: ClientFactory, emu: FocusEmulator) -> None:
    client = make_client(token="focus_pat_should_not_travel")
    assert "keys" in client.get_json_document(emu.jwks_url)
    assert emu.calls("GET /.well-known/jwks.json", credential="focus_pat_should_not_travel") == 0


def _requires(emu: FocusEmulator, endpoint: str) -> None:
    if endpoint not in emu.endpoints:
        pytest.skip(f"the emulator does not serve {endpoint} yet (issue 3)")


def test_device_flow(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    _requires(emu, "POST /api/device/start")
    client = make_client()
    start = client.device_start()
    assert start.user_code and start.verification_uri and start.interval >= 1
    assert start.device_code not in repr(start)
    assert client.device_poll(start.device_code) == DevicePoll("pending")
    assert client.device_complete(start.user_code, token=user.session_jwt()) is True
    poll = client.device_poll(start.device_code)
    assert poll.status == "approved" and poll.token and poll.token not in repr(poll)
    assert make_client(token=poll.token).wallet().account.clerk_id == user.clerk_id
    assert client.device_poll(start.device_code).status == "invalid_grant"  # handed out once


def test_device_flow_denied(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    _requires(emu, "POST /api/device/start")
    client = make_client()
    start = client.device_start()
    client.device_complete(start.user_code, approve=False, token=user.session_jwt())
    assert client.device_poll(start.device_code).status == "access_denied"
    assert client.device_poll("no-such-code").status == "expired_token"


def test_oauth_helpers(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    _requires(emu, "GET /api/xToken")
    user.connect_oauth("x")
    client = make_client(token=user.pat())
    x_token = client.x_token()
    assert x_token
    assert isinstance(client.oauth_token("x"), str)
    assert isinstance(client.x_me(x_token), dict)


# -- every error status ------------------------------------------------------------------------------


def test_401_without_or_with_a_bad_credential(make_client: ClientFactory, emu: FocusEmulator) -> None:
    for token in (None, "focus_pat_" + "x" * 40):
        with pytest.raises(UnauthorizedError) as info:
            make_client(token=token).wallet()
        assert info.value.status == 401
        assert info.value.signin_url == f"{emu.issuer}/signin"
        if token:
            assert token not in repr(info.value) and token not in str(info.value)


def test_402_carries_what_a_purchase_prompt_needs(make_client: ClientFactory, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    with pytest.raises(InsufficientCreditsError) as info:
        make_client(token=poor.pat()).create_job("video", "render", 5)
    err = info.value
    assert (err.required, err.available, err.action) == (5, 2, "render")
    assert err.purchase_url == f"{emu.url}/billing"
    assert emu.jobs(poor) == []


def test_404_for_an_unknown_or_someone_elses_job(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    owner = make_client(token=user.pat())
    job = owner.create_job("video", "render", 1)
    stranger = make_client(token=emu.create_user(credits=1).pat())
    with pytest.raises(NotFoundError):
        stranger.complete_job(job.job_id, 1)
    with pytest.raises(NotFoundError):
        owner.fail_job("00000000-0000-0000-0000-000000000000")
    owner.fail_job(job.job_id)


def test_other_4xx_is_a_general_api_error(make_client: ClientFactory, user: EmulatedUser) -> None:
    with pytest.raises(FocusAPIError) as info:
        make_client(token=user.pat()).list_jobs(status="bogus")
    assert info.value.status == 400 and info.value.error == "invalid_request"
    assert type(info.value) is FocusAPIError


def test_malformed_success_body_is_a_clear_api_error(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    emu.fail_next("GET /api/wallet", 200, body={"account": {"id": "a", "clerk_id": "user_x", "credits": "lots"}})
    with pytest.raises(FocusAPIError) as info:
        make_client(token=user.pat()).wallet()
    assert info.value.status == 200
    assert "account.credits" in str(info.value) and "GET /api/wallet" in str(info.value)


def test_unknown_fields_are_ignored(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    body = {"account": {"id": "a", "clerk_id": "user_x", "credits": 3, "tier": "gold"}, "new": [1], "apps": None}
    emu.fail_next("GET /api/wallet", 200, body=body)
    wallet = make_client(token=user.pat()).wallet()
    assert wallet.credits == 3 and wallet.account.plan is None and wallet.apps == ()


# -- retry rules -------------------------------------------------------------------------------------


def test_get_retries_5xx_then_succeeds(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.fail_next("GET /api/wallet", 503, times=2)
    assert make_client(token=pat, max_retries=2).wallet().credits == 50
    assert emu.calls("GET /api/wallet", credential=pat) == 3


def test_get_gives_up_after_max_retries(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.fail_next("GET /api/wallet", 502, times=3)
    with pytest.raises(UnavailableError) as info:
        make_client(token=pat, max_retries=2).wallet()
    assert info.value.status == 502 and not info.value.ambiguous
    assert emu.calls("GET /api/wallet", credential=pat) == 3


def test_get_honours_a_short_retry_after(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.fail_next("GET /api/jobs", 429, retry_after=0)
    assert make_client(token=pat).list_jobs() == []
    assert emu.calls("GET /api/jobs", credential=pat) == 2


def test_a_long_retry_after_goes_to_the_caller(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.fail_next("GET /api/wallet", 429, retry_after=120)
    with pytest.raises(RateLimitedError) as info:
        make_client(token=pat).wallet()
    assert info.value.retry_after == 120
    assert emu.calls("GET /api/wallet", credential=pat) == 1


def test_429_on_a_reservation_is_not_retried(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.fail_next("POST /api/jobs", 429, retry_after=0)
    with pytest.raises(RateLimitedError):
        make_client(token=pat).create_job("video", "render", 5)
    assert emu.calls("POST /api/jobs", credential=pat) == 1
    assert emu.jobs(user) == []


def test_get_timeout_is_retried_then_unavailable(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.set_latency(0.5, "GET /api/wallet")
    with pytest.raises(UnavailableError) as info:
        make_client(token=pat, timeout=0.15, max_retries=1).wallet()
    assert info.value.status is None and "timed out" in str(info.value)
    assert emu.calls("GET /api/wallet", credential=pat) == 2


def test_latency_within_the_timeout_is_fine(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    emu.set_latency(0.1, "GET /api/wallet")
    assert make_client(token=user.pat(), timeout=2.0).wallet().credits == 50


def test_connection_refused_is_unavailable_and_retried(make_client: ClientFactory) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{_closed_port()}", token="t", max_retries=1)
    with pytest.raises(UnavailableError) as info:
        client.wallet()
    assert not info.value.ambiguous
    # A reservation that provably never left is not ambiguous either (no lookup needed).
    with pytest.raises(UnavailableError) as create_info:
        client.create_job("video", "render", 1)
    assert not create_info.value.ambiguous


def test_reservation_after_a_5xx_is_looked_up_then_resent(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.fail_next("POST /api/jobs", 503)
    created = make_client(token=pat).create_job("video", "render", 5, request_id="r-5xx")
    assert emu.calls("POST /api/jobs", credential=pat) == 2
    assert emu.calls("GET /api/jobs", credential=pat) >= 1  # looked before resending
    [job] = emu.jobs(user)
    assert job["id"] == created.job_id and user.credits == 45


def test_reservation_whose_answer_was_lost_is_found_not_resent(
    make_client: ClientFactory, proxy: HoldingProxy, emu: FocusEmulator, user: EmulatedUser
) -> None:
    pat = user.pat()
    proxy.hold("POST /api/jobs ", 0.8)  # applied upstream; the answer comes after our timeout
    client = make_client(base_url=proxy.url, token=pat, timeout=0.3)
    created = client.create_job("video", "render", 5, request_id="r-lost-answer")
    assert emu.calls("POST /api/jobs", credential=pat) == 1
    [job] = emu.jobs(user)
    assert job["id"] == created.job_id and job["metadata"]["request_id"] == "r-lost-answer"
    assert _ledger_for(emu, user, created.job_id) == [("reserve", -5)]
    assert user.credits == 45


def test_reservation_that_timed_out_upstream_is_resent_only_after_lookups(
    make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser
) -> None:
    # The emulator's latency runs before the handler reads the body: a request the client
    # gave up on is never applied, so each lookup comes back empty.
    pat = user.pat()
    emu.set_latency(0.4, "POST /api/jobs")
    with pytest.raises(UnavailableError) as info:
        make_client(token=pat, timeout=0.15, max_retries=1).create_job("video", "render", 5)
    assert info.value.ambiguous
    assert emu.calls("POST /api/jobs", credential=pat) == 2
    assert emu.calls("GET /api/jobs", credential=pat) == 2  # a lookup after each attempt
    assert emu.jobs(user) == [] and user.credits == 50


def test_reservation_with_unknown_outcome_is_reported_ambiguous(
    make_client: ClientFactory, proxy: HoldingProxy, emu: FocusEmulator, user: EmulatedUser
) -> None:
    pat = user.pat()
    proxy.hold("POST /api/jobs ", 0.8)
    emu.fail_next("GET /api/jobs", 503, times=3)
    client = make_client(base_url=proxy.url, token=pat, timeout=0.3, max_retries=2)
    with pytest.raises(UnavailableError) as info:
        client.create_job("video", "render", 5, request_id="r-unknown")
    assert info.value.ambiguous
    assert emu.calls("POST /api/jobs", credential=pat) == 1  # never resent without a lookup
    [job] = make_client(token=pat).list_jobs(status="started")
    assert job.request_id == "r-unknown"  # the caller can still find and settle it
    make_client(token=pat).fail_job(job.id)


@pytest.mark.parametrize("settle", ["complete", "fail"])
def test_settlement_whose_answer_was_lost_is_not_applied_twice(
    settle: str, make_client: ClientFactory, proxy: HoldingProxy, emu: FocusEmulator, user: EmulatedUser
) -> None:
    pat = user.pat()
    client = make_client(base_url=proxy.url, token=pat, timeout=0.3)
    job = client.create_job("video", "render", 5)
    proxy.hold(f"POST /api/jobs/{settle} ", 0.8)
    if settle == "complete":
        settled = client.complete_job(job.job_id, 2)
        assert (settled.status, settled.actual_cost) == ("completed", 2)
        expected = [("reserve", -5), ("settle", 3)]
    else:
        assert client.fail_job(job.job_id).status == "failed"
        expected = [("reserve", -5), ("refund", 5)]
    assert emu.calls(f"POST /api/jobs/{settle}", credential=pat) == 1
    assert _ledger_for(emu, user, job.job_id) == expected


def test_settlement_slower_than_the_timeout_is_never_double_applied(
    make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser
) -> None:
    pat = user.pat()
    client = make_client(token=pat, timeout=0.15, max_retries=1)
    job = client.create_job("video", "render", 5)
    emu.set_latency(0.4, "POST /api/jobs/complete")
    with pytest.raises(UnavailableError) as info:
        client.complete_job(job.job_id, 2)
    assert info.value.ambiguous
    assert emu.calls("POST /api/jobs/complete", credential=pat) == 2  # resent once, after a lookup
    assert _ledger_for(emu, user, job.job_id) == [("reserve", -5)]
    emu.clear_faults()
    client.complete_job(job.job_id, 2)  # the kept settlement goes through later, once
    assert _ledger_for(emu, user, job.job_id) == [("reserve", -5), ("settle", 3)]


def test_settlement_after_a_5xx_is_checked_then_resent(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    client = make_client(token=pat)
    job = client.create_job("video", "render", 5)
    emu.fail_next("POST /api/jobs/complete", 500)
    assert client.complete_job(job.job_id, 5).credits == 45
    assert emu.calls("POST /api/jobs/complete", credential=pat) == 2
    assert _ledger_for(emu, user, job.job_id) == [("reserve", -5)]  # estimate == cost: nothing moves


def test_settlement_found_settled_differently_is_a_conflict(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    client = make_client(token=pat)
    job = client.create_job("video", "render", 5)
    client.fail_job(job.job_id)
    emu.fail_next("POST /api/jobs/complete", 503)
    with pytest.raises(ConflictError):
        client.complete_job(job.job_id, 5)
    assert emu.calls("POST /api/jobs/complete", credential=pat) == 1


def test_settlement_with_unknown_outcome_is_reported_ambiguous(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    client = make_client(token=pat, max_retries=1)
    job = client.create_job("video", "render", 5)
    emu.fail_next("POST /api/jobs/complete", 500, times=5)
    with pytest.raises(UnavailableError) as info:
        client.complete_job(job.job_id, 5)
    assert info.value.ambiguous
    assert emu.calls("POST /api/jobs/complete", credential=pat) == 2  # first try + one checked resend
    emu.clear_faults()
    client.fail_job(job.job_id)


# -- hygiene -------------------------------------------------------------------------------------------


def test_no_token_in_logs(make_client: ClientFactory, emu: FocusEmulator, user: EmulatedUser, caplog: pytest.LogCaptureFixture) -> None:
    pat = user.pat()
    emu.fail_next("GET /api/wallet", 503)
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="focus_middleware"):
        make_client(token=pat).wallet()
        make_client(token=pat).list_jobs(app="video", status="started")  # a query string
        with pytest.raises(UnauthorizedError):
            make_client(token="focus_pat_" + "y" * 40).wallet()
    assert "GET /api/wallet" in caplog.text and fingerprint(pat) in caplog.text
    assert pat not in caplog.text and "y" * 40 not in caplog.text
    # httpx would log every URL (the device poll's carries its code) at INFO: kept quiet.
    assert "HTTP Request" not in caplog.text and "status=started" not in caplog.text
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


def test_httpx_logging_left_alone_when_configured() -> None:
    log = logging.getLogger("httpcore")
    previous = log.level
    log.setLevel(logging.DEBUG)
    try:
        FocusClient("http://127.0.0.1:1").close()
        assert log.level == logging.DEBUG
    finally:
        log.setLevel(previous)


def test_responses_cannot_plant_cookies_in_the_shared_client() -> None:
    with FocusClient("http://focus.test") as client:
        request = httpx.Request("GET", "http://focus.test/api/wallet")
        response = httpx.Response(200, headers={"set-cookie": "__session=leak; Path=/"}, request=request)
        client._http.cookies.extract_cookies(response)
        assert len(client._http.cookies) == 0


def test_client_repr_and_config(emu: FocusEmulator) -> None:
    config = FocusConfig(api_url=emu.url + "/", timeout=1.5, max_retries=4)
    with FocusClient.from_config(config, token="secret-token-value") as client:
        assert client.base_url == emu.url and client.timeout == 1.5 and client.policy.max_retries == 4
        assert "secret-token-value" not in repr(client)
    async_client = AsyncFocusClient.from_config(config)
    assert async_client.policy.max_retries == 4 and async_client.clock is config.clock


def test_close_only_what_it_owns() -> None:
    shared = httpx.Client()
    FocusClient(http_client=shared).close()
    assert not shared.is_closed
    own = FocusClient()
    own.close()
    assert own._http.is_closed
    shared.close()


@pytest.mark.anyio
async def test_async_client_natively(emu: FocusEmulator, user: EmulatedUser) -> None:
    async with AsyncFocusClient(emu.url, user.pat()) as client:
        job = await client.create_job("video", "render", 2)
        assert (await client.wallet()).credits == 48
        await client.complete_job(job.job_id, 1)
    assert client._http.is_closed
    assert user.credits == 49
