"""Which response a refused request gets, decided once for every framework.

Adapters call these pure functions with the request's facts and the resolver's outcome,
and copy the resulting :class:`ResponseSpec` into their framework's response type.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Concatenate, Literal, ParamSpec
from urllib.parse import urlencode

from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.outcome import Authenticated, Outcome, Rejected
from focus_middleware.page_layout import fragment, render
from focus_middleware.urls import BILLED_PARAM, NEVER_ECHOED, UnsafeURL, query_without, request_target

if TYPE_CHECKING:
    from focus_middleware.preserve import FormKeeper

Protection = Literal["account", "credits", "paid"]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
NO_STORE = ("cache-control", "no-store")


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    """A framework-neutral response: status, headers (lower-case names) and body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    set_cookies: tuple[str, ...] = field(default=())
    keep_form: FormKeeper | None = field(default=None, repr=False, compare=False)
    """Set on the sign-in refusal of a form post (issue 24): the adapter hands it the
    request's form (:meth:`FormKeeper.respond`) and sends what that gives instead."""

    def with_headers(self, *extra: tuple[str, str]) -> ResponseSpec:
        return ResponseSpec(self.status, self.headers + extra, self.body, self.set_cookies, self.keep_form)

    def with_cookies(self, *cookies: str) -> ResponseSpec:
        return ResponseSpec(self.status, self.headers, self.body, self.set_cookies + cookies, self.keep_form)


# -- facts about the request ----------------------------------------------------------


def is_navigation(facts: RequestFacts) -> bool:
    """A top-level page load: redirect it; anything else gets JSON."""
    mode = facts.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return facts.method in ("GET", "HEAD") and "text/html" in facts.headers.get("accept", "")


def public_origin(facts: RequestFacts, config: FocusConfig) -> str:
    """The origin this app is reached at: configured, or read from a trusted proxy, or the
    server's own address; never the client's ``Host`` header."""
    if config.public_origin:
        return config.public_origin
    if facts.client_addr is not None and facts.client_addr in config.trusted_proxies:
        proto = facts.headers.get("x-forwarded-proto", facts.scheme).split(",")[0].strip()
        host = facts.headers.get("x-forwarded-host", "").split(",")[0].strip()
        if proto in ("http", "https") and _plausible_host(host):
            return f"{proto}://{host}".lower()
    return f"{facts.scheme}://{facts.host or 'localhost'}".lower()


def _plausible_host(host: str) -> bool:
    return bool(host) and len(host) < 256 and all(c.isalnum() or c in ".-:[]" for c in host)


def absolute_url(facts: RequestFacts, config: FocusConfig, path: str | None = None, query: str | None = None) -> str:
    """This request's URL (or another path of this app), absolute, from the public origin.

    ``query`` defaults to the request's own, re-encoded; pass one built by
    :func:`~focus_middleware.urls.query_without`. Raises
    :class:`~focus_middleware.urls.UnsafeURL` for a control character in the path or
    query (see :mod:`focus_middleware.urls`): the callers that build a response from it are
    wrapped in :func:`refuses_unsafe_url`."""
    qs = query_without(facts.query_string, frozenset()) if query is None else query
    return public_origin(facts, config) + request_target(facts.root_path, facts.path if path is None else path, qs)


def echo_url(facts: RequestFacts, config: FocusConfig) -> str:
    """This request's URL as a ``redirect_to`` sent to sign-in or billing: without
    ``token`` (an app's own, say a password reset's, included: Focus and the JSON body's
    readers have no business with it, and the sign-in returns its own under that name) and
    without the return trip's ``focus_state``/``focus_bounce``."""
    return absolute_url(facts, config, query=query_without(facts.query_string, NEVER_ECHOED))


def billing_return_url(facts: RequestFacts, config: FocusConfig) -> str:
    """The 402's ``redirect_to``: :func:`echo_url` plus the billing marker
    (``focus_billed=1``), so the browser back from buying credits has its wallet read
    afresh instead of seeing the balance cached before it bought them."""
    query = query_without(facts.query_string, NEVER_ECHOED)
    return absolute_url(facts, config, query="&".join(p for p in (query, f"{BILLED_PARAM}=1") if p))


