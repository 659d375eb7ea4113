"""The Jinja2 template helper for idempotent paid forms (Starlette/FastAPI; Flask-Focus
installs it by itself).

.. code-block:: python

    templates = Jinja2Templates(directory="templates")
    install(templates.env)

.. code-block:: html+jinja

    <form method="post" action="/render">{{ focus_idempotency_field() }} ...</form>

Needs Jinja2 (its ``markupsafe``), which is not a dependency of the core.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from focus_middleware.idempotency import hidden_field


def focus_idempotency_field(key: str | None = None) -> Markup:
    """The hidden ``focus_idempotency_key`` field with a fresh key (escaped HTML)."""
    return Markup(hidden_field(key))  # noqa: S704 - built from an escaped value only


def install(env: Any) -> Any:
    """Make ``focus_idempotency_field()`` a global of a Jinja2 ``Environment``; returns it."""
    env.globals["focus_idempotency_field"] = focus_idempotency_field
    return env


__all__ = ["focus_idempotency_field", "install"]
