"""Single flight: 200 concurrent callers, one upstream call — threads and asyncio tasks,
against the emulator's call counter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import pytest

from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.models import Wallet
from focus_middleware.singleflight import AsyncSingleFlight, SingleFlight
from focus_middleware.testing import EmulatedUser, FocusEmulator

CALLERS = 200


def _run_threads(n: int, target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


def test_200_threads_make_one_upstream_call(emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.set_latency(0.2, "GET /api/wallet")
    flight = SingleFlight()
    results: list[Wallet | BaseException] = []
    arrived = 0
    all_arrived = threading.Event()
    lock = threading.Lock()

    def fetch() -> Wallet:
        # The call stays in flight until every caller has reached ``do``, however slowly
        # the machine starts threads.
        all_arrived.wait(10)
        time.sleep(0.05)
        return client.wallet(token=pat)

    with FocusClient(emu.url, timeout=5) as client:

        def caller(_: int) -> None:
            nonlocal arrived
            with lock:
                arrived += 1
                if arrived == CALLERS:
                    all_arrived.set()
            try:
                results.append(flight.do(("wallet", pat), fetch))
            except BaseException as exc:
                results.append(exc)

        _run_threads(CALLERS, caller)
    assert emu.calls("GET /api/wallet", credential=pat) == 1
    assert len(results) == CALLERS and all(isinstance(r, Wallet) and r.credits == 50 for r in results)
    assert not flight.in_flight(("wallet", pat))


@pytest.mark.anyio
async def test_200_tasks_make_one_upstream_call(emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    emu.set_latency(0.3, "GET /api/wallet")
    flight = AsyncSingleFlight()
    results: list[Wallet] = []
    async with AsyncFocusClient(emu.url, timeout=5) as client:

        async def caller() -> None:
            results.append(await flight.do(("wallet", pat), lambda: client.wallet(token=pat)))

        async with anyio.create_task_group() as tg:
            for _ in range(CALLERS):
                tg.start_soon(caller)
    assert emu.calls("GET /api/wallet", credential=pat) == 1
    assert len(results) == CALLERS and all(r.credits == 50 for r in results)


def test_every_waiter_gets_the_exception_and_the_next_call_runs_again() -> None:
    flight = SingleFlight()
    release = threading.Event()
    calls = 0

    def boom() -> int:
        nonlocal calls
        calls += 1
        release.wait(5)
        raise RuntimeError("upstream down")

    errors: list[BaseException] = []

    def caller(_: int) -> None:
        try:
            flight.do("k", boom)
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in threads:
        t.join(5)
    assert calls == 1 and len(errors) == 20 and len({id(e) for e in errors}) == 1
    assert flight.do("k", lambda: 42) == 42  # nothing remembered once the call is over


def test_keys_are_independent() -> None:
    flight = SingleFlight()
    assert flight.do("a", lambda: 1) == 1
    assert flight.do("b", lambda: 2) == 2
    assert flight.do("a", lambda: flight.do("b", lambda: 3)) == 3  # a call may use another key


@pytest.mark.anyio
async def test_async_exception_is_shared_then_forgotten() -> None:
    flight = AsyncSingleFlight()
    calls = 0

    async def boom() -> int:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.05)
        raise ValueError("nope")

    errors: list[BaseException] = []

    async def caller() -> None:
        try:
            await flight.do("k", boom)
        except ValueError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(caller)
    assert calls == 1 and len(errors) == 50

    async def fine() -> int:
        return 7

    assert await flight.do("k", fine) == 7 and not flight.in_flight("k")


@pytest.mark.anyio
async def test_a_cancelled_leader_hands_over_to_a_waiter() -> None:
    flight = AsyncSingleFlight()
    calls = 0

    async def slow() -> int:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.2)
        return calls

    results: list[int] = []

    async def follower() -> None:
        results.append(await flight.do("k", slow))

    leader_scope = anyio.CancelScope()

    async def leader() -> None:
        with leader_scope:
            await flight.do("k", slow)

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await anyio.sleep(0.05)
        tg.start_soon(follower)
        await anyio.sleep(0.05)
        leader_scope.cancel()
    # The follower was not failed by the leader's cancellation: it called again.
    assert results == [2] and calls == 2

