"""Coalescing concurrent calls: one upstream call per key, however many callers wait.

When a popular token's cache entry expires, every request in flight for it misses at once;
without coalescing each would call Focus (a thundering herd the service would rate-limit).
:class:`SingleFlight` (threads) and :class:`AsyncSingleFlight` (asyncio, or any anyio
backend) run the function once per key while a call is in flight; every concurrent caller
gets that call's result or its exception. Nothing is remembered afterwards: the next call
after completion runs again (caching is the cache's job, not this one's).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

import anyio

T = TypeVar("T")


class _Call(Generic[T]):
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class SingleFlight:
    """Thread single flight. ``do(key, fn)`` runs ``fn()`` unless a call for ``key`` is
    already running, in which case it waits for that call and shares its outcome."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._calls: dict[Hashable, _Call[Any]] = {}

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        with self._mutex:
            call: _Call[T] | None = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.value  # type: ignore[return-value]
        try:
            call.value = fn()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            # Forget the call before waking the waiters: a caller arriving from now on
            # starts a fresh call instead of reading a finished one.
            with self._mutex:
                del self._calls[key]
            call.done.set()
        return call.value

    def in_flight(self, key: Hashable) -> bool:
        with self._mutex:
            return key in self._calls


class _AsyncCall(Generic[T]):
    __slots__ = ("abandoned", "done", "error", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: T | None = None
        self.error: BaseException | None = None
        self.abandoned = False


class AsyncSingleFlight:
    """Task single flight, for one event loop. ``await do(key, fn)`` awaits ``fn()`` unless
    a call for ``key`` is already in flight, then shares its outcome.

    The leader runs the call in its own task, so it stays subject to that task's
    cancellation. If the leader is cancelled (a client went away), the call is abandoned
    rather than reported as an error: one of the waiters takes over and calls again, so no
    request fails because another one was cancelled.
    """

    def __init__(self) -> None:
        self._calls: dict[Hashable, _AsyncCall[Any]] = {}

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        while True:
            call: _AsyncCall[T] | None = self._calls.get(key)
            if call is None:
                return await self._lead(key, fn)
            await call.done.wait()
            if call.abandoned:
                continue
            if call.error is not None:
                raise call.error
            return call.value  # type: ignore[return-value]

    async def _lead(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        call: _AsyncCall[T] = _AsyncCall()
        self._calls[key] = call
        try:
            value = await fn()
        except Exception as exc:
            call.error = exc
            raise
        except BaseException:
            # Cancellation (or KeyboardInterrupt/SystemExit): not the call's answer.
            call.abandoned = True
            raise
        else:
            call.value = value
            return value
        finally:
            if self._calls.get(key) is call:
                del self._calls[key]
            call.done.set()

    def in_flight(self, key: Hashable) -> bool:
        return key in self._calls


__all__ = ["AsyncSingleFlight", "SingleFlight"]
