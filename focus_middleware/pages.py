"""The HTML pages a navigation gets instead of JSON, shared by every adapter.

A browser that loads a page should see a page, not a JSON error: the loop-cut 401 with a
sign-in link, the 503 while Focus is down, the 403 for a cross-site request. Each is a
``string.Template`` in ``templates/`` whose every value is HTML-escaped here, so no caller
can forget to. The 402 page lives in ``responses``; :func:`template_page` turns an app's own
template text into a replacement for it with the same escaping.
"""

from __future__ import annotations

import html
import string
from functools import cache
from importlib import resources

from focus_middleware.responses import NO_STORE, InsufficientCredits, InsufficientCreditsPage, ResponseSpec

_HTML = ("content-type", "text/html; charset=utf-8")


@cache
def _template(name: str) -> string.Template:
    text = resources.files("focus_middleware").joinpath(f"templates/{name}").read_text(encoding="utf-8")
    return string.Template(text)


def _page(status: int, name: str, *headers: tuple[str, str], **values: str) -> ResponseSpec:
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    body = _template(name).substitute(escaped).encode()
    return ResponseSpec(status, (_HTML, NO_STORE, *headers), body)


def signin_required(signin_url: str) -> ResponseSpec:
    """401 for a navigation whose sign-in rounds are used up: the loop stops here, and a
    deliberate click on the link starts a new sign-in."""
    return _page(401, "signin_required.html", ("www-authenticate", "Bearer"), signin_url=signin_url)


def unavailable(retry_after: int) -> ResponseSpec:
    return _page(503, "unavailable.html", ("retry-after", str(retry_after)), retry_after=str(retry_after))


def forbidden() -> ResponseSpec:
    return _page(403, "forbidden.html")


def token_too_large(limit: int) -> ResponseSpec:
    """400 for a return trip whose token cannot fit the app's cookie: storing it would fail
    silently in the browser and every later sign-in would loop, so the trip stops here."""
    return _page(400, "token_too_large.html", ("referrer-policy", "no-referrer"), limit=str(limit))


def template_page(text: str) -> InsufficientCreditsPage:
    """An app's own 402 page from template text with ``$action``, ``$required``,
    ``$available`` and ``$purchase_url`` (``string.Template`` syntax), each escaped."""
    template = string.Template(text)
    template.substitute(action="", required="", available="", purchase_url="")  # fail now, not per request

    def render(info: InsufficientCredits) -> str:
        return template.substitute(
            action=html.escape(info.action, quote=True),
            required=html.escape(str(info.required), quote=True),
            available=html.escape(str(info.available), quote=True),
            purchase_url=html.escape(info.purchase_url, quote=True),
        )

    return render


__all__ = ["forbidden", "signin_required", "template_page", "token_too_large", "unavailable"]
