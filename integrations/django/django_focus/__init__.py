"""django-focus: the Focus account platform for Django.

- ``"django_focus"`` in ``INSTALLED_APPS``; ``"django_focus.middleware.FocusMiddleware"``
  in ``MIDDLEWARE``; ``FOCUS = {...}`` in settings (keys: ``FocusConfig``'s field names).
- ``request.focus_account`` (lazy) and ``await request.afocus_account()``.
- ``django_focus.decorators``: ``focus_login_required``, ``require_credits(n)``,
  ``paid(action=..., cost_estimate=...)``; ``django_focus.mixins`` for class-based views.
- ``django_focus.cache.DjangoCache``: the shared cache over ``CACHES``.
- ``django_focus.testing``: ``force_focus_login`` for Django's test clients.

Nothing is imported here: Django loads this package before its settings are ready.
"""

from __future__ import annotations

__version__ = "0.1.0"
