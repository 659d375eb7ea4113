"""A one-file paid Django project (settings, URLconf and views) for runserver, gunicorn,
waitress (``django_wsgi``) and uvicorn (``django_asgi``). Settings from ``FOCUS_*``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from django_focus.decorators import paid
from focus_middleware.config import settings_from_prefixed
from focus_middleware.jobs import FocusJob
from tests.chaos.apps import ESTIMATE, payload_path

FOCUS = settings_from_prefixed(os.environ, strict=False)
SECRET_KEY = "tests-chaos-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = __name__
DATABASES: dict[str, dict[str, str]] = {}
INSTALLED_APPS = ["django_focus"]
MIDDLEWARE = ["django_focus.middleware.FocusMiddleware"]
USE_TZ = True
LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": {"django.server": {"level": "WARNING"}}}


def _job(request: HttpRequest) -> FocusJob:
    job = request.focus_job  # type: ignore[attr-defined]
    assert isinstance(job, FocusJob)
    job.metadata["ref"] = request.GET["ref"]
    return job


@paid(action="render", cost_estimate=ESTIMATE)
def render(request: HttpRequest) -> HttpResponse:
    job = _job(request)
    job.actual_cost = int(request.GET.get("cost", ESTIMATE))
    time.sleep(float(request.GET.get("sleep", 0)))
    return HttpResponse(f"ok {request.GET['ref']} END\n", content_type="text/plain")


@paid(action="boom", cost_estimate=ESTIMATE)
def boom(request: HttpRequest) -> HttpResponse:
    _job(request)
    raise RuntimeError("the work failed")


@paid(action="stream", cost_estimate=ESTIMATE)
def stream(request: HttpRequest) -> StreamingHttpResponse:
    _job(request)
    chunks, slow, ref = int(request.GET.get("chunks", 3)), float(request.GET.get("slow", 0)), request.GET["ref"]

    def body() -> Iterator[bytes]:
        for i in range(chunks):
            yield f"chunk {i}\n".encode()
            if slow:
                time.sleep(slow)
        yield f"{ref} END\n".encode()

    return StreamingHttpResponse(body(), content_type="text/plain")


@paid(action="file", cost_estimate=ESTIMATE)
def file(request: HttpRequest) -> FileResponse:
    _job(request)
    return FileResponse(payload_path().open("rb"), content_type="text/plain")


urlpatterns = [path("render", render), path("boom", boom), path("stream", stream), path("file", file)]
