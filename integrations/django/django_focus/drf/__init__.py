"""Django REST framework for Focus (``pip install django-focus[drf]``).

- :class:`FocusAuthentication`: ``request.user`` and ``request.auth`` (the account).
- :class:`IsFocusAccount`, :class:`HasCredits`: permissions, composable with ``&|~``.
- :func:`paid`: a paid ``APIView`` method or ``ViewSet`` action.
- :func:`focus_exception_handler` / :class:`FocusAPIMixin`: the library's 401/402 bodies.
- :mod:`django_focus.drf.schema`: drf-spectacular's scheme and refusals (registered by
  the ``django_focus`` app when drf-spectacular is installed).
"""

from __future__ import annotations

from typing import Any

# Lazily: DRF imports the authentication class named in its settings while importing
# rest_framework.views, which the other parts import; a module named there must not.
_WHERE = {
    "FocusAuthentication": "django_focus.drf.authentication",
    "FocusAPIMixin": "django_focus.drf.exceptions",
    "FocusRefused": "django_focus.drf.exceptions",
    "focus_exception_handler": "django_focus.drf.exceptions",
    "paid": "django_focus.drf.paid_views",
    "HasCredits": "django_focus.drf.permissions",
    "IsFocusAccount": "django_focus.drf.permissions",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["FocusAPIMixin", "FocusAuthentication", "FocusRefused", "HasCredits", "IsFocusAccount", "focus_exception_handler",
           "paid"]
