"""Flask-Focus on the core's fast path (issue 22), through ``app.test_client()`` against the
emulator: ``current_account``, ``request.focus_account`` and ``g.focus_account`` of a warm
request read the plan's remembered answer without the facts or the plan, each once per
request; expiry and a forgotten wallet end the reuse; a cookie on an unsafe method takes the
plan. And the extension leaves no reference cycle behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g, jsonify, request
from flask.testing import FlaskClient

from flask_focus import Focus, current_account
from flask_focus.state import FocusState, current_context
from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.request_plan import account_plan
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import WSGIFocusContext
from focus_middleware.wsgi import middleware as wsgi_middleware
from tests.helpers import ORIGIN, unreachable_per_request
from tests.fast_path.presented import bearer, cookie, no_plan

WALLET = "GET /api/wallet"


def create_app(config: FocusConfig | None, seen: list[WSGIFocusContext] | None = None) -> Flask:
    """A Flask app whose view reads the account every way Flask-Focus offers (``config``
    None: the same app without Flask-Focus, where ``current_account`` is false)."""
    app = Flask(__name__)

    @app.route("/", methods=["GET", "POST"])
    def who() -> Any:
        if config is None:
            return jsonify(clerk_id=current_account.clerk_id if current_account else None)
        if seen is not None:
            seen.append(current_context())
        account = request.focus_account  # type: ignore[attr-defined]
        reason = request.focus_reason  # type: ignore[attr-defined]
        return jsonify(clerk_id=current_account.clerk_id if current_account else None,
                       credits=account.credits if account else None, reason=reason,
                       g=g.focus_account.clerk_id if g.focus_account else None)

    if config is not None:
        focus = Focus(app, config=config)

        @app.get("/five")
        @focus.require_credits(5)
        def five() -> Any:
            if seen is not None:
                seen.append(current_context())
            return "ran"

    return app


@pytest.fixture
def seen() -> list[WSGIFocusContext]:
    return []


@pytest.fixture
def app(config: FocusConfig, seen: list[WSGIFocusContext]) -> Iterator[Flask]:
    flask_app = create_app(config, seen)
    yield flask_app
    flask_app.extensions["focus"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client(use_cookies=False)  # the Cookie header as given


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=7)


def get(client: FlaskClient, headers: dict[str, str], *, method: str = "GET") -> tuple[int, dict[str, str], Any]:
    """One request, its body read and closed as a server does."""
    with client.open("/", method=method, headers=headers) as response:
        return response.status_code, dict(response.headers), response.json


def test_a_warm_read_is_the_plans_answer_without_facts_or_plan(
        client: FlaskClient, app: Flask, config: FocusConfig, emu: FocusEmulator, user: EmulatedUser,
        seen: list[WSGIFocusContext], monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    for headers in (bearer(token), cookie(config, token)):
        cold = get(client, headers)
        assert seen[-1]._facts is not None
        wallet_calls = emu.calls(WALLET)
        with monkeypatch.context() as patched:
            patched.setattr(wsgi_middleware, "account_plan", no_plan)
            warm = get(client, headers)
        assert warm == cold
        assert cold[1]["Vary"] == "Cookie, Authorization" and cold[1]["Cache-Control"] == "private"
        assert warm[2] == {"clerk_id": user.clerk_id, "credits": 7, "reason": "authenticated", "g": user.clerk_id}
        assert seen[-1]._facts is None and seen[-1].resolved
        assert emu.calls(WALLET) == wallet_calls
    assert len(app.extensions["focus"].engine.resolver.core.hot) == 2


def test_every_read_of_a_request_finds_the_same_context_once(
        client: FlaskClient, user: EmulatedUser, seen: list[WSGIFocusContext], monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    get(client, bearer(token))
    lookups: list[object] = []
    context = wsgi_middleware.FocusWSGIMiddleware.context

    def counted(engine: Any, environ: Any) -> Any:
        found = context(engine, environ)
        lookups.append(found)
        return found

    monkeypatch.setattr(wsgi_middleware.FocusWSGIMiddleware, "context", counted)
    get(client, bearer(token))
    # The engine's own only: the first read finds what it attached (the request class knows
    # the engine), and current_account, request.focus_* and g reuse it.
    assert lookups == [seen[-1]] and seen[-1].account is not None


def test_a_guard_lets_a_warm_request_through_without_the_facts(
        client: FlaskClient, user: EmulatedUser, seen: list[WSGIFocusContext], monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    get(client, bearer(token))
    monkeypatch.setattr(wsgi_middleware, "account_plan", no_plan)
    monkeypatch.setattr(FocusState, "signin_page", no_plan)  # no refusal to prepare (url_for)
    with client.get("/five", headers=bearer(token)) as response:
        assert response.status_code == 200 and response.text == "ran"
    assert seen[-1]._facts is None


def test_anonymous_requests_build_nothing(client: FlaskClient, seen: list[WSGIFocusContext],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsgi_middleware, "account_plan", no_plan)
    status, headers, body = get(client, {})
    assert status == 200 and body == {"clerk_id": None, "credits": None, "reason": "anonymous", "g": None}
    assert headers["Vary"] == "Cookie, Authorization" and "Cache-Control" not in headers
    assert seen[-1]._facts is None


def test_expiry_while_cached_ends_the_reuse(client: FlaskClient, app: Flask, config: FocusConfig, clock: FakeClock,
                                            user: EmulatedUser, seen: list[WSGIFocusContext]) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=120)
    assert get(client, bearer(token))[2]["reason"] == "authenticated"
    assert get(client, bearer(token))[2]["reason"] == "authenticated"
    hot = app.extensions["focus"].engine.resolver.core.hot
    key = f"Bearer {token}"
    assert hot.get(key, True, clock.time()) is not None
    clock.advance(120 - config.min_token_life + 1)
    assert hot.get(key, True, clock.time()) is None
    assert get(client, bearer(token))[2]["reason"] == "authenticated"
    assert seen[-1]._facts is not None
    clock.advance(config.min_token_life + config.leeway + 1)
    status, _, body = get(client, bearer(token))
    assert status == 200 and body["reason"] == "expired" and body["clerk_id"] is None


def test_forget_wallet_ends_the_reuse(client: FlaskClient, app: Flask, emu: FocusEmulator, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    get(client, bearer(token))
    assert get(client, bearer(token))[2]["credits"] == 7
    calls = emu.calls(WALLET)
    app.extensions["focus"].engine.resolver.forget_wallet(user.clerk_id)
    assert get(client, bearer(token))[2]["credits"] == 7
    assert emu.calls(WALLET) == calls + 1


def test_a_cookie_on_an_unsafe_method_takes_the_plan(client: FlaskClient, config: FocusConfig, user: EmulatedUser,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    get(client, cookie(config, token))
    assert get(client, cookie(config, token))[2]["reason"] == "authenticated"
    plans: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        plans.append(args)
        return account_plan(*args, **kwargs)

    monkeypatch.setattr(wsgi_middleware, "account_plan", counted)
    foreign = {**cookie(config, token), "origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    status, _, body = get(client, foreign, method="POST")
    assert status == 200 and body["reason"] == "cross_origin" and body["clerk_id"] is None and body["g"] is None
    own = {**cookie(config, token), "origin": ORIGIN, "sec-fetch-site": "same-origin"}
    assert get(client, own, method="POST")[2]["reason"] == "authenticated"
    assert len(plans) == 2
    assert get(client, cookie(config, token))[2]["reason"] == "authenticated" and len(plans) == 2


def test_a_request_kept_past_its_response_still_reads_its_account(app: Flask, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    with app.test_client() as kept:  # Flask keeps the last request's context until the block ends
        with kept.get("/", headers=bearer(token)) as response:
            assert response.json["clerk_id"] == user.clerk_id
        assert request.focus_account.clerk_id == user.clerk_id  # type: ignore[attr-defined]
        assert current_account.clerk_id == user.clerk_id and g.focus_account.clerk_id == user.clerk_id


def test_current_account_outside_a_request_or_without_the_extension(config: FocusConfig) -> None:
    assert not current_account
    bare = create_app(None)
    with bare.test_request_context("/"):
        assert not current_account  # false where it cannot be found, as any LocalProxy
        with pytest.raises(RuntimeError, match="not set up"):
            current_account.clerk_id  # noqa: B018


# -- reference cycles -------------------------------------------------------------------------


@pytest.mark.parametrize("credentials", ["none", "bearer", "cookie"])
def test_flask_focus_leaves_no_cycle_for_the_collector(config: FocusConfig, user: EmulatedUser,
                                                       credentials: str) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    headers = {"none": {}, "bearer": bearer(token), "cookie": cookie(config, token)}[credentials]
    counts = {}
    for name, settings in (("bare", None), ("focus", config)):
        flask_app = create_app(settings)
        test_client = flask_app.test_client(use_cookies=False)

        def send() -> None:
            with test_client.get("/", headers=headers) as response:
                assert response.status_code == 200

        counts[name] = unreachable_per_request(send)
        if settings is not None:
            flask_app.extensions["focus"].close()
    assert counts["focus"] <= counts["bare"], counts
