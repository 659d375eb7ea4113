"""``FocusClient`` and ``AsyncFocusClient``: the Focus HTTP API over httpx.

Both clients are thin drivers of the same flows (:mod:`focus_middleware.retry`) over the
same endpoint definitions (:mod:`focus_middleware.api_contract`); they differ only in how a
request is sent and how a pause is taken.

One client serves every user of an app: the middleware keeps a single pooled client and
passes each user's credential per call (``token=``), overriding the client's default.
Hence the client keeps no cookies between calls (a shared cookie jar would carry one
user's cookies into another's request), and credentials appear in logs only as a short
SHA-256 fingerprint.

httpx logs every request URL at INFO, and the device flow's poll puts its code in the
query: the ``httpx`` and ``httpcore`` loggers are set to WARNING unless the application
configured them itself.
"""

from __future__ import annotations

import asyncio

import dataclasses
import logging
import random
import time
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import httpx

from focus_middleware import api_contract, events, retry
from focus_middleware.cache import hash_secret
from focus_middleware.clock import SYSTEM_CLOCK, Clock
from focus_middleware.config import DEFAULT_API_URL, FocusConfig
from focus_middleware.api_contract import Call, Reply
from focus_middleware.models import CreatedJob, DevicePoll, DeviceStart, Job, SettledJob, Wallet
from focus_middleware.retry import Context, Flow, SendResult, RetryPolicy, Send, Sleep, TransportFailure

T = TypeVar("T")
logger = logging.getLogger("focus_middleware.client")

USER_AGENT = "focus-middleware/0.1"
# Failures where the request provably never left this process.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


def quiet_http_logging() -> None:
    """Keep httpx/httpcore from logging request URLs (which may hold a device code),
    unless the application set their levels itself."""
    for name in ("httpx", "httpcore"):
        log = logging.getLogger(name)
        if log.level == logging.NOTSET:
            log.setLevel(logging.WARNING)


def fingerprint(token: str | None) -> str:
    """How a credential may appear in a log line: the first 12 hex digits of its SHA-256."""
    return "-" if not token else "sha256:" + hash_secret(token)[:12]


def _no_cookies() -> CookieJar:
    # A jar that refuses every cookie: nothing a response sets outlives its call.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _failure(exc: httpx.TransportError) -> TransportFailure:
    sent = not isinstance(exc, _NOT_SENT)
    return TransportFailure(sent=sent, timeout=isinstance(exc, httpx.TimeoutException), detail=type(exc).__name__)


