"""The framework-neutral session rules (focus_middleware.sessions, access, pages) as pure
functions: what the WSGI, Flask and Django adapters will reuse unchanged."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from focus_middleware.access import Requirement, refusal
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import ANONYMOUS, Authenticated, Credential, Expired, Rejected, Unavailable
from focus_middleware.pages import template_page
from focus_middleware.responses import InsufficientCredits
from focus_middleware.request_plan import cache_control, endpoint_for, proceed_with, quick_proceed, vary
from focus_middleware.sessions import (
    ReturnTrip,
    bounce_count,
    clean_url,
    clear_session_cookie,
    return_trip,
    safe_next,
    session_cookie,
    signin_redirect,
    signout_response,
)

HTTP = FocusConfig(api_url="https://account.example", public_origin="http://app.test")
HTTPS = FocusConfig(api_url="https://account.example", public_origin="https://app.test")
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none"}


def facts(path: str = "/", query: str = "", *, method: str = "GET", headers: dict[str, str] | None = None,
          cookies: dict[str, str] | None = None, root_path: str = "", host: str = "10.0.0.5:8000",
          client: str | None = "198.51.100.7", scheme: str = "http") -> RequestFacts:
    return RequestFacts(method=method, path=path, query_string=query, headers=headers if headers is not None else dict(NAV),
                        cookies=cookies or {}, root_path=root_path, host=host, client_addr=client, scheme=scheme)


def redirect_to(location: str) -> str:
    return parse_qs(urlsplit(location).query)["redirect_to"][0]


def header(spec: object, name: str) -> str | None:
    return dict(spec.headers).get(name)  # type: ignore[attr-defined]


# -- the sign-in redirect ------------------------------------------------------------------------


def test_signin_redirect_binds_a_nonce_and_counts_the_round() -> None:
    spec = signin_redirect(facts("/videos/a b", "x=1&token=old&focus_bounce=1", root_path="/app"), HTTP, nonce="N" * 22)
    assert spec.status == 303
    assert header(spec, "cache-control") == "no-store"
    location = header(spec, "location")
    assert location is not None and location.startswith("https://account.example/signin?redirect_to=")
    back = redirect_to(location)
    assert back == f"http://app.test/app/videos/a%20b?x=1&focus_state={'N' * 22}&focus_bounce=2"
    (cookie,) = spec.set_cookies
    assert cookie == f"focus_state={'N' * 22}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax"


def test_https_cookies_are_host_prefixed_and_secure() -> None:
    spec = signin_redirect(facts(), HTTPS, nonce="M" * 22)
    assert spec.set_cookies[0].startswith("__Host-focus_state=") and spec.set_cookies[0].endswith("; Secure")
    assert HTTPS.session_cookie == "__Host-focus_session"
    cookie = session_cookie(facts(), HTTPS, "a.b.c")
    assert cookie == f"__Host-focus_session=a.b.c; Path=/; Max-Age={HTTPS.session_max_age}; HttpOnly; SameSite=Lax; Secure"
    assert clear_session_cookie(facts(), HTTPS).startswith("__Host-focus_session=; Path=/; Max-Age=0; Expires=")


def test_pending_nonces_of_other_tabs_are_kept() -> None:
    first, second, third, fourth = ("a" * 22, "b" * 22, "c" * 22, "d" * 22)
    spec = signin_redirect(facts(cookies={"focus_state": f"{first}.{second}.{third}"}), HTTP, nonce=fourth)
    assert spec.set_cookies[0].startswith(f"focus_state={second}.{third}.{fourth};")


def test_the_loop_is_cut_after_max_bounces_with_a_signin_link() -> None:
    spec = signin_redirect(facts("/p", "focus_bounce=3&focus_state=" + "z" * 22), HTTP, nonce="K" * 22)
    assert spec.status == 401
    assert header(spec, "content-type") == "text/html; charset=utf-8"
    body = spec.body.decode()
    assert "Sign in" in body and "focus_bounce%3D1" in body and "focus_state%3D" + "K" * 22 in body
    assert spec.set_cookies[0].startswith("focus_state=")
    assert signin_redirect(facts("/p", "focus_bounce=2"), HTTP).status == 303
    assert signin_redirect(facts("/p"), HTTP.replace(max_bounces=0)).status == 401


@pytest.mark.parametrize(("query", "count"), [("", 0), ("focus_bounce=2", 2), ("focus_bounce=x", 0),
                                               ("focus_bounce=-1", 0), ("focus_bounce=99999", 0), ("a=focus_bounce", 0)])
def test_bounce_count_reads_junk_as_none(query: str, count: int) -> None:
    assert bounce_count(facts(query=query)) == count


# -- the return trip -----------------------------------------------------------------------------


NONCE = "n" * 22


def test_return_trip_needs_our_state_param_and_a_navigation() -> None:
    cookies = {"focus_state": NONCE}
    assert return_trip(facts(query="token=t"), HTTP) is None  # not ours: left to the app
    assert return_trip(facts(query=f"token=t&focus_state={NONCE}", cookies=cookies, method="POST"), HTTP) is None
    api = {"accept": "application/json", "sec-fetch-mode": "cors"}
    assert return_trip(facts(query=f"token=t&focus_state={NONCE}", cookies=cookies, headers=api), HTTP) is None
    trip = return_trip(facts(query=f"token=SECRET&focus_state={NONCE}", cookies=cookies), HTTP)
    assert trip == ReturnTrip("SECRET", NONCE)
    assert "SECRET" not in repr(trip) and NONCE not in repr(trip)


@pytest.mark.parametrize("cookies", [{}, {"focus_state": "o" * 22}, {"__Host-focus_state": NONCE}])
def test_a_nonce_that_does_not_match_makes_an_untrusted_trip(cookies: dict[str, str]) -> None:
    assert return_trip(facts(query=f"token=t&focus_state={NONCE}", cookies=cookies), HTTP) == ReturnTrip()


def test_clean_url_drops_only_our_params_and_keeps_the_rest_verbatim() -> None:
    f = facts("/x", f"a=%2F1&token=t&b=&focus_state={NONCE}&focus_bounce=2&c=d+e&focus_bounce=9")
    assert clean_url(f, HTTP) == "http://app.test/x?a=%2F1&b=&c=d+e"
    assert clean_url(facts("/x", "token=t"), HTTP) == "http://app.test/x"


# -- origins: the Host header and X-Forwarded-* ----------------------------------------------------


def test_urls_never_come_from_the_host_header() -> None:
    unset = FocusConfig(api_url="https://account.example")
    hostile = facts("/p", headers={**NAV, "host": "evil.example", "x-forwarded-host": "evil.example",
                                   "x-forwarded-proto": "https"})
    assert redirect_to(header(signin_redirect(hostile, HTTP), "location") or "").startswith("http://app.test/p?")
    # No public origin configured: the server's own address, not Host or X-Forwarded-*.
    assert redirect_to(header(signin_redirect(hostile, unset), "location") or "").startswith("http://10.0.0.5:8000/p?")
    # ... unless the request came through a trusted proxy.
    proxied = FocusConfig(api_url="https://account.example", trusted_proxies=("198.51.100.7",))
    assert redirect_to(header(signin_redirect(hostile, proxied), "location") or "").startswith("https://evil.example/p?")
    bad = facts("/p", headers={**NAV, "x-forwarded-host": "evil.example/path?x"})
    assert redirect_to(header(signin_redirect(bad, proxied), "location") or "").startswith("http://10.0.0.5:8000/p?")


# -- sign-out and safe redirects -----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("/videos?x=1", "http://app.test/videos?x=1"),
    ("http://app.test/a", "http://app.test/a"),
    ("/caf\u00e9", "http://app.test/caf%C3%A9"),
    ("//evil.example/a", None),
    ("/\\evil.example", None),
    ("https://app.test/a", None),
    ("http://app.test.evil.example/", None),
    ("http://user@app.test/", None),
    ("javascript:alert(1)", None),
    ("/a\r\nSet-Cookie: x=1", None),
    ("", None),
    (None, None),
])
def test_safe_next(value: str | None, expected: str | None) -> None:
    assert safe_next(value, facts(), HTTP) == expected


def test_signout_response_clears_both_cookies() -> None:
    spec = signout_response(facts(root_path="/app"), HTTP, "//evil.example")
    assert spec.status == 303 and header(spec, "location") == "http://app.test/app/"
    assert [c.split("=")[0] for c in spec.set_cookies] == ["focus_session", "focus_state"]
    assert all("Max-Age=0" in c for c in spec.set_cookies)
    scripted = signout_response(facts(headers={"sec-fetch-mode": "cors"}), HTTP, "/x")
    assert scripted.status == 204 and len(scripted.set_cookies) == 2


# -- the refusal decisions -----------------------------------------------------------------------------


def account(credits: int = 10, stale: bool = False) -> Authenticated:
    acc = FocusAccount(id="a1", clerk_id="user_1", credits=credits, credential_kind="session", stale=stale)
    return Authenticated(acc, Credential("session", "app_cookie", "tok", 0.0))


def test_refusal_order() -> None:
    api = {"accept": "application/json"}
    assert refusal(facts(headers=api), account(), HTTP) is None
    assert refusal(facts(headers=api), ANONYMOUS, HTTP).status == 401  # type: ignore[union-attr]
    unavailable = refusal(facts(headers=api), Unavailable("upstream", 7), HTTP)
    assert unavailable is not None and unavailable.status == 503 and header(unavailable, "retry-after") == "7"
    page = refusal(facts(), Unavailable("upstream"), HTTP)
    assert page is not None and page.status == 503 and header(page, "content-type", ).startswith("text/html")  # type: ignore[union-attr]
    presented = refusal(facts(headers=api), Rejected("signature", "bearer"), HTTP)
    assert presented is not None and header(presented, "www-authenticate") == 'Bearer error="invalid_token"'
    expired_nav = refusal(facts(), Expired("app_cookie"), HTTP)
    assert expired_nav is not None and expired_nav.status == 303
    credits = Requirement("credits", 5, "render")
    assert refusal(facts(headers=api), account(4), HTTP, credits).status == 402  # type: ignore[union-attr]
    assert refusal(facts(headers=api), account(5), HTTP, credits) is None
    assert refusal(facts(headers=api), account(50, stale=True), HTTP, credits).status == 503  # type: ignore[union-attr]
    # Cross-origin cookie POST: 403 before anything about credits.
    foreign = {"origin": "http://evil.example", "accept": "application/json"}
    assert refusal(facts(method="POST", headers=foreign), account(0), HTTP, credits).status == 403  # type: ignore[union-attr]
    # A paid route wants same-origin for GET too; an account route does not.
    site = {"sec-fetch-site": "same-site", "accept": "application/json"}
    assert refusal(facts(headers=site), account(), HTTP, Requirement("paid")).status == 403  # type: ignore[union-attr]
    assert refusal(facts(headers=site), account(), HTTP) is None
    with pytest.raises(ValueError):
        Requirement("credits", -1)


def test_unprotected_code_sees_no_account_for_a_cross_origin_cookie_state_change() -> None:
    foreign = {"sec-fetch-site": "cross-site"}
    assert proceed_with(facts(method="POST", headers=foreign), HTTP, account()).reason == "cross_origin"
    assert proceed_with(facts(method="POST", headers=foreign), HTTP, account()).account is None
    assert proceed_with(facts(headers=foreign), HTTP, account()).reason == "authenticated"
    assert proceed_with(facts(headers=foreign), HTTP, account(), websocket=True).reason == "cross_origin"
    bearer = Authenticated(account().account, Credential("session", "bearer", "t", 0.0))
    assert proceed_with(facts(method="POST", headers=foreign), HTTP, bearer).reason == "authenticated"
    assert proceed_with(facts(), HTTP, Unavailable("x")).account is None


def test_quick_proceed_only_for_requests_with_nothing_to_do() -> None:
    assert quick_proceed(facts()) is not None
    assert quick_proceed(facts(cookies={"a": "b"})) is None
    assert quick_proceed(facts(headers={"authorization": "Bearer x"})) is None
    assert quick_proceed(facts("/_focus/session")) is None
    assert quick_proceed(facts(query="focus_state=x")) is None
    assert quick_proceed(facts("/_focus/session"), websocket=True) is not None
    assert endpoint_for(facts("/_focus/refresh.js")) == "script" and endpoint_for(facts("/_focus/other")) is None


# -- response caching -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [
    (None, "private"),
    ("public, max-age=60", "private, max-age=60"),
    ("max-age=60, s-maxage=300", "private, max-age=60"),
    ("no-store", "no-store"),
    ("private, max-age=5", "private, max-age=5"),
])
def test_cache_control(given: str | None, expected: str) -> None:
    assert cache_control(given) == expected


@pytest.mark.parametrize(("given", "expected"), [
    (None, "Cookie, Authorization"),
    ("Accept-Encoding", "Accept-Encoding, Cookie, Authorization"),
    ("cookie", "cookie, Authorization"),
    ("*", "*"),
])
def test_vary(given: str | None, expected: str) -> None:
    assert vary(given) == expected


# -- pages -----------------------------------------------------------------------------------------------


def test_template_page_escapes_and_fails_early() -> None:
    page = template_page("<p>$action costs $required; you have $available. <a href=\"$purchase_url\">buy</a></p>")
    html = page(InsufficientCredits(5, 1, "<b>x</b>", 'http://p/?a="1"&b=2'))
    assert "&lt;b&gt;x&lt;/b&gt;" in html and 'href="http://p/?a=&quot;1&quot;&amp;b=2"' in html
    with pytest.raises(KeyError):
        template_page("$unknown")
