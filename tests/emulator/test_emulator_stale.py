"""Stale reservations are failed with refund by themselves, by the emulator's clock."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.testing import FocusEmulator


@pytest.fixture
def hour_emu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(clock=clock, stale_job_age=3600) as emu:
        yield emu
        emu.check_books()


def start(emu: FocusEmulator, token: str, cost: int) -> str:
    response = httpx.post(
        emu.url + "/api/jobs",
        json={"app": "video", "action": "render", "cost_estimate": cost},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    job_id: str = response.json()["job_id"]
    return job_id


def wallet(emu: FocusEmulator, token: str) -> int:
    response = httpx.get(emu.url + "/api/wallet", headers={"Authorization": f"Bearer {token}"})
    credits: int = response.json()["account"]["credits"]
    return credits


def test_a_request_after_the_age_releases_the_reservation(hour_emu: FocusEmulator, clock: FakeClock) -> None:
    user = hour_emu.create_user(credits=10)
    pat = user.pat()
    old = start(hour_emu, pat, 6)
    clock.advance(1800)
    fresh = start(hour_emu, pat, 3)
    clock.advance(1800)
    assert wallet(hour_emu, pat) == 1 + 6  # the first is an hour old: refunded before answering
    rows = [(r["kind"], r["amount"], r["job_id"]) for r in hour_emu.ledger(user)]
    assert rows == [("adjust", 10, None), ("reserve", -6, old), ("reserve", -3, fresh), ("refund", 6, old)]
    listed = httpx.get(hour_emu.url + "/api/jobs", headers={"Authorization": f"Bearer {pat}"}).json()["jobs"]
    assert {j["id"]: j["status"] for j in listed} == {old: "failed", fresh: "started"}
    settle = httpx.post(
        hour_emu.url + "/api/jobs/complete", json={"job_id": old, "actual_cost": 6},
        headers={"Authorization": f"Bearer {pat}"},
    )
    assert settle.status_code == 409  # released is final, like any settlement


def test_the_python_api_sees_the_release_too(hour_emu: FocusEmulator, clock: FakeClock) -> None:
    user = hour_emu.create_user(credits=5)
    job = start(hour_emu, user.pat(), 5)
    assert user.credits == 0
    clock.advance(3600)
    assert user.credits == 5
    assert [(r["kind"], r["amount"]) for r in hour_emu.ledger(user) if r["job_id"] == job] == [
        ("reserve", -5), ("refund", 5)
    ]


def test_the_default_age_is_24_hours(fake_emulator: FocusEmulator, clock: FakeClock) -> None:
    user = fake_emulator.create_user(credits=5)
    pat = user.pat()
    job = start(fake_emulator, pat, 5)
    clock.advance(24 * 3600 - 1)
    assert wallet(fake_emulator, pat) == 0
    clock.advance(61)
    assert wallet(fake_emulator, pat) == 5
    assert fake_emulator.jobs(user)[0]["id"] == job and fake_emulator.jobs(user)[0]["status"] == "failed"


def test_settled_jobs_are_never_touched(hour_emu: FocusEmulator, clock: FakeClock) -> None:
    user = hour_emu.create_user(credits=10)
    pat = user.pat()
    job = start(hour_emu, pat, 4)
    httpx.post(hour_emu.url + "/api/jobs/complete", json={"job_id": job, "actual_cost": 2},
               headers={"Authorization": f"Bearer {pat}"})
    clock.advance(7200)
    assert wallet(hour_emu, pat) == 8
    assert [r["kind"] for r in hour_emu.ledger(user)] == ["adjust", "reserve", "settle"]
