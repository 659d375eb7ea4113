"""The core's shared cache over Django's ``CACHES``, so several Django processes share
token and wallet lookups.

``FOCUS = {"cache_alias": "default", ...}`` makes :class:`DjangoCache` over
``django.core.cache.caches["default"]`` the resolver's shared level (the core's
``cache_backend``): a PAT checked by one worker, or a wallet fetched by one, is read by the
others instead of asking Focus again. The in-process cache stays in front as a short-lived
first level (``l1_ttl``), so the hot path still touches no network.

What each backend gives:

- Values are the core's JSON-compatible dicts; Django pickles them. Keys are the core's
  (namespaced, hashes only, never a token) and ``KEY_PREFIX``/``VERSION`` apply as usual.
- Expiry: Django's timeouts are seconds; memcached reads 0 as "never", so a sub-second TTL
  is stored for one second instead (the core re-checks a session token's ``exp`` on read,
  so no token outlives its expiry through this).
- The cross-process lock is ``cache.add`` (set if absent) with the lease as its timeout:
  atomic on memcached, Redis and the database cache; best effort on the file-based cache,
  where two processes may both believe they hold it. A lost race costs one more upstream
  call, never a wrong answer. Release deletes the key only if it still holds our token.
- Django caches have no invalidation feed: after credits move, the shared entry is deleted
  at once, and another process's in-process copy lives at most ``l1_ttl`` more.
- A backend that fails (database down, memcached unreachable) raises
  :class:`~focus_middleware.cache.CacheUnavailable`; the resolver then carries on with its
  in-process cache and Focus, as if no shared level were configured.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches
from django.core.cache.backends.base import InvalidCacheBackendError

from focus_middleware.cache import CacheUnavailable, JSONValue
from focus_middleware.config import ConfigError

T = TypeVar("T")

_POLL = 0.02
_LOCK_PREFIX = "lock:"


def _timeout(ttl: float) -> float:
    # memcached stores 0 as "forever" and Django passes int() of the timeout to it.
    return ttl if ttl >= 1 else 1


def _guard(call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception as exc:
        raise CacheUnavailable(f"Django cache backend failed ({type(exc).__name__})") from None


async def _aguard(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except Exception as exc:
        raise CacheUnavailable(f"Django cache backend failed ({type(exc).__name__})") from None


class DjangoCache:
    """The core's :class:`~focus_middleware.cache.CacheBackend` over ``caches[alias]``.

    The backend object is looked up on each call (``caches`` is per thread in Django), so
    one instance serves every thread and the settings tests override.
    """

    def __init__(self, alias: str = "default") -> None:
        from django.conf import settings

        if not isinstance(alias, str) or alias not in settings.CACHES:
            raise ConfigError("cache_alias", f"names no entry of CACHES: {alias!r}")
        self.alias = alias

    @property
    def backend(self) -> BaseCache:
        try:
            return caches[self.alias]
        except InvalidCacheBackendError as exc:  # pragma: no cover - checked at construction
            raise CacheUnavailable(f"no Django cache {self.alias!r}") from exc

    def get(self, key: str) -> JSONValue | None:
        return _guard(lambda: self.backend.get(key))

    def set(self, key: str, value: JSONValue, ttl: float) -> None:
        if ttl <= 0 or value is None:
            self.delete(key)
            return
        _guard(lambda: self.backend.set(key, value, _timeout(ttl)))

    def delete(self, key: str) -> None:
        _guard(lambda: self.backend.delete(key))

    def lock(self, key: str, ttl: float) -> DjangoCacheLock:
        return DjangoCacheLock(self, key, ttl)

    def as_async(self) -> AsyncDjangoCache:
        """The same entries through Django's async cache methods (for an async resolver)."""
        return AsyncDjangoCache(self)

    def __repr__(self) -> str:
        return f"DjangoCache({self.alias!r})"


class DjangoCacheLock:
    """A lease on ``lock:<key>``, taken with ``add`` and given back only by its holder."""

    def __init__(self, cache: DjangoCache, key: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("a lock needs a ttl > 0")
        self._cache = cache
        self._key = _LOCK_PREFIX + key
        self.ttl = ttl
        self._token = uuid.uuid4().hex
        self._held = False

    def _try(self) -> bool:
        added = _guard(lambda: self._cache.backend.add(self._key, self._token, _timeout(self.ttl)))
        return bool(added)

    def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool:
        if self._try():
            self._held = True
            return True
        if not blocking:
            return False
        deadline = time.monotonic() + (self.ttl if timeout is None else timeout)
        while time.monotonic() < deadline:
            time.sleep(_POLL)
            if self._try():
                self._held = True
                return True
        return False

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        backend = self._cache.backend
        # Not atomic (Django has no compare-and-delete): a lease that ran out and was taken
        # over in between is deleted too, which costs the new holder's peers one more call.
        if _guard(lambda: backend.get(self._key)) == self._token:
            _guard(lambda: backend.delete(self._key))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class AsyncDjangoCache:
    """:class:`DjangoCache` behind the async interface (Django's ``aget``/``aset``/...)."""

    def __init__(self, cache: DjangoCache) -> None:
        self.sync = cache

    async def get(self, key: str) -> JSONValue | None:
        return await _aguard(lambda: self.sync.backend.aget(key))

    async def set(self, key: str, value: JSONValue, ttl: float) -> None:
        if ttl <= 0 or value is None:
            await self.delete(key)
            return
        await _aguard(lambda: self.sync.backend.aset(key, value, _timeout(ttl)))

    async def delete(self, key: str) -> None:
        await _aguard(lambda: self.sync.backend.adelete(key))

    def lock(self, key: str, ttl: float) -> AsyncDjangoCacheLock:
        return AsyncDjangoCacheLock(DjangoCacheLock(self.sync, key, ttl))


class AsyncDjangoCacheLock:
    """The lease of :class:`DjangoCacheLock`, polled without blocking the event loop."""

    def __init__(self, lock: DjangoCacheLock) -> None:
        self._lock = lock

    async def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool:
        try_once: Callable[..., Any] = sync_to_async(self._lock.acquire, thread_sensitive=False)
        if await try_once(blocking=False):
            return True
        if not blocking:
            return False
        deadline = time.monotonic() + (self._lock.ttl if timeout is None else timeout)
        while time.monotonic() < deadline:
            await asyncio.sleep(_POLL)
            if await try_once(blocking=False):
                return True
        return False

    async def release(self) -> None:
        await sync_to_async(self._lock.release, thread_sensitive=False)()

    async def __aenter__(self) -> bool:
        return await self.acquire()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.release()


__all__ = ["AsyncDjangoCache", "AsyncDjangoCacheLock", "DjangoCache", "DjangoCacheLock"]
