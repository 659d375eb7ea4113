"""The request a DRF view got, and the Focus context on it: shared by the authentication
class, the permissions, the paid views and the exception handler (which must not import
the authentication class that raises through it)."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from django_focus.request import CONTEXT_ATTR, FocusContext

OWN_CONTEXT_ATTR = "_focus_drf"
"""A context this module made for a request the middleware did not see."""


def django_request(request: Request | HttpRequest) -> HttpRequest:
    inner = getattr(request, "_request", request)
    assert isinstance(inner, HttpRequest)
    return inner


def known_context(request: Request | HttpRequest) -> FocusContext | None:
    """The request's context if the middleware or this module made one."""
    inner = django_request(request)
    for attr in (CONTEXT_ATTR, OWN_CONTEXT_ATTR):
        ctx = getattr(inner, attr, None)
        if isinstance(ctx, FocusContext):
            return ctx
    return None


__all__ = ["OWN_CONTEXT_ATTR", "django_request", "known_context"]