_P = ParamSpec("_P")

_BAD_URL_PAGE = (b"<!doctype html><meta charset=utf-8><title>Bad request</title>"
                 b"<h1>Bad request</h1><p>This address holds control characters; check the link.</p>")


def bad_url(facts: RequestFacts) -> ResponseSpec:
    """400 for a request whose URL holds control characters: never a 500, never echoed."""
    if is_navigation(facts):
        return ResponseSpec(400, (("content-type", "text/html; charset=utf-8"), NO_STORE), _BAD_URL_PAGE)
    return json_response(400, {"error": "bad_request", "message": "The request's URL holds control characters."})


def refuses_unsafe_url(
    build: Callable[Concatenate[RequestFacts, _P], ResponseSpec],
) -> Callable[Concatenate[RequestFacts, _P], ResponseSpec]:
    """Wrap a response builder that puts this request's URL into its response: a URL with
    control characters gets :func:`bad_url` instead of an exception (a 500)."""

    @functools.wraps(build)
    def guarded(facts: RequestFacts, /, *args: _P.args, **kwargs: _P.kwargs) -> ResponseSpec:
        try:
            return build(facts, *args, **kwargs)
        except UnsafeURL:
            return bad_url(facts)

    return guarded


def is_same_origin(facts: RequestFacts, config: FocusConfig) -> bool:
    site = facts.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = facts.headers.get("origin")
    if origin is None:
        # Neither header: not a browser that could be tricked into a cross-site request.
        return True
    return origin.lower() == public_origin(facts, config)


def needs_same_origin(facts: RequestFacts, outcome: Outcome, protection: Protection | None) -> bool:
    """Cookie-authenticated state changes, and cookie-authenticated paid calls of any method."""
    return method_needs_same_origin(facts.method, outcome, protection)


def method_needs_same_origin(method: str, outcome: Outcome, protection: Protection | None) -> bool:
    """:func:`needs_same_origin` from the request's method alone (all it depends on)."""
    if not isinstance(outcome, Authenticated) or outcome.credential.source == "bearer":
        return False
    return protection == "paid" or method not in _SAFE_METHODS


# -- the refusals -----------------------------------------------------------------------


def json_response(status: int, body: Mapping[str, object], *headers: tuple[str, str]) -> ResponseSpec:
    """A refusal as API clients get it: compact JSON, never stored by a cache."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    return ResponseSpec(status, (("content-type", "application/json"), NO_STORE, *headers), payload)


def signin_url(config: FocusConfig, redirect_to: str) -> str:
    return f"{config.signin_url}?{urlencode({'redirect_to': redirect_to})}"


def purchase_url(config: FocusConfig, redirect_to: str, need: int | None = None) -> str:
    """The billing page, back to ``redirect_to``; with ``need`` (how many more credits the
    person needs) under ``config.purchase_need_param`` when that is set, so the page can
    offer the right amount (assumed: a billing page ignores a parameter it does not take)."""
    query = {"redirect_to": redirect_to}
    if need is not None and need > 0 and config.purchase_need_param:
        query[config.purchase_need_param] = str(need)
    return f"{config.purchase_url}?{urlencode(query)}"


def back_url(facts: RequestFacts, config: FocusConfig) -> str:
    """Where a page's **Back** goes: the page the person came from when it is one of this
    app's (the ``Referer``, same origin only: never a way off to another site), else the
    app's home."""
    return own_referer(facts, public_origin(facts, config)) or absolute_url(facts, config, path="/", query="")


def own_referer(facts: RequestFacts, origin: str) -> str | None:
    """The ``Referer`` when it is a page of ``origin`` (this app), else None."""
    referer = facts.headers.get("referer", "")
    if referer.startswith(origin + "/") and len(referer) < 2048 and referer.isprintable() and " " not in referer:
        return referer
    return None


def redirect(location: str, status: int = 303) -> ResponseSpec:
    return ResponseSpec(status, (("location", location), NO_STORE, ("referrer-policy", "no-referrer")))


