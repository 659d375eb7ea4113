"""The Django project's routes for the conformance corpus (ROOT_URLCONF while it runs)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from django_focus.decorators import focus_login_required
from tests.conformance.views import account_view


def _view(request: HttpRequest) -> HttpResponse:
    account = request.focus_account  # type: ignore[attr-defined]
    return JsonResponse(account_view(account, getattr(account, "reason", None)))


def public(request: HttpRequest) -> HttpResponse:
    return _view(request)


@focus_login_required
def private(request: HttpRequest) -> HttpResponse:
    return _view(request)


urlpatterns = [path("", public), path("private", private)]
