"""Keeping a browser signed in: the session rules every adapter shares.

``docs/architecture.md``, "Keeping a browser signed in", is the spec. Everything here is framework
free and performs no I/O: functions return :class:`~focus_middleware.responses.ResponseSpec`
values, and the parts that must verify a token or read a request body are written as
plans (generators, like :meth:`ResolverCore.plan`) that yield what they need. The request
plan (:func:`focus_middleware.request_plan.request_plan`) calls them: it decides which
rule a request meets, and its drivers run the plans.

The pieces:

- **Sign-in redirect.** A navigation that needs a session is sent (303) to the shared
  sign-in with ``redirect_to`` = this URL plus a random state nonce (``focus_state``, also
  put in a short-lived state cookie) and a bounce counter (``focus_bounce``, the number of
  sign-in rounds so far, this one included). When the counter reaches
  ``config.max_bounces`` the loop is cut with a 401 page carrying a sign-in link instead.
- **Return trip.** A GET navigation with ``focus_state`` in its query is ours. With a
  ``token`` and a nonce that matches the state cookie, the token is verified (a session
  JWT only) and stored in the app's cookie, and the browser is sent (303) to the same URL
  without ``token``, ``focus_state`` and ``focus_bounce``. A ``focus_state`` that does not
  match (login CSRF, a stale tab, a browser that dropped the state cookie) gets a 303 to
  the URL without ``token`` and ``focus_state``: the token is never used and leaves the
  address bar, while the bounce counter stays, so a browser that cannot keep cookies ends
  at the 401 page instead of looping.
- **A ``?token=`` without ``focus_state``** is not ours: it is ignored and left alone. Apps
  use ``token`` for their own links (password resets, invitations), so stripping it would
  break them, and ignoring it is what defeats login CSRF. (A protected URL's own ``token``
  does not survive a sign-in, though: Focus returns its token under that name, replacing
  any other, so the sign-in redirect leaves it out of ``redirect_to``.)
- **Back from billing.** The 402's purchase link returns to the page with
  ``focus_billed=1``. A GET navigation carrying it has its user's cached wallet dropped
  (once per user per ``wallet_ttl``: the marker can be forged) and is sent (303) to the
  same URL without it, so the page shows the balance just bought, not the one cached.
- **Refresh.** ``POST /_focus/session`` with ``{"token": ...}`` verifies a fresh session
  token and re-sets the cookie. It answers only same-origin requests that carry
  ``X-Focus-Refresh: 1``: a custom header cannot be sent cross-origin without a CORS
  preflight, which this endpoint never grants. ``GET /_focus/refresh.js`` is the script
  that calls it.
- **Sign-out.** ``POST /_focus/signout`` (same-origin) clears the app's cookie and
  redirects to a same-origin ``next`` or to the app's root.

Paths are relative to the app's ``root_path`` (``RequestFacts.path`` excludes it).
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Generator
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from focus_middleware import pages
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.outcome import (
    Anonymous,
    Authenticated,
    Credential,
    CredentialSource,
    Expired,
    Outcome,
    Rejected,
    Unavailable,
)
from focus_middleware.responses import (
    NO_STORE,
    ResponseSpec,
    absolute_url,
    is_navigation,
    is_same_origin,
    public_origin,
    redirect,
    refusal_reason,
    refuses_unsafe_url,
    signin_url,
    unauthorized,
)
from focus_middleware.billing_notice import notice_cookie
from focus_middleware.tokens import MAX_COOKIE_TOKEN, looks_like_jwt
from focus_middleware.urls import BILLED_PARAM, has_control_character, query_without, request_target

if TYPE_CHECKING:
    from focus_middleware.resolver import Effect, ResolverCore

FOCUS_PREFIX = "/_focus"
REFRESH_PATH = FOCUS_PREFIX + "/session"
SCRIPT_PATH = FOCUS_PREFIX + "/refresh.js"
PRESERVE_PATH = FOCUS_PREFIX + "/preserve.js"
SIGNOUT_PATH = FOCUS_PREFIX + "/signout"
SIGNIN_PATH = FOCUS_PREFIX + "/signin"
SIGNED_OUT_PATH = FOCUS_PREFIX + "/signed-out"

TOKEN_PARAM = "token"
STATE_PARAM = "focus_state"
BOUNCE_PARAM = "focus_bounce"
REFRESH_HEADER = "x-focus-refresh"

MAX_BODY = 16 * 1024
"""The most the refresh and sign-out endpoints read of a request body."""


_KEPT_NONCES = 3
"""Nonces kept in the state cookie: sign-ins started in a few tabs at once all complete."""

_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_OUR_PARAMS = frozenset({TOKEN_PARAM, STATE_PARAM, BOUNCE_PARAM})
_TRIP_PARAMS = frozenset({TOKEN_PARAM, STATE_PARAM})
_BILLED_PARAMS = frozenset({BILLED_PARAM})
_MAX_BOUNCE_PARAM = 1000


# -- what the endpoints' plans yield -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadBody:
    """Ask the adapter for the request body: ``bytes``, or None if it exceeds ``limit``."""

    limit: int = MAX_BODY


# -- cookies ---------------------------------------------------------------------------------------


def is_https(facts: RequestFacts, config: FocusConfig) -> bool:
    return public_origin(facts, config).startswith("https:")


def _secure(facts: RequestFacts, config: FocusConfig, name: str) -> bool:
    # A prefixed name is refused by browsers without Secure, whatever the origin.
    return is_https(facts, config) or name.startswith(("__Host-", "__Secure-"))


def set_cookie(name: str, value: str, *, max_age: int, secure: bool) -> str:
    """A ``Set-Cookie`` value with the attributes every Focus cookie has: host-only,
    ``Path=/`` (required by ``__Host-``), ``HttpOnly`` (no script reads a token),
    ``SameSite=Lax`` (sent on the top-level GET that ends a sign-in, never on a
    cross-site POST). ``max_age=0`` deletes the cookie."""
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}"]
    if max_age == 0:
        parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    parts += ["HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def session_cookie_name(config: FocusConfig) -> str:
    assert config.session_cookie is not None  # filled in by FocusConfig
    return config.session_cookie


def state_cookie_name(facts: RequestFacts, config: FocusConfig) -> str:
    return "__Host-focus_state" if is_https(facts, config) else "focus_state"


def session_cookie(facts: RequestFacts, config: FocusConfig, token: str) -> str:
    """The app's session cookie holding ``token``; it outlives the token inside it (an
    expired token in it means "refresh", not "signed out")."""
    name = session_cookie_name(config)
    return set_cookie(name, token, max_age=config.session_max_age, secure=_secure(facts, config, name))


def clear_session_cookie(facts: RequestFacts, config: FocusConfig) -> str:
    """The ``Set-Cookie`` value that signs this browser out of the app (not of Focus)."""
    name = session_cookie_name(config)
    return set_cookie(name, "", max_age=0, secure=_secure(facts, config, name))


def clear_session_cookies(facts: RequestFacts, config: FocusConfig) -> tuple[str, ...]:
    """Sign-out's ``Set-Cookie`` values: the session cookie and any pending sign-in state."""
    return clear_session_cookie(facts, config), _state_cookie(facts, config, [])


