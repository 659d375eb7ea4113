"""Settings of the Clip Studio project: Django's usual few, and ``FOCUS``.

``FOCUS`` holds ``FocusConfig``'s settings by field name (``"api_url"``, ``"app"``,
``"issuer"``, ``"public_origin"``...), here every ``FOCUS_*`` variable of the environment
with the demo's values as defaults (``example_apps.common``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from example_apps.common import DEFAULT_HOST, DEFAULT_PORT, Server, focus_settings
from focus_middleware.logging import install as install_log_redaction

HERE = Path(__file__).resolve().parent

FOCUS = focus_settings(Server(os.environ.get("HOST", DEFAULT_HOST), int(os.environ.get("PORT", DEFAULT_PORT))))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "clip-studio-example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = [urlsplit(FOCUS["public_origin"]).hostname or "127.0.0.1", "127.0.0.1", "localhost"]
ROOT_URLCONF = "example_apps.django_app.urls"
WSGI_APPLICATION = "example_apps.django_app.wsgi.application"
USE_TZ = True
DATABASES: dict[str, dict[str, str]] = {}  # Focus keeps the accounts; this app stores nothing

INSTALLED_APPS = [
    "django_focus",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_focus.middleware.FocusMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
                "django_focus.context_processors.focus",  # focus_account, the refresh script...
                "example_apps.django_app.views.prices",
            ],
        },
    },
]

# runserver logs the raw request line, which carries the sign-in return trip's ?token=
# (and a refused request's): one line keeps every credential out of it (README, "Keeping
# tokens out of server logs").
install_log_redaction("django.server")

# A cross-site form post meets Django's CSRF check first: the same 403 page as Focus's.
CSRF_FAILURE_VIEW = "example_apps.django_app.views.csrf_failure"
