"""Events of FocusMiddleware (ASGI, issue 27): one protected request, one refusal, one paid
request, and no secret in any of them or in their log lines. Driven through
httpx.ASGITransport (https://www.python-httpx.org/advanced/transports/#asgi-transport)."""

from __future__ import annotations

import pytest

from focus_middleware import events
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser
from tests.events.support import (REQUEST_ID, UNSAFE_REQUEST_IDS, assert_no_secret, assert_paid, assert_protected,
                                  assert_refused, assert_tagged, forged, recording, request_ids)
from tests.helpers import ORIGIN
from tests.paid import apps
from tests.paid.conftest import bearer, client_for

pytestmark = pytest.mark.anyio


async def test_protected_refused_and_paid_requests_emit_their_events(config: FocusConfig, user: EmulatedUser) -> None:
    token, pat = user.session_jwt(azp=ORIGIN), user.pat()
    async with client_for(apps.paid_app(config)) as client:
        with recording() as rec:
            assert (await client.get("/", headers=bearer(token))).json()["credits"] == 20
            assert_protected(rec)
            seen = list(rec.events)
            rec.clear()
            assert (await client.post("/render", headers=bearer(forged(token)))).status_code == 401
            assert_refused(rec)
            seen += rec.events
            rec.clear()
            assert (await client.post("/render", headers=bearer(pat))).status_code == 200
            assert_paid(rec, "render", 5, 5)
            rec.events[:0] = seen
            assert_no_secret(rec, token, forged(token), pat)


async def test_events_carry_the_x_request_id_of_their_request(config: FocusConfig, user: EmulatedUser) -> None:
    """An ``X-Request-ID`` (a proxy's) is the request id on its events; none without one, none
    for an unsafe value, and the middleware leaves none behind (ASGITransport runs the app
    in the test's own context, so a value not reset would still be set here)."""
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(apps.paid_app(config)) as client:
        with request_ids() as ids:
            assert (await client.get("/", headers={**bearer(token), "X-Request-ID": REQUEST_ID})).status_code == 200
            assert events.request_id.get() is None
            assert (await client.get("/", headers=bearer(token))).status_code == 200
            for unsafe in UNSAFE_REQUEST_IDS:
                assert (await client.get("/", headers={**bearer(token), "X-Request-ID": unsafe})).status_code == 200
    assert_tagged(ids)