class _ClientBase:
    """Configuration, request building and the flows; everything but the I/O."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float,
        max_retries: int,
        clock: Clock | None,
        retry_policy: RetryPolicy | None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        # The policy tunes pauses and caps; how many retries is always ``max_retries``.
        policy = dataclasses.replace(retry_policy or RetryPolicy(), max_retries=max_retries)
        self.policy = policy
        self.clock = clock or SYSTEM_CLOCK
        self._ctx = Context(self.base_url, policy, self.clock, timeout, random.Random())
        quiet_http_logging()

    @classmethod
    def from_config(cls, config: FocusConfig, token: str | None = None, **kwargs: Any) -> Self:
        """A client with the configuration's base URL, timeout, retries and clock."""
        kwargs.setdefault("timeout", config.timeout)
        kwargs.setdefault("max_retries", config.max_retries)
        kwargs.setdefault("clock", config.clock)
        return cls(config.api_url, token, **kwargs)

    def _http_options(self, transport: Any) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "timeout": httpx.Timeout(self.timeout),
            "transport": transport,
            "follow_redirects": False,
            "cookies": _no_cookies(),
            "headers": {"user-agent": USER_AGENT, "accept": "application/json"},
        }

    def _token_for(self, token: str | None) -> str | None:
        return token if token is not None else self._token

    def _request(self, send: Send) -> httpx.Request:
        call = send.call
        headers = dict(call.headers)
        if call.authenticated and send.token:
            headers["authorization"] = f"Bearer {send.token}"
        return self._build(
            call.method,
            call.url or call.path,
            params=list(call.params) or None,
            json=call.body,
            headers=headers,
        )

    def _build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        raise NotImplementedError

    @staticmethod
    def _log(send: Send, outcome: SendResult, started: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            result = outcome.status if isinstance(outcome, Reply) else f"{outcome.detail} (sent={outcome.sent})"
            ms = (time.monotonic() - started) * 1000
            logger.debug("focus: %s -> %s in %.0f ms [%s]", send.call.name, result, ms, fingerprint(send.token))

    def _event(self, send: Send, outcome: SendResult, started: float) -> None:
        """The call as an :class:`~focus_middleware.events.UpstreamCall`: its endpoint template and
        a URL with query values redacted, never the request that went out."""
        call = send.call
        url = call.url or f"{self.base_url}{call.path}"
        status, error = (outcome.status, None) if isinstance(outcome, Reply) else (None, outcome.detail)
        events.emit(events.upstream_call(call.name, call.method, url, call.params, status, started, error))

    # -- the flows (one per public method, shared by both clients) --------------------------------

    def _wallet(self, app: str | None, token: str | None) -> Flow[Wallet]:
        return retry.request(api_contract.wallet(app), self._token_for(token), self._ctx)

    def _create_job(
        self,
        app: str,
        action: str,
        cost_estimate: int,
        metadata: Mapping[str, Any] | None,
        request_id: str | None,
        token: str | None,
    ) -> Flow[CreatedJob]:
        return retry.create_job(app, action, cost_estimate, metadata, request_id, self._token_for(token), self._ctx)

    def _complete_job(
        self, job_id: str, actual_cost: int, metadata: Mapping[str, Any] | None, token: str | None
    ) -> Flow[SettledJob]:
        return retry.complete_job(job_id, actual_cost, metadata, self._token_for(token), self._ctx)

    def _fail_job(self, job_id: str, refund: bool, token: str | None) -> Flow[SettledJob]:
        return retry.fail_job(job_id, refund, self._token_for(token), self._ctx)

    def _list_jobs(self, app: str | None, status: str | None, limit: int | None, token: str | None) -> Flow[list[Job]]:
        return retry.request(api_contract.list_jobs(app, status, limit), self._token_for(token), self._ctx)

    def _simple(self, call: Call[T], token: str | None) -> Flow[T]:
        return retry.request(call, token, self._ctx)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class FocusClient(_ClientBase):
    """Blocking client: WSGI, Flask, Django's sync path, the CLI.

    ``token`` is the default credential (a session JWT or a PAT); every method takes
    ``token=`` to act for someone else. ``transport`` and ``http_client`` are for tests
    and custom pooling; a client passed in is used as is (and not closed by us), so it
    should not keep cookies.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = 5.0,
        max_retries: int = 2,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        http_client: httpx.Client | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout, max_retries, clock, retry_policy)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(**self._http_options(transport))

    @classmethod
    def from_stored_credentials(cls, base_url: str | None = None, **kwargs: Any) -> FocusClient:
        """A client acting with the token ``focus login`` stored for ``base_url`` (default
        ``$FOCUS_API_URL``, else production): ``$FOCUS_TOKEN``, else the keyring, else the
        credentials file. Raises ``NoCredentialsError`` (a ``LookupError``) when none."""
        from focus_middleware.credentials_store import stored_credential

        found = stored_credential(base_url)
        return cls(found.base_url, found.token, **kwargs)

    # -- driver --------------------------------------------------------------------------------------

    def _build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        return self._http.build_request(method, url, **kwargs)

    def _send(self, send: Send) -> SendResult:
        started = time.monotonic()
        try:
            response = self._http.send(self._request(send))
        except httpx.TransportError as exc:
            outcome: SendResult = _failure(exc)
        else:
            outcome = Reply(response.status_code, response.headers, response.content)
        self._log(send, outcome, started)
        if events.active:
            self._event(send, outcome, started)
        return outcome

    def _run(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(self._send(step))
        except StopIteration as done:
            result: T = done.value
            return result

    # -- the API ----------------------------------------------------------------------------------------

    def wallet(self, app: str | None = None, *, token: str | None = None) -> Wallet:
        """The account and its balance; with ``app``, also grants that app's starter
        credits once. A 401 here is how a PAT is found invalid."""
        return self._run(self._wallet(app, token))

    def create_job(
        self,
        app: str,
        action: str,
        cost_estimate: int,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        *,
        token: str | None = None,
    ) -> CreatedJob:
        """Reserve ``cost_estimate`` credits. Never resent blindly: see :mod:`retry`."""
        return self._run(self._create_job(app, action, cost_estimate, metadata, request_id, token))

    def complete_job(
        self, job_id: str, actual_cost: int, metadata: Mapping[str, Any] | None = None, *, token: str | None = None
    ) -> SettledJob:
        return self._run(self._complete_job(job_id, actual_cost, metadata, token))

    def fail_job(self, job_id: str, refund: bool = True, *, token: str | None = None) -> SettledJob:
        return self._run(self._fail_job(job_id, refund, token))

    def list_jobs(
        self, app: str | None = None, status: str | None = None, limit: int | None = None, *, token: str | None = None
    ) -> list[Job]:
        return self._run(self._list_jobs(app, status, limit, token))

    def session_token(self, cookies: Mapping[str, str] | None = None, *, token: str | None = None) -> str:
        """A fresh session JWT for the signed-in browser whose Focus cookies are given."""
        return self._run(self._simple(api_contract.session_token(cookies), None if cookies else self._token_for(token)))

    def device_start(self) -> DeviceStart:
        return self._run(self._simple(api_contract.device_start(), None))

    def device_complete(
        self, user_code: str, approve: bool = True, *, token: str | None = None, cookies: Mapping[str, str] | None = None
    ) -> bool:
        call = api_contract.device_complete(user_code, approve, cookies)
        return self._run(self._simple(call, None if cookies else self._token_for(token)))

    def device_poll(self, device_code: str) -> DevicePoll:
        """One poll, answered as a value (pending, approved + token, slow_down, ...)."""
        return self._run(self._simple(api_contract.device_poll(device_code), None))

    def x_token(self, *, token: str | None = None) -> str:
        return self._run(self._simple(api_contract.x_token(), self._token_for(token)))

    def oauth_token(self, provider: str, *, token: str | None = None) -> str:
        return self._run(self._simple(api_contract.oauth_token(provider), self._token_for(token)))

    def x_me(self, x_token: str) -> dict[str, Any]:
        """Twitter's ``users/me`` via Focus, authenticated with the X access token."""
        return self._run(self._simple(api_contract.x_me(), x_token))

    def get_json_document(self, url: str) -> object:
        """A JSON document by absolute URL (the issuer's JWKS), without credentials."""
        return self._run(self._simple(api_contract.json_document(url), None))

    # -- lifecycle ------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _running_loop() -> object:
    """A key for the running event loop: asyncio's loop, or trio's run token."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        import trio

        return trio.lowlevel.current_trio_token()
    except (ImportError, RuntimeError):
        return None


def _loop_ended(key: object) -> bool:
    if isinstance(key, asyncio.AbstractEventLoop):
        return key.is_closed()
    return key is not None  # a trio run's token: only the current run's is ever asked for


class AsyncFocusClient(_ClientBase):
    """The same API as :class:`FocusClient`, as coroutines (ASGI, Django's async path)."""

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = 5.0,
        max_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout, max_retries, clock, retry_policy)
        self._owns_http = http_client is None
        self._options = self._http_options(transport)
        # A client or transport handed in is the caller's to scope. Our own pool is made per
        # event loop: its connections belong to the loop that opened them, and an app often
        # outlives a loop (each test's loop under pytest-asyncio, asyncio.run per call).
        self._fixed = http_client or (httpx.AsyncClient(**self._options) if transport is not None else None)
        self._per_loop: dict[object, httpx.AsyncClient] = {}

    @property
    def _http(self) -> httpx.AsyncClient:
        """The HTTP client for the running event loop, made on first use in it."""
        if self._fixed is not None:
            return self._fixed
        key = _running_loop()
        client = self._per_loop.get(key)
        if client is None:
            # Clients of loops that have ended are dropped, not closed: their connections
            # ended with their loop, and nothing can be awaited there any more.
            for ended in [k for k in self._per_loop if _loop_ended(k)]:
                del self._per_loop[ended]
            client = self._per_loop[key] = httpx.AsyncClient(**self._options)
        return client

    @classmethod
    def from_stored_credentials(cls, base_url: str | None = None, **kwargs: Any) -> AsyncFocusClient:
        """As :meth:`FocusClient.from_stored_credentials` (reading the store is quick local
        I/O, done once at construction)."""
        from focus_middleware.credentials_store import stored_credential

        found = stored_credential(base_url)
        return cls(found.base_url, found.token, **kwargs)

    # -- driver --------------------------------------------------------------------------------------

    def _build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        return self._http.build_request(method, url, **kwargs)

    async def _send(self, send: Send) -> SendResult:
        started = time.monotonic()
        try:
            response = await self._http.send(self._request(send))
        except httpx.TransportError as exc:
            outcome: SendResult = _failure(exc)
        else:
            outcome = Reply(response.status_code, response.headers, response.content)
        self._log(send, outcome, started)
        if events.active:
            self._event(send, outcome, started)
        return outcome

    async def _run(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    await anyio.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(await self._send(step))
        except StopIteration as done:
            result: T = done.value
            return result

    # -- the API ----------------------------------------------------------------------------------------

    async def wallet(self, app: str | None = None, *, token: str | None = None) -> Wallet:
        return await self._run(self._wallet(app, token))

    async def create_job(
        self,
        app: str,
        action: str,
        cost_estimate: int,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        *,
        token: str | None = None,
    ) -> CreatedJob:
        return await self._run(self._create_job(app, action, cost_estimate, metadata, request_id, token))

    async def complete_job(
        self, job_id: str, actual_cost: int, metadata: Mapping[str, Any] | None = None, *, token: str | None = None
    ) -> SettledJob:
        return await self._run(self._complete_job(job_id, actual_cost, metadata, token))

    async def fail_job(self, job_id: str, refund: bool = True, *, token: str | None = None) -> SettledJob:
        return await self._run(self._fail_job(job_id, refund, token))

    async def list_jobs(
        self, app: str | None = None, status: str | None = None, limit: int | None = None, *, token: str | None = None
    ) -> list[Job]:
        return await self._run(self._list_jobs(app, status, limit, token))

    async def session_token(self, cookies: Mapping[str, str] | None = None, *, token: str | None = None) -> str:
        return await self._run(
            self._simple(api_contract.session_token(cookies), None if cookies else self._token_for(token))
        )

    async def device_start(self) -> DeviceStart:
        return await self._run(self._simple(api_contract.device_start(), None))

    async def device_complete(
        self, user_code: str, approve: bool = True, *, token: str | None = None, cookies: Mapping[str, str] | None = None
    ) -> bool:
        call = api_contract.device_complete(user_code, approve, cookies)
        return await self._run(self._simple(call, None if cookies else self._token_for(token)))

    async def device_poll(self, device_code: str) -> DevicePoll:
        return await self._run(self._simple(api_contract.device_poll(device_code), None))

    async def x_token(self, *, token: str | None = None) -> str:
        return await self._run(self._simple(api_contract.x_token(), self._token_for(token)))

    async def oauth_token(self, provider: str, *, token: str | None = None) -> str:
        return await self._run(self._simple(api_contract.oauth_token(provider), self._token_for(token)))

    async def x_me(self, x_token: str) -> dict[str, Any]:
        return await self._run(self._simple(api_contract.x_me(), x_token))

    async def get_json_document(self, url: str) -> object:
        return await self._run(self._simple(api_contract.json_document(url), None))

    # -- lifecycle ------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        if not self._owns_http:
            return
        if self._fixed is not None:
            await self._fixed.aclose()
            return
        # The running loop's pool is closed here and kept, closed, so that using the client
        # afterwards fails as httpx's does; a pool of another loop still running is that
        # loop's to close (it is dropped with its loop otherwise).
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


__all__ = ["AsyncFocusClient", "FocusClient", "RetryPolicy", "fingerprint", "quiet_http_logging"]
