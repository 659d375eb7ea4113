"""One log line per :mod:`focus_middleware.events` event, with the event's fields in the
record's ``extra`` (as ``focus_<field>`` attributes) so a JSON formatter gets them
structured.

Why these levels: refusals, kept settlements and turned-away checks are what an operator
acts on (WARNING; a settlement given up is money that needs a person: ERROR); calls and
settlements that landed are the normal course (INFO); cache lookups are per request and
only for debugging (DEBUG). Upstream 5xx and transport failures are WARNING.

One line of configuration: ``focus_middleware.telemetry.logging.install()``. Events carry
no credential, so the lines hold none either.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from focus_middleware import events

logger = logging.getLogger("focus_middleware.events")


def level_of(event: events.Event) -> int:
    """The level an event is logged at (see the module's docstring for why)."""
    if isinstance(event, events.CacheLookup):
        return logging.DEBUG
    if isinstance(event, events.Decision):
        return logging.WARNING if event.outcome in ("rejected", "unavailable") else logging.DEBUG
    if isinstance(event, events.UpstreamCall):
        return logging.WARNING if event.status is None or event.status >= 500 else logging.INFO
    if isinstance(event, events.SettlementGivenUp):
        return logging.ERROR
    if isinstance(event, (events.SettlementKept, events.BudgetExhausted)):
        return logging.WARNING
    if isinstance(event, events.JwksRefresh):
        return logging.INFO if event.ok else logging.WARNING
    return logging.INFO


def fields_of(event: events.Event) -> dict[str, object]:
    """The event's fields as record attributes, prefixed so they never clash with a
    ``LogRecord``'s own (``focus_event``, ``focus_status``...)."""
    extra: dict[str, object] = {f"focus_{f.name}": getattr(event, f.name) for f in dataclasses.fields(event)}
    extra["focus_event"] = type(event).__name__
    request_id = events.request_id.get()
    if request_id is not None:
        extra["focus_request_id"] = request_id
    return extra


def _message(event: events.Event) -> str:
    parts = " ".join(f"{f.name}={getattr(event, f.name)}" for f in dataclasses.fields(event))
    return f"focus: {type(event).__name__} {parts}".rstrip()


class LogSubscriber:
    """The subscriber :func:`install` registers; ``target`` is the logger it writes to."""

    def __init__(self, target: logging.Logger = logger) -> None:
        self.target = target

    def __call__(self, event: events.Event) -> None:
        level = level_of(event)
        if self.target.isEnabledFor(level):
            self.target.log(level, "%s", _message(event), extra=fields_of(event))


def install(target: logging.Logger | None = None) -> Callable[[], None]:
    """Log every event through ``target`` (default ``focus_middleware.events``); returns the
    function that stops it."""
    return events.subscribe(LogSubscriber(target or logger))


__all__ = ["LogSubscriber", "fields_of", "install", "level_of"]
