"""Keeping a form across a sign-in bounce, the Django side (see :mod:`focus_middleware.preserve`).

The form comes from ``request.POST``/``request.FILES`` (parsed once by Django, whoever asked
first: ``CsrfViewMiddleware`` usually has); a body declared over the bound is not parsed.
A view turns keeping off with :func:`no_form_keeping` (like ``csrf_exempt``).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

from focus_middleware.preserve import (
    KEEP_LIMIT,
    TOO_LARGE,
    Posted,
    keeps_form_for,
    no_form_keeping,
)
from focus_middleware.responses import ResponseSpec


def posted_from_request(request: HttpRequest) -> Posted:
    length = str(request.META.get("CONTENT_LENGTH") or "")
    if length.isdigit() and int(length) > KEEP_LIMIT:
        return TOO_LARGE
    try:
        post, files = request.POST, request.FILES
    except (RequestDataTooBig, TooManyFieldsSent, MultiPartParserError):
        return TOO_LARGE
    if files:  # Django leaves out file inputs sent empty
        return Posted(files=True)
    return Posted(tuple((name, value) for name, values in post.lists() for value in values))


def resolve(spec: ResponseSpec, request: HttpRequest) -> ResponseSpec:
    """``spec`` as it is, or, for the refusal of a form post, the page that keeps it."""
    keeper = spec.keep_form
    if keeper is None:
        return spec
    match = request.resolver_match
    view = match.func if match is not None else None
    allowed = keeps_form_for(view) and keeps_form_for(getattr(view, "view_class", None))
    return keeper.respond(posted_from_request(request) if allowed else None, allowed=allowed)


__all__ = ["no_form_keeping", "posted_from_request", "resolve"]
