"""Fixtures for the core's tests: one emulator per module (users isolate the tests; the
fault knobs are cleared after each test), and each client test run against both clients.

The async client is driven through a blocking portal (one event loop in a thread for the
whole test), so a single test body checks the blocking and the async client alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.retry import RetryPolicy
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .proxy import HoldingProxy

# Short pauses keep the retry tests fast without changing what they prove.
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05, retry_after_cap=1.0, grace_cap=1.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emu() -> Iterator[FocusEmulator]:
    with FocusEmulator() as emulator:
        emulator.create_app("video", starter_credits=20)
        yield emulator
        emulator.check_books()


@pytest.fixture(scope="module")
def proxy(emu: FocusEmulator) -> Iterator[HoldingProxy]:
    """A proxy to ``emu`` that can withhold the answer to a request it forwarded."""
    parts = urlsplit(emu.url)
    assert parts.hostname is not None and parts.port is not None
    with HoldingProxy(parts.hostname, parts.port) as holding:
        yield holding


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").clear_faults()


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=50)


class Blocking:
    """An :class:`AsyncFocusClient` whose coroutine methods are called through a portal."""

    def __init__(self, portal: BlockingPortal, client: AsyncFocusClient) -> None:
        self._portal = portal
        self.client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._portal.call(functools.partial(attr, *args, **kwargs))

        return call

    def close(self) -> None:
        self._portal.call(self.client.aclose)


ClientFactory = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest, emu: FocusEmulator) -> Iterator[ClientFactory]:
    """``make_client(token=..., timeout=..., max_retries=...)``: a client of either kind."""
    made: list[Any] = []
    defaults: dict[str, Any] = {"timeout": 5.0, "retry_policy": FAST}
    if request.param == "sync":

        def make(base_url: str | None = None, **kwargs: Any) -> Any:
            client = FocusClient(base_url or emu.url, **{**defaults, **kwargs})
            made.append(client)
            return client

        yield make
        for client in made:
            client.close()
        return
    with start_blocking_portal(backend="asyncio") as portal:

        def make_async(base_url: str | None = None, **kwargs: Any) -> Any:
            client = Blocking(portal, AsyncFocusClient(base_url or emu.url, **{**defaults, **kwargs}))
            made.append(client)
            return client

        yield make_async
        for client in made:
            client.close()
