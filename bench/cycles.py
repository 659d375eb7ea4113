"""``python -m bench.cycles``: what the cyclic garbage collector finds per request in each of
issue 22's hot-path cases (the same batches as ``bench/hot_path.py``).

A request that leaves a reference cycle behind is freed only when the collector runs, and
every object it leaves counts towards the next collection: the figures the goals report
measures with the collector off still pay for the memory. Each case is warmed, then run
with the collector off; ``gc.collect()`` then counts what those requests left unreachable.
Compare a case with its bare app: an app may make cycles of its own (a Werkzeug ``Request``
and its environ point at each other), and Focus should add none; an environ in such a cycle
takes the WSGI context it holds along to the collector (one object more).
"""

from __future__ import annotations

import gc
from contextlib import ExitStack

from bench import hot_path
from bench.env import bench_env
from bench.timing import Batch

WARM = 50
COUNTED = 100


def unreachable_per_request(batch: Batch, requests: int = COUNTED) -> float:
    """Objects the collector finds unreachable per request, once ``batch`` is warm."""
    batch(WARM)
    gc.collect()
    gc.disable()
    try:
        batch(requests)
        return gc.collect() / requests
    finally:
        gc.enable()


def run() -> str:
    with bench_env() as env, ExitStack() as stack:
        batches = hot_path.goal_batches(env, stack)
        rows = [f"{name:<30}{unreachable_per_request(batch):>8.1f}" for name, batch in batches.items()]
    return "\n".join([f"unreachable objects per request (bench/cycles.py, gc off over {COUNTED} warm requests)",
                      f"{'case':<30}{'objects':>8}", *rows])


if __name__ == "__main__":
    print(run())
