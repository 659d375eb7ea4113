"""flask_focus.testing as an app's own tests use it: the pytest plugin's emulator and user,
an app factory pointed at the emulator, a test client signed in with ``login``."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from flask_focus import Focus, state_of
from flask_focus.testing import FocusTestClient, emulator_settings, login, logout
from focus_middleware.testing import EmulatedUser, FocusEmulator

focus = Focus()


def create_app(settings: dict[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(settings)

    @app.get("/me")
    @focus.login_required
    def me() -> Any:
        return jsonify(clerk_id=request.focus_account.clerk_id)  # type: ignore[attr-defined]

    @app.post("/render")
    @focus.paid(action="render", cost_estimate=5)
    def render() -> Any:
        request.focus_job.actual_cost = 2  # type: ignore[attr-defined]
        return jsonify(ok=True)

    focus.init_app(app)
    return app


def test_an_apps_own_test_signs_in_as_an_emulator_user(focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    app = create_app({**emulator_settings(focus_emulator), "FOCUS_APP": "video", "TESTING": True})
    with app.test_client() as client:
        assert client.get("/me", headers={"accept": "application/json"}).status_code == 401
        login(client, focus_user)
        assert client.get("/me").json == {"clerk_id": focus_user.clerk_id}
        start = focus_user.credits  # 100, and the app's starter grant
        with client.post("/render") as r:  # a job settles when the body was read, then closed
            assert r.json == {"ok": True}
        assert focus_emulator.jobs(focus_user)[0]["status"] == "completed" and focus_user.credits == start - 2
        client.post("/render").close()  # closed unread: as a client that left, refunded
        assert focus_emulator.jobs(focus_user)[0]["status"] == "failed" and focus_user.credits == start - 2
        logout(client)
        assert client.get("/me", headers={"accept": "application/json"}).status_code == 401
    state_of(app).close()


def test_login_with_a_public_origin_and_a_server_name(focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    app = create_app({**emulator_settings(focus_emulator), "FOCUS_APP": "video", "TESTING": True,
                      "FOCUS_PUBLIC_ORIGIN": "https://video.example.test", "SERVER_NAME": "video.example.test"})
    app.test_client_class = FocusTestClient
    client = app.test_client()
    token = login(client, focus_user)
    assert client.get_cookie("__Host-focus_session", domain="video.example.test").value == token
    assert client.get("/me", base_url="https://video.example.test").json == {"clerk_id": focus_user.clerk_id}
    r = client.post("/render", base_url="https://video.example.test", headers={"origin": "https://video.example.test"})
    assert r.status_code == 200 and focus_emulator.jobs(focus_user)[0]["status"] == "completed"  # no close needed
    state_of(app).close()
