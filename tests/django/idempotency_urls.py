"""Views of tests/django/test_idempotency.py: paid views with idempotency keys and max_cost."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template import engines
from django.urls import path

from django_focus.decorators import paid

FORM = '{% load focus %}<form method="post" action="/render">{% focus_idempotency_field %}</form>'


def studio(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(FORM).render({}, request))


@paid(action="render", cost_estimate=5, result_url="/renders/{job_id}", max_cost=6)
def render(request: HttpRequest) -> HttpResponse:
    job: Any = request.focus_job  # type: ignore[attr-defined]
    job.actual_cost = int(request.GET.get("cost", "3"))
    if request.POST:
        return HttpResponseRedirect(f"/renders/{job.job_id}", status=303)  # post/redirect/get
    return JsonResponse({"job_id": job.job_id})


@paid(action="arender", cost_estimate=5)
async def arender(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"job_id": request.focus_job.job_id})  # type: ignore[attr-defined]


urlpatterns = [path("studio", studio), path("render", render), path("arender", arender)]
