"""Issue 22's hot-path goals, in-process: every adapter against its bare app, the minimal
sketch as the reference, fastapi-clerk-auth on the same FastAPI app, all measured in the
same interleaved rounds (``bench/timing.py``).

A row gives the medians over rounds of the bare app's and the case's time per request,
the median of the per-round ratios (and their range, which says how noisy the run was)
and the median of the per-round differences: the microseconds the layer adds.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

from bench import asgi_bench, django_bench, fastapi_bench, wsgi_bench
from bench.env import BenchEnv, bench_env
from bench.fastapi_bench import CLERK_INSTALL
from bench.goals import (
    CLERK_CASE,
    CLERK_COMPARED,
    CLERK_MIN_FACTOR,
    FLOORS,
    RATIO_GOALS,
    SKETCH_CASE,
    SKETCH_COMPARED,
    SKETCH_ISSUE_RANGE,
    mark,
)
from bench.timing import Batch, Paired, Rounds, interleaved


def goal_batches(env: BenchEnv, stack: ExitStack) -> dict[str, Batch]:
    """Every adapter's goal cases and bare apps, warmed (closed with ``stack``)."""
    loop = asyncio.new_event_loop()
    stack.callback(loop.close)
    batches: dict[str, Batch] = {}
    batches.update(asgi_bench.goal_batches(env, loop, stack))
    batches.update(fastapi_bench.goal_batches(env, loop, stack))
    batches.update(wsgi_bench.goal_batches(env, stack))
    batches.update(django_bench.goal_batches(env, stack))
    return batches


def _measure(how: Rounds) -> dict[str, list[float]]:
    with bench_env() as env, ExitStack() as stack:
        return interleaved(goal_batches(env, stack), how)


def _row(label: str, paired: Paired, goal: str) -> str:
    return (f"{label:<38}{paired.baseline * 1e6:>9.1f}{paired.case * 1e6:>9.1f}"
            f"{paired.ratio:>8.2f}x {paired.ratio_low:>5.2f}–{paired.ratio_high:<5.2f}"
            f"{paired.added * 1e6:>+9.1f}   {goal}")


def run(how: Rounds) -> str:
    samples = _measure(how)
    out = [f"hot path, in-process (bench/hot_path.py): {how.rounds} interleaved rounds, per round the best of "
           f"{how.repeat} batches of ~{how.batch_seconds * 1000:.0f} ms; medians over rounds",
           f"{'case':<38}{'bare µs':>9}{'case µs':>9}{'ratio':>9} {'(range)':<11}{'added µs':>9}   goal"]
    results: dict[str, Paired] = {}
    for goal in RATIO_GOALS:
        paired = results[goal.case] = Paired.of(samples[goal.case], samples[goal.baseline])
        out.append(_row(goal.label, paired, f"≤ {goal.max_ratio:.2f}x {mark(paired.ratio <= goal.max_ratio)}"))

    sketch = Paired.of(samples[SKETCH_CASE], samples[RATIO_GOALS[0].baseline])
    low, high = SKETCH_ISSUE_RANGE
    out.append(_row("reference: minimal sketch (bearer)", sketch, f"(issue measured {low}–{high}x)"))
    focus_added = results[SKETCH_COMPARED].added
    out.append(f"  Focus adds no more µs than the sketch (Starlette bearer): {focus_added * 1e6:+.1f} vs "
               f"{sketch.added * 1e6:+.1f} µs {mark(focus_added <= sketch.added)}")

    out.append("floors (bench/floors.py): the least any middleware adds that does no more than the issue requires")
    goals = {goal.case: goal for goal in RATIO_GOALS}
    for floor in FLOORS:
        goal = goals[floor.bounds]
        paired = Paired.of(samples[floor.case], samples[goal.baseline])
        beyond = results[floor.bounds].added - paired.added
        reach = "within reach" if paired.ratio <= goal.max_ratio else "out of reach"
        out.append(_row(floor.label, paired, f"goal ≤ {goal.max_ratio:.2f}x {reach}; Focus {beyond * 1e6:+.1f} µs beyond"))

    if CLERK_CASE in samples:
        clerk = Paired.of(samples[CLERK_CASE], samples["fastapi.noop"])
        out.append(_row("fastapi-clerk-auth, same FastAPI app", clerk, "(verifies the JWT every request)"))
        focus_added = results[CLERK_COMPARED].added
        factor = clerk.added / focus_added if focus_added > 0 else float("inf")
        out.append(f"  added µs side by side: Focus {focus_added * 1e6:+.1f}, fastapi-clerk-auth "
                   f"{clerk.added * 1e6:+.1f}: Focus adds {factor:.1f}x fewer "
                   f"(goal ≥ {CLERK_MIN_FACTOR:.0f}x) {mark(factor >= CLERK_MIN_FACTOR)}")
    else:
        out.append(f"  fastapi-clerk-auth: skipped, not installed ({CLERK_INSTALL})")
    return "\n".join(out)
