"""Issue 24's "Done when" in Chromium: on Clip Studio (example_apps), a person types a
title, the session token in the app's cookie expires, they press Render: after the round
trip through Focus's sign-in the studio is back with the title they typed and a Continue
button; one click renders, and the books show one charge. The kept form is gone after use.

FastAPI and Flask run in this process on the emulator's fake clock, which the test moves;
Django runs in its own process on the system's clock (as test_example_apps.py serves it),
so the test waits until the token in the app's cookie is past its ``exp``, read from the
cookie (at most DJANGO_TOKEN_LIFETIME seconds)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from focus_middleware.clock import FakeClock, SystemClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.examples.servers import APP, FAST_STEPS

from .browser import ARTIFACTS, Console, Steps, Traffic
from .test_example_apps import DJANGO_TOKEN_LIFETIME, EXAMPLES, django_served, server_for
from .tokens import session_claims

TYPED = "Kept across sign-in </script>"
KEY = "focus:kept-form"  # preserve.js's sessionStorage key


@contextmanager
def clip_studio(framework: str, request: pytest.FixtureRequest,
                tmp_path: Path) -> Iterator[tuple[str, FocusEmulator, Callable[[], None]]]:
    """The example app served for ``framework`` with its emulator, and how to let the
    session token in the browser's app cookie expire."""
    if framework != "django":
        emu: FocusEmulator = request.getfixturevalue("emu")
        clock: FakeClock = request.getfixturevalue("clock")
        emu.create_app(APP, starter_credits=0)
        with server_for(framework)(emu, clock) as url:
            page: Page = request.getfixturevalue("page")

            def advance_past_exp() -> None:  # the clock the app and the emulator share
                clock.advance(emu.token_lifetime * 2)
                assert session_claims(page, url)["exp"] < clock.time()

            yield url, emu, advance_past_exp
        return
    if not (EXAMPLES / "django_app").is_dir():
        pytest.skip("example_apps/django_app has not landed yet")
    with FocusEmulator(db=":memory:", clock=SystemClock(), host="localhost",
                       token_lifetime=DJANGO_TOKEN_LIFETIME) as emu:
        emu.create_app(APP, starter_credits=0)
        with django_served(emu, tmp_path / "django.log") as url:
            page = request.getfixturevalue("page")

            def wait_past_exp() -> None:
                wait = session_claims(page, url)["exp"] - time.time() + 0.3
                assert wait <= DJANGO_TOKEN_LIFETIME + 1, wait
                time.sleep(max(0.0, wait))
                assert session_claims(page, url)["exp"] < time.time()

            yield url, emu, wait_past_exp
        emu.check_books()


def settled(emu: FocusEmulator, user: EmulatedUser, timeout: float = 10.0) -> None:
    """The app settles a job after its answer went out: wait until none is open."""
    deadline = time.monotonic() + timeout
    while emu.jobs(user, status="started") or not emu.jobs(user):
        assert time.monotonic() < deadline, f"no settled job after {timeout} s: {emu.jobs(user)}"
        time.sleep(0.02)


def expect_clean_console(console: Console, app_url: str, emu: FocusEmulator) -> None:
    # As walk.py declares them: the refresh script's cross-site call goes without Focus's
    # SameSite=Lax cookie (401), and Chromium asks pages that name no icon for /favicon.ico.
    console.tolerate(f"{emu.url}/api/sessionToken", 401,
                     "the refresh script's cross-site call without Focus's SameSite=Lax cookie")
    for origin in (app_url, emu.url):
        console.tolerate(f"{origin}/favicon.ico", 404, "Chromium's own favicon request")
    problems = console.unexpected()
    assert not problems, "console errors:\n" + "\n".join(map(str, problems))


@pytest.mark.parametrize("framework", ["fastapi", "flask", "django"])
def test_a_form_survives_an_expired_session(framework: str, page: Page, console: Console, traffic: Traffic,
                                            request: pytest.FixtureRequest, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_STEPS.items():
        monkeypatch.setenv(name, value)
    with clip_studio(framework, request, tmp_path) as (url, emu, let_the_token_expire):
        user = emu.create_user(credits=10)
        steps = Steps(page, ARTIFACTS / "kept-form" / framework)
        page.goto(f"{url}/studio")
        with page.expect_navigation(url=f"{url}/studio"):
            page.locator(f"#user-{user.clerk_id}").click()
        page.locator("#title").fill(TYPED)
        steps.shot("typed")
        let_the_token_expire()

        mark = traffic.mark()
        page.locator("#render").click()
        # Interstitial -> Focus's sign-in (still signed in there) -> back on the studio.
        expect(page.locator("#focus-continue")).to_be_visible()
        trip = traffic.since(mark)
        assert [m for m, _, u in trip if u.startswith(emu.url)] == ["GET"], trip  # one silent pass at Focus
        assert page.url.startswith(f"{url}/studio"), page.url
        assert "focus_state" not in page.url and "token=" not in page.url
        expect(page.locator("#title")).to_have_value(TYPED)
        expect(page.locator("#focus-kept-notice")).to_contain_text("nothing has been sent yet")
        steps.shot("kept")
        assert emu.jobs(user) == []  # nothing replayed by itself
        assert page.evaluate(f"sessionStorage.getItem('{KEY}')") is None  # gone after use

        with page.expect_navigation(url=re.compile(re.escape(url) + r"/renders/")):  # posted, then the result page
            page.locator("#focus-continue").click()
        expect(page.locator("body")).to_contain_text(TYPED.split(" <")[0])
        steps.shot("rendered")
        settled(emu, user)
        jobs = emu.jobs(user)
        assert [j["status"] for j in jobs] == ["completed"], jobs  # one click, one charge
        assert user.credits == 10 - jobs[0]["actual_cost"]
        emu.check_books()

        # A reload of the studio shows the default title again: nothing kept any more.
        page.goto(f"{url}/studio")
        expect(page.locator("#title")).not_to_have_value(TYPED)
        expect(page.locator("#focus-continue")).to_have_count(0)
        expect_clean_console(console, url, emu)
