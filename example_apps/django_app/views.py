"""Clip Studio's views, with django-focus: a Focus app that renders video previews for credits.

- ``home``: the public page (``focus_account`` is falsy for anonymous visitors)
- ``studio``: your account and credits (``@focus_login_required``)
- ``render_clip``: a paid form post (``@paid``): 5 credits reserved, 3 charged once the
  answer went out, all returned if anything fails; the 402 page when too few. It
  redirects to ``render_result`` (post/redirect/get: a reload never posts again), and the
  form's idempotency key (``{% focus_idempotency_field %}``) makes the same form sent
  twice one render and one charge
- ``render_stream``: the same with live progress, charged after the last line
- ``api_me``, ``api_render``: the same for scripts with a personal access token

The refresh script, sign-in and sign-out URLs come from ``django_focus``'s context
processor (``templates/clipstudio/base.html``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from django_focus.decorators import focus_login_required, paid
from example_apps.common import (
    RESULT_PATH,
    RESULTS,
    PROGRESS,
    RENDER_COST,
    RENDER_ESTIMATE,
    RENDER_LABEL,
    STREAM_COST,
    STREAM_ESTIMATE,
    STREAM_FRAMES,
    STYLE,
    clean_title,
    preview_svg,
    progress_item,
    render_preview,
    render_steps,
)
from django_focus.request import focus_context
from focus_middleware.billing_notice import back_from_billing
from focus_middleware.jobs import FocusJob
from focus_middleware.pages import forbidden, not_found
from focus_middleware.responses import is_navigation
from focus_middleware.models import FocusAccount


class FocusRequest(HttpRequest):
    """``HttpRequest`` as django-focus fills it in the views it guards (for type checkers)."""

    focus_account: FocusAccount
    focus_job: FocusJob


def prices(request: HttpRequest) -> dict[str, Any]:
    """A context processor: what every page shows about prices, and the stylesheet."""
    return {"style": STYLE, "estimate": RENDER_ESTIMATE, "cost": RENDER_COST,
            "stream_estimate": STREAM_ESTIMATE, "stream_cost": STREAM_COST}


def origin() -> str:
    """The app's public origin (``FOCUS["public_origin"]``), for the URLs in job metadata."""
    return str(settings.FOCUS["public_origin"]).rstrip("/")


# -- pages ------------------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "clipstudio/home.html")


@require_GET
@focus_login_required
def studio(request: HttpRequest) -> HttpResponse:
    # Back from buying credits (the core's notice, set on the way back): the balance shown
    # was just read from Focus.
    return render(request, "clipstudio/studio.html",
                  {"back": "back" in request.GET, "billed": back_from_billing(request.COOKIES)})


@require_http_methods(["GET", "POST"])
def render_clip(request: FocusRequest) -> HttpResponseBase:
    """POST renders. GET is where a browser lands back on this URL: from buying credits (the
    402 page's return address), or from Focus after a session too close to its end was
    renewed (the form post is not replayed). The studio, where the render button is."""
    if request.method != "POST":
        return redirect(f"{reverse('studio')}?back=1")
    return paid_render(request)


@paid(action="render", cost_estimate=RENDER_ESTIMATE, description="Preview render", label=RENDER_LABEL,
      usual_cost=RENDER_COST, result_url=RESULT_PATH)
def paid_render(request: FocusRequest) -> HttpResponseBase:
    job = request.focus_job
    preview = render_preview(clean_title(request.POST.get("title")), job.job_id, origin())
    job.actual_cost = preview.cost  # settled once this answer went out; the rest goes back
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    RESULTS.keep(request.focus_account.clerk_id, preview, request.focus_account.credits - preview.cost)
    answer = redirect(reverse("render-result", args=[job.job_id]))
    answer.status_code = 303  # See Other: the browser GETs the result page
    return answer


