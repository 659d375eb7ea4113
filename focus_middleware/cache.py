"""The cache-backend interface and its in-process implementation.

One small interface (``docs/architecture.md``, "Caches"): ``get``, ``set`` with a TTL, ``delete``, and
a short ``lock`` for cross-process single flight, in a blocking and an async flavour. The
in-process :class:`MemoryCache` is the default; Django's ``CACHES`` and Redis implement the
same protocols later, so values are JSON-compatible (dicts, lists, strings, numbers, bools,
None) and a shared backend can serialise them. Treat values read from a cache as immutable:
the in-process backend returns the stored object itself, to keep the hot path free of copies.

Keys never hold raw tokens: build them with :func:`cache_key` / :func:`secret_key`, which
namespace every key and hash secrets with SHA-256.
"""

from __future__ import annotations


import inspect
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, TypeAlias, runtime_checkable
from urllib.parse import quote

import anyio

from focus_middleware.clock import SYSTEM_CLOCK, Clock
from focus_middleware.outcome import token_hash

JSONValue: TypeAlias = Any
"""A JSON-compatible value (dict/list/str/int/float/bool/None). Typed loosely on purpose:
a precise recursive alias makes every reader cast."""

KEY_PREFIX = "focus:v1"


class CacheUnavailable(Exception):
    """A shared backend could not be reached (refused, timed out, failing).

    Shared backends raise it from any operation, and from a lock's ``acquire``; the resolver
    then carries on with the in-process cache and the service, as if no shared backend were
    configured. It never means "miss" to anyone who would cache that answer. Its message
    names no key and no secret.
    """


# -- keys ---------------------------------------------------------------------------------------


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a secret: the only form in which a token may be a key or be logged."""
    return token_hash(secret)


def cache_key(namespace: str, kind: str, *parts: str) -> str:
    """``focus:v1:<namespace>:<kind>:<part>...`` with each part percent-quoted, so no part
    can forge a separator. Parts must be identifiers or hashes, never raw secrets (use
    :func:`secret_key` for those)."""
    return ":".join((KEY_PREFIX, quote(namespace, safe=""), quote(kind, safe=""), *(quote(p, safe="") for p in parts)))


def secret_key(namespace: str, kind: str, secret: str) -> str:
    """A key for something identified by a secret (a PAT, a session JWT): its hash."""
    return cache_key(namespace, kind, hash_secret(secret))


def namespace_for(*scope: str | None) -> str:
    """A short, stable namespace from the settings that change what a cached answer means
    (API base URL, issuer, app): two apps sharing one Redis never read each other's entries."""
    return hash_secret("|".join(s or "" for s in scope))[:16]


# -- the protocols --------------------------------------------------------------------------------


@runtime_checkable
class CacheLock(Protocol):
    """A short mutual-exclusion lock with an expiry (a crashed holder never blocks a key
    past its ``ttl``).

    ``acquire`` waits up to ``timeout`` seconds (None: until the lock's ttl has surely
    run out, so a holder that crashed never makes a default waiter give up) when
    ``blocking``; it returns whether the lock is held. ``with lock as held:`` acquires with
    the default wait and tells whether it got the lock: a caller that did not can still
    proceed (re-read the cache, then do the work itself) instead of failing.
    """

    def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@runtime_checkable
class AsyncCacheLock(Protocol):
    """:class:`CacheLock` for async code: waiting never blocks the event loop."""

    async def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool: ...

    async def release(self) -> None: ...

    async def __aenter__(self) -> bool: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@runtime_checkable
