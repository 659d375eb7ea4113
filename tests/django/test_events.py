"""Events of django-focus (issue 27) through Django's WSGI and ASGI handlers (its Client and
AsyncClient, https://docs.djangoproject.com/en/stable/topics/testing/tools/): one
protected request, one refusal, one paid request, no secret in any of them; and the same
events as Django signals (https://docs.djangoproject.com/en/stable/topics/signals/)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from django_focus.signals import focus_decision, focus_event, focus_job_reserved
from focus_middleware import events
from focus_middleware.testing import EmulatedUser
from tests.events.support import (REQUEST_ID, UNSAFE_REQUEST_IDS, assert_no_secret, assert_paid, assert_protected,
                                  assert_refused, assert_settlement_tagged, assert_tagged, forged, recording, request_ids)

from .conftest import API, ORIGIN, Either

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {**API, "authorization": f"Bearer {token}"}


async def test_protected_refused_and_paid_requests_emit_their_events(browser: Either, user: EmulatedUser) -> None:
    token, pat = user.session_jwt(azp=ORIGIN), user.pat()
    with recording() as rec:
        assert (await browser.get("/private", headers=bearer(token))).status_code == 200
        assert_protected(rec)
        seen = list(rec.events)
        rec.clear()
        assert (await browser.get("/private", headers=bearer(forged(token)))).status_code == 401
        assert_refused(rec)
        seen += rec.events
        rec.clear()
        assert (await browser.post("/api/render?cost=3", headers=bearer(pat))).status_code == 200
        assert_paid(rec, "render", 5, 3)
        rec.events[:0] = seen
        assert_no_secret(rec, token, forged(token), pat)


async def test_the_events_are_django_signals(browser: Either, user: EmulatedUser) -> None:
    heard: list[tuple[str, Any]] = []

    def every(sender: Any, event: Any, **kwargs: Any) -> None:
        heard.append(("any", event))

    def decided(sender: Any, event: Any, **kwargs: Any) -> None:
        heard.append(("decision", event))

    def reserved(sender: Any, event: Any, **kwargs: Any) -> None:
        heard.append(("reserved", event))

    focus_event.connect(every)
    focus_decision.connect(decided)
    focus_job_reserved.connect(reserved)
    try:
        assert (await browser.get("/private", headers=bearer(forged(user.pat())))).status_code == 401
        assert (await browser.post("/api/render", headers=bearer(user.pat()))).status_code == 200
    finally:
        focus_event.disconnect(every)
        focus_decision.disconnect(decided)
        focus_job_reserved.disconnect(reserved)
    decisions = [e for kind, e in heard if kind == "decision"]
    assert [d.outcome for d in decisions] == ["rejected", "authenticated"]
    assert [e.action for kind, e in heard if kind == "reserved"] == ["render"]
    assert {type(e) for kind, e in heard if kind == "any"} >= {events.Decision, events.UpstreamCall,
                                                               events.JobReserved, events.JobCompleted}


async def test_events_carry_the_x_request_id_of_their_request(browser: Either, user: EmulatedUser) -> None:
    """Django has no request id of its own: django-focus takes a proxy's ``X-Request-ID``;
    none without one or for an unsafe value. Nothing is left behind: AsyncClient runs the
    ASGI handler in the test's own task, and the WSGI client's worker thread is checked
    from that thread."""
    token = user.session_jwt(azp=ORIGIN)

    async def get(request_id: str | None = None) -> None:
        headers = bearer(token) if request_id is None else {**bearer(token), "X-Request-ID": request_id}
        if browser.kind == "asgi":
            assert (await browser.client.get("/private", headers=headers)).status_code == 200
            left = events.request_id.get()
        else:
            def served() -> str | None:
                assert browser.client.get("/private", headers=headers).status_code == 200
                return events.request_id.get()
            left = await anyio.to_thread.run_sync(served)
        assert left is None

    with request_ids() as ids:
        await get(REQUEST_ID)
        await get()
        for unsafe in UNSAFE_REQUEST_IDS:
            await get(unsafe)
    assert_tagged(ids)


async def test_a_paid_requests_settlement_carries_its_request_id(browser: Either, user: EmulatedUser) -> None:
    """The job is settled when the response is closed, after the middleware returned (and
    its request id with it): the settlement's events carry the request's id all the same,
    and leave nothing behind."""
    with request_ids() as ids:
        r = await browser.post("/api/render?cost=3", headers={**bearer(user.pat()), "x-request-id": REQUEST_ID})
        assert r.status_code == 200
        assert events.request_id.get() is None
    assert_settlement_tagged(ids, charged=3)
