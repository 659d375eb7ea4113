"""Releasing stale reservations, as the service does after 24 hours.

A job still ``started`` after ``max_age`` seconds of the emulator's clock is failed with
a refund. Rather than a timer thread, the sweep runs when someone looks: before a request
is handled and before the Python API reads jobs or balances. Nobody can observe the
difference, and a test moves a FakeClock past the age without sleeping. Sweeps are
spaced (at most one per ``max_age / 100``, capped at a minute) so the hot path stays a
clock read.
"""

from __future__ import annotations

import threading

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from focus_middleware.clock import Clock
from focus_middleware.testing.store import Store


class StaleJobSweeper:
    def __init__(self, store: Store, clock: Clock, max_age: float) -> None:
        self._store = store
        self._clock = clock
        self.max_age = max_age
        self._spacing = min(60.0, max_age / 100)
        self._next = float("-inf")
        self._lock = threading.Lock()

    def due(self) -> bool:
        return self._clock.time() >= self._next

    def sweep(self) -> int:
        """Release what is stale now, if a sweep is due; how many jobs were released."""
        with self._lock:
            now = self._clock.time()
            if now < self._next:
                return 0
            self._next = now + self._spacing
        return self._store.release_stale(self.max_age)


class SweepMiddleware:
    """Runs a due sweep (in a worker thread: it is SQLite) before the request."""

    def __init__(self, app: ASGIApp, sweeper: StaleJobSweeper) -> None:
        self.app = app
        self.sweeper = sweeper

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.sweeper.due():
            await anyio.to_thread.run_sync(self.sweeper.sweep)
        await self.app(scope, receive, send)