def _nonces(facts: RequestFacts, config: FocusConfig) -> list[str]:
    raw = facts.cookies.get(state_cookie_name(facts, config), "")
    return [n for n in raw.split(".") if _NONCE.match(n)][-_KEPT_NONCES:] if raw else []


def _state_cookie(facts: RequestFacts, config: FocusConfig, nonces: list[str]) -> str:
    name = state_cookie_name(facts, config)
    secure = _secure(facts, config, name)
    if not nonces:
        return set_cookie(name, "", max_age=0, secure=secure)
    return set_cookie(name, ".".join(nonces), max_age=config.state_cookie_max_age, secure=secure)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


# -- URLs ------------------------------------------------------------------------------------


def _query_without(query_string: str, names: frozenset[str]) -> str:
    """The query with every ``names`` parameter removed and the others re-encoded, never
    copied (see :mod:`focus_middleware.urls`); raises ``UnsafeURL`` for a control character."""
    return query_without(query_string, names)


def _join_query(query: str, *extra: str) -> str:
    return "&".join(p for p in (query, *extra) if p)


def bounce_count(facts: RequestFacts) -> int:
    """Sign-in rounds this URL has been through (``focus_bounce``); junk counts as none."""
    if BOUNCE_PARAM not in facts.query_string:
        return 0
    raw = facts.query.get(BOUNCE_PARAM, "")
    if not raw.isdigit() or len(raw) > 4:
        return 0
    return min(int(raw), _MAX_BOUNCE_PARAM)


def clean_url(facts: RequestFacts, config: FocusConfig) -> str:
    """This request's URL without the return trip's parameters (token, nonce, counter)."""
    return absolute_url(facts, config, query=_query_without(facts.query_string, _OUR_PARAMS))


