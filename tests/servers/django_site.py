"""A one-file Django project for ``django-admin runserver --settings tests.servers.django_site``
(settings and URLconf), with the README's one line for the ``django.server`` logger."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path

from django_focus.decorators import focus_login_required
from focus_middleware.config import settings_from_prefixed
from focus_middleware.logging import install

install("django.server")

FOCUS = settings_from_prefixed(os.environ, strict=False)
SECRET_KEY = "tests-servers-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = __name__
DATABASES: dict[str, dict[str, str]] = {}
INSTALLED_APPS = ["django_focus"]
MIDDLEWARE = ["django_focus.middleware.FocusMiddleware"]
USE_TZ = True


@focus_login_required
def studio(request: HttpRequest) -> HttpResponse:
    return HttpResponse("studio")


urlpatterns = [path("studio", studio)]
