"""Models: tolerant parsing, immutability, and reprs that never show a secret."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from focus_middleware.api_contract import Reply, device_poll
from focus_middleware.errors import FocusAPIError, PayloadError
from focus_middleware.models import (
    AccountInfo,
    AppGrant,
    CreatedJob,
    DevicePoll,
    DeviceStart,
    FocusAccount,
    Job,
    SessionToken,
    SettledJob,
    Wallet,
    jobs_from_json,
)

WALLET: dict[str, Any] = {
    "account": {"id": "uuid-1", "clerk_id": "user_2abc", "plan": "free", "credits": 123},
    "apps": [{"slug": "video", "starter_credits": 20, "granted": True, "granted_at": "2025-10-28T12:00:00Z"}],
    "app_grant": {"slug": "video", "starter_credits": 20, "granted": True},
}


def test_wallet_parses_the_contracts_example() -> None:
    wallet = Wallet.from_json(WALLET)
    assert wallet.account == AccountInfo("uuid-1", "user_2abc", 123, "free")
    assert wallet.credits == 123 and wallet.clerk_id == "user_2abc"
    assert wallet.apps[0].granted_at == datetime(2025, 10, 28, 12, tzinfo=timezone.utc)
    assert wallet.app_grant == AppGrant("video", 20, True)


def test_wallet_round_trips_through_json() -> None:
    wallet = Wallet.from_json(WALLET)
    assert Wallet.from_json(json.loads(json.dumps(wallet.to_json()))) == wallet
    assert wallet.to_json()["apps"][0]["granted_at"] == "2025-10-28T12:00:00Z"


def test_wallet_tolerates_unknown_and_missing_optional_fields() -> None:
    wallet = Wallet.from_json({"account": {"id": 7, "clerk_id": "user_x", "credits": 5.0, "future": {}}, "extra": 1})
    assert wallet.account == AccountInfo("7", "user_x", 5, None)
    assert wallet.apps == () and wallet.app_grant is None


def test_wallet_skips_unreadable_apps_and_grant() -> None:
    wallet = Wallet.from_json({**WALLET, "apps": [{"slug": "ok"}, {"no": "slug"}, 3], "app_grant": "video"})
    assert [a.slug for a in wallet.apps] == ["ok"] and wallet.app_grant is None
    assert Wallet.from_json({**WALLET, "apps": [{"slug": "v", "granted_at": "yesterday"}]}).apps[0].granted_at is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "wallet"),
        ({}, "account"),
        ({"account": {"clerk_id": "u", "credits": 1}}, "account.id"),
        ({"account": {"id": "a", "credits": 1}}, "account.clerk_id"),
        ({"account": {"id": "a", "clerk_id": "u", "credits": "1"}}, "account.credits"),
        ({"account": {"id": "a", "clerk_id": "u", "credits": 1.5}}, "account.credits"),
        ({"account": {"id": "a", "clerk_id": "u", "credits": True}}, "account.credits"),
    ],
)
def test_wallet_without_what_it_needs_is_a_payload_error(body: Any, field: str) -> None:
    with pytest.raises(PayloadError, match=field.replace(".", r"\.")):
        Wallet.from_json(body)


def test_wallet_with_credits_is_a_new_value() -> None:
    wallet = Wallet.from_json(WALLET)
    assert wallet.with_credits(1).credits == 1 and wallet.credits == 123


def test_models_are_frozen_and_slotted() -> None:
    wallet = Wallet.from_json(WALLET)
    with pytest.raises(dataclasses.FrozenInstanceError):
        wallet.account.credits = 1  # type: ignore[misc]
    assert not hasattr(wallet, "__dict__")


def test_focus_account_from_wallet() -> None:
    claims = {"sub": "user_2abc", "sid": "sess_1", "aud": ["a", "b"], "nested": {"k": "v"}}
    account = FocusAccount.from_wallet(Wallet.from_json(WALLET), credential_kind="session", claims=claims)
    assert (account.id, account.clerk_id, account.plan, account.credits) == ("uuid-1", "user_2abc", "free", 123)
    assert account.app_grant == AppGrant("video", 20, True) and account.apps[0].slug == "video"
    assert account.is_authenticated is True and FocusAccount.is_authenticated is True
    assert account.identity == "user_2abc" and account.display_name == "user_2abc"
    assert account.wallet == Wallet.from_json(WALLET)
    assert account.with_credits(3).credits == 3
    assert not account.stale and FocusAccount.from_wallet(account.wallet, credential_kind="pat", stale=True).stale


def test_focus_account_claims_are_read_only_and_a_copy() -> None:
    claims: dict[str, Any] = {"sub": "u", "nested": {"k": "v"}, "aud": ["a"]}
    account = FocusAccount.from_wallet(Wallet.from_json(WALLET), credential_kind="session", claims=claims)
    claims["sub"] = "changed"
    assert account.claims is not None and account.claims["sub"] == "u"
    with pytest.raises(TypeError):
        account.claims["sub"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        account.claims["nested"]["k"] = "x"
    assert account.claims["aud"] == ("a",)
    hash(account)  # usable as a key despite the mapping


def test_focus_account_repr_is_display_safe() -> None:
    account = FocusAccount.from_wallet(
        Wallet.from_json(WALLET), credential_kind="session", claims={"sid": "sess_secret", "sub": "user_2abc"}
    )
    text = repr(account)
    assert "user_2abc" in text and "sess_secret" not in text and "claims" not in text


def test_job_parses_and_keeps_metadata_read_only() -> None:
    row = {
        "id": "j1",
        "app": "video",
        "action": "render",
        "status": "completed",
        "cost_estimate": 5,
        "actual_cost": 3,
        "metadata": {"description": "Render", "request_id": "r1", "sizes": [1, 2]},
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": None,
        "new_field": True,
    }
    job = Job.from_json(row)
    assert (job.id, job.status, job.cost_estimate, job.actual_cost, job.request_id) == ("j1", "completed", 5, 3, "r1")
    assert job.updated_at is None and job.created_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(TypeError):
        job.metadata["x"] = 1  # type: ignore[index]
    assert job.to_json()["metadata"] == {"description": "Render", "request_id": "r1", "sizes": [1, 2]}
    assert Job.from_json(job.to_json()) == job


def test_job_list_skips_unreadable_rows_and_rejects_a_non_list() -> None:
    parsed = jobs_from_json({"jobs": [{"id": "a", "status": "started"}, {"status": "started"}, "x"]})
    assert [j.id for j in parsed] == ["a"]
    assert jobs_from_json([{"job_id": "b", "status": "failed"}])[0].id == "b"
    with pytest.raises(PayloadError):
        jobs_from_json({"jobs": {}})


def test_created_and_settled_jobs() -> None:
    assert CreatedJob.from_json({"job_id": "j"}) == CreatedJob("j", None, None)
    assert CreatedJob.from_json({"job_id": "j", "status": "started", "credits": 4}) == CreatedJob("j", "started", 4)
    with pytest.raises(PayloadError, match="job_id"):
        CreatedJob.from_json({"id": ""})
    assert SettledJob.from_json({"ok": True}, job_id="j", status="completed", actual_cost=3) == SettledJob(
        "j", "completed", 3, None
    )
    nested = SettledJob.from_json({"job": {"status": "completed", "actual_cost": 4}, "credits": 9}, job_id="j", status="x", actual_cost=3)
    assert nested == SettledJob("j", "completed", 4, 9)
    assert SettledJob.from_json(None, job_id="j", status="failed", actual_cost=None).status == "failed"


def test_secrets_never_in_reprs() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.secret.sig"
    assert token not in repr(SessionToken.from_json({"token": token}))
    start = DeviceStart.from_json(
        {"device_code": "dev-secret", "user_code": "ABCD-1234", "verification_uri": "https://a/device", "interval": 0}
    )
    assert "dev-secret" not in repr(start) and "ABCD-1234" in repr(start)
    assert start.interval == 1 and start.expires_in == 900
    assert "pat-secret" not in repr(DevicePoll("approved", "pat-secret"))


def _poll(status: int, body: Any = None) -> DevicePoll:
    content = b"" if body is None else json.dumps(body).encode()
    call = device_poll("code")
    from focus_middleware.api_contract import interpret

    return interpret(call, Reply(status, {}, content), base_url="http://f", now=0.0)


@pytest.mark.parametrize("error", ["slow_down", "expired_token", "access_denied", "invalid_grant"])
def test_device_poll_errors_are_values(error: str) -> None:
    poll = _poll(400, {"error": error})
    assert poll.status == error and poll.token is None and poll.done is (error != "slow_down")


def test_device_poll_pending_and_approved() -> None:
    assert _poll(202) == DevicePoll("pending") and not DevicePoll("pending").done
    assert _poll(400, {"error": "authorization_pending"}).status == "pending"
    approved = _poll(200, {"token": "focus_pat_x"})
    assert approved.status == "approved" and approved.token == "focus_pat_x" and approved.done
    assert DevicePoll.is_status("slow_down") and not DevicePoll.is_status("nope")


def test_device_poll_unknown_400_is_an_api_error() -> None:
    with pytest.raises(FocusAPIError) as info:
        _poll(400, {"error": "weird"})
    assert info.value.status == 400
    with pytest.raises(FocusAPIError):
        _poll(200, {"no": "token"})
