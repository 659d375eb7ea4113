"""A failed-attempt limiter: wrong device codes, counted per key in a sliding window.

User codes are short (8 letters from 20, about 2^34.6) so that people can type them;
guessing is made hopeless by limiting wrong entries per sign-in session and per client
address. Time is the emulator's clock, so a test moves past the window without sleeping.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable

from focus_middleware.clock import Clock


class AttemptLimiter:
    """At most ``limit`` failures per key within ``window`` seconds."""

    def __init__(self, clock: Clock, limit: int = 5, window: float = 60.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self._clock = clock
        self._limit = limit
        self._window = window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Whole seconds until every key may try again, or None if none is blocked."""
        now = self._clock.time()
        waits = []
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self._limit:
                    waits.append(times[-self._limit] + self._window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def fail(self, keys: Iterable[str]) -> None:
        now = self._clock.time()
        with self._lock:
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)
