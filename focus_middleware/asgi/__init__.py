"""The ASGI adapter (Starlette, FastAPI and any ASGI app): the middleware, the route guards
and the paid-job decorator.

Glue only: every decision is the core's (``docs/architecture.md``). The parts live in
their own modules; the names an app uses are importable from here.
"""

from __future__ import annotations

from focus_middleware.asgi.guards import check, require_account, require_credits
from focus_middleware.asgi.middleware import (
    SCOPE_KEY,
    AnonymousFocusUser,
    Finish,
    FinishHook,
    FocusContext,
    FocusMiddleware,
    FocusRefusal,
    FocusUser,
    clear_focus_session,
    facts_from_scope,
    focus_context,
    read_body,
    to_response,
)
from focus_middleware.asgi.paid_endpoints import focus_job, paid
from focus_middleware.deprecation import renamed

__all__ = [
    "SCOPE_KEY",
    "AnonymousFocusUser",
    "Finish",
    "FinishHook",
    "FocusContext",
    "FocusMiddleware",
    "FocusRefusal",
    "FocusUser",
    "check",
    "clear_focus_session",
    "focus_job",
    "facts_from_scope",
    "focus_context",
    "paid",
    "read_body",
    "require_account",
    "require_credits",
    "to_response",
]

__getattr__ = renamed(__name__, {"current_job": "focus_job"}, globals())
