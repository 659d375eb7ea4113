"""Turning DRF's refusals into the library's: the exception handler and the view mixin.

DRF raises ``NotAuthenticated`` when a permission refuses an anonymous request and
``PermissionDenied`` when one refuses a signed-in request; its default handler answers
them with ``{"detail": ...}``. Here they become the core's responses, the same bodies
every other adapter sends: 401 JSON with ``signin_url`` (or a sign-in redirect for a
browser navigation, a 503 when Focus could not be asked), and for a ``HasCredits``
refusal the 402 JSON with ``required``, ``available`` and ``purchase_url``.

Install it for every view::

    REST_FRAMEWORK = {"EXCEPTION_HANDLER": "django_focus.drf.focus_exception_handler"}

or per view with :class:`FocusAPIMixin` (leftmost), which puts it in front of whatever
handler the project has. Without either, refusals still have the right status and a JSON
body (DRF's default handler renders :class:`FocusRefused`'s ``detail``), but a
``HasCredits`` refusal is DRF's 403.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from rest_framework.exceptions import APIException, AuthenticationFailed, NotAuthenticated, PermissionDenied

from focus_middleware.access import no_account
from focus_middleware.outcome import Authenticated

from django_focus.drf.context import known_context

REFUSAL_ATTR = "_focus_drf_refusal"
"""The core's refusal a ``HasCredits`` permission recorded on the request."""

Handler = Callable[[Exception, dict[str, Any]], Any]


class FocusRefused(APIException):
    """The core refused the request; ``response`` is its answer."""

    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response
        self.status_code = response.status_code
        body: Any = None
        if response.get("Content-Type", "").startswith("application/json"):
            body = json.loads(response.content)  # type: ignore[attr-defined]
        super().__init__(detail="refused")
        # DRF's default handler renders a dict detail as is (numbers stay numbers).
        self.detail = body if isinstance(body, dict) else {"error": "refused"}  # type: ignore[dict-item]
        self.auth_header = response.get("WWW-Authenticate")
        retry = response.get("Retry-After")
        self.wait = int(retry) if retry and retry.isdigit() else None


def _django_request(context: dict[str, Any]) -> HttpRequest | None:
    request = context.get("request")
    inner = getattr(request, "_request", request)
    return inner if isinstance(inner, HttpRequest) else None


def focus_response(exc: Exception, context: dict[str, Any]) -> HttpResponseBase | None:
    """The core's response for ``exc``, or None where it has none to give."""
    if isinstance(exc, FocusRefused):
        return exc.response
    inner = _django_request(context)
    if inner is None:
        return None
    ctx = known_context(inner)
    if ctx is None or ctx.proceed is None:
        return None
    if isinstance(exc, (NotAuthenticated, AuthenticationFailed)):
        outcome = ctx.proceed.outcome
        if isinstance(outcome, Authenticated):  # a signed-in account whose user row was refused
            return None
        return ctx.respond(no_account(ctx.facts, outcome, ctx.runtime.config))
    if isinstance(exc, PermissionDenied):
        spec = inner.__dict__.get(REFUSAL_ATTR)
        if spec is not None:
            return ctx.respond(spec)
    return None


def focus_exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's ``EXCEPTION_HANDLER``: the core's refusals, then DRF's default handler."""
    from rest_framework.views import exception_handler  # not at import: rest_framework.views imports us

    response = focus_response(exc, context)
    return response if response is not None else exception_handler(exc, context)


class FocusAPIMixin:
    """For a view (leftmost) in a project whose ``EXCEPTION_HANDLER`` is its own: the
    core's refusals first, the project's handler for everything else."""

    def get_exception_handler(self) -> Handler:
        fallback: Handler = super().get_exception_handler()  # type: ignore[misc]

        def handler(exc: Exception, context: dict[str, Any]) -> Any:
            response = focus_response(exc, context)
            return response if response is not None else fallback(exc, context)

        return handler


__all__ = ["FocusAPIMixin", "FocusRefused", "REFUSAL_ATTR", "focus_exception_handler", "focus_response"]
