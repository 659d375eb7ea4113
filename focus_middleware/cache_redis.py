"""Redis as the shared second level of the cache (``docs/architecture.md``, "Caches").

:class:`RedisCache` implements :class:`~focus_middleware.cache.CacheBackend` with
``redis.Redis``; :meth:`RedisCache.as_async` gives the same entries behind
:class:`~focus_middleware.cache.AsyncCacheBackend` with ``redis.asyncio``, so the async
resolver never blocks its event loop on Redis. Select it with ``FocusConfig(cache_url=
"redis://...")`` (``FOCUS_CACHE_URL``) or pass an instance as ``cache_backend``.

- **Keys** come from the resolver, namespaced by its configuration and holding hashes only.
  A lock for a key lives at ``<key>:lock``.
- **Values** are compact JSON behind a format prefix (:data:`VALUE_FORMAT`): a value written
  in another format, by an older or newer version, reads as a miss, never as a crash.
- **Every key expires**: ``set`` always sends ``PX`` (milliseconds, rounded down so an
  entry never outlives what the caller allowed); ``ttl <= 0`` stores nothing.
- **Invalidation**: ``delete`` removes the entry and publishes its key on :data:`CHANNEL`
  in the same round trip; each process's subscriber thread (:meth:`RedisCache.subscribe`)
  drops its in-process copy. A message is a cache key: no token, nothing secret.
- **Locks** are ``SET key owner NX PX ttl`` and are released by a compare-and-delete script,
  so only the owner releases and a crashed owner blocks nobody past ``ttl``.
- **Unavailable Redis** (refused, timed out): every operation raises
  :class:`~focus_middleware.cache.CacheUnavailable` and, for ``retry_interval`` seconds,
  raises it at once without trying, so requests do not each pay a connect timeout. The
  outage is logged once per ``log_interval``, not per request. redis-py's own retries are
  turned off: the resolver's answer to a down Redis is "go to the service", not "wait".

Needs the ``redis`` extra: ``pip install focus-middleware[redis]``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from focus_middleware.cache import CacheUnavailable, JSONValue

logger = logging.getLogger("focus_middleware")

T = TypeVar("T")

VALUE_FORMAT = b"focus1:"
"""Prefix of every stored value; bump it when the value format changes."""

CHANNEL = "focus:v1:invalidate"
"""The pub/sub channel that carries invalidated keys."""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

# redis.asyncio raises redis.exceptions too; OSError covers a socket failing underneath.
_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def encode(value: JSONValue) -> bytes:
    return VALUE_FORMAT + json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def decode(raw: object) -> JSONValue | None:
    """A stored value, or None for a miss, a foreign format or a damaged value."""
    if not isinstance(raw, bytes) or not raw.startswith(VALUE_FORMAT):
        return None
    try:
        return json.loads(raw[len(VALUE_FORMAT):])
    except ValueError:
        return None


def describe(url: str) -> str:
    """Where a Redis URL points, without its credentials (for logs and reprs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    where = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{where}{parts.path}"


class _Health:
    """Whether Redis is usable now: a short circuit after a failure, and a rate-limited log."""

    def __init__(self, where: str, retry_interval: float, log_interval: float) -> None:
        self.where = where
        self.retry_interval = retry_interval
        self.log_interval = log_interval
        self._retry_at = 0.0
        self._down = False
        self._next_log = 0.0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down

    def check(self) -> None:
        if self._down and time.monotonic() < self._retry_at:
            raise CacheUnavailable(f"shared cache {self.where} unavailable")

    def failed(self, exc: BaseException) -> CacheUnavailable:
        with self._lock:
            self._down = True
            self._retry_at = time.monotonic() + self.retry_interval
        self.log(exc)
        return CacheUnavailable(f"shared cache {self.where} unavailable ({type(exc).__name__})")

    def log(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            due = now >= self._next_log
            if due:
                self._next_log = now + self.log_interval
        if due:
            # The type only: a message may quote a reply, and this line runs per interval.
            logger.warning("focus: shared cache %s unavailable (%s); serving from the in-process cache and the service",
                           self.where, type(exc).__name__)

    def succeeded(self) -> None:
        if self._down:
            with self._lock:
                was_down, self._down = self._down, False
            if was_down:
                logger.warning("focus: shared cache %s reachable again", self.where)


_INSTANCES: weakref.WeakSet[RedisCache] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_INSTANCES):
        cache._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class RedisCache:
    """:class:`~focus_middleware.cache.CacheBackend` on ``redis.Redis``, with pub/sub
    invalidation (:class:`~focus_middleware.cache.InvalidationFeed`).

    ``url`` (``redis://``, ``rediss://``, ``unix://``) or a ready ``client``; for the async
    face without a URL, also pass ``async_client``. ``socket_timeout`` bounds every call
    (a shared cache slower than that is no cache).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        async_client: aioredis.Redis | None = None,
        channel: str = CHANNEL,
        socket_timeout: float = 0.5,
        retry_interval: float = 1.0,
        log_interval: float = 60.0,
        lock_poll: float = 0.02,
    ) -> None:
        if (url is None) == (client is None):
            raise ValueError("RedisCache needs a url or a client (one of them)")
        self.url = url
        self.channel = channel
        self.lock_poll = lock_poll
        self.socket_timeout = socket_timeout
        self.health = _Health(describe(url) if url else "(client)", retry_interval, log_interval)
        self.client: redis.Redis = client if client is not None else redis.Redis.from_url(url or "", **self._options(sync=True))
        self._release = self.client.register_script(_RELEASE)
        self._async_client = async_client
        self._async: AsyncRedisCache | None = None
        self._subscribers: dict[int, tuple[Callable[[str], None], Callable[[], None] | None]] = {}
        self._subscribers_lock = threading.Lock()
        self._listener: _Listener | None = None
        _INSTANCES.add(self)

    def _forked(self) -> None:
        """In a child process (a pre-forking server built the resolver before forking): the
        listener thread did not come along, and locks may have been copied while held."""
        self._subscribers_lock = threading.Lock()
        self.health._lock = threading.Lock()
        self._listener = None
        self._async = None
        if self._subscribers:
            self._listener = _Listener(self)
            self._listener.start()

    def _options(self, *, sync: bool, pubsub: bool = False) -> dict[str, Any]:
        return {
            "socket_timeout": None if pubsub else self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "retry": Retry(NoBackoff(), 0) if sync else AsyncRetry(NoBackoff(), 0),
            "health_check_interval": 10 if pubsub else 0,
        }

    def __repr__(self) -> str:
        return f"RedisCache({self.health.where!r})"

    # -- the backend --------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        self.health.check()
        try:
            result = fn()
        except _ERRORS as exc:
            raise self.health.failed(exc) from exc
        self.health.succeeded()
        return result

    def get(self, key: str) -> JSONValue | None:
        return decode(self._call(lambda: self.client.get(key)))

    def set(self, key: str, value: JSONValue, ttl: float) -> None:
        ms = int(ttl * 1000)
        if value is None or ms <= 0:
            self._call(lambda: self.client.delete(key))
            return
        data = encode(value)
        self._call(lambda: self.client.set(key, data, px=ms))

    def delete(self, key: str) -> None:
        """Remove the entry and tell every process to drop its copy (one round trip)."""

        def run() -> object:
            pipe = self.client.pipeline(transaction=False)
            pipe.delete(key)
            pipe.publish(self.channel, key)
            return pipe.execute()

        self._call(run)

    def lock(self, key: str, ttl: float) -> RedisLock:
        return RedisLock(self, key + ":lock", ttl)

    def as_async(self) -> AsyncRedisCache:
        """The same entries (and the same health, subscribers) for ``redis.asyncio``."""
        if self._async is None:
            self._async = AsyncRedisCache(self, self._async_client)
        return self._async

    # -- invalidation feed ------------------------------------------------------------------

    def subscribe(self, on_key: Callable[[str], None], on_reset: Callable[[], None] | None = None) -> _Subscription:
        """Call ``on_key(key)`` for every key deleted by any process. Starts this process's
        listener thread on first use and waits briefly for its first subscription attempt, so
        a delete published right after this returns is not missed."""
        token = id(on_key) ^ secrets.randbits(48)
        with self._subscribers_lock:
            self._subscribers[token] = (on_key, on_reset)
            listener = self._listener
            if listener is None or not listener.is_alive():
                listener = self._listener = _Listener(self)
                listener.start()
        listener.ready.wait(self.socket_timeout + 0.5)
        return _Subscription(self, token)

    def _unsubscribe(self, token: int) -> None:
        with self._subscribers_lock:
            self._subscribers.pop(token, None)

    def _dispatch(self, key: str | None) -> None:
        with self._subscribers_lock:
            targets = list(self._subscribers.values())
        for on_key, on_reset in targets:
            try:
                if key is not None:
                    on_key(key)
                elif on_reset is not None:
                    on_reset()
            except Exception:
                logger.exception("focus: cache invalidation callback failed")

    def _pubsub_client(self) -> redis.Redis:
        if self.url is None:
            return self.client
        return redis.Redis.from_url(self.url, **self._options(sync=True, pubsub=True))

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        self.client.close()

    def __enter__(self) -> RedisCache:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class _Subscription:
    def __init__(self, cache: RedisCache, token: int) -> None:
        self._cache = cache
        self._token = token

    def close(self) -> None:
        self._cache._unsubscribe(self._token)


class _Listener(threading.Thread):
    """One per process and cache: reads the invalidation channel, reconnecting with backoff.
    After a reconnect every subscriber's ``on_reset`` runs (messages may have been missed)."""

    def __init__(self, cache: RedisCache) -> None:
        super().__init__(name="focus-cache-invalidations", daemon=True)
        self._cache = cache
        self._stopping = threading.Event()
        self.ready = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        if self is not threading.current_thread():
            self.join(2.0)

    def run(self) -> None:
        backoff, missed = 0.05, False
        client = self._cache._pubsub_client()
        while not self._stopping.is_set():
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._cache.channel)
                if missed:
                    self._cache._dispatch(None)
                    missed = False
                self.ready.set()
                backoff = 0.05
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None and message.get("type") == "message":
                        data = message.get("data")
                        if isinstance(data, bytes):
                            self._cache._dispatch(data.decode("utf-8", "replace"))
            except _ERRORS as exc:
                missed = True
                self.ready.set()  # the first attempt is over: nobody waits on a down Redis
                self._cache.health.log(exc)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                try:
                    pubsub.close()
                except _ERRORS:
                    pass
        if client is not self._cache.client:
            client.close()


