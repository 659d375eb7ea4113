"""Issue 22's goals ("A hot path close to free"), in one place: the report checks against
these and nothing else.

A ratio goal names the case and the baseline it is divided by; both are measured in the
same interleaved rounds (``bench/hot_path.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RatioGoal:
    label: str
    case: str
    baseline: str
    max_ratio: float


RATIO_GOALS: tuple[RatioGoal, ...] = (
    RatioGoal("Starlette, bearer JWT, cached", "starlette.bearer", "starlette.bare", 1.25),
    RatioGoal("Starlette, app cookie, cached", "starlette.cookie", "starlette.bare", 1.25),
    RatioGoal("Starlette, no credentials", "starlette.anonymous", "starlette.bare", 1.05),
    RatioGoal("FastAPI + Depends(current_account)", "fastapi.current_account", "fastapi.noop", 1.10),
    RatioGoal("Werkzeug WSGI, account read", "werkzeug.read", "werkzeug.bare", 1.25),
    RatioGoal("Flask + current_account", "flask.current_account", "flask.bare", 1.15),
    RatioGoal("Django, account read", "django.read", "django.bare", 1.15),
)

SKETCH_CASE = "starlette.sketch"
"""The reference: a minimal pure-ASGI middleware (``bench/sketch.py``) on the same bare
Starlette app. The least acceptable result is Focus adding no more microseconds than it."""
SKETCH_COMPARED = "starlette.bearer"
SKETCH_ISSUE_RANGE = (1.37, 1.6)
"""What the issue measured for the sketch, × bare Starlette (for orientation only)."""

@dataclass(frozen=True)
class Floor:
    label: str
    case: str
    bounds: str
    """The goal case it bounds from below (same baseline)."""


FLOORS: tuple[Floor, ...] = (
    Floor("Starlette: one empty middleware layer", "starlette.empty", "starlette.anonymous"),
    Floor("Starlette: required surface, no creds", "starlette.floor.anonymous", "starlette.anonymous"),
    Floor("Starlette: required surface, bearer", "starlette.floor.bearer", "starlette.bearer"),
    Floor("FastAPI: required surface + dependency", "fastapi.floor", "fastapi.current_account"),
    Floor("Werkzeug: required surface", "werkzeug.floor", "werkzeug.read"),
    Floor("Flask: required surface + proxy", "flask.floor", "flask.current_account"),
    Floor("Django: required surface", "django.floor", "django.read"),
)
"""Lower bounds (``bench/floors.py``): what any middleware adds that does no more than the
issue requires, on the same bare app as the goal case it bounds."""

CLERK_CASE = "fastapi.clerk"
"""fastapi-clerk-auth's dependency on the same FastAPI app (it verifies the JWT every time)."""
CLERK_COMPARED = "fastapi.current_account"
CLERK_MIN_FACTOR = 5.0
"""Focus adds at least this many times fewer microseconds per request than fastapi-clerk-auth."""

MAX_BYTES_PER_CACHED_JWT = 700
MEMORY_TOKEN_COUNTS = (10_000, 100_000)

MIN_RPS_SHARE = 0.90
"""Under uvicorn (wrk), Focus with cached credentials keeps this share of the bare app's requests/s."""


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"
