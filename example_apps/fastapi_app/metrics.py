"""``GET /metrics``: Clip Studio's Focus counters for Prometheus (issue 27).

The library's events go to OpenTelemetry (:mod:`focus_middleware.telemetry.otel`), and OTel's
Prometheus exporter (``opentelemetry-exporter-prometheus``, in the ``examples`` extra) turns
that meter provider's counters and histograms into Prometheus's text format, so an operator
scrapes decisions, cache hits, calls to Focus, jobs and credits with nothing Focus-specific
in between. Without the exporter installed the app simply has no ``/metrics``.

Why a registry and a meter provider of the app's own, not the globals: another part of the
process (or a test creating several apps) keeps its own metrics, and ``/metrics`` shows only
these. Why subscribed in the lifespan, not at creation: an app built but never served (a
schema check, a test client without ``with``) listens to nothing, and one shut down stops.

The metrics carry no account, job or request id (the subscriber's rule), so the endpoint
is safe to expose as far as identities go; in production serve it where only the scraper
reaches it all the same (it says how busy the app is).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

METRICS_PATH = "/metrics"


def install(app: FastAPI, service_name: str = "clip-studio") -> bool:
    """Serve ``GET /metrics`` when the exporter is installed; returns whether it is."""
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    except ImportError:
        return False
    from focus_middleware.telemetry import otel

    registry = CollectorRegistry(auto_describe=True)
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)],
                             resource=Resource.create({"service.name": service_name}))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)
    outer: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        stop = otel.install(meter_provider=provider)
        try:
            async with outer(served) as state:
                yield state
        finally:
            stop()

    app.router.lifespan_context = lifespan
    return True


__all__ = ["METRICS_PATH", "install"]
