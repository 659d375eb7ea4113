"""The session rules the lazy adapters (WSGI, Flask, Django) add: which requests the core
answers before the app (``up_front``), the account part of the plan alone
(``account_plan``), and an app's own sign-in page (``signin_page`` in the refusal, the
``/_focus/signin`` start)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from focus_middleware.access import refusal
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.outcome import ANONYMOUS, Expired, Rejected, Unavailable
from focus_middleware.resolver import ResolverCore
from focus_middleware.request_plan import PROCEED_ANONYMOUS, Proceed, account_plan, request_plan, up_front
from focus_middleware.sessions import signin_start

CONFIG = FocusConfig(api_url="https://account.example", public_origin="http://app.test")
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none"}


def facts(path: str = "/", query: str = "", *, method: str = "GET", headers: dict[str, str] | None = None,
          cookies: dict[str, str] | None = None, root_path: str = "") -> RequestFacts:
    return RequestFacts(method=method, path=path, query_string=query, headers=dict(NAV) if headers is None else headers,
                        cookies=cookies or {}, root_path=root_path, host="10.0.0.5:8000")


def location_query(spec: object) -> dict[str, list[str]]:
    return parse_qs(urlsplit(dict(spec.headers)["location"]).query)  # type: ignore[attr-defined]


def test_up_front_is_our_endpoints_and_return_trips_only() -> None:
    for path in ("/_focus/session", "/_focus/refresh.js", "/_focus/signout", "/_focus/signin"):
        assert up_front(facts(path), CONFIG)
    assert not up_front(facts("/_focus/other"), CONFIG)
    assert not up_front(facts("/videos", "token=abc"), CONFIG)  # the app's own token parameter
    assert up_front(facts("/videos", "focus_state=" + "n" * 22 + "&token=abc"), CONFIG)
    assert not up_front(facts("/videos", "focus_state=x", headers={}), CONFIG)  # not a navigation


def test_account_plan_never_answers() -> None:
    core = ResolverCore(CONFIG)
    plan = account_plan(core, facts("/_focus/signout", method="POST"))
    try:
        next(plan)
    except StopIteration as done:
        assert done.value is PROCEED_ANONYMOUS
    junk = account_plan(core, facts("/_focus/session", cookies={"focus_session": "junk"}))
    try:
        next(junk)
    except StopIteration as done:
        result: Proceed = done.value
        assert result.reason == "rejected" and result.credentialed


def test_signin_page_gets_navigations_without_a_session_but_not_expired_ones() -> None:
    here = facts("/videos/a b", "x=1&focus_bounce=2", root_path="/app")
    spec = refusal(here, ANONYMOUS, CONFIG, signin_page="/login")
    assert spec is not None and dict(spec.headers)["location"] == "http://app.test/login?next=%2Fapp%2Fvideos%2Fa%2520b%3Fx%3D1"
    rejected = refusal(here, Rejected("malformed", "app_cookie"), CONFIG, signin_page="https://id.example/in?a=1")
    assert rejected is not None and dict(rejected.headers)["location"].startswith("https://id.example/in?a=1&next=")
    expired = refusal(here, Expired("app_cookie"), CONFIG, signin_page="/login")
    assert expired is not None and "redirect_to" in location_query(expired)  # still bounced to Focus
    down = refusal(here, Unavailable("upstream"), CONFIG, signin_page="/login")
    assert down is not None and down.status == 503
    api = refusal(facts("/videos", headers={"accept": "application/json"}), ANONYMOUS, CONFIG, signin_page="/login")
    assert api is not None and api.status == 401


def test_signin_start_returns_to_a_safe_next() -> None:
    spec = signin_start(facts("/_focus/signin", "next=/videos%3Fx%3D1%26focus_bounce%3D3"), CONFIG)
    back = location_query(spec)["redirect_to"][0]
    assert back.startswith("http://app.test/videos?x=1&focus_state=") and back.endswith("&focus_bounce=1")
    assert any(c.startswith("focus_state=") for c in spec.set_cookies)
    for unsafe in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        there = location_query(signin_start(facts("/_focus/signin", f"next={unsafe}"), CONFIG))["redirect_to"][0]
        assert there.startswith("http://app.test/?focus_state=")
    assert signin_start(facts("/_focus/signin", method="POST"), CONFIG).status == 405
    plan = request_plan(ResolverCore(CONFIG), facts("/_focus/signin", "next=/a"))
    try:
        next(plan)
    except StopIteration as done:
        assert done.value.response.status == 303


def test_raw_checks_agree_with_the_facts() -> None:
    from focus_middleware.facts import presents_credentials, parse_cookie_header
    from focus_middleware.request_plan import may_answer_up_front, quick_proceed

    cases = [(None, None, ""), ("Bearer x", None, ""), ("Basic x", None, ""), ("bearer x", None, ""),
             (None, "a=1", ""), (None, None, "token=abc"), (None, None, "x=1"), (None, "", "")]
    for auth, cookie, query in cases:
        headers = {k: v for k, v in (("authorization", auth), ("cookie", cookie)) if v is not None}
        f = RequestFacts(method="GET", path="/", query_string=query, headers=headers,
                         cookies=parse_cookie_header(cookie))
        assert presents_credentials(auth, cookie, query) == f.has_credentials
    assert presents_credentials(None, "junk", "")  # a superset: an unparsable Cookie header counts
    for path, query in [("/", ""), ("/_focus/session", ""), ("/x", "focus_state=a"), ("/_focusx", "")]:
        f = facts(path, query)
        assert (quick_proceed(f) is None) == may_answer_up_front(path, query)
        assert not up_front(f, CONFIG) or may_answer_up_front(path, query)
