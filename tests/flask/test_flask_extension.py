"""Flask-Focus: set-up and configuration, the account on first asking, the guards on sync
and async views and blueprints, the refusals with Flask's hooks, and the endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, Request, Response, request, stream_with_context, url_for
from werkzeug.test import EnvironBuilder

from flask_focus import Focus, current_account, state_of
from flask_focus.context import FocusRequestMixin
from flask_focus.state import request_context
from flask_focus.testing import login, logout
from focus_middleware.clock import FakeClock
from focus_middleware.config import ConfigError
from focus_middleware.responses import InsufficientCredits
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN

from .conftest import API, NAV, SAME_ORIGIN, bearer, create_app, settings_for

WALLET = "GET /api/wallet"


# -- set-up ------------------------------------------------------------------------------------------------


def test_focus_app_and_factory_forms_register_the_extension(emu: FocusEmulator, clock: FakeClock) -> None:
    direct = Flask("direct")
    direct.config.update(settings_for(emu, clock))
    focus = Focus(direct)
    assert state_of(direct).extension is focus and direct.extensions["focus"].config.app == "video"
    with pytest.raises(RuntimeError, match="already set up"):
        focus.init_app(direct)
    later = Focus()
    factory = Flask("factory")
    factory.config.update(settings_for(emu, clock, FOCUS_APP="music"))
    later.init_app(factory)
    assert state_of(factory).config.app == "music"


@pytest.mark.parametrize(("key", "value"), [("FOCUS_API_URL", "not a url"), ("FOCUS_TIMEOUT", "soon"),
                                            ("FOCUS_APP", "Bad Slug"), ("FOCUS_SESION_COOKIE", "x"),
                                            ("FOCUS_JWKS_URL", "https://keys.example/jwks")])
def test_config_is_validated_at_init_app_naming_the_key(key: str, value: str) -> None:
    app = Flask("bad")
    app.config[key] = value
    with pytest.raises(ConfigError) as info:
        Focus(app)
    expected = "FOCUS_ISSUER" if key == "FOCUS_JWKS_URL" else key
    assert info.value.setting == expected and str(info.value).startswith(f"{expected}: ")
    assert "focus" not in app.extensions


def test_strings_from_the_environment_are_converted(emu: FocusEmulator, clock: FakeClock) -> None:
    app = Flask("env")
    app.config.update(settings_for(emu, clock, FOCUS_LEEWAY="2.5", FOCUS_MAX_BOUNCES="5",
                                   FOCUS_TRUSTED_PROXIES="10.0.0.1, 10.0.0.2"))
    config = Focus(app) and state_of(app).config
    assert config.leeway == 2.5 and config.max_bounces == 5 and config.trusted_proxies == ("10.0.0.1", "10.0.0.2")


def test_guard_before_init_app_is_a_clear_error() -> None:
    focus = Focus()
    app = Flask("nofocus")

    @app.get("/")
    @focus.login_required
    def view() -> str:
        return "x"

    app.config["TESTING"] = True
    with pytest.raises(RuntimeError, match="Flask-Focus is not set up"):
        app.test_client().get("/")


# -- where the account appears --------------------------------------------------------------------------------


def test_account_in_request_g_proxy_and_template(client: Any, user: EmulatedUser) -> None:
    login(client, user)
    r = client.get("/")
    assert r.json == {"authenticated": True, "clerk_id": user.clerk_id, "credits": 20, "reason": "authenticated",
                      "g": user.clerk_id}
    assert client.get("/template").text == f"hi {user.clerk_id}"
    logout(client)
    assert client.get("/template").text == "hi stranger"
    assert client.get("/").json["reason"] == "anonymous"


def test_the_account_is_looked_up_only_when_asked(client: Any, user: EmulatedUser, emu: FocusEmulator) -> None:
    pat = user.pat()
    for _ in range(3):
        assert client.get("/untouched", headers=bearer(pat)).status_code == 200
    assert emu.calls(WALLET) == 0
    assert client.get("/", headers=bearer(pat)).json["clerk_id"] == user.clerk_id
    assert emu.calls(WALLET) == 1


@pytest.mark.parametrize("credential", ["session", "pat"])
def test_a_streamed_body_reads_the_account_after_the_view_returned(
        emu: FocusEmulator, clock: FakeClock, focus: Focus, user: EmulatedUser, credential: str) -> None:
    """``stream_with_context`` runs the generator after the app returned its body, when
    Focus keeps of the environ only what a later lookup needs: the account is looked up
    then (nobody asked before), and a remembered one is there already."""
    app = Flask(__name__)
    app.config.update(TESTING=True, **settings_for(emu, clock))

    @app.get("/stream")
    def stream() -> Any:
        @stream_with_context
        def chunks() -> Any:
            yield "who: "
            yield current_account.clerk_id if current_account else request.focus_reason  # type: ignore[attr-defined]
        return Response(chunks(), mimetype="text/plain")

    focus.init_app(app)
    token = user.session_jwt(azp=ORIGIN, lifetime=600) if credential == "session" else user.pat()
    client = app.test_client()
    for _ in range(2):  # unknown as the request comes in, then (a session JWT) remembered
        response = client.get("/stream", headers=bearer(token))
        assert response.status_code == 200 and response.text == f"who: {user.clerk_id}"
        assert response.headers["Cache-Control"] == "private" and "Authorization" in response.headers["Vary"]
    assert client.get("/stream").text == "who: anonymous"
    app.extensions["focus"].close()


def test_outside_a_request_and_in_test_request_context(app: Flask, user: EmulatedUser) -> None:
    assert not current_account
    with app.test_request_context("/", headers=bearer(user.pat())):
        from flask import request

        assert request.focus_account.clerk_id == user.clerk_id  # type: ignore[attr-defined]
        assert current_account and current_account.clerk_id == user.clerk_id


def test_refusals_on_unprotected_views_are_anonymous_with_a_reason(client: Any, user: EmulatedUser,
                                                                    emu: FocusEmulator) -> None:
    assert client.get("/", headers=bearer("junk")).json["reason"] == "rejected"
    emu.fail_next(WALLET, status=503, times=1)
    assert client.get("/", headers=bearer(user.pat())).json["reason"] == "unavailable"
    login(client, user)
    assert client.post("/", headers={"sec-fetch-site": "cross-site"}).json["reason"] == "cross_origin"


def test_cache_headers(client: Any, user: EmulatedUser) -> None:
    assert client.get("/untouched").headers["vary"] == "Cookie, Authorization"
    assert client.get("/untouched").headers["cache-control"] == "public, max-age=60"
    assert client.get("/untouched", headers=bearer(user.pat())).headers["cache-control"] == "private, max-age=60"


# -- guards --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/private", "/private-async", "/credits", "/credits-async", "/studio/",
                                  "/shop/cart", "/premium/"])
def test_every_guard_refuses_api_calls_with_401_and_navigations_with_a_signin(client: Any, path: str,
                                                                               emu: FocusEmulator) -> None:
    r = client.get(path, headers=API)
    assert r.status_code == 401 and r.json["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    nav = client.get(path, headers=NAV)
    assert nav.status_code == 303 and nav.headers["location"].startswith(f"{emu.url}/signin?redirect_to=")
    assert parse_qs(urlsplit(nav.headers["location"]).query)["redirect_to"][0].startswith(f"{ORIGIN}{path}?focus_state=")


@pytest.mark.parametrize("path", ["/private", "/private-async", "/credits", "/credits-async", "/studio/", "/shop/cart"])
def test_guards_let_an_account_through(client: Any, user: EmulatedUser, path: str) -> None:
    login(client, user)
    r = client.get(path)
    assert r.status_code == 200 and r.json["clerk_id"] == user.clerk_id


def test_blueprint_only_protection(client: Any, user: EmulatedUser) -> None:
    assert client.get("/shop/").text == "open to all"  # the unprotected blueprint
    assert client.get("/").status_code == 200  # the app's own views
    login(client, user)
    assert client.get("/studio/").status_code == 200
    r = client.get("/premium/", headers=API)  # a blueprint that needs credits
    assert r.status_code == 402 and r.json["required"] == 50 and r.json["action"] == "premium"


def test_insufficient_credits_json_and_the_default_page(client: Any, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=1)
    login(client, poor)
    r = client.get("/credits", headers=API)
    assert r.status_code == 402 and r.json["available"] == 1 and r.json["action"] == "credits"
    page = client.get("/credits-async", headers=NAV)
    assert page.status_code == 402 and page.mimetype == "text/html"
    assert "&lt;i&gt;upscale&lt;/i&gt;" in page.text and "<i>" not in page.text


def test_the_apps_template_overrides_the_402_page(emu: FocusEmulator, clock: FakeClock, tmp_path: Path) -> None:
    (tmp_path / "focus").mkdir()
    (tmp_path / "focus" / "insufficient_credits.html").write_text(
        "<p>{{ action }} needs {{ required }}, you have {{ available }}: <a href='{{ purchase_url }}'>buy</a></p>")
    app = create_app(settings_for(emu, clock), Focus(), template_folder=tmp_path)
    client = app.test_client()
    login(client, emu.create_user(credits=2))
    page = client.get("/credits-async", headers=NAV)
    assert page.status_code == 402 and page.text.startswith("<p>&lt;i&gt;upscale&lt;/i&gt; needs 5, you have 2:")
    assert client.get("/credits", headers=API).json["error"] == "insufficient_credits"  # API calls keep JSON


def test_an_insufficient_credits_handler(emu: FocusEmulator, clock: FakeClock, focus: Focus) -> None:
    app = create_app(settings_for(emu, clock), focus)
    seen: list[InsufficientCredits] = []

    @focus.insufficient_credits_handler
    def handler(info: InsufficientCredits) -> Any:
        seen.append(info)
        return f"<h1>{info.required - info.available} more credits</h1>", 200

    client = app.test_client()
    login(client, emu.create_user(credits=3))
    page = client.get("/credits", headers=NAV)
    assert page.status_code == 402 and page.text == "<h1>2 more credits</h1>"
    assert seen[0].purchase_url.startswith(f"{emu.url}/billing?redirect_to=")


def test_a_signin_view_like_login_view(emu: FocusEmulator, clock: FakeClock, user: EmulatedUser) -> None:
    app = create_app(settings_for(emu, clock, FOCUS_SIGNIN_VIEW="login"), Focus())
    client = app.test_client()
    r = client.get("/private?x=1", headers=NAV)
    assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/login?next=%2Fprivate%3Fx%3D1"
    assert client.get("/private", headers=API).status_code == 401
    with app.test_request_context():
        start = url_for("focus.signin", next="/private?x=1")
    assert start == "/_focus/signin?next=/private?x%3D1"
    began = client.get(start, headers=NAV)
    assert began.status_code == 303 and began.headers["location"].startswith(f"{emu.url}/signin?")
    # An extension-wide default, for apps without the key.
    focus = Focus(signin_view="login")
    other = create_app(settings_for(emu, clock), focus)
    assert other.test_client().get("/studio/", headers=NAV).headers["location"].startswith(f"{ORIGIN}/login?next=")


def test_cross_origin_cookie_state_change_is_403(client: Any, user: EmulatedUser) -> None:
    login(client, user)
    assert client.post("/private", headers={"origin": "https://evil.example", **API}).status_code == 403
    assert client.post("/studio/", headers={"sec-fetch-site": "same-site", **API}).status_code == 403
    assert client.post("/private", headers=SAME_ORIGIN).status_code == 200


# -- two apps, one process -------------------------------------------------------------------------------------


def test_two_apps_from_one_factory_configured_differently(emu: FocusEmulator, clock: FakeClock,
                                                          user: EmulatedUser) -> None:
    emu.create_app("music", starter_credits=0)
    focus = Focus()
    video = create_app(settings_for(emu, clock), focus)
    music = create_app(settings_for(emu, clock, FOCUS_APP="music", FOCUS_SESSION_COOKIE="music_session",
                                    FOCUS_PUBLIC_ORIGIN="http://music.example.test", FOCUS_SIGNIN_VIEW="login"), focus)
    assert state_of(video).engine is not state_of(music).engine
    v, m = video.test_client(), music.test_client()
    login(v, user)
    login(m, user)
    assert v.get_cookie("focus_session") and m.get_cookie("music_session") and not m.get_cookie("focus_session")
    assert v.post("/render", headers=SAME_ORIGIN).json["app"] == "video"
    assert m.post("/render", headers=SAME_ORIGIN).json["app"] == "music"
    assert sorted(j["app"] for j in emu.jobs(user, status="completed")) == ["music", "video"]
    # Each app its own refusals: music has a sign-in view, video sends people to Focus.
    assert video.test_client().get("/private", headers=NAV).headers["location"].startswith(f"{emu.url}/signin")
    assert music.test_client().get("/private", headers=NAV).headers["location"].startswith(
        "http://music.example.test/login?next=")
    # A video session is no music session (another cookie, another authorized party).
    m.set_cookie("music_session", v.get_cookie("focus_session").value)
    assert m.get("/").json["reason"] == "rejected"
    for app in (video, music):
        state_of(app).close()


def test_each_request_finds_the_context_of_the_app_serving_it(emu: FocusEmulator, clock: FakeClock,
                                                                user: EmulatedUser) -> None:
    """The app's request class knows its engine, so the context its engine attached is found
    without asking ``current_app``; but only that engine's: an environ another app's engine
    went through first (one app mounted inside another's WSGI stack) gets the serving app's
    own context, and so does a request class the app derived from the mixin itself."""
    emu.create_app("music", starter_credits=0)
    focus = Focus()
    video = create_app(settings_for(emu, clock), focus)
    music = create_app(settings_for(emu, clock, FOCUS_APP="music"), focus)
    environ = EnvironBuilder("/", headers=bearer(user.pat())).get_environ()
    video_context = state_of(video).engine.context(environ)
    with music.request_context(environ):
        assert request_context(request) is not video_context
        assert request_context(request).engine is state_of(music).engine
        assert request.focus_account.clerk_id == user.clerk_id  # type: ignore[attr-defined]

    class OwnRequest(FocusRequestMixin, Request):
        pass

    video.request_class = OwnRequest
    client = video.test_client()
    assert client.get("/", headers=bearer(user.pat())).json["clerk_id"] == user.clerk_id
    for app in (video, music):
        state_of(app).close()


# -- the endpoints, as blueprint routes ----------------------------------------------------------------------------


def test_endpoints_are_blueprint_routes(app: Flask, client: Any, user: EmulatedUser, emu: FocusEmulator) -> None:
    with app.test_request_context():
        assert url_for("focus.refresh_script") == "/_focus/refresh.js"
        assert url_for("focus.signout") == "/_focus/signout" and url_for("focus.session") == "/_focus/session"
    script = client.get("/_focus/refresh.js")
    assert script.status_code == 200 and emu.url in script.text
    token = user.session_jwt(azp=ORIGIN)
    r = client.post("/_focus/session", json={"token": token}, headers={**SAME_ORIGIN, "x-focus-refresh": "1"})
    assert r.status_code == 200 and client.get_cookie("focus_session").value == token
    assert client.post("/_focus/session", json={"token": token}, headers=SAME_ORIGIN).status_code == 403
    wrong = client.delete("/_focus/session")
    assert wrong.status_code == 405 and wrong.json["error"] == "method_not_allowed"  # the core answers, not Flask
    out = client.post("/_focus/signout", data={"next": "/shop/"}, headers={"sec-fetch-site": "same-origin",
                                                                           "sec-fetch-mode": "navigate"})
    assert out.status_code == 303 and out.headers["location"] == f"{ORIGIN}/shop/"
    assert client.get_cookie("focus_session") is None


def test_return_trip_is_answered_before_the_view(client: Any, user: EmulatedUser) -> None:
    start = client.get("/private?video=42", headers=NAV)
    back = urlsplit(parse_qs(urlsplit(start.headers["location"]).query)["redirect_to"][0])
    token = user.session_jwt(azp=ORIGIN)
    r = client.get(f"{back.path}?{back.query}&token={token}", headers=NAV)
    assert r.status_code == 303 and r.headers["location"] == f"{ORIGIN}/private?video=42"
    assert client.get_cookie("focus_session").value == token
    assert client.get("/private?video=42", headers=NAV).json["clerk_id"] == user.clerk_id
    # A token the app did not ask for is left alone, for the app's own links.
    assert client.get(f"/?token={token}").status_code == 200
