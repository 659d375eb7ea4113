"""OpenTelemetry for :mod:`focus_middleware.events` (the ``focus-middleware[otel]`` extra).

One line: ``focus_middleware.telemetry.otel.install()`` (the global tracer and meter
providers; pass ``tracer_provider=`` / ``meter_provider=`` for others).

- **Spans** (kind CLIENT) for each call to Focus and to the issuer's JWKS, named and
  attributed after OpenTelemetry's HTTP client conventions: ``http.request.method``,
  ``server.address``, ``server.port``, ``url.full`` with every query value replaced by
  ``REDACTED`` (a ``device_code`` or ``token`` never leaves), ``url.template``,
  ``http.response.status_code`` and ``error.type``. The span is recorded when the call has
  ended, with its true start and end times, under the span current at that moment.
- **The resolver's decision** as a ``focus.decision`` event on the current span (the
  request's own span when the framework is instrumented).
- **Metrics** with low-cardinality attributes only (no account, job, request or token):
  ``http.client.request.duration`` (s), ``focus.decisions``, ``focus.cache.lookups``,
  ``focus.jobs``, ``focus.credits``, ``focus.settlements``, ``focus.remote_checks.rejected``,
  ``focus.jwks.refreshes``.

Why spans after the fact: the core emits one event per call so that the hot path with no
subscriber builds nothing; a subscriber cannot wrap the call, but it knows when it started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from focus_middleware import events

_SCOPE = "focus_middleware"


class OtelSubscriber:
    """The subscriber :func:`install` registers."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from focus_middleware import __version__ as version

        self.tracer = trace.get_tracer(_SCOPE, version, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, version, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="Duration of calls to Focus")
        self.decisions = meter.create_counter("focus.decisions", description="Resolver decisions on presented credentials")
        self.lookups = meter.create_counter("focus.cache.lookups", description="Cache lookups by kind, level and result")
        self.jobs = meter.create_counter("focus.jobs", description="Paid jobs reserved, completed and failed")
        self.credits = meter.create_counter("focus.credits", description="Credits reserved (estimate) and charged")
        self.settlements = meter.create_counter("focus.settlements", description="Settlements kept, delivered, given up")
        self.budget = meter.create_counter("focus.remote_checks.rejected", description="Remote checks turned away")
        self.jwks = meter.create_counter("focus.jwks.refreshes", description="JWKS fetches")

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.UpstreamCall):
            self._call(event)
        elif isinstance(event, events.Decision):
            attrs = {"focus.outcome": event.outcome, "focus.reason": event.reason or "",
                     "focus.source": event.source or ""}
            self.decisions.add(1, attrs)
            span = trace.get_current_span()
            if span.is_recording():
                span.add_event("focus.decision", attrs)
        elif isinstance(event, events.CacheLookup):
            self.lookups.add(1, {"focus.cache.kind": event.kind, "focus.cache.level": event.level,
                                 "focus.cache.hit": event.hit})
        elif isinstance(event, events.JobReserved):
            self.jobs.add(1, {"focus.job.state": "reserved", "focus.action": event.action})
            self.credits.add(event.cost_estimate, {"focus.credits.kind": "reserved", "focus.action": event.action})
        elif isinstance(event, events.JobCompleted):
            self.jobs.add(1, {"focus.job.state": "completed"})
            self.credits.add(event.amount, {"focus.credits.kind": "charged"})
        elif isinstance(event, events.JobFailed):
            self.jobs.add(1, {"focus.job.state": "failed"})
        elif isinstance(event, events.SettlementKept):
            self.settlements.add(1, {"focus.settlement.state": "kept", "focus.settlement": event.settlement})
        elif isinstance(event, events.SettlementDelivered):
            self.settlements.add(1, {"focus.settlement.state": "delivered", "focus.settlement": event.settlement})
        elif isinstance(event, events.SettlementGivenUp):
            self.settlements.add(1, {"focus.settlement.state": "given_up", "focus.settlement": event.settlement})
        elif isinstance(event, events.BudgetExhausted):
            self.budget.add(1)
        elif isinstance(event, events.JwksRefresh):
            self.jwks.add(1, {"focus.jwks.ok": event.ok})

    def _call(self, event: events.UpstreamCall) -> None:
        template = event.endpoint.split(" ", 1)[-1]
        attrs: dict[str, Any] = {"http.request.method": event.method, "server.address": event.server_address}
        if event.server_port is not None:
            attrs["server.port"] = event.server_port
        error = event.error or (str(event.status) if event.status is not None and event.status >= 400 else None)
        metric_attrs = dict(attrs, **{"url.template": template})
        if event.status is not None:
            metric_attrs["http.response.status_code"] = event.status
        if error is not None:
            metric_attrs["error.type"] = error
        self.duration.record(event.duration, metric_attrs)
        end = time.time_ns()
        span = self.tracer.start_span(
            event.endpoint, kind=SpanKind.CLIENT, start_time=end - int(event.duration * 1e9),
            attributes=dict(metric_attrs, **{"url.full": event.url}))
        if error is not None:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end)


def install(*, tracer_provider: Any = None, meter_provider: Any = None) -> Callable[[], None]:
    """Send every event to OpenTelemetry; returns the function that stops it."""
    return events.subscribe(OtelSubscriber(tracer_provider, meter_provider))


__all__ = ["OtelSubscriber", "install"]
