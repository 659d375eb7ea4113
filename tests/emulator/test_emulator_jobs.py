"""Jobs: reserve, settle (complete or fail), list; settling is final and owned."""

from __future__ import annotations

from typing import TYPE_CHECKING

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

if TYPE_CHECKING:
    from conftest import Api


def kinds(emu: FocusEmulator, user: EmulatedUser) -> list[tuple[str, int]]:
    return [(row["kind"], row["amount"]) for row in emu.ledger(user)][1:]  # after the opening


def test_create_reserves_the_estimate(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    response = api.create_job(pat, cost=30, metadata={"description": "a render", "request_id": "r1"})
    assert response.status_code == 200
    body = response.json()
    assert body == {"job_id": body["job_id"], "status": "started", "credits": 70}
    assert focus_user.credits == 70
    assert kinds(focus_emulator, focus_user) == [("reserve", -30)]
    (job,) = api.jobs(pat).json()["jobs"]
    assert job["id"] == body["job_id"] and job["status"] == "started"
    assert job["app"] == "video" and job["action"] == "render"
    assert job["cost_estimate"] == 30 and job["actual_cost"] is None
    assert job["metadata"] == {"description": "a render", "request_id": "r1"}
    assert job["created_at"].endswith("Z") and job["updated_at"].endswith("Z")


def test_insufficient_credits_is_402_and_moves_nothing(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str
) -> None:
    response = api.create_job(pat, cost=101)
    assert response.status_code == 402
    assert response.json()["error"] == "insufficient_credits"
    assert response.json()["required"] == 101 and response.json()["available"] == 100
    assert focus_user.credits == 100
    assert kinds(focus_emulator, focus_user) == []
    assert focus_emulator.jobs(focus_user) == []
    assert api.create_job(pat, cost=100).status_code == 200  # exactly all of it


def test_complete_refunds_the_unused_reserve(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=10)
    response = api.complete(pat, job, 4)
    assert response.status_code == 200
    assert response.json() == {"job_id": job, "status": "completed", "actual_cost": 4, "credits": 96}
    assert kinds(focus_emulator, focus_user) == [("reserve", -10), ("settle", 6)]


def test_complete_charges_an_overage_in_full_even_below_zero(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str
) -> None:
    job = api.start(pat, cost=90)
    assert api.complete(pat, job, 150).json()["credits"] == -50
    assert focus_user.credits == -50
    assert kinds(focus_emulator, focus_user) == [("reserve", -90), ("settle", -60)]
    refused = api.create_job(pat, cost=0)
    assert refused.status_code == 402 and refused.json()["available"] == -50
    focus_emulator.add_credits(focus_user, 60)
    assert api.create_job(pat, cost=10).status_code == 200


def test_exact_completion_writes_no_settle_row(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=10)
    assert api.complete(pat, job, 10).json()["credits"] == 90
    assert kinds(focus_emulator, focus_user) == [("reserve", -10)]


def test_fail_refunds_by_default(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=10)
    response = api.fail(pat, job)
    assert response.json() == {"job_id": job, "status": "failed", "refunded": True, "credits": 100}
    assert kinds(focus_emulator, focus_user) == [("reserve", -10), ("refund", 10)]
    (listed,) = focus_emulator.jobs(focus_user, status="failed")
    assert listed["actual_cost"] == 0


def test_fail_without_refund_keeps_the_reserve(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=10)
    assert api.fail(pat, job, refund=False).json()["credits"] == 90
    assert kinds(focus_emulator, focus_user) == [("reserve", -10)]
    assert focus_emulator.jobs(focus_user)[0]["actual_cost"] == 10


def test_settling_is_final_and_repeatable(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=10)
    first = api.complete(pat, job, 4, metadata={"previewUrl": "u"})
    api.start(pat, cost=20)  # the balance moves on
    again = api.complete(focus_user.session_jwt(), job, 4, metadata={"previewUrl": "u"})
    assert again.status_code == 200 and again.json() == first.json()
    for response in (
        api.complete(pat, job, 5, metadata={"previewUrl": "u"}),
        api.complete(pat, job, 4),
        api.fail(pat, job),
    ):
        assert response.status_code == 409
        assert response.json()["error"] == "job_already_settled"
    assert kinds(focus_emulator, focus_user) == [("reserve", -10), ("settle", 6), ("reserve", -20)]


def test_a_failed_job_cannot_be_completed(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=10)
    assert api.fail(pat, job, refund=True).status_code == 200
    assert api.fail(pat, job).status_code == 200  # refund defaults to true: same values
    assert api.fail(pat, job, refund=False).status_code == 409
    assert api.complete(pat, job, 0).status_code == 409
    assert focus_user.credits == 100


def test_another_accounts_job_is_not_found(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=10)
    stranger = focus_emulator.create_user(credits=50).pat()
    for response in (api.complete(stranger, job, 1), api.fail(stranger, job)):
        assert response.status_code == 404 and response.json()["error"] == "job_not_found"
    assert api.jobs(stranger).json() == {"jobs": []}
    assert focus_user.credits == 90
    for response in (api.complete(pat, "no-such-job", 1), api.fail(pat, "no-such-job")):
        assert response.status_code == 404


def test_complete_merges_metadata_new_keys_winning(api: Api, pat: str) -> None:
    job = api.start(pat, cost=1, metadata={"description": "render", "step": 1})
    api.complete(pat, job, 1, metadata={"step": 2, "previewUrl": "https://x/p.png"})
    (listed,) = api.jobs(pat).json()["jobs"]
    assert listed["metadata"] == {"description": "render", "step": 2, "previewUrl": "https://x/p.png"}
    assert listed["status"] == "completed" and listed["actual_cost"] == 1


def test_list_is_newest_first_and_filters(fake_api: Api, fake_emulator: FocusEmulator, clock: FakeClock) -> None:
    token = fake_emulator.create_user(credits=100).pat()
    ids = []
    for app in ("video", "audio", "video", "video"):
        ids.append(fake_api.start(token, cost=1, app=app))
        clock.advance(1)
    fake_api.complete(token, ids[0], 1)
    fake_api.fail(token, ids[1])
    listed = fake_api.jobs(token).json()["jobs"]
    assert [j["id"] for j in listed] == ids[::-1]
    assert [j["id"] for j in fake_api.jobs(token, app="video").json()["jobs"]] == [ids[3], ids[2], ids[0]]
    assert [j["id"] for j in fake_api.jobs(token, status="started").json()["jobs"]] == [ids[3], ids[2]]
    assert [j["id"] for j in fake_api.jobs(token, status="failed", app="audio").json()["jobs"]] == [ids[1]]
    assert [j["id"] for j in fake_api.jobs(token, limit=2).json()["jobs"]] == [ids[3], ids[2]]
    assert listed[-1]["updated_at"] > listed[-1]["created_at"]


def test_newest_first_holds_when_the_clock_stands_still(fake_api: Api, fake_emulator: FocusEmulator) -> None:
    token = fake_emulator.create_user(credits=10).pat()
    ids = [fake_api.start(token, cost=1) for _ in range(3)]
    assert [j["id"] for j in fake_api.jobs(token).json()["jobs"]] == ids[::-1]


def test_zero_cost_jobs_are_allowed(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str) -> None:
    job = api.start(pat, cost=0)
    assert api.complete(pat, job, 2).json()["credits"] == 98
    assert kinds(focus_emulator, focus_user) == [("settle", -2)]


def test_unknown_apps_are_created_on_first_use_without_a_grant(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, pat: str
) -> None:
    api.start(pat, cost=1, app="brand-new")
    assert focus_user.credits == 99  # a job does not grant starter credits; the wallet does
    assert api.wallet(pat, app="brand-new").json()["account"]["credits"] == 119


def test_stale_reservations_are_released(fake_api: Api, fake_emulator: FocusEmulator, clock: FakeClock) -> None:
    user = fake_emulator.create_user(credits=10)
    token = user.pat()
    old = fake_api.start(token, cost=5)
    clock.advance(3600)
    fresh = fake_api.start(token, cost=3)
    assert fake_emulator.release_stale_jobs(max_age=1800) == 1
    assert user.credits == 7
    statuses = {j["id"]: j["status"] for j in fake_emulator.jobs(user)}
    assert statuses == {old: "failed", fresh: "started"}
