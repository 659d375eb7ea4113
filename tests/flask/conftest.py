"""Real Flask apps with Flask-Focus, against a real emulator.

``create_app`` is an app factory in the shape Flask's tutorial teaches: one ``Focus``
extension object, ``init_app`` per app, configuration from ``app.config`` ``FOCUS_*`` keys,
views in the app and in blueprints (one protected as a whole), sync and async views.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, abort, g, jsonify, render_template_string, request, stream_with_context
from flask.testing import FlaskClient

from flask_focus import Focus, current_account
from flask_focus.testing import emulator_settings
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN

NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
SAME_ORIGIN = {"sec-fetch-mode": "cors", "sec-fetch-site": "same-origin", "accept": "application/json"}
API = {"accept": "application/json"}


class BufferedClient(FlaskClient):
    """Flask's test client, reading each body whole and closing it as a server does (a
    paid job settles when the body is closed)."""

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> Any:
        return super().open(*args, buffered=buffered, **kwargs)


def who() -> dict[str, Any]:
    account = request.focus_account  # type: ignore[attr-defined]
    return {"authenticated": bool(current_account), "clerk_id": account.clerk_id if account else None,
            "credits": account.credits if account else None, "reason": request.focus_reason,  # type: ignore[attr-defined]
            "g": g.focus_account.clerk_id if g.focus_account else None}


def create_app(settings: dict[str, Any], focus: Focus, *, template_folder: Path | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(template_folder) if template_folder else None)
    app.test_client_class = BufferedClient
    app.config.update(TESTING=True, **settings)

    @app.route("/", methods=["GET", "POST"])
    def home() -> Any:
        return jsonify(who())

    @app.get("/untouched")
    def untouched() -> Any:
        return "never looked", 200, {"cache-control": "public, max-age=60"}

    @app.route("/private", methods=["GET", "POST"])
    @focus.login_required
    def private() -> Any:
        return jsonify(who())

    @app.get("/private-async")
    @focus.require_account
    async def private_async() -> Any:
        return jsonify(who())

    @app.get("/credits")
    @focus.require_credits(5)
    def credits() -> Any:
        return jsonify(who())

    @app.get("/credits-async")
    @focus.require_credits(5, action="<i>upscale</i>")
    async def credits_async() -> Any:
        return jsonify(who())

    @app.route("/render", methods=["GET", "POST"])
    @focus.paid(action="render", cost_estimate=5)
    def render() -> Any:
        job = request.focus_job  # type: ignore[attr-defined]
        if "cost" in request.args:
            job.actual_cost = int(request.args["cost"])
        job.metadata["previewUrl"] = "https://example.test/p.png"
        return jsonify(job_id=job.job_id, app=job.app)

    @app.post("/render-async")
    @focus.paid(action="render", cost_estimate=5)
    async def render_async() -> Any:
        request.focus_job.actual_cost = 1  # type: ignore[attr-defined]
        return jsonify(ok=True)

    @app.post("/render-abort")
    @focus.paid(action="render", cost_estimate=5)
    def render_abort() -> Any:
        abort(422)

    @app.post("/render-boom")
    @focus.paid(action="render", cost_estimate=5)
    def render_boom() -> Any:
        raise RuntimeError("the renderer crashed")

    @app.post("/render-stream")
    @focus.paid(action="render", cost_estimate=5)
    def render_stream() -> Any:
        chunks = int(request.args.get("chunks", "3"))
        delay = float(request.args.get("delay", "0"))

        @stream_with_context
        def body() -> Iterator[str]:
            for i in range(chunks):
                if delay:
                    time.sleep(delay)
                yield f"chunk {i}\n"
            request.focus_job.actual_cost = 2  # type: ignore[attr-defined]

        return Response(body(), mimetype="text/plain")

    @app.get("/template")
    def template() -> Any:
        return render_template_string("{% if current_account %}hi {{ current_account.clerk_id }}"
                                      "{% else %}hi stranger{% endif %}")

    @app.get("/login")
    def login() -> Any:
        return f"sign in page, next={request.args.get('next')}"

    studio = Blueprint("studio", __name__, url_prefix="/studio")

    @studio.route("/", methods=["GET", "POST"])
    def studio_home() -> Any:
        return jsonify(who())

    @studio.post("/publish")
    @focus.paid(action="publish", cost_estimate=2)
    def publish() -> Any:
        return jsonify(ok=True)

    focus.protect_blueprint(studio)
    app.register_blueprint(studio)

    premium = Blueprint("premium", __name__, url_prefix="/premium")

    @premium.get("/")
    def premium_home() -> Any:
        return "premium"

    focus.protect_blueprint(premium, credits=50)
    app.register_blueprint(premium)

    shop = Blueprint("shop", __name__, url_prefix="/shop")

    @shop.get("/")
    def shop_home() -> Any:
        return "open to all"

    @shop.get("/cart")
    @focus.login_required
    def cart() -> Any:
        return jsonify(who())

    app.register_blueprint(shop)
    focus.init_app(app)
    return app


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=20)


def settings_for(emu: FocusEmulator, clock: FakeClock, **extra: Any) -> dict[str, Any]:
    return {**emulator_settings(emu), "FOCUS_APP": "video", "FOCUS_PUBLIC_ORIGIN": ORIGIN, "FOCUS_CLOCK": clock,
            "FOCUS_TIMEOUT": "2", "FOCUS_MAX_RETRIES": 0, **extra}


@pytest.fixture
def focus() -> Focus:
    return Focus()


@pytest.fixture
def app(emu: FocusEmulator, clock: FakeClock, focus: Focus) -> Iterator[Flask]:
    flask_app = create_app(settings_for(emu, clock), focus)
    yield flask_app
    flask_app.extensions["focus"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **API}
