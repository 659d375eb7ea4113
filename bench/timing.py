"""Timing helpers shared by the benchmarks.

``per_call`` and ``table`` serve the detail tables (best-of-N per call, cases one after
the other). The goals report (issue 22) uses the rest: every case and its baseline are
measured alternately over several rounds, so a slow spell of a shared machine falls on
both sides of a ratio instead of on one.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import timeit
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import AnyStr

Batch = Callable[[int], float]
"""Runs ``number`` requests and returns the seconds they took."""


def per_call(fn: Callable[[], object], *, number: int = 2000, repeat: int = 7) -> float:
    """Seconds per call, the best of ``repeat`` runs (the least disturbed by the machine)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def table(title: str, rows: list[tuple[str, float, float]], extra: list[str] | None = None) -> str:
    out = [title, f"{'case':<44}{'per call':>12}{'ratio':>10}"]
    for name, seconds, baseline in rows:
        out.append(f"{name:<44}{seconds * 1e6:>10.2f}us{seconds / baseline:>9.1f}x")
    out.extend(extra or [])
    return "\n".join(out)


def as_parsed(value: AnyStr) -> AnyStr:
    """A new object equal to ``value``, as a server's parser makes one per request: its
    hash is not worked out yet. A ``bytes`` or ``str`` keeps its hash once computed, and
    code that hashes a header (Focus finds its remembered answers so) must not be timed on
    a hash worked out once for all requests. (``value + b""`` would be ``value`` itself.)"""
    empty = value[:0]
    return empty.join((value, empty))


# -- batches ------------------------------------------------------------------------------------


def sync_batch(call: Callable[[], object]) -> Batch:
    def batch(number: int) -> float:
        start = time.perf_counter()
        for _ in range(number):
            call()
        return time.perf_counter() - start

    return batch


def async_batch(loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[None]]) -> Batch:
    """Batches awaited inside ``loop``, already running: no loop start-up per request."""

    async def timed(number: int) -> float:
        start = time.perf_counter()
        for _ in range(number):
            await call()
        return time.perf_counter() - start

    return lambda number: loop.run_until_complete(timed(number))


# -- interleaved rounds -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rounds:
    """How the goals report measures: ``rounds`` passes over every case; in each, a case
    keeps the best of ``repeat`` batches lasting about ``batch_seconds``."""

    rounds: int = 5
    repeat: int = 5
    batch_seconds: float = 0.05


def _calibrate(batch: Batch, seconds: float) -> int:
    """Requests per batch so that one batch lasts about ``seconds``."""
    batch(20)  # anything still lazy is built now, not in the first timed batch
    number = 20
    while True:
        took = batch(number)
        if took >= seconds / 4 or number >= 1_000_000:
            return max(20, int(number * seconds / max(took, 1e-9)))
        number *= 4


def interleaved(batches: Mapping[str, Batch], how: Rounds) -> dict[str, list[float]]:
    """Seconds per request of every case in every round. Each round runs every case in
    turn, starting one case further on each time (no case always follows the same one);
    the garbage collector is off inside a batch, as ``timeit`` has it."""
    numbers = {name: _calibrate(batch, how.batch_seconds) for name, batch in batches.items()}
    names = list(batches)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(how.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            number = numbers[name]
            gc.collect()
            gc.disable()
            try:
                best = min(batches[name](number) for _ in range(how.repeat))
            finally:
                gc.enable()
            samples[name].append(best / number)
    return samples


@dataclass(frozen=True)
class Paired:
    """A case against its baseline over the same rounds (medians of the per-round figures)."""

    baseline: float
    case: float
    ratio: float
    ratio_low: float
    ratio_high: float
    added: float

    @classmethod
    def of(cls, case: list[float], baseline: list[float]) -> Paired:
        ratios = [c / b for c, b in zip(case, baseline, strict=True)]
        return cls(baseline=statistics.median(baseline), case=statistics.median(case),
                   ratio=statistics.median(ratios), ratio_low=min(ratios), ratio_high=max(ratios),
                   added=statistics.median([c - b for c, b in zip(case, baseline, strict=True)]))
