"""The Django app: ``"django_focus"`` in ``INSTALLED_APPS`` registers the system checks,
the 402 template (for engines with ``APP_DIRS``; without one the core's page is served)
and the reaction to changed settings."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoFocusConfig(AppConfig):
    name = "django_focus"
    verbose_name = "Focus"

    def ready(self) -> None:
        from django_focus import checks, runtime  # noqa: F401  (registers checks and the settings receiver)
