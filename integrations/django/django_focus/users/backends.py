"""``FocusBackend``: Django's authentication backends API, for a Focus account.

List it in ``AUTHENTICATION_BACKENDS`` (beside ``ModelBackend``, which keeps answering
``has_perm`` from groups and permissions, for the linked rows too)::

    AUTHENTICATION_BACKENDS = [
        "django_focus.users.backends.FocusBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]

It authenticates only ``authenticate(request, focus_account=<FocusAccount>)``, which
:mod:`django_focus.auth` calls with an account the core has verified; a username and a
password never reach it. Subclass it to shape the row (override :meth:`link`).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from focus_middleware.models import FocusAccount

from django_focus.conf import user_linking
from django_focus.users.linking import link_or_none


class FocusBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     *, focus_account: FocusAccount | None = None, **kwargs: Any) -> Any:
        if not isinstance(focus_account, FocusAccount) or username is not None or password is not None:
            return None
        user = self.link(focus_account)
        return user if user is not None and self.user_can_authenticate(user) else None

    async def aauthenticate(self, request: HttpRequest | None, username: str | None = None,
                            password: str | None = None, *, focus_account: FocusAccount | None = None,
                            **kwargs: Any) -> Any:
        # ModelBackend's own aauthenticate checks a password; this one links, in a thread.
        return await sync_to_async(self.authenticate)(request, username, password, focus_account=focus_account)

    def link(self, account: FocusAccount) -> Any:
        """The row for ``account`` (created and synced), or None to refuse it."""
        return link_or_none(account, user_linking())


__all__ = ["FocusBackend"]
