"""The WSGI adapter (Werkzeug, Flask, Bottle, Pyramid and any WSGI app): the lazy
middleware, the view guards and the paid-view decorator.

Glue only: every decision is the core's (``docs/architecture.md``). The parts live in
their own modules; the names an app uses are importable from here.
"""

from __future__ import annotations

from focus_middleware.wsgi.guards import focus_job, paid, require_account, require_credits
from focus_middleware.wsgi.middleware import (
    ACCOUNT_KEY,
    ENVIRON_KEY,
    JOB_KEY,
    FocusWSGIMiddleware,
    WSGIFocusContext,
    clear_focus_session,
    facts_from_environ,
    focus_account,
    read_body,
    send_spec,
    spec_headers,
    to_response,
    wsgi_context,
)

__all__ = [
    "ACCOUNT_KEY",
    "ENVIRON_KEY",
    "JOB_KEY",
    "FocusWSGIMiddleware",
    "WSGIFocusContext",
    "clear_focus_session",
    "facts_from_environ",
    "focus_account",
    "focus_job",
    "paid",
    "read_body",
    "require_account",
    "require_credits",
    "send_spec",
    "spec_headers",
    "to_response",
    "wsgi_context",
]
