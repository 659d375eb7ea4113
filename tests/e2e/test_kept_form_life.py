"""Issue 24: "the kept data is gone after use and after the state's life". The life is
enforced in the browser (focus_middleware/static/preserve.js stamps the entry with
``Date.now() + max_age * 1000`` and ignores and removes it once past), so it is tested in
Chromium with Playwright's clock (``page.clock``, https://playwright.dev/python/docs/clock):
the page's ``Date`` moves, the app's and the emulator's clocks do not.

The person is signed out of Focus (its sign-in cookie gone) while the app's cookie holds an
expired token, so pressing Render stops on Focus's sign-in form: there the page's time is
set forward, as if they took that long to sign in, before they pick their account."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.testing import FocusEmulator
from tests.examples.servers import APP, FAST_STEPS

from .browser import ARTIFACTS, Steps
from .test_example_apps import server_for
from .tokens import session_claims

TYPED = "Typed before a long sign-in"
KEY = "focus:kept-form"  # preserve.js's sessionStorage key
STATE_LIFE = FocusConfig().state_cookie_max_age  # what the example app keeps a form for (its default)


@pytest.mark.parametrize(("spent", "restored"), [(STATE_LIFE - 30, True), (STATE_LIFE + 1, False)],
                         ids=["within-the-state-life", "past-the-state-life"])
def test_a_kept_form_lives_as_long_as_the_sign_in_state(spent: int, restored: bool, page: Page, emu: FocusEmulator,
                                                        clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_STEPS.items():
        monkeypatch.setenv(name, value)
    emu.create_app(APP, starter_credits=0)
    user = emu.create_user(credits=10)
    page.clock.install()  # before any page: every document of the context gets the fake Date
    with server_for("fastapi")(emu, clock) as url:
        steps = Steps(page, ARTIFACTS / "kept-form-life" / ("restored" if restored else "expired"))
        page.goto(f"{url}/studio")
        with page.expect_navigation(url=f"{url}/studio"):
            page.locator(f"#user-{user.clerk_id}").click()
        page.locator("#title").fill(TYPED)
        clock.advance(emu.token_lifetime * 2)  # the token in the app's cookie is past its exp
        assert session_claims(page, url)["exp"] < clock.time()
        page.context.clear_cookies(domain="localhost")  # and Focus no longer knows the browser

        with page.expect_navigation(url=f"{emu.url}/signin?**"):
            page.locator("#render").click()  # interstitial (keeps the form) -> Focus's sign-in form
        kept_at = page.evaluate("Date.now()") / 1000
        page.clock.set_system_time(kept_at + spent)
        steps.shot("signing-in")
        with page.expect_navigation(url=f"{url}/studio**"):
            page.locator(f"#user-{user.clerk_id}").click()
        page.wait_for_load_state()
        assert page.evaluate("Date.now()") / 1000 >= kept_at + spent  # the app's page has the moved time
        steps.shot("back")

        if restored:
            expect(page.locator("#focus-continue")).to_be_visible()
            expect(page.locator("#title")).to_have_value(TYPED)
        else:
            # preserve.js runs on DOMContentLoaded (the refresh script is deferred), which
            # has passed once the load state is reached: nothing was filled in.
            expect(page.locator("#title")).not_to_have_value(TYPED)
            expect(page.locator("#focus-continue")).to_have_count(0)
        # Used or expired, the entry is gone, and a reload finds nothing to restore.
        assert page.evaluate(f"sessionStorage.getItem('{KEY}')") is None
        page.reload()
        expect(page.locator("#title")).not_to_have_value(TYPED)
        expect(page.locator("#focus-continue")).to_have_count(0)
        assert emu.jobs(user) == []  # nothing was sent by itself
