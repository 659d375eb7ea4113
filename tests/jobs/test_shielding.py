"""Shielded work survives a native asyncio cancellation of its caller (anyio's shield alone
does not), and reports its outcome to whoever asks later."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from focus_middleware.shielding import Shielded, shielded


def test_a_native_cancel_stops_the_wait_not_the_work() -> None:
    done: list[str] = []

    async def work() -> str:
        await asyncio.sleep(0.1)
        done.append("work")
        return "settled"

    async def caller(handle: list[Shielded[str]]) -> None:
        handle.append(Shielded(work()))
        await handle[0].result()

    async def main() -> None:
        handle: list[Shielded[str]] = []
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(caller(handle), 0.02)  # task.cancel(), as asyncio.timeout does
        assert done == []
        assert await handle[0].result() == "settled"  # the cleanup still learns the outcome
        assert done == ["work"]
        assert await shielded(asyncio.sleep(0, "x")) == "x"

    asyncio.run(main())


def test_inline_when_started_outside_a_loop_and_the_outcome_is_kept() -> None:
    async def fails() -> int:
        raise ValueError("refused")

    async def works() -> int:
        await anyio.sleep(0)
        return 3

    ok, bad = Shielded(works()), Shielded(fails())  # no running loop: run inline when awaited

    async def main() -> None:
        assert await ok.result() == 3 and await ok.result() == 3
        for _ in range(2):
            with pytest.raises(ValueError):
                await bad.result()

    anyio.run(main)