def _return_url(facts: RequestFacts, config: FocusConfig, nonce: str, rounds: int) -> str:
    query = _join_query(_query_without(facts.query_string, _OUR_PARAMS), f"{STATE_PARAM}={nonce}", f"{BOUNCE_PARAM}={rounds}")
    return absolute_url(facts, config, query=query)


# -- the sign-in redirect ----------------------------------------------------------------------


@refuses_unsafe_url
def signin_redirect(facts: RequestFacts, config: FocusConfig, *, nonce: str | None = None) -> ResponseSpec:
    """Send a navigation that needs a session to sign in, bound to a fresh nonce.

    The nonce joins those of sign-ins still pending in other tabs in the state cookie.
    After ``max_bounces`` rounds the loop is cut: a 401 page explains and offers a
    sign-in link (a deliberate click starts counting afresh).
    """
    nonce = nonce or new_nonce()
    state = _state_cookie(facts, config, [*_nonces(facts, config), nonce][-_KEPT_NONCES:])
    rounds = bounce_count(facts)
    if rounds >= config.max_bounces:
        link = signin_url(config, _return_url(facts, config, nonce, 1))
        return pages.signin_required(link, app_name=config.app_name or pages.DEFAULT_APP_NAME).with_cookies(state)
    return redirect(signin_url(config, _return_url(facts, config, nonce, rounds + 1))).with_cookies(state)


SIGNED_OUT_OF_FOCUS = "focus"
"""``/_focus/signed-out?focus=out``: back from Focus's sign-out as well."""


@refuses_unsafe_url
def signed_out_page(facts: RequestFacts, config: FocusConfig) -> ResponseSpec:
    """``GET /_focus/signed-out[?next=<same-origin URL>]``: the page after the app's
    sign-out (send sign-out's ``next`` here). **Sign in again** starts a sign-in back to
    ``next`` (default: the app's root); **Sign out of Focus too** goes to Focus's sign-out
    (``signout_url``), which returns here with ``focus=out``."""
    if facts.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    target = safe_next(facts.query.get("next"), facts, config)
    signin = request_target(facts.root_path, SIGNIN_PATH, urlencode({"next": target}) if target else "")
    focus_signout = None
    if facts.query.get(SIGNED_OUT_OF_FOCUS) != "out":
        query = urlencode({**({"next": facts.query["next"]} if target else {}), SIGNED_OUT_OF_FOCUS: "out"})
        back = absolute_url(facts, config, path=SIGNED_OUT_PATH, query=query)
        focus_signout = f"{config.signout_url}?{urlencode({'redirect_to': back})}"
    return pages.signed_out(signin_url=signin, focus_signout_url=focus_signout,
                            app_name=config.app_name or pages.DEFAULT_APP_NAME)


@refuses_unsafe_url
def signin_start(facts: RequestFacts, config: FocusConfig) -> ResponseSpec:
    """``GET /_focus/signin?next=<same-origin URL>``: start a sign-in that comes back to
    ``next`` (default: the app's root), bound to a fresh nonce like any other.

    For an app's own sign-in page (Flask's ``signin_view``, ``signin_page`` elsewhere): its
    button links here, since a plain link to Focus would come back without a nonce and its
    token would be ignored (login CSRF). A deliberate click starts counting rounds afresh.
    """
    if facts.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    target = safe_next(facts.query.get("next"), facts, config) or absolute_url(facts, config, path="/", query="")
    parts = urlsplit(target)
    there = replace(facts, path=parts.path or "/", query_string=_query_without(parts.query, _OUR_PARAMS), root_path="")
    return signin_redirect(there, config)


@refuses_unsafe_url
def signin_page_redirect(facts: RequestFacts, config: FocusConfig, page: str) -> ResponseSpec:
    """Send a navigation without a session to the app's own sign-in page (``page``: a URL
    or a root-relative path), with ``next`` = this URL (root-relative, without the return
    trip's parameters), as Flask-Login's ``login_view`` does."""
    query = _query_without(facts.query_string, _OUR_PARAMS)
    here = request_target(facts.root_path, facts.path, query)
    location = page if "://" in page else public_origin(facts, config) + page
    return redirect(f"{location}{'&' if '?' in location else '?'}{urlencode({'next': here})}")


# -- the return trip ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReturnTrip:
    """A navigation back from sign-in. ``token`` is None when the trip cannot be trusted
    (no token, or no matching nonce): it is then only cleaned up, never used."""

    token: str | None = None
    nonce: str | None = None

    def __repr__(self) -> str:
        return f"ReturnTrip(trusted={self.token is not None})"


