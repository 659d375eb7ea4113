"""The DRF test project: Django REST framework, drf-spectacular, the admin, and Focus
accounts linked to a custom user model (tests/django_drf/conftest.py sets
DJANGO_SETTINGS_MODULE to this module while Django is set up)."""

from __future__ import annotations

ORIGIN = "http://app.example.test"

SECRET_KEY = "django-focus-drf-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["app.example.test", "testserver"]
ROOT_URLCONF = "tests.django_drf.urls"
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "drf_spectacular",
    "django_focus",
    "django_focus.users",
    "tests.django_drf.accounts",
]
AUTH_USER_MODEL = "accounts.Member"
AUTHENTICATION_BACKENDS = [
    "django_focus.users.backends.FocusBackend",
    "django.contrib.auth.backends.ModelBackend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_focus.middleware.FocusMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django_focus.users.middleware.FocusAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LOGIN_URL = "/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_focus.drf.FocusAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "django_focus.drf.focus_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "django_focus.drf.schema.FocusAutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "DRF on Focus", "VERSION": "1"}

# Replaced per test by the conftest with the test's emulator and clock.
FOCUS = {"app": "video", "public_origin": ORIGIN, "link_users": True}
