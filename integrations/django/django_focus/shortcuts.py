"""Helpers for an app's own views."""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpRequest, HttpResponseBase

from focus_middleware.sessions import clear_session_cookies, refresh_script_path

from django_focus.request import focus_context, set_core_cookie

Response = TypeVar("Response", bound=HttpResponseBase)


def clear_focus_session(response: Response, request: HttpRequest) -> Response:
    """Sign this browser out of the app (not of Focus) on ``response``: the cookies
    ``POST /_focus/signout`` clears, for an app that signs out in its own view (Django's
    ``LogoutView`` beside it, say)."""
    ctx = focus_context(request)
    for raw in clear_session_cookies(ctx.facts, ctx.runtime.config):
        set_core_cookie(response, raw)
    return response


def refresh_script_url(request: HttpRequest) -> str:
    """Where ``<script src=... defer>`` finds the session refresh script for this request."""
    return refresh_script_path(focus_context(request).facts.root_path)


__all__ = ["clear_focus_session", "refresh_script_url"]
