"""FastAPI's face of the ASGI adapter: dependencies for the account, credits and paid jobs,
and the OpenAPI document that tells what each route may answer instead of running.

Needs FastAPI installed (``pip install fastapi``) and ``FocusMiddleware`` on the app; see
:mod:`focus_middleware.fastapi.dependencies`.
"""

from __future__ import annotations

from focus_middleware.fastapi.dependencies import (
    SCHEME_NAME,
    CurrentAccount,
    FocusDependency,
    FocusRoute,
    FocusSecurity,
    OptionalAccount,
    PaidJob,
    RequireCredits,
    current_account,
    describe_routes,
    focus_openapi,
    optional_account,
)
from focus_middleware.jobs import FocusJob

__all__ = [
    "SCHEME_NAME",
    "CurrentAccount",
    "FocusDependency",
    "FocusJob",
    "FocusRoute",
    "FocusSecurity",
    "OptionalAccount",
    "PaidJob",
    "RequireCredits",
    "current_account",
    "describe_routes",
    "focus_openapi",
    "optional_account",
]
