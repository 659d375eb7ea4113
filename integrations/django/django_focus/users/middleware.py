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

A request whose credential Focus could not check (an outage) has no user either, but
Django's ``login_required`` (and ``LoginRequiredMixin``, ``LoginRequiredMiddleware``) must
not send it to sign in: the browser is signed in, and the sign-in page would only send it
back. Its redirect to ``LOGIN_URL`` becomes the core's answer to an outage, the 503 that
``@focus_login_required`` gives.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import aget_user, get_user
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import resolve_url
from django.utils.functional import SimpleLazyObject

from focus_middleware.access import ACCOUNT

from django_focus.auth import afocus_user, focus_user
from django_focus.decorators import refusal_of
from django_focus.request import CONTEXT_ATTR, FocusContext


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


def _to_sign_in(response: HttpResponseBase) -> bool:
    """Whether ``response`` is Django's redirect to ``LOGIN_URL`` (``redirect_to_login``)."""
    if not 300 <= response.status_code < 400 or not response.has_header("Location"):
        return False
    target = urlsplit(resolve_url(settings.LOGIN_URL))
    location = urlsplit(response["Location"])
    return (location.scheme, location.netloc, location.path) == (target.scheme, target.netloc, target.path)


class FocusAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        request.user = SimpleLazyObject(lambda: _user(request))  # type: ignore[assignment]
        request.auser = partial(_auser, request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """A sign-in redirect of a request whose credential Focus could not check: the
        core's answer to the outage instead (see the module)."""
        ctx = getattr(request, CONTEXT_ATTR, None)
        proceed = ctx.proceed if isinstance(ctx, FocusContext) else None
        if proceed is None or proceed.reason != "unavailable" or not _to_sign_in(response):
            return response
        assert ctx is not None
        spec = refusal_of(ctx, proceed.outcome, ACCOUNT)
        return response if spec is None else ctx.respond(spec)


__all__ = ["FocusAuthenticationMiddleware"]
