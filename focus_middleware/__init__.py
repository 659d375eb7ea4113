"""focus-middleware: the Focus account platform for Python web apps.

The public names are imported on first use: importing the package (as the pytest plugin
does in every test session) must not pull in Starlette, httpx and the JWT stack.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from focus_middleware.clock import Clock, FakeClock, SystemClock

if TYPE_CHECKING:
    from focus_middleware.asgi import AnonymousFocusUser, FocusMiddleware, FocusUser
    from focus_middleware.config import FocusConfig
    from focus_middleware.guards import require_account, require_credits
    from focus_middleware.models import FocusAccount
    from focus_middleware.paid import paid
    from focus_middleware.wsgi import FocusWSGIMiddleware

_LAZY = {
    "AnonymousFocusUser": "focus_middleware.asgi",
    "FocusAccount": "focus_middleware.models",
    "FocusConfig": "focus_middleware.config",
    "FocusMiddleware": "focus_middleware.asgi",
    "FocusUser": "focus_middleware.asgi",
    "FocusWSGIMiddleware": "focus_middleware.wsgi",
    "paid": "focus_middleware.paid",
    "require_account": "focus_middleware.guards",
    "require_credits": "focus_middleware.guards",
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


class _Package(types.ModuleType):
    """The package's module type: a submodule named like the public name it defines
    (``focus_middleware.paid`` defines ``paid``) must not take that name's place.

    The import system binds every submodule on its package once it is loaded; without
    this, ``from focus_middleware import paid`` would give the module, not the decorator,
    whenever ``focus_middleware.paid`` had been imported first (``focus_middleware.fastapi``
    imports it). ``from focus_middleware.paid import ...`` is unaffected (it goes through
    ``sys.modules``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
