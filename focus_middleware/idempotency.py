"""Idempotency keys for paid actions: one reservation per key, however often it is sent.

A person reloads a result page and the browser re-posts the form; a client retries a
request whose answer it lost; a double-click sends two. With an ``Idempotency-Key`` header
(Stripe's convention) or the hidden form field the template helpers write
(:data:`FORM_FIELD`), the first request reserves the job and every repeat within
``idempotency_window`` is answered without charging again:

- an API client gets ``409`` JSON with the first job's id and status;
- a browser navigation gets a ``303`` to the route's ``result_url`` for that job, or the
  409 page when the route names none;
- the same key with another action or another body is a mistake, not a repeat: ``422``.

The key is scoped to (account, app) and remembers the action and a hash of the body, so a
reuse for something else is told apart from a repeat. It is claimed in the cache backend
under its lock (the resolver's shared Redis or Django cache when configured, else the
in-process cache), held while the reservation is made: two workers or a double-click make
one reservation, and the second waits for the first's job id. A refused reservation (402,
401, 503) claims nothing, so the same form can be sent again after buying credits. The
job's ``request_id`` is derived from the key, so a reservation resent after an ambiguous
failure is found by the client's ``request_id`` lookup rather than made twice.

Keys never carry secrets, but they are hashed with the account id in every cache key
anyway and bounded in length (:data:`MAX_KEY_LENGTH`).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from focus_middleware.cache import (
    AsyncCacheBackend,
    AsyncMemoryCache,
    CacheBackend,
    CacheUnavailable,
    JSONValue,
    MemoryCache,
    cache_key,
    namespace_for,
)
from focus_middleware.page_layout import render
from focus_middleware.responses import NO_STORE, ResponseSpec, absolute_url, back_url, is_navigation, json_response, redirect
from focus_middleware.urls import UnsafeURL

if TYPE_CHECKING:
    from focus_middleware.config import FocusConfig
    from focus_middleware.facts import RequestFacts
    from focus_middleware.jobs import FocusJob, PaidRoute
    from focus_middleware.outcome import Authenticated

logger = logging.getLogger("focus_middleware.idempotency")

HEADER = "idempotency-key"
"""The request header (lower-case, as :class:`~focus_middleware.facts.RequestFacts` has it)."""
FORM_FIELD = "focus_idempotency_key"
"""The hidden form field the template helpers write."""
MAX_KEY_LENGTH = 255
"""Longer keys are refused (400): a key is an id, not a payload (Stripe's bound too)."""

_HTML = ("content-type", "text/html; charset=utf-8")


def new_key() -> str:
    """A fresh key for a form (the template helpers call it once per rendered form)."""
    return secrets.token_urlsafe(24)


def hidden_field(key: str | None = None) -> str:
    """The form's hidden field with a fresh key: each rendered form is one action, so a
    re-post of it (a reload, a double-click, Back then Send) is a repeat."""
    value = html.escape(key if key is not None else new_key(), quote=True)
    return f'<input type="hidden" name="{FORM_FIELD}" value="{value}">'


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A paid request's key and the hash of what it asks (its body), as the adapter read them."""

    key: str = ""
    fingerprint: str = ""

    def __repr__(self) -> str:  # a key is no secret, but has no business in logs either
        return "Idempotency(...)"


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all("\x21" <= c <= "\x7e" for c in key)


def body_fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def form_fingerprint(fields: Iterable[tuple[str, str]]) -> str:
    """A form's hash from its fields (name, value), in order, the key's own field left out:
    a multipart body differs by its random boundary on every send, its fields do not. An
    adapter gives a file field as its file name and size."""
    digest = hashlib.sha256()
    for name, value in fields:
        if name != FORM_FIELD:
            digest.update(json.dumps([name, value]).encode())
    return "form:" + digest.hexdigest()


def is_form(content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind in ("application/x-www-form-urlencoded", "multipart/form-data")


def requested(facts: RequestFacts, form_key: str | None, fingerprint: Callable[[], str]) -> Idempotency | ResponseSpec | None:
    """The request's key (the header wins over the form field), with its body's hash
    (``fingerprint`` is called only when there is a key); None without one; a 400 for a
    key that is empty, too long or not printable ASCII."""
    key = facts.headers.get(HEADER)
    if key is None:
        key = form_key
    if key is None:
        return None
    if not valid_key(key):
        return json_response(400, {"error": "invalid_idempotency_key",
                           "message": f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters"})
    return Idempotency(key, fingerprint())


# -- keys and records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnceKeys:
    """Where one key's record and lock live, and the job's ``request_id`` it maps to."""

    record: str
    lock: str
    request_id: str


def keys_for(config: FocusConfig, auth: Authenticated, app: str, key: str) -> OnceKeys:
    digest = hashlib.sha256("\0".join((auth.account.clerk_id, app, key)).encode()).hexdigest()
    namespace = namespace_for(config.api_url, config.issuer, config.app)
    return OnceKeys(cache_key(namespace, "once", digest), cache_key(namespace, "once-lock", digest), digest[:32])


def _lock_ttl(config: FocusConfig) -> float:
    """Long enough for one reservation with its retries: a second request waits that long."""
    return max(10.0, config.timeout * (config.max_retries + 2))


def new_record(route: PaidRoute, once: Idempotency, job: FocusJob, now: float) -> dict[str, JSONValue]:
    return {"action": route.action, "fingerprint": once.fingerprint, "job_id": job.job_id, "status": "started",
            "at": now}


def _status_of(job: FocusJob) -> str:
    return job.state if job.state in ("completed", "failed") else "started"


def settled_record(record: dict[str, JSONValue], job: FocusJob) -> dict[str, JSONValue]:
    return {**record, "status": _status_of(job)}


def _ttl(config: FocusConfig, record: dict[str, JSONValue]) -> float:
    at = record.get("at")
    age = config.clock.time() - at if isinstance(at, (int, float)) else 0.0
    return max(1.0, config.idempotency_window - age)


# -- the answers ---------------------------------------------------------------------------------


def repeat_answer(facts: RequestFacts, config: FocusConfig, route: PaidRoute, once: Idempotency,
                  record: object) -> ResponseSpec:
    """What a request whose key was already used gets (see the module docstring)."""
    if (not isinstance(record, dict) or record.get("action") != route.action
            or record.get("fingerprint") != once.fingerprint):
        return key_reused(facts, config)
    job_id = record.get("job_id")
    status = record.get("status", "started")
    if is_navigation(facts) and isinstance(job_id, str):
        location = result_location(facts, config, route, job_id)
        if location is not None:
            return redirect(location)
    return already_requested(facts, config, route, job_id if isinstance(job_id, str) else None, str(status))


def result_location(facts: RequestFacts, config: FocusConfig, route: PaidRoute, job_id: str) -> str | None:
    """The route's ``result_url`` for ``job_id``, absolute from the public origin."""
    target = route.result_url
    if target is None:
        return None
    path = target(job_id) if callable(target) else target.replace("{job_id}", job_id)
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError("paid(): result_url must give a path of this app (starting with a single '/')")
    path, _, query = path.partition("?")
    try:
        return absolute_url(facts, config, path=path, query=query)
    except UnsafeURL:
        return None


def already_requested(facts: RequestFacts, config: FocusConfig, route: PaidRoute, job_id: str | None,
                      status: str) -> ResponseSpec:
    """409: JSON with the first job's id and status, or the page for a browser."""
    if not is_navigation(facts):
        return json_response(409, {"error": "duplicate_request", "action": route.action, "job_id": job_id, "status": status})
    words = route.label or route.action
    message = (f"This request for {words} was already sent, and is {'still running' if status == 'started' else status}. "
               "Sending it again does not start it again.")
    return _page(409, facts, config, "Already requested", message)


def key_reused(facts: RequestFacts, config: FocusConfig) -> ResponseSpec:
    """422: the key was used for another action or another body."""
    if not is_navigation(facts):
        return json_response(422, {"error": "idempotency_key_reused",
                           "message": "this Idempotency-Key was already used for a different request"})
    return _page(422, facts, config, "This form was already used",
                 "This form was already sent with other contents. Go back, reload the page and send it again.")


def _page(status: int, facts: RequestFacts, config: FocusConfig, heading: str, message: str) -> ResponseSpec:
    app_name = config.app_name or "this app"
    body = render("already_requested.html", title=heading, app_name=app_name, heading=heading, message=message,
                  back_url=back_url(facts, config))
    return ResponseSpec(status, (_HTML, NO_STORE), body.encode())


def busy(facts: RequestFacts, config: FocusConfig, route: PaidRoute) -> ResponseSpec:
    """The first request with this key still holds it past the lock's lease."""
    return already_requested(facts, config, route, None, "started")


# -- the store: claim under the lock ------------------------------------------------------------


class Held:
    """A claimed key: the record found (a repeat) or None (this request reserves)."""

    def __init__(self, record: object, save: Callable[[dict[str, JSONValue]], Any]) -> None:
        self.record = record
        self.save = save


def _local_of(resolver: object) -> MemoryCache:
    core = getattr(resolver, "core", None)
    cache = getattr(core, "cache", None)
    return cache if isinstance(cache, MemoryCache) else MemoryCache()


class OnceStore:
    """Blocking claims (WSGI, Flask, Django): the resolver's shared backend, else its
    in-process cache; the in-process cache too while the shared one is unavailable."""

    def __init__(self, config: FocusConfig, resolver: object) -> None:
        self.config = config
        shared = getattr(resolver, "shared", None)
        self.shared: CacheBackend | None = shared
        self.local: CacheBackend = _local_of(resolver)

    @contextmanager
    def claimed(self, keys: OnceKeys) -> Iterator[Held | None]:
        """The key under its lock (None: the lock was not had within its lease)."""
        backend = self.shared or self.local
        try:
            lock = backend.lock(keys.lock, _lock_ttl(self.config))
            got = lock.acquire(timeout=_lock_ttl(self.config))
        except CacheUnavailable:
            logger.warning("focus: shared cache unavailable; idempotency keys held in this process only")
            backend = self.local
            lock = backend.lock(keys.lock, _lock_ttl(self.config))
            got = lock.acquire(timeout=_lock_ttl(self.config))
        if not got:
            yield None
            return
        try:
            yield Held(backend.get(keys.record), lambda record: self._save(backend, keys, record))
        finally:
            try:
                lock.release()
            except CacheUnavailable:
                pass  # the lease runs out by itself

    def _save(self, backend: CacheBackend, keys: OnceKeys, record: dict[str, JSONValue]) -> None:
        try:
            backend.set(keys.record, record, _ttl(self.config, record))
        except CacheUnavailable:
            self.local.set(keys.record, record, _ttl(self.config, record))

    def settled(self, keys: OnceKeys, record: dict[str, JSONValue]) -> None:
        self._save(self.shared or self.local, keys, record)


class AsyncOnceStore:
    """:class:`OnceStore` on asyncio (the shared backend's async face)."""

    def __init__(self, config: FocusConfig, resolver: object) -> None:
        self.config = config
        shared = getattr(resolver, "shared", None)
        self.shared: AsyncCacheBackend | None = shared
        self.local: AsyncCacheBackend = AsyncMemoryCache(_local_of(resolver))

    @asynccontextmanager
    async def claimed(self, keys: OnceKeys) -> AsyncIterator[Held | None]:
        backend = self.shared or self.local
        ttl = _lock_ttl(self.config)
        try:
            lock = backend.lock(keys.lock, ttl)
            got = await lock.acquire(timeout=ttl)
        except CacheUnavailable:
            logger.warning("focus: shared cache unavailable; idempotency keys held in this process only")
            backend = self.local
            lock = backend.lock(keys.lock, ttl)
            got = await lock.acquire(timeout=ttl)
        if not got:
            yield None
            return
        try:
            found = await backend.get(keys.record)
            pending: list[dict[str, JSONValue]] = []
            yield Held(found, pending.append)
            for record in pending:
                await self._save(backend, keys, record)
        finally:
            try:
                await lock.release()
            except CacheUnavailable:
                pass

    async def _save(self, backend: AsyncCacheBackend, keys: OnceKeys, record: dict[str, JSONValue]) -> None:
        try:
            await backend.set(keys.record, record, _ttl(self.config, record))
        except CacheUnavailable:
            await self.local.set(keys.record, record, _ttl(self.config, record))

    async def settled(self, keys: OnceKeys, record: dict[str, JSONValue]) -> None:
        await self._save(self.shared or self.local, keys, record)


__all__ = ["FORM_FIELD", "HEADER", "MAX_KEY_LENGTH", "AsyncOnceStore", "Idempotency", "OnceKeys", "OnceStore",
           "already_requested", "body_fingerprint", "form_fingerprint", "hidden_field", "is_form", "key_reused", "keys_for", "new_key",
           "repeat_answer", "requested", "valid_key"]
