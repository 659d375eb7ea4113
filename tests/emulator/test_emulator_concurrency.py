"""The ledger under concurrency: many threads reserving and settling at once over HTTP.

The expected balances are computed only from what the server acknowledged, so the test
checks the books to the credit: nothing lost, nothing invented, no credit spent twice.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator

THREADS = 10
JOBS_PER_THREAD = 40  # 400 jobs in all
USERS = 4
OPENING = 250
TOP_UPS = 200  # of 5 credits: with the opening balances, less than 400 jobs cost


@dataclass
class Outcome:
    """What the server acknowledged, per user: net charges, top-ups, refusals."""

    charged: Counter[str] = field(default_factory=Counter)
    topped_up: Counter[str] = field(default_factory=Counter)
    acknowledged: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    settlements: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_jobs(
    emu: FocusEmulator,
    users: list[EmulatedUser],
    seed: int,
    start: threading.Barrier,
    outcome: Outcome,
    errors: list[BaseException],
) -> None:
    rng = random.Random(seed)
    try:
        with httpx.Client(base_url=emu.url, timeout=30) as client:
            start.wait()
            for _ in range(JOBS_PER_THREAD):
                run_one_job(client, rng, rng.choice(users), outcome)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)


def run_one_job(client: httpx.Client, rng: random.Random, user: EmulatedUser, outcome: Outcome) -> None:
    # Reserve with one credential, settle with another: any credential of the account may.
    pat, jwt = user.pat(), user.session_jwt()
    headers = {"Authorization": f"Bearer {rng.choice([pat, jwt])}"}
    cost = rng.randint(1, 20)
    body = {"app": "video", "action": "render", "cost_estimate": cost}
    reserved = client.post("/api/jobs", json=body, headers=headers)
    if reserved.status_code == 402:
        assert reserved.json()["required"] == cost
        with outcome.lock:
            outcome.refused += 1
        return
    assert reserved.status_code == 200, reserved.text
    assert reserved.json()["credits"] >= 0  # a reservation never dips below zero
    job_id = reserved.json()["job_id"]
    headers = {"Authorization": f"Bearer {rng.choice([pat, jwt])}"}
    roll = rng.random()
    if roll < 0.6:
        actual = rng.randint(0, cost + 10)  # some under, some over the estimate
        settled = client.post("/api/jobs/complete", json={"job_id": job_id, "actual_cost": actual}, headers=headers)
        kind, charge = "completed", actual
    elif roll < 0.85:
        settled = client.post("/api/jobs/fail", json={"job_id": job_id}, headers=headers)
        kind, charge = "failed+refund", 0
    else:
        settled = client.post("/api/jobs/fail", json={"job_id": job_id, "refund": False}, headers=headers)
        kind, charge = "failed", cost
    assert settled.status_code == 200, settled.text
    with outcome.lock:
        outcome.acknowledged[user.account_id] += 1
        outcome.charged[user.account_id] += charge
        outcome.settlements[kind] += 1


def top_up(emu: FocusEmulator, users: list[EmulatedUser], done: threading.Event, outcome: Outcome) -> None:
    """Buy credits through the Python API while the HTTP traffic runs."""
    rng = random.Random(99)
    for _ in range(TOP_UPS):
        if done.wait(0.002):
            return
        user = rng.choice(users)
        emu.add_credits(user, 5)
        with outcome.lock:
            outcome.topped_up[user.account_id] += 5


def test_hundreds_of_jobs_at_once_balance_to_the_credit(focus_emulator: FocusEmulator) -> None:
    emu = focus_emulator
    users = [emu.create_user(credits=OPENING) for _ in range(USERS)]
    outcome, errors = Outcome(), []
    start, done = threading.Barrier(THREADS), threading.Event()
    workers = [
        threading.Thread(target=run_jobs, args=(emu, users, seed, start, outcome, errors))
        for seed in range(THREADS)
    ]
    buyer = threading.Thread(target=top_up, args=(emu, users, done, outcome))
    buyer.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    done.set()
    buyer.join()
    assert not errors, errors[0]

    assert sum(outcome.acknowledged.values()) + outcome.refused == THREADS * JOBS_PER_THREAD
    assert outcome.refused > 0 and min(outcome.settlements.values()) > 10  # a real mix
    for user in users:
        expected = OPENING + outcome.topped_up[user.account_id] - outcome.charged[user.account_id]
        assert user.credits == expected, user.clerk_id
        jobs = emu.jobs(user)
        assert len(jobs) == outcome.acknowledged[user.account_id]  # a 402 created nothing
        assert not [job for job in jobs if job["status"] == "started"]
        reserves = Counter(r["job_id"] for r in emu.ledger(user) if r["kind"] == "reserve")
        assert set(reserves.values()) <= {1}  # one reservation row per job, never two
    emu.check_books()
    print(
        f"\n{THREADS} threads, {THREADS * JOBS_PER_THREAD} jobs: {dict(outcome.settlements)},"
        f" {outcome.refused} refused (402), {sum(outcome.topped_up.values())} credits topped up"
    )


@pytest.fixture(params=["memory", "file"])
def any_store_emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FocusEmulator]:
    db = ":memory:" if request.param == "memory" else tmp_path / "emulator.db"
    with FocusEmulator(db=db) as emu:
        yield emu


def test_concurrent_reservations_never_spend_the_same_credit(any_store_emulator: FocusEmulator) -> None:
    emu = any_store_emulator
    user = emu.create_user(credits=150)
    token = user.pat()
    start = threading.Barrier(THREADS)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def reserve_many() -> None:
        with httpx.Client(base_url=emu.url, timeout=30) as client:
            start.wait()
            for _ in range(30):  # 300 attempts for 150 credits
                response = client.post(
                    "/api/jobs",
                    json={"app": "video", "action": "one", "cost_estimate": 1},
                    headers={"Authorization": f"Bearer {token}"},
                )
                with lock:
                    statuses[response.status_code] += 1

    threads = [threading.Thread(target=reserve_many) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == {200: 150, 402: 150}
    assert user.credits == 0
    assert len(emu.jobs(user, status="started")) == 150
    emu.check_books()
