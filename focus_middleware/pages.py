"""The HTML pages a navigation gets instead of JSON, shared by every adapter.

A browser that loads a page should see a page, not a JSON error: the loop-cut 401 with a
sign-in link, the 503 while Focus is down (with a retry), the 403 for a cross-site request
(with a way back), the signed-out page, a 404 an app may serve. Each is a body template in
``templates/`` set in one layout (:mod:`focus_middleware.page_layout`), every value
HTML-escaped there, so no caller can forget to. The 402 page lives in ``responses``;
:func:`template_page` turns an app's own template text into a replacement for it with the
same escaping.

Links a page offers back into the app are relative to the request (``root_path`` kept),
or the ``Referer`` when it is this app's own origin: never a URL the request could steer
elsewhere.
"""

from __future__ import annotations

import html
import string

from focus_middleware.facts import RequestFacts
from focus_middleware.page_layout import Markup, fragment, render
from focus_middleware.responses import NO_STORE, InsufficientCredits, InsufficientCreditsPage, ResponseSpec, own_referer
from focus_middleware.urls import NEVER_ECHOED, UnsafeURL, query_without, request_target

_HTML = ("content-type", "text/html; charset=utf-8")
DEFAULT_APP_NAME = "this app"


def _spec(status: int, body: str, *headers: tuple[str, str]) -> ResponseSpec:
    return ResponseSpec(status, (_HTML, NO_STORE, *headers), body.encode())


def _home(facts: RequestFacts | None) -> str:
    return (facts.root_path if facts is not None else "") + "/"


def _here(facts: RequestFacts | None) -> str | None:
    """This request's own URL (relative, without the sign-in's parameters) for a retry
    link: only a GET can be retried by following a link."""
    if facts is None or facts.method not in ("GET", "HEAD"):
        return None
    try:
        return request_target(facts.root_path, facts.path, query_without(facts.query_string, NEVER_ECHOED))
    except UnsafeURL:
        return None


def _back(facts: RequestFacts | None, origin: str | None) -> str:
    """The ``Referer`` when it is a page of this app (``origin``), else the app's home."""
    referer = own_referer(facts, origin) if facts is not None and origin else None
    return referer or _home(facts)


def signin_required(signin_url: str, *, app_name: str = DEFAULT_APP_NAME) -> ResponseSpec:
    """401 for a navigation whose sign-in rounds are used up: the loop stops here, and a
    deliberate click on the link starts a new sign-in."""
    body = render("signin_required.html", title="Sign in to continue", app_name=app_name, signin_url=signin_url)
    return _spec(401, body, ("www-authenticate", "Bearer"))


def unavailable(retry_after: int, *, facts: RequestFacts | None = None, app_name: str = DEFAULT_APP_NAME,
                origin: str | None = None) -> ResponseSpec:
    """503 while Focus does not answer: how long to wait (``Retry-After``), a **Try again**
    for a GET (a POST is not resent by a link: the person goes back and sends it again),
    and a way back."""
    here = _here(facts)
    retry = fragment('<a class="button" id="retry" href="$url">Try again</a>\n', url=here) if here else Markup("")
    body = render("unavailable.html", title="Temporarily unavailable", app_name=app_name, retry_after=retry_after,
                  retry=retry, back_url=_back(facts, origin))
    return _spec(503, body, ("retry-after", str(retry_after)))


def forbidden(*, facts: RequestFacts | None = None, app_name: str = DEFAULT_APP_NAME) -> ResponseSpec:
    """403 for a cookie-authenticated request from another site: what happened, and the
    way back to the app (its home: the ``Referer`` here is the other site)."""
    body = render("forbidden.html", title="Request refused", app_name=app_name, back_url=_home(facts))
    return _spec(403, body)


def token_too_large(limit: int, *, app_name: str = DEFAULT_APP_NAME) -> ResponseSpec:
    """400 for a return trip whose token cannot fit the app's cookie: storing it would fail
    silently in the browser and every later sign-in would loop, so the trip stops here."""
    body = render("token_too_large.html", title="Sign-in could not be completed", app_name=app_name, limit=limit)
    return _spec(400, body, ("referrer-policy", "no-referrer"))


def signed_out(*, signin_url: str, focus_signout_url: str | None, app_name: str = DEFAULT_APP_NAME) -> ResponseSpec:
    """The page after signing out of the app. Focus keeps its own session, so **Sign in
    again** comes straight back signed in; **Sign out of Focus too** ends that session as
    well (and lets the person pick another account). ``focus_signout_url`` None: the
    person is back from Focus's sign-out, signed out of both."""
    if focus_signout_url is None:
        heading, message = "Signed out of Focus too", f"You are signed out of {app_name} and of your Focus account."
        focus, note = Markup(""), "Signing in again asks which Focus account to use."
    else:
        heading = "You are signed out"
        message = (f"You are signed out of {app_name}. Your Focus account is still signed in on this browser, "
                   "so signing in again needs no password.")
        focus = fragment('<a class="button secondary" id="sign-out-focus" href="$url">Sign out of Focus too</a>',
                         url=focus_signout_url)
        note = f"On a shared computer, sign out of Focus too: otherwise the next person to open {app_name} is signed in as you."
    body = render("signed_out.html", title="Signed out", app_name=app_name, heading=heading, message=message,
                  signin_url=signin_url, focus_signout=focus, note=note)
    return _spec(200, body, ("referrer-policy", "no-referrer"))


def not_found(*, facts: RequestFacts | None = None, app_name: str = DEFAULT_APP_NAME) -> ResponseSpec:
    """404 for a browser, for an app that wants its missing pages to look like the rest
    (the example apps serve it; an API client keeps its framework's JSON)."""
    return _spec(404, render("not_found.html", title="Page not found", app_name=app_name, home_url=_home(facts)))


def template_page(text: str) -> InsufficientCreditsPage:
    """An app's own 402 page from template text with ``$action``, ``$required``,
    ``$available`` and ``$purchase_url`` (``string.Template`` syntax), each escaped; also
    ``$label`` (the action in words, or its slug), ``$needed``, ``$back_url`` and
    ``$app_name``."""
    template = string.Template(text)
    keys = ("action", "required", "available", "purchase_url", "label", "needed", "back_url", "app_name")
    template.substitute(dict.fromkeys(keys, ""))  # fail now, not per request

    def render_page(info: InsufficientCredits) -> str:
        values = {"action": info.action, "required": info.required, "available": info.available,
                  "purchase_url": info.purchase_url, "label": info.title, "needed": info.needed,
                  "back_url": info.back_url or "/", "app_name": info.app_name}
        return template.substitute({k: html.escape(str(v), quote=True) for k, v in values.items()})

    return render_page


__all__ = ["forbidden", "not_found", "signed_out", "signin_required", "template_page", "token_too_large",
           "unavailable"]
