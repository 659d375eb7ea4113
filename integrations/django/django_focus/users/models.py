"""The link between a Focus account (its Clerk user id) and a row of ``AUTH_USER_MODEL``.

A table of its own rather than a field on the user model, so that a custom user model
needs no change, and rather than the username, which an app may let users pick (and
which a custom model may not have). One row per Clerk user id, one per user.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class FocusLink(models.Model):
    user: models.OneToOneField[Any, Any] = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                                                related_name="focus_link")
    clerk_id: models.CharField[str, str] = models.CharField(max_length=255, unique=True)
    created_at: models.DateTimeField[Any, Any] = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Focus link"

    def __str__(self) -> str:
        return str(self.clerk_id)
