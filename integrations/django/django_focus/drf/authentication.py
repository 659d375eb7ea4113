"""``FocusAuthentication``: Django REST framework's authentication class for Focus.

::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["django_focus.drf.FocusAuthentication"],
        "EXCEPTION_HANDLER": "django_focus.drf.focus_exception_handler",
    }

``request.user`` is the Django user the credential stands for (:mod:`django_focus.auth`:
a :class:`~django_focus.auth.FocusUser`, or the linked row with ``FOCUS["link_users"]``)
and ``request.auth`` the :class:`~focus_middleware.models.FocusAccount`. It reads what
``FocusMiddleware`` resolved (one resolution per request, shared with
``request.focus_account``), or resolves the request itself where the middleware is
absent (paid views still need the middleware: it settles them).

- A request without a usable credential is anonymous (``None``), as DRF's own classes
  leave it: a view that lets anonymous users in runs, and one whose permissions refuse
  them gets the core's refusal (401 JSON with ``WWW-Authenticate: Bearer``, a sign-in
  redirect for a browser navigating the browsable API, 503 when Focus could not be
  asked), through the exception handler. :meth:`authenticate_header` answers
  ``Bearer``, which is what makes DRF send 401 rather than 403 (DRF's "Authentication"
  guide: "the first authentication class set on the view is used when determining the
  type of response").
- DRF views are CSRF-exempt (``APIView.as_view`` wraps them in ``csrf_exempt``), and
  this class is no exception; the library's own rule takes CSRF's place: a state-changing
  request authenticated by cookie must come from the app's own origin, else 403, as
  everywhere else in this library.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from focus_middleware.access import ACCOUNT, no_account, refusal
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import Anonymous, Authenticated

from django_focus.auth import user_for_account
from django_focus.drf.context import OWN_CONTEXT_ATTR, django_request, known_context
from django_focus.drf.exceptions import FocusRefused
from django_focus.request import FocusContext, facts_from_request
from django_focus.runtime import get_runtime

def drf_context(request: Request | HttpRequest) -> FocusContext:
    """The middleware's context, or one made here (kept apart: paid views refuse it)."""
    ctx = known_context(request)
    if ctx is None:
        inner = django_request(request)
        runtime = get_runtime()
        ctx = FocusContext(inner, facts_from_request(inner, runtime), runtime, None)
        setattr(inner, OWN_CONTEXT_ATTR, ctx)
    return ctx


class FocusAuthentication(BaseAuthentication):
    """See the module docstring."""

    def authenticate(self, request: Request) -> tuple[Any, FocusAccount] | None:
        ctx = drf_context(request)
        outcome = ctx.resolve().outcome
        if not isinstance(outcome, Authenticated):
            return None
        refused = refusal(ctx.facts, outcome, ctx.runtime.config, ACCOUNT)  # the same-origin rule for cookies
        if refused is not None:
            raise FocusRefused(ctx.respond(refused))
        account = outcome.account
        user = user_for_account(django_request(request), account)
        return None if user is None else (user, account)

    def authenticate_header(self, request: Request) -> str:
        ctx = known_context(request)
        outcome = ctx.proceed.outcome if ctx is not None and ctx.proceed is not None else Anonymous()
        if ctx is None or isinstance(outcome, Authenticated):
            return "Bearer"
        spec = no_account(ctx.facts, outcome, ctx.runtime.config)
        return next((value for name, value in spec.headers if name == "www-authenticate"), "Bearer")


__all__ = ["FocusAuthentication", "django_request", "drf_context", "known_context"]
