"""Time as a dependency.

Tokens expire, caches age and reservations go stale; tests must move time forward
without sleeping. Everything in the core and the emulator that asks "what time is it"
asks a :class:`Clock`, which defaults to the system's.
"""

from __future__ import annotations

import threading
import time as _time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock seconds since the epoch (JWT time) and a monotonic reading (TTLs)."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock: the ``time`` module's own functions, so that reading it costs no
    call of ours (every request reads it)."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)


class FakeClock:
    """A clock that only moves when told to; safe to share between threads.

    Both readings advance together, so a TTL and a JWT ``exp`` expire at the same moment.
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._wall = _time.time() if start is None else start
        self._mono = 1_000_000.0

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._wall += seconds
            self._mono += seconds


SYSTEM_CLOCK = SystemClock()
