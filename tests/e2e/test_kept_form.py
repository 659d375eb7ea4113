"""Issue 24's "Done when" in Chromium: on Clip Studio (example_apps, FastAPI and Flask in
this process on the emulator's fake clock), a person types a title, the session token in
the app's cookie expires, they press Render: after the round trip through Focus's sign-in
the studio is back with the title they typed and a Continue button; one click renders,
and the books show one charge. The kept form is gone after use."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from focus_middleware.clock import FakeClock
from focus_middleware.testing import FocusEmulator
from tests.examples.servers import APP, FAST_STEPS

from .browser import Console, Traffic
from .test_example_apps import server_for
from .tokens import session_claims

TYPED = "Kept across sign-in </script>"


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_a_form_survives_an_expired_session(framework: str, page: Page, emu: FocusEmulator, clock: FakeClock,
                                            console: Console, traffic: Traffic,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_STEPS.items():
        monkeypatch.setenv(name, value)
    emu.create_app(APP, starter_credits=0)
    user = emu.create_user(credits=10)
    with server_for(framework)(emu, clock) as url:
        page.goto(f"{url}/studio")
        with page.expect_navigation(url=f"{url}/studio"):
            page.locator(f"#user-{user.clerk_id}").click()
        page.locator("#title").fill(TYPED)
        # The token in the app's cookie is past its exp (the shared fake clock).
        clock.advance(emu.token_lifetime * 2)
        assert session_claims(page, url)["exp"] < clock.time()

        page.locator("#render").click()
        # Interstitial -> Focus's sign-in (still signed in there) -> back on the studio.
        expect(page.locator("#focus-continue")).to_be_visible()
        assert page.url.startswith(f"{url}/studio"), page.url
        assert "focus_state" not in page.url and "token=" not in page.url
        expect(page.locator("#title")).to_have_value(TYPED)
        expect(page.locator("#focus-kept-notice")).to_contain_text("nothing has been sent yet")
        assert emu.jobs(user) == []  # nothing replayed by itself
        assert page.evaluate("sessionStorage.getItem('focus:kept-form')") is None  # gone after use

        with page.expect_navigation(url=f"{url}/render"):
            page.locator("#focus-continue").click()
        expect(page.locator("body")).to_contain_text(TYPED.split(" <")[0])
        deadline_jobs = [j for j in emu.jobs(user) if j["status"] != "started"]
        for _ in range(50):
            if deadline_jobs:
                break
            page.wait_for_timeout(100)
            deadline_jobs = [j for j in emu.jobs(user) if j["status"] != "started"]
        jobs = emu.jobs(user)
        assert [j["status"] for j in jobs] == ["completed"], jobs  # one click, one charge
        assert user.credits == 10 - jobs[0]["actual_cost"]
        emu.check_books()

        # A reload of the studio shows the default title again: nothing kept any more.
        page.goto(f"{url}/studio")
        expect(page.locator("#title")).not_to_have_value(TYPED)
        expect(page.locator("#focus-continue")).to_have_count(0)
