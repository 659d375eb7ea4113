"""Small helpers for tests: the app's public origin, request facts, and what a request
leaves for the cyclic garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Callable

from focus_middleware.facts import RequestFacts

ORIGIN = "http://127.0.0.1:8000"


def facts(*, bearer: str | None = None, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None,
          method: str = "GET", path: str = "/") -> RequestFacts:
    h = dict(headers or {})
    if bearer is not None:
        h["authorization"] = f"Bearer {bearer}"
    return RequestFacts(method=method, path=path, headers=h, cookies=cookies or {}, host="127.0.0.1:8000")


def unreachable_per_request(send: Callable[[], object], requests: int = 50) -> float:
    """Objects the cyclic collector finds per request ``send`` makes, once warm (caches
    filled, classes built): garbage that reference counting left. Compare with the same
    request to the app without Focus, which may make cycles of its own."""
    for _ in range(10):
        send()
    gc.collect()
    gc.disable()
    try:
        for _ in range(requests):
            send()
        return gc.collect() / requests
    finally:
        gc.enable()
