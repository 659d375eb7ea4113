"""What every adapter's events test shares: a recorder subscribed for one test, and the
checks of one protected request, one refusal and one paid request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from focus_middleware import events
from focus_middleware.telemetry.logging import fields_of, level_of

E = TypeVar("E")


class Recorder:
    def __init__(self) -> None:
        self.events: list[events.Event] = []

    def __call__(self, event: events.Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def calls(self) -> list[tuple[str, int | None]]:
        return [(c.endpoint, c.status) for c in self.of(events.UpstreamCall)]

    def clear(self) -> None:
        self.events.clear()


@contextmanager
def recording() -> Iterator[Recorder]:
    recorder = Recorder()
    stop = events.subscribe(recorder)
    try:
        yield recorder
    finally:
        stop()


def forged(token: str) -> str:
    """``token`` with its signature's last characters changed: shaped right, signed wrong."""
    head, _, sig = token.rpartition(".")
    return f"{head}.{sig[:-4]}{'AAAA' if not sig.endswith('AAAA') else 'BBBB'}"


def assert_no_secret(recorder: Recorder, *secrets: str) -> None:
    """No event, nor the log line made of it, holds any of ``secrets`` (nor a piece of a
    JWT's signature long enough to matter)."""
    assert recorder.events
    for event in recorder.events:
        level_of(event)
        text = repr(event) + repr(fields_of(event))
        for secret in secrets:
            assert secret not in text, type(event).__name__
            assert secret.rpartition(".")[2][-16:] not in text, type(event).__name__


def assert_protected(recorder: Recorder) -> None:
    """One protected request with a fresh credential: verified, its wallet fetched once."""
    [decision] = recorder.of(events.Decision)
    assert decision.outcome == "authenticated" and decision.source == "bearer" and not decision.refused
    assert ("GET /api/wallet", 200) in recorder.calls()
    [call] = [c for c in recorder.of(events.UpstreamCall) if c.endpoint == "GET /api/wallet"]
    assert call.method == "GET" and call.server_address == "127.0.0.1" and call.duration >= 0
    assert call.url.endswith("/api/wallet?app=REDACTED")
    lookups = {(c.kind, c.level, c.hit) for c in recorder.of(events.CacheLookup)}
    assert ("wallet", "l1", False) in lookups


def assert_refused(recorder: Recorder) -> None:
    [decision] = recorder.of(events.Decision)
    assert decision.outcome == "rejected" and decision.refused and decision.reason and decision.source == "bearer"


def assert_paid(recorder: Recorder, action: str, estimate: int, charged: int) -> None:
    [reserved] = recorder.of(events.JobReserved)
    assert reserved.action == action and reserved.cost_estimate == estimate and reserved.job_id
    [completed] = recorder.of(events.JobCompleted)
    assert completed.job_id == reserved.job_id and completed.amount == charged
    calls = recorder.calls()
    assert ("POST /api/jobs", 201) in calls or ("POST /api/jobs", 200) in calls
    assert ("POST /api/jobs/complete", 200) in calls
    assert calls.index(("POST /api/jobs/complete", 200)) > max(
        i for i, c in enumerate(calls) if c[0] == "POST /api/jobs")
    assert not recorder.of(events.JobFailed) and not recorder.of(events.SettlementKept)


class RequestIds:
    """Each event with the :data:`events.request_id` in force when it was emitted."""

    def __init__(self) -> None:
        self.seen: list[tuple[events.Event, str | None]] = []

    def __call__(self, event: events.Event) -> None:
        self.seen.append((event, events.request_id.get()))

    def of_decisions(self) -> list[str | None]:
        return [rid for event, rid in self.seen if isinstance(event, events.Decision)]


@contextmanager
def request_ids() -> Iterator[RequestIds]:
    ids = RequestIds()
    stop = events.subscribe(ids)
    try:
        yield ids
    finally:
        stop()


REQUEST_ID = "req-7f3a9c21"
"""An X-Request-ID as a proxy sets it (nginx's $request_id, Heroku's router): printable, short."""
UNSAFE_REQUEST_IDS = ("has space", "x" * (events.REQUEST_ID_MAX + 1))


def assert_tagged(ids: RequestIds) -> None:
    """The request sent with :data:`REQUEST_ID`'s decision and Focus calls carry it, the one
    sent without and the unsafe ones carry none, and nothing of it is left in the caller's
    context once the requests were served."""
    assert ids.of_decisions()[0] == REQUEST_ID
    first = [rid for event, rid in ids.seen if isinstance(event, events.UpstreamCall)]
    assert first and first[0] == REQUEST_ID
    assert ids.of_decisions()[1:] == [None] * (1 + len(UNSAFE_REQUEST_IDS))
    assert events.request_id.get() is None


def assert_settlement_tagged(ids: RequestIds, *, charged: int) -> None:
    """A paid request sent with :data:`REQUEST_ID` was settled (``charged``) with its id in
    force: the completion's event and its call to Focus carry it."""
    [(completed, rid)] = [(e, rid) for e, rid in ids.seen if isinstance(e, events.JobCompleted)]
    assert completed.amount == charged and rid == REQUEST_ID
    settles = [rid for e, rid in ids.seen if isinstance(e, events.UpstreamCall) and e.endpoint == "POST /api/jobs/complete"]
    assert settles == [REQUEST_ID]