@focus_login_required
def render_result(request: FocusRequest, job_id: str) -> HttpResponse:
    """A render's result page: what the paid post redirected to, safe to reload."""
    found = RESULTS.find(job_id, request.focus_account.clerk_id)
    if found is None:
        raise Http404("no such render")
    return render(request, "clipstudio/result.html", {"preview": found.preview, "credits_left": found.credits_left})


@require_http_methods(["GET", "POST"])
def render_stream(request: FocusRequest) -> HttpResponseBase:
    if request.method != "POST":
        return redirect(f"{reverse('studio')}?back=1")
    return paid_render_stream(request)


@paid(action="render-stream", cost_estimate=STREAM_ESTIMATE, description="Preview render (live)",
      label="Preview render with live progress", usual_cost=STREAM_COST, result_url=RESULT_PATH)
def paid_render_stream(request: FocusRequest) -> StreamingHttpResponse:
    job = request.focus_job
    preview = render_preview(clean_title(request.POST.get("title")), job.job_id, origin(), cost=STREAM_COST,
                             frames=STREAM_FRAMES)
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    credits_left = request.focus_account.credits - preview.cost  # once the job is settled
    RESULTS.keep(request.focus_account.clerk_id, preview, credits_left)  # where a re-post of the form lands
    page = render_to_string("clipstudio/render_stream.html", {"preview": preview, "credits_left": credits_left},
                            request)
    head, tail = page.split(PROGRESS, 1)  # sent now, then the progress, then the rest

    def body() -> Iterator[str]:
        yield head
        for line in render_steps(preview.title):
            yield progress_item(line)
        job.actual_cost = preview.cost  # charged once the last chunk went out
        yield tail

    return StreamingHttpResponse(body(), content_type="text/html; charset=utf-8")


@require_GET
def preview_image(request: HttpRequest, name: str) -> HttpResponse:
    match = re.fullmatch(r"([A-Za-z0-9_-]{1,64})\.svg", name)
    if match is None:
        raise Http404
    response = HttpResponse(preview_svg(match[1]), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


# -- the API, for scripts with a personal access token ----------------------------------------------


@require_GET
@focus_login_required
def api_me(request: FocusRequest) -> JsonResponse:
    account = request.focus_account
    return JsonResponse({"account_id": account.id, "clerk_id": account.clerk_id, "credits": account.credits,
                         "plan": account.plan, "credential": account.credential_kind})


@csrf_exempt  # a bearer token, never a cookie: no browser sends it on its own (cookie calls stay same-origin only)
@require_POST
@paid(action="render", cost_estimate=RENDER_ESTIMATE, description="Preview render", label=RENDER_LABEL,
      usual_cost=RENDER_COST)
def api_render(request: FocusRequest) -> JsonResponse:
    job = request.focus_job
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    title = body.get("title") if isinstance(body, dict) else None
    preview = render_preview(clean_title(title), job.job_id, origin())
    job.actual_cost = preview.cost
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    return JsonResponse({"job_id": job.job_id, "title": preview.title, "description": preview.description,
                         "preview_url": preview.url, "cost_estimate": job.cost_estimate,
                         "actual_cost": preview.cost})


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: a browser gets the core's 404 page, like the other refusals; a
    script gets JSON. (Django uses it with ``DEBUG`` off, as the example runs.)"""
    context = focus_context(request)
    if not is_navigation(context.facts):
        return JsonResponse({"error": "not_found"}, status=404)
    spec = not_found(facts=context.facts, app_name=context.runtime.config.app_name or "Clip Studio")
    response = HttpResponse(spec.body, status=spec.status)
    for name, value in spec.headers:
        response[name] = value
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: Django's CSRF check refuses a cross-site form post before
    django-focus sees it; the person gets the same 403 page as the core's own refusal."""
    context = focus_context(request)
    spec = forbidden(facts=context.facts, app_name=context.runtime.config.app_name or "Clip Studio")
    response = HttpResponse(spec.body, status=spec.status)
    for name, value in spec.headers:
        response[name] = value
    return response
