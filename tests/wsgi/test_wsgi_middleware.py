"""FocusWSGIMiddleware: the account on first asking, the guards, the refusals, the cache
headers and the middleware's own endpoints, through Werkzeug's test client."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import (
    FocusWSGIMiddleware,
    clear_focus_session,
    facts_from_environ,
    focus_account,
    require_account,
)
from tests.helpers import ORIGIN

from .conftest import API, NAV, SAME_ORIGIN, bearer, make_app

WALLET = "GET /api/wallet"


# -- where the account appears, and when it is looked up ----------------------------------------


def test_account_is_resolved_on_first_access(client: Client, user: EmulatedUser) -> None:
    r = client.get("/", headers=bearer(user.session_jwt(azp=ORIGIN)))
    assert r.status_code == 200
    assert r.json == {"authenticated": True, "clerk_id": user.clerk_id, "credits": 20, "reason": "authenticated"}


def test_an_app_that_never_looks_pays_nothing(config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["focus"])
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    middleware = FocusWSGIMiddleware(app, config=config)
    pat = user.pat()
    for _ in range(3):
        assert Client(middleware).get("/", headers=bearer(pat)).status_code == 200
    assert emu.calls(WALLET) == 0 and not any(ctx.resolved for ctx in seen)
    assert not any(ctx._facts for ctx in seen)  # not even the facts were built
    # The same requests, looked at once: one upstream call, then cached.
    for ctx in seen:
        assert ctx.account.clerk_id == user.clerk_id
    assert emu.calls(WALLET) == 1
    middleware.close()


def test_focus_account_is_the_object_and_the_proxy_forwards(config: FocusConfig, user: EmulatedUser) -> None:
    got: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        got["proxy"] = environ["focus.account"]
        got["object"] = focus_account(environ)
        start_response("204 No Content", [])
        return []

    Client(FocusWSGIMiddleware(app, config=config)).get("/", headers=bearer(user.pat()))
    assert got["object"].clerk_id == user.clerk_id and got["proxy"].credits == 20 and got["proxy"]
    Client(FocusWSGIMiddleware(app, config=config)).get("/")
    assert got["object"] is None and not got["proxy"]


def test_no_credentials_costs_no_upstream_call(client: Client, emu: FocusEmulator) -> None:
    r = client.get("/")
    assert r.json == {"authenticated": False, "clerk_id": None, "credits": None, "reason": "anonymous"}
    assert emu.calls(WALLET) == 0 and emu.calls("GET /.well-known/jwks.json") == 0


def test_refusals_on_unprotected_routes_are_anonymous_with_a_reason(client: Client, user: EmulatedUser,
                                                                     emu: FocusEmulator) -> None:
    assert client.get("/", headers=bearer("not-a-token")).json["reason"] == "rejected"
    assert client.get("/", headers=bearer(user.session_jwt(azp=ORIGIN, lifetime=-60))).json["reason"] == "expired"
    emu.fail_next(WALLET, status=503, times=5)
    assert client.get("/", headers=bearer(user.pat())).json["reason"] == "unavailable"


def test_cross_origin_cookie_post_never_acts_as_the_user(client: Client, user: EmulatedUser) -> None:
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN))
    assert client.post("/", headers={"sec-fetch-site": "cross-site"}).json["reason"] == "cross_origin"
    assert client.post("/", headers={"sec-fetch-site": "same-origin"}).json["reason"] == "authenticated"
    assert client.get("/", headers={"sec-fetch-site": "cross-site"}).json["reason"] == "authenticated"


def test_facts_use_the_servers_address_and_script_name(config: FocusConfig) -> None:
    environ = {"REQUEST_METHOD": "get", "PATH_INFO": "/caf\xc3\xa9", "QUERY_STRING": "a=1", "SCRIPT_NAME": "/app",
               "SERVER_NAME": "10.0.0.5", "SERVER_PORT": "8080", "wsgi.url_scheme": "http",
               "HTTP_HOST": "evil.example", "HTTP_COOKIE": "a=1; b=2", "CONTENT_TYPE": "application/json",
               "REMOTE_ADDR": "203.0.113.9", "HTTP_X_FOCUS_REFRESH": "1"}
    facts = facts_from_environ(environ)
    assert facts == RequestFacts(method="GET", path="/café", query_string="a=1",
                                 headers={"host": "evil.example", "cookie": "a=1; b=2",
                                          "content-type": "application/json", "x-focus-refresh": "1"},
                                 cookies={"a": "1", "b": "2"}, root_path="/app", scheme="http",
                                 host="10.0.0.5:8080", client_addr="203.0.113.9")
    assert facts_from_environ({**environ, "SERVER_PORT": "80", "SERVER_NAME": "::1"}).host == "[::1]"


# -- guards ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/private", "/credits", "/method", "/raw"])
def test_every_guard_refuses_api_calls_with_401_json(client: Client, path: str) -> None:
    r = client.get(path, headers=API)
    assert r.status_code == 401 and r.json["error"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json["signin_url"].endswith("redirect_to=" + f"{ORIGIN}{path}".replace(":", "%3A").replace("/", "%2F"))


@pytest.mark.parametrize("path", ["/private", "/credits", "/method", "/raw"])
def test_every_guard_sends_navigations_to_signin(client: Client, emu: FocusEmulator, path: str) -> None:
    r = client.get(path + "?x=1", headers=NAV)
    assert r.status_code == 303 and r.headers["cache-control"] == "no-store"
    location = r.headers["location"]
    assert location.startswith(f"{emu.url}/signin?redirect_to=")
    redirect_to = parse_qs(urlsplit(location).query)["redirect_to"][0]
    assert redirect_to.startswith(f"{ORIGIN}{path}?x=1&focus_state=") and redirect_to.endswith("&focus_bounce=1")
    assert "focus_state=" in r.headers["set-cookie"]


@pytest.mark.parametrize("path", ["/private", "/credits", "/method"])
def test_guards_let_an_account_through(client: Client, user: EmulatedUser, path: str) -> None:
    r = client.get(path, headers=bearer(user.session_jwt(azp=ORIGIN)))
    assert r.status_code == 200 and r.json["clerk_id"] == user.clerk_id


def test_bare_wsgi_app_guard(client: Client, user: EmulatedUser) -> None:
    r = client.get("/raw", headers=bearer(user.pat()))
    assert r.status_code == 200 and r.text == f"raw {user.clerk_id}"


def test_expired_token_is_401_for_api_and_a_bounce_for_navigation(client: Client, user: EmulatedUser) -> None:
    expired = user.session_jwt(azp=ORIGIN, lifetime=-60)
    r = client.get("/private", headers=bearer(expired))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    client.set_cookie("focus_session", expired)
    assert client.get("/private", headers=NAV).status_code == 303


def test_focus_unavailable_is_503(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    emu.fail_next(WALLET, status=503, times=10)
    r = client.get("/private", headers=bearer(user.pat()))
    assert r.status_code == 503 and r.json["error"] == "unavailable" and r.headers["retry-after"]
    page = client.get("/private", headers={**NAV, "authorization": f"Bearer {user.pat()}"})
    assert page.status_code == 503 and page.mimetype == "text/html"


def test_insufficient_credits_json_and_escaped_page(client: Client, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    r = client.get("/credits", headers=bearer(poor.pat()))
    assert r.status_code == 402
    assert r.json["required"] == 5 and r.json["available"] == 2 and r.json["action"] == "credits"
    page = client.get("/credits_page", headers={**NAV, "authorization": f"Bearer {poor.pat()}"})
    assert page.status_code == 402 and "<b>" not in page.text and "&lt;b&gt;" in page.text


def test_insufficient_credits_page_is_replaceable(config: FocusConfig, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=1)
    app = make_app(config, insufficient_credits_page="<p>$action costs $required, you have $available</p>")
    page = Client(app).get("/credits", headers={**NAV, "authorization": f"Bearer {poor.pat()}"})
    assert page.status_code == 402 and page.text == "<p>credits costs 5, you have 1</p>"
    app.close()


def test_cross_origin_cookie_state_change_is_403(client: Client, user: EmulatedUser) -> None:
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN))
    r = client.post("/private", headers={"origin": "https://evil.example", **API})
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    assert client.post("/private", headers={"origin": ORIGIN, **API}).status_code == 200
    assert client.get("/private", headers={"sec-fetch-site": "cross-site", **API}).status_code == 200


def test_guard_without_middleware_is_a_clear_error() -> None:
    @require_account
    def view(request: Request) -> Response:
        return Response("x")

    with pytest.raises(RuntimeError, match="FocusWSGIMiddleware is not installed"):
        view(Request({"REQUEST_METHOD": "GET", "wsgi.input": None}))
    with pytest.raises(TypeError, match="neither a werkzeug Request"):
        view("not a request")  # type: ignore[arg-type]


def test_require_credits_validates_at_decoration() -> None:
    from focus_middleware.wsgi import paid, require_credits

    with pytest.raises(ValueError):
        require_credits(-1)
    with pytest.raises(ValueError):
        paid(action="x", cost_estimate=-1)


# -- response headers ------------------------------------------------------------------------------------------


def test_cache_headers(client: Client, user: EmulatedUser) -> None:
    anonymous = client.get("/untouched")
    assert anonymous.headers["vary"] == "Accept-Encoding, Cookie, Authorization"
    assert anonymous.headers["cache-control"] == "public, max-age=60"  # no credentials: left alone
    signed = client.get("/untouched", headers=bearer(user.pat()))
    assert signed.headers["cache-control"] == "private, max-age=60"
    assert signed.headers.getlist("vary") == ["Accept-Encoding, Cookie, Authorization"]


def test_root_path_is_part_of_every_url(client: Client) -> None:
    r = client.get("/private", headers=NAV, environ_overrides={"SCRIPT_NAME": "/app"})
    redirect_to = parse_qs(urlsplit(r.headers["location"]).query)["redirect_to"][0]
    assert redirect_to.startswith(f"{ORIGIN}/app/private?focus_state=")


def test_the_resolver_can_be_shared(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    from focus_middleware.resolver import Resolver

    from .conftest import werkzeug_app

    resolver = Resolver(config)
    one, two = (FocusWSGIMiddleware(werkzeug_app, resolver=resolver) for _ in range(2))
    pat = user.pat()
    assert Client(one).get("/private", headers=bearer(pat)).status_code == 200
    assert Client(two).get("/private", headers=bearer(pat)).status_code == 200
    assert emu.calls(WALLET) == 1
    with pytest.raises(ValueError, match="another configuration"):
        FocusWSGIMiddleware(werkzeug_app, config=config.replace(app="other"), resolver=resolver)
    one.close(), two.close()
    resolver.close()


# -- the middleware's own endpoints -----------------------------------------------------------------------------


def test_return_trip_stores_the_token_and_cleans_the_url(client: Client, user: EmulatedUser) -> None:
    start = client.get("/private?video=42", headers=NAV)
    redirect_to = parse_qs(urlsplit(start.headers["location"]).query)["redirect_to"][0]
    back = urlsplit(redirect_to)
    token = user.session_jwt(azp=ORIGIN)
    r = client.get(f"{back.path}?{back.query}&token={token}", headers=NAV)
    assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/private?video=42"
    assert r.headers["referrer-policy"] == "no-referrer"
    cookies = r.headers.getlist("set-cookie")
    assert any(c.startswith(f"focus_session={token};") and "HttpOnly" in c for c in cookies)
    assert client.get("/private?video=42", headers=NAV).json["clerk_id"] == user.clerk_id


def test_token_without_our_nonce_is_ignored_and_left_to_the_app(client: Client, user: EmulatedUser) -> None:
    r = client.get(f"/?token={user.session_jwt(azp=ORIGIN)}", headers=NAV)
    assert r.status_code == 200 and r.json["authenticated"] is False
    forged = client.get(f"/private?focus_state={'a' * 22}&token={user.session_jwt(azp=ORIGIN)}", headers=NAV)
    assert forged.status_code == 303 and forged.headers["location"] == f"{ORIGIN}/private"
    assert not any(c.startswith("focus_session=") for c in forged.headers.getlist("set-cookie"))


def test_refresh_script_and_endpoint(client: Client, user: EmulatedUser, emu: FocusEmulator) -> None:
    script = client.get("/_focus/refresh.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript" and emu.url in script.text
    token = user.session_jwt(azp=ORIGIN)
    r = client.post("/_focus/session", json={"token": token}, headers={**SAME_ORIGIN, "x-focus-refresh": "1"})
    assert r.status_code == 200 and r.json["expires_at"] > 0
    assert r.headers["set-cookie"].startswith(f"focus_session={token};")
    assert client.post("/_focus/session", json={"token": token}, headers=SAME_ORIGIN).status_code == 403
    assert client.get("/_focus/session").status_code == 405
    big = client.post("/_focus/session", data=b"x" * 20000, headers={**SAME_ORIGIN, "x-focus-refresh": "1",
                                                                    "content-type": "application/json"})
    assert big.status_code == 413


def test_signout_clears_the_cookies(client: Client, user: EmulatedUser) -> None:
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN))
    r = client.post("/_focus/signout", data={"next": "/private"}, headers={"sec-fetch-site": "same-origin",
                                                                         "sec-fetch-mode": "navigate"})
    assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/private"
    assert client.get_cookie("focus_session") is None
    assert client.post("/_focus/signout", headers={"sec-fetch-site": "cross-site"}).status_code == 403


def test_clear_focus_session_helper(config: FocusConfig) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", clear_focus_session(environ))
        return []

    r = Client(FocusWSGIMiddleware(app, config=config)).get("/")
    assert sorted(c.split("=")[0] for c in r.headers.getlist("set-cookie")) == ["focus_session", "focus_state"]


def test_an_apps_own_signin_page(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    app = make_app(config, signin_page="/login")
    client = Client(app)
    r = client.get("/private?x=1&focus_bounce=2", headers=NAV)
    assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/login?next=%2Fprivate%3Fx%3D1"
    assert client.get("/private", headers=API).status_code == 401  # API calls are not sent to a page
    # An expired session is still bounced straight to Focus (a refresh, nobody is asked).
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN, lifetime=-60))
    assert client.get("/private", headers=NAV).headers["location"].startswith(f"{emu.url}/signin?")
    # The page's button: /_focus/signin starts a nonce-bound sign-in that comes back to next.
    start = client.get("/_focus/signin?next=/private%3Fx%3D1", headers=NAV)
    assert start.status_code == 303 and "focus_state=" in start.headers["set-cookie"]
    redirect_to = parse_qs(urlsplit(start.headers["location"]).query)["redirect_to"][0]
    assert redirect_to.startswith(f"{ORIGIN}/private?x=1&focus_state=") and redirect_to.endswith("focus_bounce=1")
    elsewhere = client.get("/_focus/signin?next=https://evil.example/", headers=NAV)
    assert parse_qs(urlsplit(elsewhere.headers["location"]).query)["redirect_to"][0].startswith(f"{ORIGIN}/?")
    assert client.post("/_focus/signin").status_code == 405
    app.close()
