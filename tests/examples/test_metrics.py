"""Clip Studio on FastAPI exposes the library's counters at ``/metrics`` (issue 27), through
OpenTelemetry's Prometheus exporter
(https://opentelemetry-python.readthedocs.io/en/latest/exporter/prometheus/prometheus.html):
after a protected request and a paid one, the decisions, calls to Focus, jobs and credits
are there, in Prometheus's text format
(https://prometheus.io/docs/instrumenting/exposition_formats/), with no account, job or
request id and no credential in them."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
import time

import httpx
import pytest

from focus_middleware.testing import EmulatedUser



try:
    import opentelemetry.exporter.prometheus  # noqa: F401
    EXPORTER = True
except ImportError:  # pragma: no cover - the examples extra installs it
    EXPORTER = False


@pytest.fixture
def framework() -> str:
    return "fastapi"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample of the exposition, read by prometheus_client's own parser, by name and
    labels (the OTel scope's labels left out: the same on every sample)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if not k.startswith("otel_scope_")))):
            sample.value for family in text_string_to_metric_families(text) for sample in family.samples}


def metrics(base: str) -> str:
    response = httpx.get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


def test_the_focus_counters_are_at_metrics(serve: AbstractContextManager[str], user: EmulatedUser) -> None:
    if not EXPORTER:
        if os.environ.get("CI") == "true":
            pytest.fail("opentelemetry-exporter-prometheus is missing: pip install -e .[examples]")
        pytest.skip("opentelemetry-exporter-prometheus is not installed")
    pat = user.pat()
    with serve as base:
        auth = {"authorization": f"Bearer {pat}", "x-request-id": "req-metrics-1"}
        me = httpx.get(f"{base}/api/me", headers=auth)
        assert me.status_code == 200
        rendered = httpx.post(f"{base}/api/render", headers=auth, json={"title": "Metrics walk"})
        assert rendered.status_code == 200
        job_id = rendered.json()["job_id"]
        # The charge is settled once the answer went out, which the client may see first.
        deadline = time.monotonic() + 10
        text = metrics(base)
        while 'focus_job_state="completed"' not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            text = metrics(base)
    found = samples(text)
    assert found["focus_decisions_total", (("focus_outcome", "authenticated"), ("focus_reason", ""),
                                           ("focus_source", "bearer"))] == 2
    assert found["focus_jobs_total", (("focus_action", "render"), ("focus_job_state", "reserved"))] == 1
    assert found["focus_jobs_total", (("focus_action", ""), ("focus_job_state", "completed"))] == 1
    assert found["focus_credits_total", (("focus_action", "render"), ("focus_credits_kind", "reserved"))] == 5
    assert found["focus_credits_total", (("focus_action", ""), ("focus_credits_kind", "charged"))] == 3
    assert any(name == "focus_cache_lookups_total" for name, _ in found)
    calls = {dict(labels)["url_template"] for name, labels in found
             if name == "http_client_request_duration_seconds_count"}
    assert {"/api/wallet", "/api/jobs", "/api/jobs/complete"} <= calls
    # Only low-cardinality labels: nothing names an account, a job, a request or a URL.
    labels = {key for _, pairs in found for key, _ in pairs}
    assert labels <= {"focus_outcome", "focus_reason", "focus_source", "focus_cache_kind", "focus_cache_level",
                      "focus_cache_hit", "focus_action", "focus_job_state", "focus_credits_kind", "http_request_method",
                      "http_response_status_code", "error_type", "server_address", "server_port", "url_template",
                      "le", "service_name", "service_instance_id", "telemetry_sdk_language", "telemetry_sdk_name",
                      "telemetry_sdk_version"}, labels
    me_json = me.json()
    for secret in (pat, job_id, str(me_json["account_id"]), me_json["clerk_id"], user.clerk_id, "req-metrics-1",
                   "walker@example.com"):
        assert secret not in text, secret
