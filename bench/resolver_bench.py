"""The resolver's cost per request, and how many upstream calls a burst costs.

Rows are ratios against a bare call (building the request's facts and returning), run in
the same process, so the figures compare across machines.
"""

from __future__ import annotations

import threading

from bench.timing import per_call, table
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.resolver import Resolver
from focus_middleware.testing import FocusEmulator

ORIGIN = "http://127.0.0.1:8000"


def _facts(token: str | None) -> RequestFacts:
    headers = {"accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return RequestFacts(method="GET", path="/", headers=headers, host="127.0.0.1:8000")


def run() -> str:
    with FocusEmulator(db=":memory:") as emu:
        emu.create_app("bench", starter_credits=0)
        user = emu.create_user(credits=100)
        config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="bench", public_origin=ORIGIN)
        resolver = Resolver(config)
        token = user.session_jwt(azp=ORIGIN, lifetime=3600)
        resolver.resolve(_facts(token))  # warm: keys, claims and wallet cached

        def bare() -> object:
            return _facts(token)

        def hot() -> object:
            return resolver.resolve(_facts(token))

        def anonymous() -> object:
            return resolver.resolve(_facts(None))

        fresh = [user.session_jwt(azp=ORIGIN, lifetime=3600, jti=str(i)) for i in range(3000)]
        it = iter(fresh)

        def jwt_miss() -> object:
            return resolver.resolve(_facts(next(it)))

        baseline = per_call(bare)
        rows = [
            ("bare call (facts only)", baseline, baseline),
            ("no credentials", per_call(anonymous), baseline),
            ("hot path: JWT and wallet cached", per_call(hot), baseline),
            ("JWT cache miss, keys warm", per_call(jwt_miss, number=400, repeat=5), baseline),
        ]
        upstream = _burst(emu, user.pat(), config)
        resolver.close()
    return table("resolver (bench/resolver_bench.py)", rows,
                 [f"200 concurrent requests, one unseen PAT: {upstream} upstream call(s) (target 1)"])


def _burst(emu: FocusEmulator, pat: str, config: FocusConfig) -> int:
    resolver = Resolver(config)
    emu.set_latency(0.1, endpoint="GET /api/wallet")
    emu.reset_calls()
    barrier = threading.Barrier(200)

    def call() -> None:
        barrier.wait()
        resolver.resolve(_facts(pat))

    threads = [threading.Thread(target=call) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    emu.clear_faults()
    resolver.close()
    return emu.calls("GET /api/wallet")