def _give_up_at(ttl: float, timeout: float | None, poll: float) -> float:
    """When a waiter stops trying. Redis may keep a key up to a millisecond past its ``PX``,
    so a waiter given exactly the ttl (the default) could give up just before a crashed
    holder's lease ends: it waits one poll longer."""
    return time.monotonic() + (ttl + poll if timeout is None else timeout)


class RedisLock:
    """:class:`~focus_middleware.cache.CacheLock` on Redis: ``SET NX PX`` with a random
    owner token; released by compare-and-delete. ``acquire`` raises
    :class:`~focus_middleware.cache.CacheUnavailable` when Redis is down."""

    def __init__(self, cache: RedisCache, key: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("a lock needs a ttl > 0")
        self._cache = cache
        self.key = key
        self._ttl = ttl
        self._ms = max(1, int(ttl * 1000))
        self._owner = secrets.token_hex(16)
        self._held = False

    def _try(self) -> bool:
        client = self._cache.client
        return bool(self._cache._call(lambda: client.set(self.key, self._owner, nx=True, px=self._ms)))

    def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool:
        deadline = _give_up_at(self._ttl, timeout, self._cache.lock_poll)
        while True:
            if self._try():
                self._held = True
                return True
            remaining = deadline - time.monotonic()
            if not blocking or remaining <= 0:
                return False
            time.sleep(min(self._cache.lock_poll, remaining))

    def release(self) -> None:
        if self._held:
            self._held = False
            self._cache._call(lambda: self._cache._release(keys=[self.key], args=[self._owner]))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.release()
        except CacheUnavailable:
            pass  # the lock expires by itself


class AsyncRedisCache:
    """:class:`~focus_middleware.cache.AsyncCacheBackend` on ``redis.asyncio``; shares its
    format, health and invalidation feed with the :class:`RedisCache` it came from (``sync``).

    Its client is made on first use in the running event loop (a ``redis.asyncio``
    connection belongs to one loop), and made afresh if the loop changes.
    """

    def __init__(self, sync: RedisCache, client: aioredis.Redis | None = None) -> None:
        if client is None and sync.url is None:
            raise ValueError("the async face needs a URL or an async_client")
        self.sync = sync
        self._given = client
        self._client: aioredis.Redis | None = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: Any = client.register_script(_RELEASE) if client is not None else None

    def __repr__(self) -> str:
        return f"AsyncRedisCache({self.sync.health.where!r})"

    def _current(self) -> aioredis.Redis:
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            assert self.sync.url is not None
            self._client = aioredis.Redis.from_url(self.sync.url, **self.sync._options(sync=False))
            self._release = self._client.register_script(_RELEASE)
            self._loop = loop
        return self._client

    async def _call(self, fn: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        health = self.sync.health
        health.check()
        try:
            result = await fn(self._current())
        except _ERRORS as exc:
            raise health.failed(exc) from exc
        health.succeeded()
        return result

    async def get(self, key: str) -> JSONValue | None:
        return decode(await self._call(lambda c: c.get(key)))

    async def set(self, key: str, value: JSONValue, ttl: float) -> None:
        ms = int(ttl * 1000)
        if value is None or ms <= 0:
            await self._call(lambda c: c.delete(key))
            return
        data = encode(value)
        await self._call(lambda c: c.set(key, data, px=ms))

    async def delete(self, key: str) -> None:
        async def run(client: aioredis.Redis) -> object:
            pipe = client.pipeline(transaction=False)
            pipe.delete(key)
            pipe.publish(self.sync.channel, key)
            return await pipe.execute()

        await self._call(run)

    def lock(self, key: str, ttl: float) -> AsyncRedisLock:
        return AsyncRedisLock(self, key + ":lock", ttl)

    def subscribe(self, on_key: Callable[[str], None], on_reset: Callable[[], None] | None = None) -> _Subscription:
        return self.sync.subscribe(on_key, on_reset)

    async def _release_lock(self, key: str, owner: str) -> None:
        async def run(client: aioredis.Redis) -> object:
            return await self._release(keys=[key], args=[owner], client=client)

        await self._call(run)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and client is not self._given:
            await client.aclose()


class AsyncRedisLock:
    """:class:`RedisLock` for async code: waits with ``anyio.sleep``."""

    def __init__(self, cache: AsyncRedisCache, key: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("a lock needs a ttl > 0")
        self._cache = cache
        self.key = key
        self._ttl = ttl
        self._ms = max(1, int(ttl * 1000))
        self._owner = secrets.token_hex(16)
        self._held = False

    async def _try(self) -> bool:
        return bool(await self._cache._call(lambda c: c.set(self.key, self._owner, nx=True, px=self._ms)))

    async def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool:
        deadline = _give_up_at(self._ttl, timeout, self._cache.sync.lock_poll)
        while True:
            if await self._try():
                self._held = True
                return True
            remaining = deadline - time.monotonic()
            if not blocking or remaining <= 0:
                return False
            await anyio.sleep(min(self._cache.sync.lock_poll, remaining))

    async def release(self) -> None:
        if self._held:
            self._held = False
            await self._cache._release_lock(self.key, self._owner)

    async def __aenter__(self) -> bool:
        return await self.acquire()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.release()
            except CacheUnavailable:
                pass


__all__ = ["CHANNEL", "VALUE_FORMAT", "AsyncRedisCache", "AsyncRedisLock", "RedisCache", "RedisLock", "decode", "encode"]
