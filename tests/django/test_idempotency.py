"""Idempotent paid views and max_cost on django-focus, through Django's WSGI and ASGI
handlers (its test Client and AsyncClient), judged by the emulator's ledger. The template
tag is Django's ``simple_tag`` (https://docs.djangoproject.com/en/stable/howto/custom-template-tags/#simple-tags);
the header follows Stripe's idempotent requests (https://docs.stripe.com/api/idempotent_requests).
"""

from __future__ import annotations

import json
import logging
import re
import threading

import pytest
from django.test import Client

from focus_middleware.idempotency import FORM_FIELD
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, Either
from .settings import ORIGIN

pytestmark = [pytest.mark.anyio, pytest.mark.urls("tests.django.idempotency_urls")]
FORM_NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin", "accept": "text/html"}


def headers(user: EmulatedUser, extra: dict[str, str] | None = None, key: str | None = None) -> dict[str, str]:
    out = {**(extra or API), "authorization": f"Bearer {user.pat()}"}
    if key is not None:
        out["idempotency-key"] = key
    return out


@pytest.mark.parametrize("path", ["/render", "/arender"])
async def test_same_key_twice_and_a_changed_body(browser: Either, user: EmulatedUser, emu: FocusEmulator,
                                                 path: str) -> None:
    send = {"content_type": "application/json"}
    first = await browser.post(path, data=json.dumps({"a": 1}), headers=headers(user, key="d-1"), **send)
    again = await browser.post(path, data=json.dumps({"a": 1}), headers=headers(user, key="d-1"), **send)
    changed = await browser.post(path, data=json.dumps({"a": 2}), headers=headers(user, key="d-1"), **send)
    [job] = emu.jobs(user)
    assert first.status_code == 200 and json.loads(first.content)["job_id"] == job["id"]
    assert again.status_code == 409 and json.loads(again.content)["job_id"] == job["id"]
    assert changed.status_code == 422
    assert len(emu.jobs(user)) == 1


async def test_the_template_tag_and_a_reposted_form(browser: Either, user: EmulatedUser, emu: FocusEmulator) -> None:
    page = (await browser.get("/studio")).content.decode()
    found = re.search(rf'<input type="hidden" name="{FORM_FIELD}" value="([^"]+)">', page)
    assert found and found.group(0) not in (await browser.get("/studio")).content.decode()
    form = {FORM_FIELD: found.group(1), "title": "Sunset"}
    first = await browser.post("/render", data=form, headers=headers(user, FORM_NAV))
    [job] = emu.jobs(user)
    assert first.status_code == 303 and first["location"] == f"/renders/{job['id']}"
    reload = await browser.post("/render", data=form, headers=headers(user, FORM_NAV))
    assert reload.status_code == 303 and reload["location"] == f"{ORIGIN}/renders/{job['id']}"
    assert len(emu.jobs(user)) == 1 and user.credits == 7


def test_concurrent_requests_with_one_key_make_one_reservation(user: EmulatedUser, emu: FocusEmulator) -> None:
    statuses: list[int] = []

    def send() -> None:
        statuses.append(Client().post("/render", data="{}", content_type="application/json",
                                      headers=headers(user, key="threads")).status_code)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409, 409] and len(emu.jobs(user)) == 1


def test_max_cost(user: EmulatedUser, emu: FocusEmulator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="focus_middleware.jobs"):
        assert Client().post("/render?cost=99", headers=headers(user)).status_code == 200
    [job] = emu.jobs(user)
    assert job["actual_cost"] == 6 and user.credits == 4
    assert job["id"] in caplog.text and "max_cost 6" in caplog.text
