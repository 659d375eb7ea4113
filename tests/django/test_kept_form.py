"""A form is never lost to an expired session token (issue 24), in django-focus: Django's
test Client (WSGI handler) and AsyncClient (ASGI handler) against the real emulator on the
fake clock. The form comes from ``request.POST``, which Django parses once whoever asks
(``CsrfViewMiddleware`` does, before the view: Django's ``middleware/csrf.py``)."""

from __future__ import annotations

import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.preserve import KEEP_LIMIT
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.django.settings import ORIGIN
from tests.preserve.common import TYPED, assert_interstitial, assert_not_kept_page, cross_site_post, form_post

from .conftest import Either

pytestmark = [pytest.mark.anyio, pytest.mark.urls("tests.preserve.django_urls")]


def headers(base: dict[str, str]) -> dict[str, dict[str, str]]:
    return {"headers": base}  # Client and AsyncClient both take headers= (Django 4.2+)


@pytest.fixture
def expired(browser: Either, user: EmulatedUser, clock: FakeClock) -> Either:
    browser.client.cookies["focus_session"] = user.session_jwt(azp=ORIGIN)
    clock.advance(600)  # the token in the app's cookie is past its exp; the cookie is not
    return browser


@pytest.mark.parametrize("view", ["render", "arender"])
async def test_an_expired_form_post_is_kept(expired: Either, emu: FocusEmulator, user: EmulatedUser,
                                            view: str) -> None:
    r = await expired.post(f"/{view}", data=TYPED, **headers(form_post(ORIGIN)))
    assert_interstitial(r.status_code, r.content.decode(), f"{ORIGIN}/{view}", origin=ORIGIN)
    assert "focus_state" in r.cookies
    assert emu.jobs(user) == []


async def test_a_cross_site_post_is_not_kept(expired: Either) -> None:
    r = await expired.post("/render", data=TYPED, **headers(cross_site_post(ORIGIN)))
    assert r.status_code == 303 and b"focus-kept-form" not in r.content


async def test_an_oversize_body_gets_the_message_page(expired: Either) -> None:
    r = await expired.post("/render", data={**TYPED, "notes": "x" * (KEEP_LIMIT + 1)}, **headers(form_post(ORIGIN)))
    assert_not_kept_page(r.status_code, r.content.decode())


async def test_a_file_gets_the_message_page(expired: Either) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    r = await expired.post("/render", data={"title": "t", "clip": SimpleUploadedFile("clip.mp4", b"data")},
                           **headers(form_post(ORIGIN)))
    assert_not_kept_page(r.status_code, r.content.decode())


async def test_a_view_can_turn_it_off(expired: Either) -> None:
    r = await expired.post("/private", data=TYPED, **headers(form_post(ORIGIN)))
    assert r.status_code == 303 and "%2Fprivate%3Ffocus_state" in r["location"]
