"""Views for tests/django/test_kept_form.py (issue 24): a paid form view (sync and async)
and one that turns form keeping off."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django_focus.decorators import focus_login_required, paid
from django_focus.preserve import no_form_keeping


@paid(action="render", cost_estimate=5)
def render(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"rendered {request.POST.get('title')}")


@paid(action="render", cost_estimate=5)
async def arender(request: HttpRequest) -> HttpResponse:
    return HttpResponse("rendered")


@no_form_keeping
@focus_login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse("private")


urlpatterns = [path("render", render), path("arender", arender), path("private", private)]
