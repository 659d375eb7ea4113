"""Events of Flask-Focus (issue 27): one protected request, one refusal, one paid request,
and no secret in any of them or in their log lines. Driven through Flask's test client
(https://flask.palletsprojects.com/en/stable/testing/)."""

from __future__ import annotations

from flask.testing import FlaskClient

from focus_middleware import events
from focus_middleware.testing import EmulatedUser
from tests.events.support import (REQUEST_ID, UNSAFE_REQUEST_IDS, assert_no_secret, assert_paid, assert_protected,
                                  assert_refused, assert_tagged, forged, recording, request_ids)
from tests.helpers import ORIGIN

from .conftest import bearer


def test_protected_refused_and_paid_requests_emit_their_events(client: FlaskClient, user: EmulatedUser) -> None:
    token, pat = user.session_jwt(azp=ORIGIN), user.pat()
    with recording() as rec:
        assert client.get("/private", headers=bearer(token)).status_code == 200
        assert_protected(rec)
        seen = list(rec.events)
        rec.clear()
        assert client.get("/private", headers=bearer(forged(token))).status_code == 401
        assert_refused(rec)
        seen += rec.events
        rec.clear()
        assert client.post("/render?cost=3", headers=bearer(pat)).status_code == 200
        assert_paid(rec, "render", 5, 3)
        rec.events[:0] = seen
        assert_no_secret(rec, token, forged(token), pat)


def test_events_carry_the_x_request_id_of_their_request(client: FlaskClient, user: EmulatedUser) -> None:
    """Flask has no request id of its own: Flask-Focus takes a proxy's ``X-Request-ID``, as
    the WSGI engine it installs does; none without one or for an unsafe value, and none
    left behind (Flask's test client runs the app in the test's own thread)."""
    token = user.session_jwt(azp=ORIGIN)
    with request_ids() as ids:
        assert client.get("/private", headers={**bearer(token), "X-Request-ID": REQUEST_ID}).status_code == 200
        assert events.request_id.get() is None
        assert client.get("/private", headers=bearer(token)).status_code == 200
        for unsafe in UNSAFE_REQUEST_IDS:
            assert client.get("/private", headers={**bearer(token), "X-Request-ID": unsafe}).status_code == 200
    assert_tagged(ids)
