"""The Django test project: settings for this folder's tests, and a FOCUS setting pointed at
each test's emulator (tests/conftest.py) on the fake clock it shares with the app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import anyio
import django
from asgiref.sync import sync_to_async
import pytest

# pytest-django reads DJANGO_SETTINGS_MODULE before any conftest is imported; setting
# Django up here keeps the project's settings to the runs that collect this folder. The
# variable is set only for the setup: subprocesses other folders start (the example
# apps, with settings of their own) must not inherit it.
_previous = os.environ.get("DJANGO_SETTINGS_MODULE")
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django.settings"
try:
    django.setup()
finally:
    if _previous is None:
        del os.environ["DJANGO_SETTINGS_MODULE"]
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = _previous

from django.test import AsyncClient, Client  # noqa: E402

from focus_middleware.clock import FakeClock  # noqa: E402
from focus_middleware.testing import EmulatedUser, FocusEmulator  # noqa: E402

from tests.django.settings import ORIGIN  # noqa: E402

NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
SAME_ORIGIN = {"sec-fetch-mode": "cors", "sec-fetch-site": "same-origin", "accept": "application/json"}
CROSS_SITE = {"sec-fetch-mode": "cors", "sec-fetch-site": "cross-site", "origin": "https://evil.example"}
API = {"accept": "application/json"}


def focus_settings(emu: FocusEmulator, clock: FakeClock, **extra: Any) -> dict[str, Any]:
    return {"api_url": emu.url, "issuer": emu.issuer, "app": "video", "public_origin": ORIGIN, "clock": clock,
            "timeout": 2.0, "max_retries": 0, "settle_timeout": 2.0, **extra}


@pytest.fixture(autouse=True)
def focus(settings: Any, emu: FocusEmulator, clock: FakeClock) -> Iterator[dict[str, Any]]:
    settings.FOCUS = focus_settings(emu, clock)
    yield settings.FOCUS


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


class Either:
    """One interface over Client (WSGI handler) and AsyncClient (ASGI handler)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.client: Any = AsyncClient() if kind == "asgi" else Client()

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self._call(self.client.get, path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Any:
        return await self._call(self.client.post, path, **kwargs)

    async def _call(self, method: Any, path: str, **kwargs: Any) -> Any:
        if self.kind == "asgi":
            return await method(path, **kwargs)
        # A WSGI server's worker thread: no event loop running there.
        return await anyio.to_thread.run_sync(lambda: method(path, **kwargs))

    async def body(self, response: Any) -> bytes:
        """All of a (streaming) response's body, read as this client's server would."""
        if self.kind == "asgi" and getattr(response, "is_async", False):
            return b"".join([chunk async for chunk in response.streaming_content])
        return await anyio.to_thread.run_sync(lambda: b"".join(response))

    async def leave_after(self, response: Any, chunks: int) -> list[bytes]:
        """Read ``chunks`` chunks of a streaming response, then close it, as a server does
        when its client goes away: Django's ASGI handler closes the body it iterates and
        then the response; a WSGI server calls the response's close()."""
        if self.kind == "asgi":
            stream = aiter(response)
            got = [await anext(stream) for _ in range(chunks)]
            await stream.aclose()
            await sync_to_async(response.close)()
            return got

        def read() -> list[bytes]:
            stream = iter(response)
            got = [next(stream) for _ in range(chunks)]
            response.close()
            return got

        return await anyio.to_thread.run_sync(read)


@pytest.fixture(params=["wsgi", "asgi"])
def browser(request: pytest.FixtureRequest) -> Either:
    return Either(request.param)
