"""A form is never lost to an expired session token (issue 24), in Flask-Focus: Flask's
test_client against the real emulator on the fake clock. The form is read through
Werkzeug's parser, whoever asked first (``request.form`` caches it: Werkzeug's
``Request.form``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from flask_focus import Focus, no_form_keeping

from focus_middleware.clock import FakeClock
from focus_middleware.preserve import KEEP_LIMIT
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN
from tests.preserve.common import TYPED, assert_interstitial, assert_not_kept_page, cross_site_post, form_post, kept

from .conftest import settings_for


@pytest.fixture
def kept_app(emu: FocusEmulator, clock: FakeClock) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(TESTING=True, **settings_for(emu, clock))
    focus = Focus(app)

    @app.post("/render")
    @focus.paid(action="render", cost_estimate=5)
    def render() -> Any:
        return f"rendered {request.form.get('title')}"

    @app.post("/read-first")
    def read_first() -> Any:
        request.form.get("title")  # the app (say Flask-WTF) parsed the form before the guard
        return guarded()

    @focus.login_required
    def guarded() -> Any:
        return "ok"

    @app.post("/private")
    @no_form_keeping
    @focus.login_required
    def private() -> Any:
        return "private"

    yield app
    app.extensions["focus"].close()


@pytest.fixture
def expired(kept_app: Flask, user: EmulatedUser, clock: FakeClock) -> FlaskClient:
    client = kept_app.test_client()
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN), domain="127.0.0.1")
    clock.advance(600)  # the token in the app's cookie is past its exp; the cookie is not
    return client


def test_an_expired_form_post_is_kept(expired: FlaskClient, emu: FocusEmulator, user: EmulatedUser) -> None:
    r = expired.post("/render", data=TYPED, headers=form_post(ORIGIN), base_url=ORIGIN)
    assert_interstitial(r.status_code, r.get_data(as_text=True), f"{ORIGIN}/render", origin=ORIGIN)
    assert emu.jobs(user) == []


def test_a_form_the_app_parsed_first_is_kept(expired: FlaskClient) -> None:
    r = expired.post("/read-first", data=TYPED, headers=form_post(ORIGIN), base_url=ORIGIN)
    assert_interstitial(r.status_code, r.get_data(as_text=True), f"{ORIGIN}/read-first", origin=ORIGIN)


def test_a_cross_site_post_is_not_kept(expired: FlaskClient) -> None:
    r = expired.post("/render", data=TYPED, headers=cross_site_post(ORIGIN), base_url=ORIGIN)
    assert r.status_code == 303 and "focus-kept-form" not in r.get_data(as_text=True)


def test_an_oversize_body_gets_the_message_page(expired: FlaskClient) -> None:
    r = expired.post("/render", data={**TYPED, "notes": "x" * (KEEP_LIMIT + 1)}, headers=form_post(ORIGIN),
                     base_url=ORIGIN)
    assert_not_kept_page(r.status_code, r.get_data(as_text=True))


def test_a_file_gets_the_message_page(expired: FlaskClient) -> None:
    from io import BytesIO
    r = expired.post("/render", data={"title": "t", "clip": (BytesIO(b"data"), "clip.mp4")},
                     headers=form_post(ORIGIN), base_url=ORIGIN, content_type="multipart/form-data")
    assert_not_kept_page(r.status_code, r.get_data(as_text=True))


def test_multipart_without_files_is_kept(expired: FlaskClient) -> None:
    r = expired.post("/render", data={"title": "t", "password": "hunter2"}, headers=form_post(ORIGIN),
                     base_url=ORIGIN, content_type="multipart/form-data")
    assert r.status_code == 200 and kept(r.get_data(as_text=True))["fields"] == [["title", "t"]]


def test_a_view_can_turn_it_off(expired: FlaskClient) -> None:
    r = expired.post("/private", data=TYPED, headers=form_post(ORIGIN), base_url=ORIGIN)
    assert r.status_code == 303 and "%2Fprivate%3Ffocus_state" in r.headers["location"]
