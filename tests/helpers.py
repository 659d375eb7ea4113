"""Small helpers for tests: the app's public origin and request facts."""

from __future__ import annotations

from focus_middleware.facts import RequestFacts

ORIGIN = "http://127.0.0.1:8000"


def facts(*, bearer: str | None = None, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None,
          method: str = "GET", path: str = "/") -> RequestFacts:
    h = dict(headers or {})
    if bearer is not None:
        h["authorization"] = f"Bearer {bearer}"
    return RequestFacts(method=method, path=path, headers=h, cookies=cookies or {}, host="127.0.0.1:8000")