def return_trip(facts: RequestFacts, config: FocusConfig) -> ReturnTrip | None:
    """Is this the end of a sign-in we started? Only a GET navigation carrying our
    ``focus_state`` parameter is; its token counts only with a nonce from the state cookie."""
    if facts.method != "GET" or STATE_PARAM not in facts.query_string or not is_navigation(facts):
        return None
    query = facts.query
    state = query.get(STATE_PARAM)
    if state is None:
        return None
    token = query.get(TOKEN_PARAM)
    if not token or not _NONCE.match(state) or has_control_character(facts.root_path, facts.path, facts.query_string):
        return ReturnTrip()  # an unsafe URL: the token is never used, the cleanup answers 400
    for nonce in _nonces(facts, config):
        if hmac.compare_digest(nonce, state):
            return ReturnTrip(token, nonce)
    return ReturnTrip()


def verify_session_token(
    core: ResolverCore, token: str, source: CredentialSource = "return_trip", facts: RequestFacts | None = None
) -> Generator[Effect, Any, Credential | Outcome]:
    """A token handed over by the browser (``source``: the return trip or the refresh
    endpoint) to be stored in the app's cookie: it must be a genuine, unexpired session JWT
    for this app (never a PAT), and fit in a cookie."""
    if len(token) > MAX_COOKIE_TOKEN and looks_like_jwt(token):
        # Shaped like a session JWT, only too large to keep: say so (junk is just refused).
        return Rejected("oversized", source)
    result = yield from core.identify(source, token, facts)
    if isinstance(result, (Authenticated, Anonymous, Expired, Rejected, Unavailable)):
        return result
    if result.credential.kind != "session":
        return Rejected("not_session", source)
    return result.credential


def return_trip_plan(core: ResolverCore, facts: RequestFacts, trip: ReturnTrip) -> Generator[Effect, Any, ResponseSpec]:
    config = core.config
    if trip.token is None or trip.nonce is None:
        return _cleanup_redirect(facts, config)
    result = yield from verify_session_token(core, trip.token, "return_trip", facts)
    return return_trip_response(facts, config, trip, result)


def return_trip_response(facts: RequestFacts, config: FocusConfig, trip: ReturnTrip, result: Credential | Outcome) -> ResponseSpec:
    """The end of a trusted return trip, given what verifying its token gave."""
    remaining = [n for n in _nonces(facts, config) if n != trip.nonce]
    if isinstance(result, Credential):
        return redirect(clean_url(facts, config)).with_cookies(
            session_cookie(facts, config, result.token), _state_cookie(facts, config, remaining)
        )
    if isinstance(result, Unavailable):
        # The token may be good; keep the nonce so a reload retries once Focus answers.
        return pages.unavailable(result.retry_after, app_name=config.app_name or pages.DEFAULT_APP_NAME).with_headers(
            ("referrer-policy", "no-referrer"))
    if isinstance(result, Rejected) and result.reason == "oversized":
        # Another round would bring back a token just as large: stop, and say why.
        return pages.token_too_large(MAX_COOKIE_TOKEN).with_cookies(_state_cookie(facts, config, remaining))
    # Refused or expired: the nonce is spent, the token dropped; the counter stays, so a
    # sign-in that keeps producing unusable tokens ends at the 401 page, not in a loop.
    return _cleanup_redirect(facts, config).with_cookies(_state_cookie(facts, config, remaining))


@refuses_unsafe_url
def _cleanup_redirect(facts: RequestFacts, config: FocusConfig) -> ResponseSpec:
    return redirect(absolute_url(facts, config, query=_query_without(facts.query_string, _TRIP_PARAMS)))


# -- back from buying credits ---------------------------------------------------------------------


def billing_return(facts: RequestFacts) -> bool:
    """Is this a browser back from Focus's billing page? The 402's ``redirect_to`` carries
    ``focus_billed=1`` (:func:`~focus_middleware.responses.billing_return_url`); only a GET
    navigation with it counts (a script's request is left alone)."""
    return (facts.method == "GET" and BILLED_PARAM in facts.query_string and is_navigation(facts)
            and BILLED_PARAM in facts.query)


