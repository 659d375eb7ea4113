"""``request.user`` from the Focus credential, in place of Django's ``AuthenticationMiddleware``.

A subclass of it (the admin's system check looks for one), listed in its place, after
``FocusMiddleware``::

    "django_focus.users.middleware.FocusAuthenticationMiddleware",

``request.user`` (lazy) and ``await request.auser()`` are the user the request's Focus
credential stands for (:mod:`django_focus.auth`); without a Focus account they fall back
to Django's own session user when ``SessionMiddleware`` is installed (a local superuser who
signed in to the admin with a password), else ``AnonymousUser``. No ``login()`` is done,
so a Focus sign-out signs the browser out here too, and the CSRF token is not rotated
under a form the user keeps open.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth import aget_user, get_user
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from django_focus.auth import afocus_user, focus_user


def _user(request: HttpRequest) -> Any:
    user = focus_user(request)
    if user is not None:
        return user
    return get_user(request) if hasattr(request, "session") else AnonymousUser()


async def _auser(request: HttpRequest) -> Any:
    user = await afocus_user(request)
    if user is not None:
        return user
    return await aget_user(request) if hasattr(request, "session") else AnonymousUser()


class FocusAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        request.user = SimpleLazyObject(lambda: _user(request))  # type: ignore[assignment]
        request.auser = partial(_auser, request)


__all__ = ["FocusAuthenticationMiddleware"]
