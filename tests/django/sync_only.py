"""A middleware that is sync only (no async_capable): under ASGI, Django then runs every
middleware above it, FocusMiddleware included, synchronously in a thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def sync_only(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def middleware(request: Any) -> Any:
        response = get_response(request)
        response["X-Sync-Only"] = "1"
        return response

    return middleware
