"""A form is never lost to an expired session token (issue 24).

A browser whose session token expired (off ``*.thefocus.ai`` it lives a minute) and that
posts a form to a protected route is bounced through Focus's sign-in, which comes back by
GET: without this module, what the person typed and the click itself were gone. Like
mod_auth_openidc's ``OIDCPreservePost``, the posted fields are kept **in the browser**:

1. The refusal (``access.no_account``) of a same-origin form post
   (``application/x-www-form-urlencoded``, or ``multipart/form-data`` without files) with an
   expired session is not the bare 303 but a small interstitial page (200, ``no-store``)
   holding the kept fields as JSON in a ``<script type="application/json">`` (``<``, ``>``
   and ``&`` escaped, so no value can end the element) and ``/_focus/preserve.js``. The script
   writes them to ``sessionStorage`` (this tab, this origin only) and goes on to sign-in.
   The sign-in returns to the page the form was on (a same-origin ``Referer``), else to
   the post's own URL.
2. Back on that page, the same script (served inside ``/_focus/refresh.js`` too, which
   pages already include) finds the form whose action the post went to, fills it in, and
   shows a notice with a "Continue" button. Nothing is re-posted by itself: a paid action
   runs only when the person presses it, and the app's page has issued a fresh CSRF token.
   The entry is removed as it is used, and ignored and removed once older than the
   sign-in state's life (``state_cookie_max_age``).

Why in the browser, not under the state nonce in the server's cache: nothing to store,
bound, expire or share between processes (the cache need not be shared, and a kept form
is as private as what the person typed: it never leaves their tab); the only bound is the
page's size. The interstitial needs JavaScript; without it, the page links to sign-in and
says the form must be sent again.

Never kept: CSRF tokens (a fresh one is issued by the page) and fields that look like
passwords by name (the server sees names, not input types; the script never fills a
``type=password``, hidden or file input either). Not kept at all, with a page that says
the form must be sent again: a post holding a file, or a body over :data:`KEEP_LIMIT`.
Cross-site posts get the plain redirect (they are not this app's forms). A route turns
it off with :func:`no_form_keeping` (each adapter re-exports it).

Adapters translate only: the refusal carries a :class:`FormKeeper` on its
:class:`~focus_middleware.responses.ResponseSpec`; the adapter hands it the request's
form as a :class:`Posted` (from its framework's parsed form, or the raw body through
:func:`posted_from_body`), or None when it has none, and sends what comes back.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.jobs import reservation_outcome
from focus_middleware.outcome import Expired, Outcome
from focus_middleware.responses import NO_STORE, ResponseSpec, absolute_url, is_navigation, is_same_origin
from focus_middleware.urls import NEVER_ECHOED, query_without

KEEP_LIMIT = 64 * 1024
"""The largest form body kept (bytes): the interstitial page carries it all, twice at most."""

SCRIPT_PATH = "/_focus/preserve.js"
ELEMENT_ID = "focus-kept-form"
OPT_OUT_ATTR = "focus_keep_form"
"""Set to False on a view/endpoint (by :func:`no_form_keeping`) to turn keeping off for it."""

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_CSRF = re.compile(r"csrf|xsrf|authenticity_token|requestverificationtoken", re.IGNORECASE)
_PASSWORD = re.compile(r"pass(word|wd|phrase)?($|[^a-z])|^pwd|secret|^pin$|otp", re.IGNORECASE)
_HTML = ("content-type", "text/html; charset=utf-8")

F = TypeVar("F", bound=Callable[..., object])


def no_form_keeping(view: F) -> F:
    """Decorator: a post to this view that meets an expired session is bounced to sign-in
    as before, its fields not kept (for a form whose values must never sit in the
    browser's storage, or that must not be offered again)."""
    wrapped: object = view
    while wrapped is not None:  # every layer, so the flag is found whichever a framework checks
        try:
            setattr(wrapped, OPT_OUT_ATTR, False)
        except (AttributeError, TypeError):
            break
        wrapped = getattr(wrapped, "__wrapped__", None)
    return view


def keeps_form_for(view: object) -> bool:
    """Whether ``view`` (an endpoint, view function or class) allows keeping."""
    return getattr(view, OPT_OUT_ATTR, True) is not False


@dataclass(frozen=True, slots=True)
class Posted:
    """A request's form as its adapter read it. ``files``: it carried a file (never kept);
    ``too_large``: its body is over :data:`KEEP_LIMIT` (not read at all)."""

    fields: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    files: bool = False
    too_large: bool = False


TOO_LARGE = Posted(too_large=True)


def is_form(facts: RequestFacts) -> bool:
    """A form post's content type (files or not: :class:`Posted` tells them apart)."""
    kind = facts.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in (_FORM, _MULTIPART)


def wants_form(facts: RequestFacts, config: FocusConfig) -> bool:
    """Would a sign-in bounce of this request keep its form? A same-origin form POST that
    is a navigation. Adapters that must read the body before the app does (ASGI: a
    framework's form parser consumes the stream) ask this only for an expired session."""
    return facts.method == "POST" and is_navigation(facts) and is_form(facts) and is_same_origin(facts, config)


def may_bounce_form(facts: RequestFacts, config: FocusConfig, outcome: Outcome) -> bool:
    """Could a guard bounce this request with its form kept? A form post as
    :func:`wants_form` says, whose session is expired or (for a paid route) too close to
    expiry to settle a job. For an adapter that must read the body before the app runs."""
    return isinstance(reservation_outcome(outcome, config), Expired) and wants_form(facts, config)


def declared_too_large(facts: RequestFacts) -> bool:
    """Whether ``Content-Length`` already says the body is over the bound (then it is not read)."""
    raw = facts.headers.get("content-length", "")
    return raw.isdigit() and int(raw) > KEEP_LIMIT


def posted_from_body(content_type: str, body: bytes | None) -> Posted:
    """A form from its raw body (``None``: over the bound). Multipart is parsed with the
    standard library's MIME parser: bodies here are small and bounded."""
    if body is None or len(body) > KEEP_LIMIT:
        return TOO_LARGE
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == _FORM:
        return Posted(tuple(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
    if kind != _MULTIPART:
        return Posted()
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return Posted()
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_param("filename", header="content-disposition")
        if filename is not None:
            if filename or data:
                return Posted(files=True)
            continue  # a file input left empty: nothing was lost
        pairs.append((name, data.decode(part.get_content_charset() or "utf-8", "replace")))
    return Posted(tuple(pairs))


def posted_from_pairs(pairs: Iterable[tuple[str, str]], filenames: Iterable[str | None]) -> Posted:
    """A form from a framework's parsed form (its fields, and the names of its files: a
    file input left empty arrives with an empty name, and is no file)."""
    if any(filenames):
        return Posted(files=True)
    return Posted(tuple(pairs))


def kept_fields(posted: Posted) -> list[tuple[str, str]]:
    """The fields worth keeping: never a CSRF token, never what looks like a password."""
    return [(name, value) for name, value in posted.fields if not _CSRF.search(name) and not _PASSWORD.search(name)]


@dataclass(frozen=True, slots=True)
class FormKeeper:
    """The pending refusal of a form post with an expired session: :meth:`respond` turns
    the adapter's :class:`Posted` into the interstitial (or the must-resend page), or into
    ``plain``, the bare sign-in redirect, when there is no form to keep."""

    plain: ResponseSpec = field(repr=False)
    keeping: ResponseSpec = field(repr=False)
    """The sign-in redirect back to the form's page, its state cookie included."""
    action: str = field(repr=False)
    max_age: int = 600
    script: str = SCRIPT_PATH

    def respond(self, posted: Posted | None, *, allowed: bool = True) -> ResponseSpec:
        if posted is None or not allowed:
            return self.plain
        location = dict(self.keeping.headers).get("location")
        if location is None:  # the loop-cut page: no sign-in to go through
            return self.keeping
        if posted.files or posted.too_large:
            return _must_resend(location, posted).with_cookies(*self.keeping.set_cookies)
        return _interstitial(location, self.action, kept_fields(posted), self.max_age, self.script).with_cookies(
            *self.keeping.set_cookies)


def return_facts(facts: RequestFacts, config: FocusConfig) -> RequestFacts:
    """The request to come back to after sign-in: the page the form was on (a same-origin
    ``Referer``), else the post's own URL, as a GET."""
    referer = facts.headers.get("referer", "")
    origin = absolute_url(facts, config, path="/", query="")[:-1]
    parts = urlsplit(referer)
    if referer and f"{parts.scheme}://{parts.netloc}".lower() == origin and not parts.username:
        return replace(facts, method="GET", path=parts.path or "/", root_path="",
                       query_string=query_without(parts.query, NEVER_ECHOED))
    return replace(facts, method="GET")


def keeper(facts: RequestFacts, config: FocusConfig, plain: ResponseSpec, keeping: ResponseSpec) -> ResponseSpec:
    """``plain`` (the refusal as it was) carrying a :class:`FormKeeper` for the adapter."""
    action = absolute_url(facts, config, query=query_without(facts.query_string, NEVER_ECHOED))
    return replace(plain, keep_form=FormKeeper(plain, keeping, action, config.state_cookie_max_age,
                                                   facts.root_path + SCRIPT_PATH))


# -- the pages --------------------------------------------------------------------------------


def script_json(value: object) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` and the
    line separators escaped, so no value can close the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


@cache
def _template(name: str) -> str:
    return resources.files("focus_middleware").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _interstitial(location: str, action: str, fields: list[tuple[str, str]], max_age: int, script: str) -> ResponseSpec:
    data = script_json({"action": action, "fields": fields, "max_age": max_age, "signin": location})
    body = (_template("form_kept.html").replace("$data", data)
            .replace("$signin_url", html.escape(location, quote=True))
            .replace("$script", html.escape(script, quote=True)))
    headers = (_HTML, NO_STORE, ("referrer-policy", "same-origin"), ("x-content-type-options", "nosniff"))
    return ResponseSpec(200, headers, body.encode())


def _must_resend(location: str, posted: Posted) -> ResponseSpec:
    why = ("it holds a file" if posted.files else f"it is larger than {KEEP_LIMIT // 1024} KB")
    body = (_template("form_not_kept.html").replace("$signin_url", html.escape(location, quote=True))
            .replace("$why", html.escape(why, quote=True)))
    return ResponseSpec(401, (_HTML, NO_STORE, ("www-authenticate", "Bearer")), body.encode())


__all__ = [
    "ELEMENT_ID",
    "KEEP_LIMIT",
    "OPT_OUT_ATTR",
    "SCRIPT_PATH",
    "TOO_LARGE",
    "FormKeeper",
    "Posted",
    "declared_too_large",
    "is_form",
    "keeper",
    "keeps_form_for",
    "may_bounce_form",
    "kept_fields",
    "no_form_keeping",
    "posted_from_body",
    "posted_from_pairs",
    "return_facts",
    "script_json",
    "wants_form",
]
