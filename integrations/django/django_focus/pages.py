"""The 402 page for a navigation: the project's template when it has one, else the core's.

``django_focus/insufficient_credits.html`` is looked up through ``TEMPLATES`` like any
template, so a project replaces the page the Django way (a ``DIRS`` entry, or an app
listed before ``django_focus``); with ``APP_DIRS`` the page shipped in this app is found.
A project may also have no template engine at all (the README's settings have none), or
only engines that cannot see this app's ``templates/`` (Jinja2 looks in ``jinja2/``): a
refusal must not become a 500 there, so a page no engine finds falls back to
:func:`focus_middleware.responses.default_insufficient_credits_page`, the one every other
adapter serves.

Only the lookup falls back. A template that is found and then fails (a syntax error, an
``{% include %}`` of a missing file) is the project's bug and raises as any of its
templates would: hiding it behind the built-in page would ship it unnoticed.

The other HTML refusals (the 401 that cuts a sign-in loop, 403, 503) are the core's pages
(:mod:`focus_middleware.pages`) and never touch the template engine.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.safestring import mark_safe

from focus_middleware.responses import InsufficientCredits, default_insufficient_credits_page

INSUFFICIENT_CREDITS_TEMPLATE = "django_focus/insufficient_credits.html"


def insufficient_credits_page(info: InsufficientCredits, request: HttpRequest) -> str:
    """The 402 page's HTML. Context: ``action``, ``label`` (the action in words, else its
    slug), ``required``, ``available``, ``needed``, ``usual_cost``, ``purchase_url``,
    ``back_url``, ``app_name``, ``info`` (the :class:`InsufficientCredits`) and
    ``core_page`` (the core's page, already escaped, which the template shipped here is);
    the engine's context processors run with ``request``."""
    try:
        template = get_template(INSUFFICIENT_CREDITS_TEMPLATE)
    except TemplateDoesNotExist:
        return default_insufficient_credits_page(info)
    context = {"info": info, "action": info.action, "label": info.title, "required": info.required,
               "available": info.available, "needed": info.needed, "usual_cost": info.usual_cost,
               "purchase_url": info.purchase_url, "back_url": info.back_url, "app_name": info.app_name,
               # The core builds it from escaped parts only (focus_middleware.page_layout).
               "core_page": mark_safe(default_insufficient_credits_page(info))}  # noqa: S308
    return template.render(context, request)


__all__ = ["INSUFFICIENT_CREDITS_TEMPLATE", "insufficient_credits_page"]
