"""Work that must run to its end even when the request that started it is cancelled.

``anyio.CancelScope(shield=True)`` holds off anyio's own cancellations (a task group being
cancelled, a deadline), but on asyncio it does not stop a native ``task.cancel()``: an
``asyncio.timeout`` or ``wait_for`` around the app, a server's forced shutdown. A refund cut
short that way is neither delivered nor kept. So on asyncio the work runs in a task of its
own: a cancelled caller only stops waiting for it, and the work finishes in the background
(its task is referenced until then, as asyncio requires). Elsewhere (trio) anyio's shield is
the whole story and the work runs inline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

import anyio

T = TypeVar("T")

_RUNNING: set[asyncio.Task[Any]] = set()


class Shielded(Generic[T]):
    """Start ``coro`` now; :meth:`result` waits for it, as often as asked.

    Keep the object when a cancelled caller's cleanup must still learn the outcome (a
    reservation that lands after the request was cancelled must be refunded).
    """

    __slots__ = ("_task", "_coro", "_done", "_value", "_error")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._task: asyncio.Task[T] | None = None
        self._coro: Coroutine[Any, Any, T] | None = None
        self._done = False
        self._value: T | None = None
        self._error: Exception | None = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._coro = coro
            return
        task = loop.create_task(coro)
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)
        self._task = task

    @property
    def task(self) -> asyncio.Task[T] | None:
        """The work's own task (asyncio), for a shutdown that must wait for it."""
        return self._task

    async def result(self) -> T:
        """The work's result (or its exception), shielded from the caller's cancellation."""
        with anyio.CancelScope(shield=True):
            if self._task is not None:
                self._value = await asyncio.shield(self._task)
            elif not self._done:
                coro, self._coro = self._coro, None
                assert coro is not None
                try:
                    self._value = await coro
                except Exception as exc:
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # T itself may include None


async def shielded(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end whoever cancels the caller; see the module docstring."""
    return await Shielded(coro).result()


__all__ = ["Shielded", "shielded"]
