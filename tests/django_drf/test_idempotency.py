"""DRF's ``@paid`` takes an idempotency key like every adapter (issue 20; issue 26 left it
out): the same key twice is one job and one charge (the second gets 409 with the first
job's id), the same key with another body 422, an invalid body reserves nothing (DRF's
validation runs first) and ``max_cost`` caps the charge. DRF's APIClient, the emulator's
ledger as the judge. Header convention: https://docs.stripe.com/api/idempotent_requests.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from focus_middleware.testing import EmulatedUser, FocusEmulator

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.django_drf.idempotency_urls")]


def api(user: EmulatedUser, key: str | None = None) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.pat()}", **({"HTTP_IDEMPOTENCY_KEY": key} if key else {}))
    return client


def test_same_key_twice_is_one_job(emu: FocusEmulator, user: EmulatedUser) -> None:
    client = api(user, key="drf-1")
    first = client.post("/render", {"frames": 3}, format="json")
    again = client.post("/render", {"frames": 3}, format="json")
    changed = client.post("/render", {"frames": 4}, format="json")
    [job] = emu.jobs(user)
    assert first.status_code == 201 and first.json()["job_id"] == job["id"]
    assert again.status_code == 409 and again.json()["job_id"] == job["id"] and again.json()["status"] == "completed"
    assert changed.status_code == 422 and changed.json()["error"] == "idempotency_key_reused"
    assert job["actual_cost"] == 3 and user.credits == 10 - 3


def test_the_form_field_is_a_key_too(emu: FocusEmulator, user: EmulatedUser) -> None:
    client = api(user)
    assert client.post("/render", {"frames": 2, "focus_idempotency_key": "f"}).status_code == 201
    assert client.post("/render", {"frames": 2, "focus_idempotency_key": "f"}).status_code == 409
    assert len(emu.jobs(user)) == 1


def test_an_invalid_body_reserves_nothing_and_max_cost_caps(emu: FocusEmulator, user: EmulatedUser) -> None:
    client = api(user, key="drf-2")
    assert client.post("/render", {"frames": 0}, format="json").status_code == 400
    assert emu.jobs(user) == []
    assert client.post("/render", {"frames": 50}, format="json").status_code == 201  # the key was not spent
    [job] = emu.jobs(user)
    assert job["actual_cost"] == 7

