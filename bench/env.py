"""What every in-process bench starts from: the emulator, one configuration, one token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from focus_middleware.config import FocusConfig
from focus_middleware.testing import FocusEmulator

ORIGIN = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class BenchEnv:
    emulator: FocusEmulator
    config: FocusConfig
    token: str
    """A session JWT for ``ORIGIN``, an hour long, of a user with credits."""


@contextmanager
def bench_env() -> Iterator[BenchEnv]:
    with FocusEmulator(db=":memory:") as emu:
        emu.create_app("bench", starter_credits=0)
        user = emu.create_user(credits=100)
        config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="bench", public_origin=ORIGIN)
        yield BenchEnv(emu, config, user.session_jwt(azp=ORIGIN, lifetime=3600))
