from __future__ import annotations

from collections.abc import Iterator

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.resolver import AsyncResolver, Resolver
from focus_middleware.testing import EmulatedUser, FocusEmulator

ORIGIN = "http://127.0.0.1:8000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=clock) as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator


@pytest.fixture
def config(emu: FocusEmulator, clock: FakeClock) -> FocusConfig:
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0)


@pytest.fixture
def resolver(config: FocusConfig) -> Iterator[Resolver]:
    r = Resolver(config)
    yield r
    r.close()


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=50)


def facts(*, bearer: str | None = None, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None,
          method: str = "GET", path: str = "/") -> RequestFacts:
    h = dict(headers or {})
    if bearer is not None:
        h["authorization"] = f"Bearer {bearer}"
    return RequestFacts(method=method, path=path, headers=h, cookies=cookies or {}, host="127.0.0.1:8000")
