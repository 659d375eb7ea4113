"""Django signals for what a project may want to hear about.

Besides ``settlement_undelivered``, the core's :mod:`focus_middleware.events` (issue 27),
Django's own way to hear what the library did: ``focus_event`` is sent for every event
(``sender`` the event's class, ``event`` the event) and each kind has its own signal
(``focus_decision``, ``focus_upstream_call``, ``focus_job_reserved``...) with the same
arguments. Connecting a receiver is the configuration: the first ``connect`` subscribes to
the core's events, and until then no event is built::

    from django.dispatch import receiver
    from django_focus.signals import focus_decision

    @receiver(focus_decision)
    def count_refusals(sender, event, **kwargs): ...

Receivers run inline where the event happens; one that raises is logged by the core and
never fails the request. Events hold no credential.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from focus_middleware import events

settlement_undelivered = Signal()
"""A paid job's settlement Focus could not take yet (the service was down, or the user's
session expired while a stream ran). It is kept and retried with the user's next valid
credential, and drained at exit; this signal is the hook that reports it (the log line
with the job id is written either way). Sent with ``settlement``: an
:class:`~focus_middleware.jobs.UndeliveredSettlement` (its ``credential`` is not for logs).
"""

_subscribed: list[Callable[[], None]] = []
_lock = threading.Lock()


class EventSignal(Signal):
    """A signal fed by the core's events, subscribed on its first receiver."""

    def connect(self, receiver: Any, sender: Any = None, weak: bool = True, dispatch_uid: Any = None) -> None:
        super().connect(receiver, sender, weak, dispatch_uid)
        with _lock:
            if not _subscribed:
                _subscribed.append(events.subscribe(_send))


focus_event = EventSignal()
focus_decision = EventSignal()
focus_cache_lookup = EventSignal()
focus_upstream_call = EventSignal()
focus_job_reserved = EventSignal()
focus_job_completed = EventSignal()
focus_job_failed = EventSignal()
focus_settlement_kept = EventSignal()
focus_settlement_delivered = EventSignal()
focus_settlement_given_up = EventSignal()
focus_budget_exhausted = EventSignal()
focus_jwks_refresh = EventSignal()

BY_EVENT: dict[type[Any], Signal] = {
    events.Decision: focus_decision,
    events.CacheLookup: focus_cache_lookup,
    events.UpstreamCall: focus_upstream_call,
    events.JobReserved: focus_job_reserved,
    events.JobCompleted: focus_job_completed,
    events.JobFailed: focus_job_failed,
    events.SettlementKept: focus_settlement_kept,
    events.SettlementDelivered: focus_settlement_delivered,
    events.SettlementGivenUp: focus_settlement_given_up,
    events.BudgetExhausted: focus_budget_exhausted,
    events.JwksRefresh: focus_jwks_refresh,
}


def _send(event: events.Event) -> None:
    kind = type(event)
    if focus_event.has_listeners(kind):
        focus_event.send(sender=kind, event=event)
    specific = BY_EVENT.get(kind)
    if specific is not None and specific.has_listeners(kind):
        specific.send(sender=kind, event=event)


__all__ = [
    "BY_EVENT", "EventSignal", "focus_budget_exhausted", "focus_cache_lookup", "focus_decision", "focus_event",
    "focus_job_completed", "focus_job_failed", "focus_job_reserved", "focus_jwks_refresh", "focus_settlement_delivered",
    "focus_settlement_given_up", "focus_settlement_kept", "focus_upstream_call", "settlement_undelivered",
]
