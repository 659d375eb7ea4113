"""The test project's views: every guard on sync and async function views and on class-based
views, paid views (plain, streamed, failing), and a template using the context processor."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from django_focus.decorators import focus_login_required, paid, require_credits
from django_focus.mixins import FocusLoginRequiredMixin, PaidMixin, RequireCreditsMixin

XSS_ACTION = '<script>alert("x")</script> & co'


def who(account: Any) -> dict[str, Any]:
    return {
        "authenticated": account.is_authenticated,
        "truthy": bool(account),
        "clerk_id": account.clerk_id or None,
        "credits": account.credits,
        "reason": getattr(account, "reason", None),
    }


def public(request: HttpRequest) -> HttpResponse:
    return JsonResponse(who(request.focus_account))  # type: ignore[attr-defined]


def untouched(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no account read here", headers={"cache-control": "public, max-age=60"})


async def apublic(request: HttpRequest) -> HttpResponse:
    return JsonResponse(who(await request.afocus_account()))  # type: ignore[attr-defined]


async def alazy(request: HttpRequest) -> HttpResponse:
    """Reads the sync lazy attribute from async code: fine when cached, refused otherwise."""
    return JsonResponse(who(request.focus_account))  # type: ignore[attr-defined]


@focus_login_required
def private(request: HttpRequest) -> HttpResponse:
    return JsonResponse(who(request.focus_account))  # type: ignore[attr-defined]


@focus_login_required()
async def aprivate(request: HttpRequest) -> HttpResponse:
    return JsonResponse(who(await request.afocus_account()))  # type: ignore[attr-defined]


@require_credits(5)
def credits(request: HttpRequest) -> HttpResponse:
    return JsonResponse(who(request.focus_account))  # type: ignore[attr-defined]


@require_credits(5, action=XSS_ACTION)
async def acredits(request: HttpRequest) -> HttpResponse:
    return JsonResponse(who(await request.afocus_account()))  # type: ignore[attr-defined]


class PrivatePage(FocusLoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(who(request.focus_account))  # type: ignore[attr-defined]

    def post(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"posted": True})


class APrivatePage(FocusLoginRequiredMixin, View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(who(await request.afocus_account()))  # type: ignore[attr-defined]


class CreditsPage(RequireCreditsMixin, View):
    required_credits = 3
    credits_action = "Export"

    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(who(request.focus_account))  # type: ignore[attr-defined]


def page(request: HttpRequest) -> HttpResponse:
    return render(request, "page.html")


# -- paid ----------------------------------------------------------------------------------------


def _work(request: HttpRequest) -> HttpResponse:
    """Shared by the paid views: ?cost= sets the actual cost, ?fail=1 raises, ?status= answers
    with that status."""
    job = request.focus_job  # type: ignore[attr-defined]
    if "cost" in request.GET:
        job.actual_cost = int(request.GET["cost"])
    job.metadata["previewUrl"] = "https://example.test/preview.png"
    if request.GET.get("fail"):
        raise RuntimeError("the render blew up")
    status = int(request.GET.get("status", "200"))
    return JsonResponse({"job_id": job.job_id, "request_id": job.request_id}, status=status)


@paid(action="render", cost_estimate=5)
def render_view(request: HttpRequest) -> HttpResponse:
    return _work(request)


@csrf_exempt
@paid(action="render", cost_estimate=5)
def api_render(request: HttpRequest) -> HttpResponse:
    return _work(request)


@paid(action="render", cost_estimate=5)
async def arender(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(float(request.GET.get("sleep", "0")))
    return _work(request)


def _chunks(request: HttpRequest) -> tuple[int, float]:
    return int(request.GET.get("chunks", "3")), float(request.GET.get("pause", "0"))


@paid(action="stream", cost_estimate=4)
def stream(request: HttpRequest) -> HttpResponse:
    count, pause = _chunks(request)
    request.focus_job.actual_cost = 2  # type: ignore[attr-defined]

    def body() -> Iterator[bytes]:
        for i in range(count):
            if i:
                time.sleep(pause)
            yield f"chunk {i}\n".encode()

    return StreamingHttpResponse(body(), content_type="text/plain")  # type: ignore[return-value]


@paid(action="stream", cost_estimate=4)
async def astream(request: HttpRequest) -> HttpResponse:
    count, pause = _chunks(request)
    request.focus_job.actual_cost = 2  # type: ignore[attr-defined]

    async def body() -> AsyncIterator[bytes]:
        for i in range(count):
            if i:
                await asyncio.sleep(pause)
            yield f"chunk {i}\n".encode()

    return StreamingHttpResponse(body(), content_type="text/plain")  # type: ignore[return-value]


class PaidPage(PaidMixin, View):
    paid_action = "export"
    paid_cost_estimate = 3

    def post(self, request: HttpRequest) -> HttpResponse:
        return _work(request)


class APaidPage(PaidMixin, View):
    paid_action = "export"
    paid_cost_estimate = 3

    async def post(self, request: HttpRequest) -> HttpResponse:
        return _work(request)
