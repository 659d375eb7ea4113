"""``make bench``: issue 22's report in one run.

Sections: the hot path of every adapter against its bare app in interleaved rounds (with
the minimal sketch and fastapi-clerk-auth beside Focus), where the Starlette hot path's
microseconds go, bytes per cached token, and uvicorn under wrk. ``--detail`` adds the
older per-module tables (resolver, events, each framework's other cases, many processes
with Redis).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

from bench import (
    asgi_bench,
    cost_profile,
    django_bench,
    events_bench,
    fastapi_bench,
    hot_path,
    memory_bench,
    multiprocess_bench,
    resolver_bench,
    wrk_bench,
    wsgi_bench,
)
from bench.goals import MEMORY_TOKEN_COUNTS
from bench.timing import Rounds

SECTIONS = ("hot", "profile", "memory", "wrk")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter rounds, 10,000 tokens only, one short wrk run each (about a minute)")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run this section (repeatable)")
    parser.add_argument("--trace-all-memory", action="store_true",
                        help="tracemalloc at 100,000 tokens too (minutes; RSS growth otherwise)")
    parser.add_argument("--detail", action="store_true", help="also the per-module tables (several minutes more)")
    return parser.parse_args(argv)


def _sections(args: argparse.Namespace) -> list[tuple[str, Callable[[], str]]]:
    quick = args.quick
    how = Rounds(rounds=3, repeat=3, batch_seconds=0.02) if quick else Rounds()
    counts = MEMORY_TOKEN_COUNTS[:1] if quick else MEMORY_TOKEN_COUNTS
    traced = counts if args.trace_all_memory else counts[:1]
    chosen = {
        "hot": lambda: hot_path.run(how),
        "profile": lambda: cost_profile.run(how),
        "memory": lambda: memory_bench.run(() if quick else counts, traced),
        "wrk": lambda: wrk_bench.run(rounds=1, seconds=3) if quick else wrk_bench.run(),
    }
    sections = [(name, chosen[name]) for name in SECTIONS if not args.only or name in args.only]
    if args.detail:
        sections += [(module.__name__, module.run) for module in (
            resolver_bench, events_bench, asgi_bench, fastapi_bench, wsgi_bench, django_bench, multiprocess_bench)]
    return sections


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    load = os.getloadavg()[0]
    print(f"focus-middleware bench (issue 22): Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"load average {load:.2f} at start{', --quick' if args.quick else ''}")
    print("Wall-clock figures: another busy process on the machine moves them; compare ratios within a run.\n")
    started = time.perf_counter()
    for name, section in _sections(args):
        began = time.perf_counter()
        print(section())
        print(f"  ({name}: {time.perf_counter() - began:.0f} s)\n", flush=True)
    print(f"bench done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
