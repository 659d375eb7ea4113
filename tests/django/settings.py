"""A small real Django project for the django-focus tests (DJANGO_SETTINGS_MODULE is set
to this module by tests/django/conftest.py, for this folder's tests)."""

from __future__ import annotations

import tempfile
from pathlib import Path

HERE = Path(__file__).parent
ORIGIN = "http://app.example.test"

SECRET_KEY = "django-focus-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["app.example.test", "testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.django.urls"
USE_TZ = True
DATABASES: dict[str, dict[str, str]] = {}

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
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
                "django_focus.context_processors.focus",
            ],
        },
    },
]

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"},
    "shared": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
               "LOCATION": tempfile.mkdtemp(prefix="django-focus-cache-")},
}

# Replaced per test by tests/django/conftest.py with the test's emulator and clock.
FOCUS = {"app": "video", "public_origin": ORIGIN}
