"""What events (issue 27) cost on the resolver's hot path: nothing built with no subscriber
(one truthiness check per emission site), and what one no-op subscriber adds.

Rows are ratios against a bare call (building the request's facts), as in resolver_bench.
"""

from __future__ import annotations

from bench.resolver_bench import ORIGIN, _facts
from bench.timing import per_call, table
from focus_middleware import events
from focus_middleware.config import FocusConfig
from focus_middleware.resolver import Resolver
from focus_middleware.testing import FocusEmulator


def run() -> str:
    with FocusEmulator(db=":memory:") as emu:
        emu.create_app("bench", starter_credits=0)
        user = emu.create_user(credits=100)
        config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="bench", public_origin=ORIGIN)
        resolver = Resolver(config)
        token = user.session_jwt(azp=ORIGIN, lifetime=3600)
        resolver.resolve(_facts(token))

        def bare() -> object:
            return _facts(token)

        def guard() -> object:
            if events.active:
                events.emit(events.BudgetExhausted())
            return _facts(token)

        def hot() -> object:
            return resolver.resolve(_facts(token))

        baseline = per_call(bare)
        assert not events.active, "bench/events_bench.py measures the unsubscribed cost: nothing may subscribe"
        rows = [
            ("bare call (facts only)", baseline, baseline),
            ("bare call + one unsubscribed emission site", per_call(guard), baseline),
            ("hot path, no subscriber", per_call(hot), baseline),
        ]
        stop = events.subscribe(lambda event: None)
        try:
            rows.append(("hot path, one no-op subscriber", per_call(hot), baseline))
        finally:
            stop()
        resolver.close()
    return table("events (bench/events_bench.py)", rows,
                 ["unsubscribed, an emission site is one attribute read and one truthiness check"])
