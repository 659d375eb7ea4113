"""Events of FocusWSGIMiddleware (issue 27): one protected request, one refusal, one paid
request, and no secret in any of them or in their log lines."""

from __future__ import annotations

from focus_middleware import events
from focus_middleware.testing import EmulatedUser
from tests.events.support import (REQUEST_ID, UNSAFE_REQUEST_IDS, assert_no_secret, assert_paid, assert_protected,
                                  assert_refused, assert_settlement_tagged, assert_tagged, forged, recording, request_ids)
from tests.helpers import ORIGIN

from .conftest import BufferedClient as Client, bearer


def test_protected_refused_and_paid_requests_emit_their_events(client: Client, user: EmulatedUser) -> None:
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


def test_events_carry_the_x_request_id_of_their_request(client: Client, user: EmulatedUser) -> None:
    """An ``X-Request-ID`` (a proxy's) is the request id on its events; none without one, none
    for an unsafe value, and none left behind (Werkzeug's test client calls the app in the
    test's own thread, so a value not reset would still be set here)."""
    token = user.session_jwt(azp=ORIGIN)
    with request_ids() as ids:
        assert client.get("/private", headers={**bearer(token), "X-Request-ID": REQUEST_ID}).status_code == 200
        assert events.request_id.get() is None
        assert client.get("/private", headers=bearer(token)).status_code == 200
        for unsafe in UNSAFE_REQUEST_IDS:
            assert client.get("/private", headers={**bearer(token), "X-Request-ID": unsafe}).status_code == 200
    assert_tagged(ids)


def test_a_paid_requests_settlement_carries_its_request_id(client: Client, user: EmulatedUser) -> None:
    """The job is settled when the server has taken the body, after the app returned (and
    the request id with it): the settlement's events carry the request's id all the same,
    and leave nothing behind."""
    with request_ids() as ids:
        r = client.post("/render?cost=3", headers={**bearer(user.pat()), "X-Request-ID": REQUEST_ID})
        assert r.status_code == 200
        assert events.request_id.get() is None
    assert_settlement_tagged(ids, charged=3)