def billing_return_plan(core: ResolverCore, facts: RequestFacts) -> Generator[Effect, Any, ResponseSpec]:
    """The user's cached wallet is dropped (at most once per ``wallet_ttl``: see
    :meth:`ResolverCore.back_from_billing`) and the browser sent (303) to the same URL
    without the marker, whose page then reads the balance from Focus. The marker leaves
    the address bar, so a reload or a bookmark does not ask again.

    A session token that expired while the user was on the billing page (likely off
    ``*.thefocus.ai``: it lives a minute) cannot say whose wallet to drop: the browser is
    bounced to sign-in with the marker kept in ``redirect_to``, and comes back through
    the return trip to this same step, signed in."""
    left = yield from core.back_from_billing(facts)
    if isinstance(left, Expired):
        return signin_redirect(facts, core.config)
    spec = _without_marker(facts, core.config)
    # The landing page's "credits added" (see billing_notice): for a signed-in browser only.
    return spec.with_cookies(notice_cookie(is_https(facts, core.config))) if left is None and spec.status == 303 else spec


@refuses_unsafe_url
def _without_marker(facts: RequestFacts, config: FocusConfig) -> ResponseSpec:
    return redirect(absolute_url(facts, config, query=_query_without(facts.query_string, _BILLED_PARAMS)))


# -- the refresh endpoint and its script ------------------------------------------------------------


def _method_not_allowed(allowed: str) -> ResponseSpec:
    body = json.dumps({"error": "method_not_allowed"}).encode()
    return ResponseSpec(405, (("content-type", "application/json"), NO_STORE, ("allow", allowed)), body)


def _error(status: int, error: str, message: str) -> ResponseSpec:
    body = json.dumps({"error": error, "message": message}, separators=(",", ":")).encode()
    return ResponseSpec(status, (("content-type", "application/json"), NO_STORE), body)


def refresh_plan(core: ResolverCore, facts: RequestFacts) -> Generator[Effect | ReadBody, Any, ResponseSpec]:
    config = core.config
    if facts.method != "POST":
        return _method_not_allowed("POST")
    if facts.headers.get(REFRESH_HEADER) != "1" or not is_same_origin(facts, config):
        return _error(403, "forbidden", "The session refresh endpoint answers same-origin requests with X-Focus-Refresh: 1.")
    body = yield ReadBody(MAX_BODY)
    if body is None:
        return _error(413, "too_large", "The request body is too large.")
    token = _token_from_json(body)
    if token is None:
        return _error(400, "bad_request", 'Send {"token": "<session JWT>"} as JSON.')
    result = yield from verify_session_token(core, token, "refresh", facts)
    return refresh_response(facts, config, result)


