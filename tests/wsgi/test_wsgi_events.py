"""Events of FocusWSGIMiddleware (issue 27): one protected request, one refusal, one paid
request, and no secret in any of them or in their log lines."""

from __future__ import annotations

from focus_middleware.testing import EmulatedUser
from tests.events.support import assert_no_secret, assert_paid, assert_protected, assert_refused, forged, recording
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
