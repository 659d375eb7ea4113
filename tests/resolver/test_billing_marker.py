"""The core's side of the billing marker (issue 18, item 4), driven by the blocking
resolver against the emulator: what it remembers to honour a marker once per user per
``wallet_ttl`` is keyed by a hash of the user id, never by a token; a credential that
identifies no one spends nothing."""

from __future__ import annotations

from typing import Any

from focus_middleware.cache import JSONValue, MemoryCache
from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.outcome import token_hash
from focus_middleware.resolver import Resolver
from focus_middleware.request_plan import Respond, request_plan
from focus_middleware.testing import FocusEmulator
from tests.helpers import ORIGIN

NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}


class Recording:
    """The in-process level, recording every key written to it."""

    def __init__(self, clock: FakeClock) -> None:
        self.inner = MemoryCache(maxsize=100, clock=clock)
        self.keys: list[str] = []

    def get(self, key: str) -> JSONValue | None:
        return self.inner.get(key)

    def set(self, key: str, value: JSONValue, ttl: float) -> None:
        self.keys.append(key)
        self.inner.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def lock(self, key: str, ttl: float) -> Any:
        return self.inner.lock(key, ttl)


def marked(cookies: dict[str, str], query: str = "focus_billed=1") -> RequestFacts:
    return RequestFacts(method="GET", path="/studio", query_string=query, headers=NAV, cookies=cookies,
                        host="127.0.0.1:8000")


def run(resolver: Resolver, facts: RequestFacts) -> Any:
    return resolver.run(request_plan(resolver.core, facts))


def test_the_budget_is_keyed_by_a_hash_of_the_user(config: FocusConfig, emu: FocusEmulator, clock: FakeClock) -> None:
    user = emu.create_user(credits=3)
    token = user.session_jwt(azp=ORIGIN)
    cache = Recording(clock)
    resolver = Resolver(config, cache=cache)
    try:
        answer = run(resolver, marked({"focus_session": token}, "a=1&focus_billed=1"))
        assert isinstance(answer, Respond) and answer.response.status == 303
        assert dict(answer.response.headers)["location"] == f"{ORIGIN}/studio?a=1"
        billed = [k for k in cache.keys if ":billed:" in k]
        assert len(billed) == 1 and billed[0].endswith(":billed:" + token_hash(user.clerk_id))
        for key in cache.keys:
            assert token not in key
        assert emu.calls("GET /api/wallet") == 0  # dropping needs no Focus call
    finally:
        resolver.close()


def test_a_rejected_credential_is_only_cleaned_up(config: FocusConfig, emu: FocusEmulator, clock: FakeClock) -> None:
    cache = Recording(clock)
    resolver = Resolver(config, cache=cache)
    try:
        answer = run(resolver, marked({"focus_session": "junk"}))
        assert isinstance(answer, Respond) and dict(answer.response.headers)["location"] == f"{ORIGIN}/studio"
        assert not [k for k in cache.keys if ":billed:" in k]
    finally:
        resolver.close()
