"""The Django app: ``"django_focus"`` in ``INSTALLED_APPS`` registers the system checks,
the 402 template (for engines with ``APP_DIRS``; without one the core's page is served),
the reaction to changed settings, and drf-spectacular's extension where it is installed."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoFocusConfig(AppConfig):
    name = "django_focus"
    verbose_name = "Focus"

    def ready(self) -> None:
        from django_focus import checks, runtime  # noqa: F401  (registers checks and the settings receiver)

        _register_openapi_extension()


def _register_openapi_extension() -> None:
    """drf-spectacular finds extensions by their import (its "Extensions" guide: in an
    app's ``ready()``), so the bearer scheme is declared for projects that use DRF and
    drf-spectacular, whichever schema class they use."""
    from importlib.util import find_spec

    from django.apps import apps

    if apps.is_installed("drf_spectacular") and find_spec("rest_framework") is not None:
        from django_focus.drf import schema  # noqa: F401
