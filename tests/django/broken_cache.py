"""A Django cache backend that is always down (a database or memcached that went away)."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache


class BrokenCache(BaseCache):
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _down(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server at 10.0.0.1:11211 refused the connection")

    get = set = add = delete = touch = has_key = clear = _down
