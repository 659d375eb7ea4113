"""Paid DRF views: ``@paid(action=..., cost_estimate=...)`` on an ``APIView`` method or a
``ViewSet`` action (``@action`` outermost)::

    class Renders(FocusAPIMixin, viewsets.GenericViewSet):
        serializer_class = RenderRequest

        @action(detail=False, methods=["post"])
        @paid(action="render", cost_estimate=5)
        def render(self, request):
            request.focus_job.actual_cost = 3
            return Response({...})

The layer is thin on purpose: it only calls django-focus's own paid machinery
(:func:`django_focus.paid.open_job`), and ``FocusMiddleware`` settles, as for any paid
Django view: complete with ``actual_cost`` (default: the estimate) once the response went
out, fail with a refund on an exception or a status >= 400.

- **Input first.** For POST, PUT and PATCH the view's serializer (``get_serializer``, or
  ``serializer_class``) validates ``request.data`` before anything is reserved: invalid
  input is DRF's 400 and never reserves. The validated serializer is on
  ``self.focus_serializer``. ``validate=False`` skips this.
- **Exceptions are not successes.** DRF turns a handler's exception into a response
  (its exception handler may even answer 2xx); the exception is recorded before DRF sees
  it, and work that raised is refunded whatever the response says.
- Cookie-authenticated paid calls must be same-origin (every method, GET included), as
  everywhere in this library; DRF's ``csrf_exempt`` changes nothing to that.
- Idempotency keys are not supported yet.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.http import HttpResponseBase
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView

from focus_middleware.access import requirement_for
from focus_middleware.idempotency import FORM_FIELD, Idempotency, body_fingerprint, requested
from focus_middleware.jobs import PaidRoute
from focus_middleware.openapi import mark
from focus_middleware.responses import ResponseSpec

from django_focus.idempotency import PRESET
from django_focus.paid import open_job, run_paid
from django_focus.request import focus_context

from django_focus.drf.context import django_request

Method = TypeVar("Method", bound=Callable[..., Any])
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def validate_input(view: APIView, request: Request) -> None:
    """Raise DRF's ``ValidationError`` (400) for input the view's serializer refuses."""
    if (request.method or "").upper() not in _BODY_METHODS or getattr(view, "serializer_class", None) is None:
        return
    partial = request.method == "PATCH"
    get_serializer = getattr(view, "get_serializer", None)
    if callable(get_serializer):
        serializer = get_serializer(data=request.data, partial=partial)
    else:
        serializer_class = view.serializer_class  # type: ignore[attr-defined]
        serializer = serializer_class(data=request.data, partial=partial, context={"request": request, "view": view})
    serializer.is_valid(raise_exception=True)
    view.focus_serializer = serializer  # type: ignore[attr-defined]


def _idempotency(request: Request) -> Idempotency | ResponseSpec | None:
    """The key and the hash of what DRF parsed (the raw body is no longer readable)."""
    data = request.data
    form_key = data.get(FORM_FIELD) if hasattr(data, "get") else None
    facts = focus_context(django_request(request)).facts
    return requested(facts, form_key if isinstance(form_key, str) else None,
                     lambda: body_fingerprint(json.dumps(data, sort_keys=True, default=str).encode()))


def paid(*, action: str, cost_estimate: int, app: str | None = None, description: str | None = None,
         validate: bool = True, max_cost: int | None = None,
         result_url: str | Callable[[str], str] | None = None) -> Callable[[Method], Method]:
    """Make a DRF handler paid work (see the module docstring); ``app`` defaults to
    ``FOCUS["app"]``, ``description`` (default: ``action``) goes into the job's metadata.
    ``max_cost`` caps the charge. An ``Idempotency-Key`` header (or the form's hidden
    ``focus_idempotency_key``) makes a repeat answer 409 without charging again; the body's
    hash is taken over what DRF parsed (``request.data``)."""
    route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description,
                      max_cost=max_cost, result_url=result_url)

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def paid_handler(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Any:
            if validate:
                validate_input(view, request)
            setattr(django_request(request), PRESET, _idempotency(request))
            opened = open_job(django_request(request), route)
            if isinstance(opened, HttpResponseBase):
                return opened
            return run_paid(opened, lambda: method(view, request, *args, **kwargs))

        mark(paid_handler, requirement_for(method, route=route))
        return cast(Method, paid_handler)

    return decorate


__all__ = ["paid", "validate_input"]