_TOLD_REASONS = {
    "session_pending": "Your Focus session has unfinished steps (session status pending): finish signing in on Focus.",
}
"""Refusal reasons an API client is told in the 401 body: only those it can act on. The
others (a bad signature, a wrong azp...) stay in our logs; the client hears invalid_token."""


def refusal_reason(outcome: object) -> str | None:
    """The reason an API client is told for ``outcome``, if any (see ``_TOLD_REASONS``)."""
    reason = outcome.reason if isinstance(outcome, Rejected) else None
    return reason if reason in _TOLD_REASONS else None


@refuses_unsafe_url
def unauthorized(facts: RequestFacts, config: FocusConfig, *, token_presented: bool, reason: str | None = None) -> ResponseSpec:
    challenge = 'Bearer error="invalid_token"' if token_presented else "Bearer"
    body = {"error": "unauthorized", "signin_url": signin_url(config, echo_url(facts, config))}
    if reason in _TOLD_REASONS:
        body.update(reason=reason, message=_TOLD_REASONS[reason])
    return json_response(401, body, ("www-authenticate", challenge))


def unavailable(retry_after: int) -> ResponseSpec:
    body = {"error": "unavailable", "message": "The Focus account service is unavailable; try again shortly."}
    return json_response(503, body, ("retry-after", str(retry_after)))


def forbidden_cross_origin() -> ResponseSpec:
    body = {"error": "forbidden", "message": "Cross-origin requests authenticated by cookie are refused."}
    return json_response(403, body)


@dataclass(frozen=True, slots=True)
class InsufficientCredits:
    """What a 402 says; apps that replace the HTML page receive this.

    ``required`` is what the action sets aside (a paid route's reservation), which may be
    more than it ``usual_cost`` (shown only when the route gives it): a person with exactly
    the usual cost still needs ``needed`` more, and the page says why. ``label`` is the
    action in words (``paid(..., label="Preview render")``), ``title`` it or the slug."""

    required: int
    available: int
    action: str
    purchase_url: str
    label: str | None = None
    usual_cost: int | None = None
    app_name: str = "this app"
    back_url: str | None = None

    @property
    def needed(self) -> int:
        """How many more credits the person needs for it."""
        return max(0, self.required - self.available)

    @property
    def title(self) -> str:
        return self.label or self.action


InsufficientCreditsPage = Callable[[InsufficientCredits], str]


def _default_page(info: InsufficientCredits) -> str:
    usual = "."
    if info.usual_cost is not None and info.usual_cost != info.required:
        usual = fragment(" (they are set aside while it runs; it usually costs $usual, and what it does not use"
                         " goes back to you at once).", usual=info.usual_cost)
    return render("insufficient_credits.html", title="Not enough credits", app_name=info.app_name,
                  action=info.title, required=info.required, available=info.available, needed=info.needed,
                  usual_cost=usual, purchase_url=info.purchase_url, back_url=info.back_url or "/")


def default_insufficient_credits_page(info: InsufficientCredits) -> str:
    """The built-in 402 page, for an adapter whose app-supplied page may decline (Flask's
    template override falls back to it when the app has no such template)."""
    return _default_page(info)


@refuses_unsafe_url
def insufficient_credits(
    facts: RequestFacts,
    config: FocusConfig,
    *,
    required: int,
    available: int,
    action: str,
    page: InsufficientCreditsPage | None = None,
    label: str | None = None,
    usual_cost: int | None = None,
) -> ResponseSpec:
    need = max(0, required - available)
    info = InsufficientCredits(required, available, action, purchase_url(config, billing_return_url(facts, config), need),
                               label=label, usual_cost=usual_cost, app_name=config.app_name or "this app",
                               back_url=back_url(facts, config))
    if is_navigation(facts):
        body = (page or _default_page)(info).encode()
        return ResponseSpec(402, (("content-type", "text/html; charset=utf-8"), NO_STORE), body)
    return json_response(402, {"error": "insufficient_credits", "required": required, "available": available,
                       "action": action, "purchase_url": info.purchase_url})

