"""Timing helpers shared by the benchmarks: best-of-N per-call cost, and a table."""

from __future__ import annotations

import timeit
from collections.abc import Callable


def per_call(fn: Callable[[], object], *, number: int = 2000, repeat: int = 7) -> float:
    """Seconds per call, the best of ``repeat`` runs (the least disturbed by the machine)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def table(title: str, rows: list[tuple[str, float, float]], extra: list[str] | None = None) -> str:
    out = [title, f"{'case':<44}{'per call':>12}{'ratio':>10}"]
    for name, seconds, baseline in rows:
        out.append(f"{name:<44}{seconds * 1e6:>10.2f}us{seconds / baseline:>9.1f}x")
    out.extend(extra or [])
    return "\n".join(out)