def _token_from_json(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None


def refresh_response(facts: RequestFacts, config: FocusConfig, result: Credential | Outcome) -> ResponseSpec:
    """200 with the token's expiry (the script schedules its next refresh by it) and the
    cookie re-set; 401 for a token that is not good; 503 when Focus cannot tell."""
    if isinstance(result, Credential):
        body = json.dumps({"expires_at": result.expires_at}).encode()
        spec = ResponseSpec(200, (("content-type", "application/json"), NO_STORE), body)
        return spec.with_cookies(session_cookie(facts, config, result.token))
    if isinstance(result, Unavailable):
        return _error(503, "unavailable", "The Focus account service is unavailable; try again shortly.").with_headers(
            ("retry-after", str(result.retry_after))
        )
    if isinstance(result, Rejected) and result.reason == "oversized":
        return _error(400, "token_too_large", f"The token is longer than the {MAX_COOKIE_TOKEN} characters a cookie can hold.")
    return unauthorized(facts, config, token_presented=True, reason=refusal_reason(result))


def refresh_script(facts: RequestFacts, config: FocusConfig) -> ResponseSpec:
    """``/_focus/refresh.js``: plain JavaScript, no build step; the settings it needs (where
    Focus is, how early to refresh) are written into it as JSON literals."""
    if facts.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    body = _script(config.api_url, refresh_lead(config))
    headers = (("content-type", "text/javascript; charset=utf-8"), ("cache-control", "public, max-age=300"),
               ("x-content-type-options", "nosniff"))
    return ResponseSpec(200, headers, body if facts.method == "GET" else b"")


def refresh_lead(config: FocusConfig) -> int:
    """Seconds before a token's expiry at which the page renews it: early enough that a
    paid click always finds ``min_token_life`` left, else it would detour via sign-in."""
    return int(config.min_token_life) + 15


@cache
def _script(api_url: str, lead: int) -> bytes:
    text = resources.files("focus_middleware").joinpath("static/refresh.js").read_text(encoding="utf-8")
    text = text.replace("__FOCUS_API_URL__", json.dumps(api_url)).replace("__FOCUS_REFRESH_LEAD__", str(lead))
    # Pages that keep the session fresh also give back a form kept across a sign-in (issue 24).
    return (text + "\n" + _static("preserve.js")).encode()


@cache
def _static(name: str) -> str:
    return resources.files("focus_middleware").joinpath(f"static/{name}").read_text(encoding="utf-8")


def preserve_script(facts: RequestFacts) -> ResponseSpec:
    """``/_focus/preserve.js``: keeps a form in ``sessionStorage`` on the page that goes to
    sign-in, and fills it in again on return (see :mod:`focus_middleware.preserve`); also
    part of ``refresh.js``, for pages that include that."""
    if facts.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    headers = (("content-type", "text/javascript; charset=utf-8"), ("cache-control", "public, max-age=300"),
               ("x-content-type-options", "nosniff"))
    return ResponseSpec(200, headers, _static("preserve.js").encode() if facts.method == "GET" else b"")


def refresh_script_path(root_path: str = "") -> str:
    """Where to point ``<script src=... defer>`` from the app's pages."""
    return root_path + SCRIPT_PATH


# -- sign-out ------------------------------------------------------------------------------------


def signout_plan(facts: RequestFacts, config: FocusConfig) -> Generator[ReadBody, Any, ResponseSpec]:
    if facts.method != "POST":
        # A GET sign-out could be triggered by any <img> on any page.
        return _method_not_allowed("POST")
    if not is_same_origin(facts, config):
        return _error(403, "forbidden", "Sign-out answers same-origin requests only.")
    target = facts.query.get("next")
    if facts.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = yield ReadBody(MAX_BODY)
        if body:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            target = form.get("next", target)
    return signout_response(facts, config, target)


@refuses_unsafe_url
def signout_response(facts: RequestFacts, config: FocusConfig, next_url: str | None = None) -> ResponseSpec:
    """Clear the app's cookies, then go to ``next_url`` if it is safe, else the app's root.
    A script (``Sec-Fetch-Mode`` other than ``navigate``) gets 204 rather than a redirect."""
    cookies = clear_session_cookies(facts, config)
    mode = facts.headers.get("sec-fetch-mode")
    if mode is not None and mode != "navigate":
        return ResponseSpec(204, (NO_STORE,)).with_cookies(*cookies)
    target = safe_next(next_url, facts, config) or absolute_url(facts, config, path="/", query="")
    return redirect(target).with_cookies(*cookies)


_UNSAFE_NEXT = re.compile(r"[\x00-\x20\x7f\\]")


def safe_next(value: str | None, facts: RequestFacts, config: FocusConfig) -> str | None:
    """``value`` as an absolute URL on this app's public origin, or None if it points
    anywhere else (or could be read as pointing elsewhere: ``//host``, backslashes,
    control characters, another scheme). Like Django's ``url_has_allowed_host_and_scheme``."""
    if not value or len(value) > 2048 or _UNSAFE_NEXT.search(value):
        return None
    origin = public_origin(facts, config)
    if value.startswith("/"):
        if value.startswith("//"):
            return None
        target = origin + value
    else:
        parts = urlsplit(value)
        if f"{parts.scheme}://{parts.netloc}".lower() != origin or parts.username or parts.password:
            return None
        target = value
    return quote(target, safe="!#$%&'()*+,/:;=?@[]~-._")


__all__ = [
    "BOUNCE_PARAM",
    "FOCUS_PREFIX",
    "MAX_BODY",
    "PRESERVE_PATH",
    "REFRESH_HEADER",
    "REFRESH_PATH",
    "SCRIPT_PATH",
    "SIGNED_OUT_PATH",
    "SIGNIN_PATH",
    "SIGNOUT_PATH",
    "STATE_PARAM",
    "TOKEN_PARAM",
    "ReadBody",
    "ReturnTrip",
    "billing_return",
    "billing_return_plan",
    "bounce_count",
    "clean_url",
    "clear_session_cookie",
    "clear_session_cookies",
    "preserve_script",
    "refresh_plan",
    "refresh_response",
    "refresh_script",
    "refresh_script_path",
    "return_trip",
    "return_trip_plan",
    "return_trip_response",
    "safe_next",
    "session_cookie",
    "set_cookie",
    "signin_page_redirect",
    "signin_redirect",
    "signin_start",
    "signout_plan",
    "signout_response",
    "signed_out_page",
    "state_cookie_name",
    "verify_session_token",
]
