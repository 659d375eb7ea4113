"""The optional app that links Focus accounts to Django users (its own table, its own
migrations: a project that does not link users never gets them)."""

from __future__ import annotations

from django.apps import AppConfig


class FocusUsersConfig(AppConfig):
    name = "django_focus.users"
    label = "focus_users"
    verbose_name = "Focus users"
    default_auto_field = "django.db.models.BigAutoField"
