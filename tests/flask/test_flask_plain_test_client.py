"""Flask's own ``app.test_client()``, without ``FocusTestClient`` and without closing the
response: a paid view settles once the test reads the body (issue 19). Werkzeug's test
client (which Flask's extends) runs the WSGI app and hands its body iterator to the
response unread (``buffered=False`` by default, werkzeug/test.py ``run_wsgi_app``); reading
``.data``/``.get_json()`` exhausts it, and exhaustion is where the WSGI adapter counts the
body delivered (a server writes each chunk before it asks for the next)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from focus_middleware.clock import FakeClock
from focus_middleware.testing import FocusEmulator
from tests.flask.conftest import bearer, create_app, settings_for
from flask_focus import Focus


def plain_client(emu: FocusEmulator, clock: FakeClock) -> tuple[Flask, FlaskClient]:
    app = create_app(settings_for(emu, clock), Focus())
    app.test_client_class = FlaskClient  # Flask's own, as users test by default
    return app, app.test_client()


def test_a_paid_view_settles_once_the_body_is_read(emu: FocusEmulator, clock: FakeClock) -> None:
    app, client = plain_client(emu, clock)
    user = emu.create_user(credits=20)
    r = client.post("/render?cost=3", headers=bearer(user.pat()))
    assert r.status_code == 200 and r.get_json()["job_id"]
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 3 and user.credits == 17
    r.close()  # closing later changes nothing
    assert emu.calls("POST /api/jobs/complete") == 1
    app.extensions["focus"].close()


def test_a_streamed_paid_view_settles_once_the_stream_is_read(emu: FocusEmulator, clock: FakeClock) -> None:
    app, client = plain_client(emu, clock)
    user = emu.create_user(credits=20)
    r = client.post("/render-stream?chunks=3", headers=bearer(user.pat()))
    assert emu.jobs(user)[0]["status"] == "started"  # not read yet: not delivered yet
    assert r.data.count(b"chunk") == 3
    assert emu.jobs(user)[0]["status"] == "completed"
    app.extensions["focus"].close()


def test_failures_refund_with_the_plain_client_too(emu: FocusEmulator, clock: FakeClock) -> None:
    app, client = plain_client(emu, clock)
    user = emu.create_user(credits=20)
    assert client.post("/render-abort", headers=bearer(user.pat())).status_code == 422
    assert [j["status"] for j in emu.jobs(user)] == ["failed"] and user.credits == 20
    app.extensions["focus"].close()


def test_a_body_never_read_stays_reserved_until_closed(emu: FocusEmulator, clock: FakeClock) -> None:
    """Not read, then closed: the body was cut short, so refunded."""
    app, client = plain_client(emu, clock)
    user = emu.create_user(credits=20)
    r = client.post("/render-stream?chunks=3", headers=bearer(user.pat()))
    assert emu.jobs(user)[0]["status"] == "started"
    r.close()
    assert emu.jobs(user)[0]["status"] == "failed" and user.credits == 20
    app.extensions["focus"].close()
