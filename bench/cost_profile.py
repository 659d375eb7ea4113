"""Where the microseconds of the Starlette hot path go (issue 22 asks for the profile of a
goal it misses): ``python -m bench.cost_profile``.

Each step FocusMiddleware takes for a cached request is timed alone (best of several
batches, as :func:`bench.timing.per_call` does), and the whole request is timed bare and
with Focus in the same interleaved rounds as the goals report; the difference between the
added time and the sum of the steps is the cost of running the app through the request's
context (one more coroutine frame, the ``receive`` and ``send`` the app is given, the
response's two messages passing through them), which cannot be timed alone.

The steps use the middleware's private names on purpose: this is a reading of how the
time divides, not an API. Which of them a rule forbids dropping is said beside each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from bench import asgi_bench
from bench.env import bench_env
from bench.timing import Paired, Rounds, as_parsed, interleaved, per_call
from focus_middleware.asgi import middleware as asgi_middleware
from focus_middleware.asgi.middleware import FocusContext, FocusMiddleware
from focus_middleware.fast_path import scope_proceed
from focus_middleware.request_plan import with_cache_headers
from focus_middleware.resolver import AsyncResolver


@dataclass(frozen=True)
class Step:
    label: str
    timed: Callable[[], object]
    rule: str = ""
    setup: Callable[[], object] | None = None
    """What ``timed`` does besides the step (a copy it works on): timed alone, taken off."""

    @property
    def part(self) -> bool:
        """A part of the step above it, not added to the total."""
        return self.label.startswith("  ")


def _focus_middleware(app: Any) -> FocusMiddleware:
    """The FocusMiddleware instance of a Starlette app's built stack."""
    layer = app.middleware_stack
    while not isinstance(layer, FocusMiddleware):
        layer = layer.app
    return layer


def _received(scope: dict[str, Any]) -> dict[str, Any]:
    """``scope`` as the next request brings it: its header values new bytes objects (as a
    server parses them per request), whose hashes are not worked out yet."""
    return {**scope, "headers": [(name, as_parsed(value)) for name, value in scope["headers"]]}


def _steps(middleware: FocusMiddleware, scope: dict[str, Any], header: bytes | None) -> list[Step]:
    """The steps of a request on the fast path; ``header`` is its ``Authorization`` header
    (a bearer), if it has one."""
    core = middleware.resolver.core
    proceed = scope_proceed(core, scope)
    assert proceed is not None, "the request is not on the fast path"
    start_headers = [(b"content-length", b"5"), (b"content-type", b"text/plain; charset=utf-8")]
    message = {"type": "http.response.start", "status": 200, "headers": start_headers}
    names = asgi_middleware._CACHE_HEADER_NAMES
    steps = [Step("fast path: headers found, answer looked up (whole)",
                  lambda: scope_proceed(core, _received(scope)), setup=lambda: _received(scope))]
    if header is not None:
        now = core.config.clock.time

        def fresh() -> bytes:
            assert header is not None
            return as_parsed(header)

        steps += [
            Step("  of which the table's lookup: hash, header compared, live", lambda: core.hot.get(fresh(), True, now()),
                 "rule: tokens are never keys", setup=fresh),
            Step("  of which the clock", now, "injectable clock"),
        ]
    def copy() -> dict[str, Any]:
        return dict(scope)

    steps += [
        Step("the scope copied, for facts built later", copy, "routing rewrites the scope"),
        # Into a fresh copy each time, as a request's scope arrives without "state".
        Step("FocusContext created, with request.user, request.auth, state attached",
             lambda: FocusContext(copy(), proceed, middleware), "Starlette's request.user contract", setup=copy),
        Step("Vary and Cache-Control merged into the start", lambda: {**message, "headers": with_cache_headers(
            start_headers, names, proceed.credentialed)}, "issue 22: same Vary/Cache-Control"),
    ]
    return steps


def run(how: Rounds | None = None) -> str:
    how = how or Rounds(rounds=5, repeat=3, batch_seconds=0.1)
    out = ["where the hot path's µs go, Starlette (bench/cost_profile.py): steps timed alone (best of 7 x 5,000), "
           "the request interleaved with the bare app"]
    with bench_env() as env, ExitStack() as stack:
        loop = asyncio.new_event_loop()
        stack.callback(loop.close)
        batches = asgi_bench.goal_batches(env, loop, stack)
        samples = interleaved({name: batches[name] for name in
                               ("starlette.bare", "starlette.bearer", "starlette.anonymous")}, how)
        resolver = AsyncResolver(env.config)
        stack.callback(lambda: loop.run_until_complete(resolver.aclose()))
        focus_app = asgi_bench._app(resolver)
        bearer = b"Bearer " + env.token.encode()
        cases = {"bearer": (asgi_bench._scope("/", [(b"authorization", bearer)]), bearer),
                 "anonymous": (asgi_bench._scope("/", []), None)}
        loop.run_until_complete(asgi_bench._request(focus_app, cases["bearer"][0])())  # warm: claims, wallet
        middleware = _focus_middleware(focus_app)
        for case, (scope, header) in cases.items():
            added = Paired.of(samples[f"starlette.{case}"], samples["starlette.bare"])
            out.append(f"{case}: bare {added.baseline * 1e6:.1f} µs, Focus {added.case * 1e6:.1f} µs, "
                       f"added {added.added * 1e6:+.1f} µs ({added.ratio:.2f}x)")
            total = 0.0
            for step in _steps(middleware, scope, header):
                seconds = per_call(step.timed, number=5000)
                if step.setup is not None:
                    seconds -= per_call(step.setup, number=5000)
                if not step.part:
                    total += seconds
                out.append(f"  {step.label:<60}{seconds * 1e6:>6.2f} µs   {step.rule}")
            out.append(f"  {'the app run through the context (the rest)':<60}{(added.added - total) * 1e6:>6.2f} µs   "
                       "send wrapped for the cache headers and paid work")
    return "\n".join(out)


if __name__ == "__main__":
    print(run())
