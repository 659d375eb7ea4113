"""focus-middleware: the Focus account platform for Python web apps.

The public names are imported on first use: importing the package (as the pytest plugin
does in every test session) must not pull in Starlette, httpx and the JWT stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from focus_middleware.clock import Clock, FakeClock, SystemClock

if TYPE_CHECKING:
    from focus_middleware.asgi.middleware import AnonymousFocusUser, FocusMiddleware, FocusUser
    from focus_middleware.config import FocusConfig
    from focus_middleware.asgi.guards import require_account, require_credits
    from focus_middleware.models import FocusAccount
    from focus_middleware.asgi.paid_endpoints import paid
    from focus_middleware.wsgi.middleware import FocusWSGIMiddleware

_LAZY = {
    "AnonymousFocusUser": "focus_middleware.asgi.middleware",
    "FocusAccount": "focus_middleware.models",
    "FocusConfig": "focus_middleware.config",
    "FocusMiddleware": "focus_middleware.asgi.middleware",
    "FocusUser": "focus_middleware.asgi.middleware",
    "FocusWSGIMiddleware": "focus_middleware.wsgi.middleware",
    "paid": "focus_middleware.asgi.paid_endpoints",
    "require_account": "focus_middleware.asgi.guards",
    "require_credits": "focus_middleware.asgi.guards",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'focus_middleware' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "AnonymousFocusUser",
    "Clock",
    "FakeClock",
    "FocusAccount",
    "FocusConfig",
    "FocusMiddleware",
    "FocusUser",
    "FocusWSGIMiddleware",
    "SystemClock",
    "paid",
    "require_account",
    "require_credits",
]
__version__ = "0.1.0"