class CacheBackend(Protocol):
    """Blocking cache backend. ``get`` returns None for a miss (so None cannot be stored);
    ``set`` with ``ttl <= 0`` stores nothing (and drops an existing entry)."""

    def get(self, key: str) -> JSONValue | None: ...

    def set(self, key: str, value: JSONValue, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def lock(self, key: str, ttl: float) -> CacheLock: ...


@runtime_checkable
class AsyncCacheBackend(Protocol):
    """:class:`CacheBackend` with coroutine methods, for ASGI and Django's async path."""

    async def get(self, key: str) -> JSONValue | None: ...

    async def set(self, key: str, value: JSONValue, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    def lock(self, key: str, ttl: float) -> AsyncCacheLock: ...


class Subscription(Protocol):
    """A registration with an :class:`InvalidationFeed`; ``close`` ends it."""

    def close(self) -> None: ...


@runtime_checkable
class InvalidationFeed(Protocol):
    """What a shared backend offers so that every process drops an entry at once.

    ``delete`` on such a backend removes the shared entry and tells every subscribed process
    (itself included) the key, so each drops its in-process copy: ``on_key`` runs with each
    deleted key, on a background thread. ``on_reset`` runs when the feed reconnects after an
    outage, during which messages may have been missed: the subscriber should then drop every
    in-process entry that came from, or stands in for, the shared level.
    """

    def subscribe(self, on_key: Callable[[str], None], on_reset: Callable[[], None] | None = None) -> Subscription: ...


def is_async_backend(backend: object) -> bool:
    """Whether ``backend`` has the coroutine methods of :class:`AsyncCacheBackend`."""
    return inspect.iscoroutinefunction(getattr(backend, "get", None))


def sync_backend(backend: object) -> CacheBackend:
    """The blocking face of a configured backend object: itself, or the ``sync`` attribute
    of an async facade (:class:`AsyncMemoryCache`, the Redis backend's async face)."""
    if is_async_backend(backend):
        backend = getattr(backend, "sync", None)
    if not isinstance(backend, CacheBackend) or is_async_backend(backend):
        raise TypeError("cache backend: expected get/set/delete/lock (or an async backend with a .sync face)")
    return backend


def async_backend(backend: object) -> AsyncCacheBackend:
    """The async face of a configured backend object: itself, or its ``as_async()``."""
    if not is_async_backend(backend):
        as_async = getattr(backend, "as_async", None)
        if as_async is None:
            raise TypeError("cache backend: the async resolver needs coroutine methods or .as_async()")
        backend = as_async()
    if not isinstance(backend, AsyncCacheBackend):
        raise TypeError("cache backend: expected async get/set/delete and lock")
    return backend


# -- the in-process implementation ----------------------------------------------------------------


class CacheEntry:
    """One stored value and when it expires (on the clock's ``monotonic``). ``live`` turns
    False, for good, once the entry is no longer the one stored under its key (deleted,
    overwritten, expired, evicted, cleared): a decision built from it can then be
    reused for as long as it stays True, without reading the cache again (the resolver's
    fast table does so)."""

    __slots__ = ("expires", "live", "value")

    def __init__(self, value: JSONValue, expires: float) -> None:
        self.value = value
        self.expires = expires
        self.live = True


class MemoryCache:
    """A bounded in-process cache with a TTL per entry; safe to share between threads.

    A plain dict in least-recently-used order (a hit moves its key to the end; when full,
    the first key goes), each value in a :class:`CacheEntry` with its own expiry on the
    injected clock's ``monotonic()``, so tests expire entries with ``FakeClock.advance``
    instead of sleeping. An expired entry is dropped when it is met (or counted). No
    library cache underneath: per entry this holds one dict slot and one small object
    (bytes per cached token are an issue-22 goal), and :meth:`entry` hands out the entry
    itself. One lock around each operation (uncontended, it costs far less than the dict
    operations it guards).
    """

    def __init__(self, maxsize: int = 10_000, clock: Clock | None = None) -> None:
        if maxsize <= 0:
            raise ValueError("maxsize must be > 0")
        self._maxsize = maxsize
        self._clock = clock or SYSTEM_CLOCK
        self._data: dict[str, CacheEntry] = {}
        self._mutex = threading.Lock()
        self._locks = _LockTable(self._clock)

    @property
    def maxsize(self) -> int:
        return self._maxsize

    def entry(self, key: str) -> CacheEntry | None:
        """The live entry under ``key`` (made the most recently used), or None."""
        with self._mutex:
            found = self._data.get(key)
            if found is None:
                return None
            if found.expires <= self._clock.monotonic():
                del self._data[key]
                found.live = False
                return None
            self._data[key] = self._data.pop(key)
            return found

    def get(self, key: str) -> JSONValue | None:
        found = self.entry(key)
        return None if found is None else found.value

    def set(self, key: str, value: JSONValue, ttl: float) -> None:
        with self._mutex:
            old = self._data.pop(key, None)
            if old is not None:
                old.live = False
            if ttl > 0 and value is not None:
                data = self._data
                if len(data) >= self._maxsize:
                    evicted = data.pop(next(iter(data)))
                    evicted.live = False
                data[key] = CacheEntry(value, self._clock.monotonic() + ttl)

    def delete(self, key: str) -> None:
        with self._mutex:
            old = self._data.pop(key, None)
            if old is not None:
                old.live = False

    def clear(self) -> None:
        with self._mutex:
            for old in self._data.values():
                old.live = False
            self._data.clear()

    def __len__(self) -> int:
        with self._mutex:
            now = self._clock.monotonic()
            for key in [k for k, e in self._data.items() if e.expires <= now]:
                self._data.pop(key).live = False
            return len(self._data)

    def lock(self, key: str, ttl: float) -> MemoryLock:
        return MemoryLock(self._locks, key, ttl)

    def as_async(self) -> AsyncMemoryCache:
        """The same entries behind the async interface (for ASGI beside WSGI in one process)."""
        return AsyncMemoryCache(self)

    def __repr__(self) -> str:
        return f"MemoryCache(maxsize={self.maxsize})"


class _LockTable:
    """Held locks by key, each with an owner and an expiry on the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._held: dict[str, tuple[str, float]] = {}
        self._changed = threading.Condition()

    def try_acquire(self, key: str, owner: str, ttl: float) -> bool:
        with self._changed:
            now = self._clock.monotonic()
            held = self._held.get(key)
            if held is not None and held[1] > now and held[0] != owner:
                return False
            self._held[key] = (owner, now + ttl)
            return True

    def wait_acquire(self, key: str, owner: str, ttl: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self.try_acquire(key, owner, ttl):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                held = self._held.get(key)
                # Wake for a release, or when the holder's lease runs out (real time here;
                # with a fake clock the test advances it and the next poll sees it expired).
                lease = held[1] - self._clock.monotonic() if held else remaining
                self._changed.wait(min(remaining, max(lease, 0.0), 0.05) or 0.001)

    def release(self, key: str, owner: str) -> None:
        with self._changed:
            held = self._held.get(key)
            if held is not None and held[0] == owner:
                del self._held[key]
            self._changed.notify_all()


class MemoryLock:
    """:class:`CacheLock` for one process (threads). Only its owner can release it, and an
    expired lease can be taken over, as with a Redis lock."""

    def __init__(self, table: _LockTable, key: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("a lock needs a ttl > 0")
        self._table = table
        self._key = key
        self._ttl = ttl
        self._owner = uuid.uuid4().hex
        self._held = False

    def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool:
        if not blocking:
            self._held = self._table.try_acquire(self._key, self._owner, self._ttl)
        else:
            wait = self._ttl if timeout is None else timeout
            self._held = self._table.wait_acquire(self._key, self._owner, self._ttl, wait)
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            self._table.release(self._key, self._owner)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class AsyncMemoryCache:
    """The async facade over a :class:`MemoryCache`: the operations never wait on I/O, so
    they run inline; only lock waits yield to the event loop."""

    def __init__(self, cache: MemoryCache | None = None, *, maxsize: int = 10_000, clock: Clock | None = None) -> None:
        self.sync = cache if cache is not None else MemoryCache(maxsize, clock)

    async def get(self, key: str) -> JSONValue | None:
        return self.sync.get(key)

    async def set(self, key: str, value: JSONValue, ttl: float) -> None:
        self.sync.set(key, value, ttl)

    async def delete(self, key: str) -> None:
        self.sync.delete(key)

    def lock(self, key: str, ttl: float) -> AsyncMemoryLock:
        return AsyncMemoryLock(self.sync.lock(key, ttl), ttl)

    def __repr__(self) -> str:
        return f"AsyncMemoryCache(maxsize={self.sync.maxsize})"


class AsyncMemoryLock:
    """Polls the thread lock without blocking the loop (contention here is rare: the
    in-process single flight already coalesced the callers)."""

    _POLL = 0.01

    def __init__(self, lock: MemoryLock, ttl: float) -> None:
        self._lock = lock
        self._ttl = ttl

    async def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        if not blocking:
            return False
        deadline = anyio.current_time() + (self._ttl if timeout is None else timeout)
        while anyio.current_time() < deadline:
            await anyio.sleep(self._POLL)
            if self._lock.acquire(blocking=False):
                return True
        return False

    async def release(self) -> None:
        self._lock.release()

    async def __aenter__(self) -> bool:
        return await self.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()


__all__ = [
    "AsyncCacheBackend",
    "AsyncCacheLock",
    "AsyncMemoryCache",
    "AsyncMemoryLock",
    "CacheBackend",
    "CacheEntry",
    "CacheLock",
    "CacheUnavailable",
    "InvalidationFeed",
    "JSONValue",
    "MemoryCache",
    "MemoryLock",
    "Subscription",
    "cache_key",
    "hash_secret",
    "namespace_for",
    "async_backend",
    "is_async_backend",
    "secret_key",
    "sync_backend",
]
