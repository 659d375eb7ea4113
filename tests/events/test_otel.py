"""The OpenTelemetry subscriber (issue 27) with the SDK's in-memory exporters
(https://opentelemetry-python.readthedocs.io/en/latest/sdk/trace.export.html#opentelemetry.sdk.trace.export.in_memory_span_exporter.InMemorySpanExporter,
https://opentelemetry-python.readthedocs.io/en/latest/sdk/metrics.export.html#opentelemetry.sdk.metrics.export.InMemoryMetricReader):
client spans with the HTTP client conventions
(https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-client-span), url.full
without query values, and metrics with no account, job or request id."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError:  # pragma: no cover - the otel extra is part of the test extra
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("opentelemetry-sdk is not installed (pip install focus-middleware[otel])", allow_module_level=True)

from focus_middleware.client import FocusClient
from focus_middleware.config import FocusConfig
from focus_middleware.jobs import PaidJobs, PaidRoute
from focus_middleware.outcome import Authenticated
from focus_middleware.resolver import Resolver
from focus_middleware.telemetry import otel
from focus_middleware.testing import FocusEmulator
from tests.helpers import facts


@pytest.fixture
def exporters() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    stop = otel.install(tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]))
    yield spans, reader
    stop()


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    return {metric.name: list(metric.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
            for metric in sm.metrics}


def test_spans_and_metrics_of_a_protected_and_a_paid_request(
        exporters: tuple[InMemorySpanExporter, InMemoryMetricReader], config: FocusConfig, resolver: Resolver,
        emu: FocusEmulator) -> None:
    spans, reader = exporters
    user = emu.create_user(credits=20)
    pat = user.pat()
    outcome = resolver.resolve(facts(bearer=pat))
    assert isinstance(outcome, Authenticated)
    assert resolver.resolve(facts(bearer="not-a-token")).__class__.__name__ == "Rejected"
    with FocusClient.from_config(config) as client:
        jobs = PaidJobs(config, client)
        job = jobs.reserve(PaidRoute("render", 5), outcome)
        job.actual_cost = 3
        jobs.settle(job, outcome.credential, "complete")
        client.device_poll("secret-device-code")

    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert {"GET /api/wallet", "POST /api/jobs", "POST /api/jobs/complete", "GET /api/device/poll"} <= set(by_name)
    wallet = by_name["GET /api/wallet"]
    assert wallet.kind.name == "CLIENT" and wallet.end_time is not None and wallet.start_time is not None
    assert wallet.end_time >= wallet.start_time
    attrs = dict(wallet.attributes or {})
    assert attrs["http.request.method"] == "GET" and attrs["http.response.status_code"] == 200
    assert attrs["server.address"] == "127.0.0.1" and isinstance(attrs["server.port"], int)
    assert attrs["url.full"] == f"{emu.url}/api/wallet?app=REDACTED" and attrs["url.template"] == "/api/wallet"
    poll = dict(by_name["GET /api/device/poll"].attributes or {})
    assert poll["url.full"].endswith("/api/device/poll?device_code=REDACTED")
    for span in spans.get_finished_spans():
        text = repr(dict(span.attributes or {}))
        assert pat not in text and "secret-device-code" not in text and job.job_id not in text

    got = points(reader)
    durations = {(p.attributes["url.template"], p.attributes.get("http.response.status_code")): p.count
                 for p in got["http.client.request.duration"]}
    assert durations[("/api/wallet", 200)] == 1 and durations[("/api/jobs/complete", 200)] == 1
    decisions = {(p.attributes["focus.outcome"], p.attributes["focus.reason"]): p.value for p in got["focus.decisions"]}
    assert decisions == {("authenticated", ""): 1, ("rejected", "malformed"): 1}
    jobs_points = {p.attributes["focus.job.state"]: p.value for p in got["focus.jobs"]}
    assert jobs_points == {"reserved": 1, "completed": 1}
    credits = {p.attributes["focus.credits.kind"]: p.value for p in got["focus.credits"]}
    assert credits == {"reserved": 5, "charged": 3}
    for name, data_points in got.items():
        for p in data_points:
            values = {str(v) for v in dict(p.attributes).values()}
            assert user.clerk_id not in values and job.job_id not in values and pat not in values, name
