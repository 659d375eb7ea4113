"""Issue 23's "Done when", in Chromium on the three Clip Studio example apps: the pages a
person meets are the core's, say things in people's words, and pass an accessibility check.

Each walk: signed in, the studio greets the person by name (the emulator's wallet answer
carries it); a render with too few credits gets the 402 page with the numbers right (needs 5,
has 3, needs 2 more) and the label "Preview render" with its usual cost; **Back** returns to
the studio; **Buy credits** reaches the billing page, which says how many more are needed
(the ``need`` parameter); back in the app, "Credits added" with the new balance (the billing
marker's 303 and its notice cookie); a cross-site form post gets the 403 page; with the
emulator failing (its fault setting) the studio gets the 503 page with **Try again**; a
missing page is a 404 page; sign-out lands on the signed-out page, and "Sign out of Focus
too" ends Focus's session, so the next visit asks who you are. Screenshots of every step go
to the walk's artifact folder, as the other walks' do.

The accessibility check is axe-core (the copy ``axe-playwright-python`` ships) run in the
page: no violation of impact "serious" or "critical" on any of these pages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from focus_middleware.clock import Clock, FakeClock, SystemClock
from focus_middleware.testing import FocusEmulator
from tests.examples.servers import APP, FAST_STEPS

from .browser import ARTIFACTS, Steps

ESTIMATE, COST = 5, 3  # example_apps.common: RENDER_ESTIMATE, RENDER_COST


def axe_check(page: Page, where: str) -> None:
    """No serious or critical axe-core violation on the page shown (rules: WCAG 2 A/AA and
    best practice, axe's defaults: lang, names of links and controls, contrast, headings...)."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("axe-playwright-python is not installed (pip install -e .[test])")
    results = Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    serious = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
               for v in violations if v.get("impact") in ("serious", "critical")]
    assert not serious, f"accessibility, {where}:\n" + "\n".join(serious)


class PagesWalk:
    def __init__(self, page: Page, url: str, emu: FocusEmulator, steps: Steps,
                 expire_wallet_cache: Callable[[], None]) -> None:
        self.page, self.url, self.emu, self.steps = page, url, emu, steps
        self.expire_wallet_cache = expire_wallet_cache

    def shot(self, name: str) -> None:
        self.steps.shot(name)
        axe_check(self.page, name)

    def run(self) -> None:
        page, url, emu = self.page, self.url, self.emu
        user = emu.create_user(credits=ESTIMATE + COST, email="wanda@example.com", name="Wanda Walker")

        # Signed in: the person's name, not an id.
        page.goto(f"{url}/studio")
        page.locator(f"#user-{user.clerk_id}").click()
        page.wait_for_url(f"{url}/studio")
        expect(page.locator("#person #display-name")).to_have_text("Wanda Walker")
        expect(page.locator("#who")).to_have_text("Wanda Walker")
        expect(page.locator("#email")).to_have_text("wanda@example.com")
        self.shot("studio-by-name")

        # Two renders: 8 → 5 → 2, too few for a third (it sets 5 aside).
        page.locator("#render").click()
        page.wait_for_load_state()
        page.goto(f"{url}/studio")
        expect(page.locator("#credits")).to_have_text(str(ESTIMATE))
        page.locator("#render").click()
        page.wait_for_load_state()
        page.goto(f"{url}/studio")
        have = ESTIMATE - COST
        expect(page.locator("#credits")).to_have_text(str(have))

        # The 402 page: needs 5, has 2, needs 3 more; in words, with the usual cost.
        with page.expect_response(f"{url}/render") as answer:
            page.locator("#render").click()
        assert answer.value.status == 402
        expect(page.locator("#required")).to_have_text(str(ESTIMATE))
        expect(page.locator("#available")).to_have_text(str(have))
        expect(page.locator("#needed")).to_have_text(str(ESTIMATE - have))
        expect(page.locator("#action")).to_have_text("Preview render")
        expect(page.locator("main")).to_contain_text(f"usually costs {COST}")
        expect(page.locator("header")).to_have_text("Clip Studio")
        self.shot("402")

        # Back: the page the person came from.
        page.locator("#back").click()
        page.wait_for_url(f"{url}/studio")
        with page.expect_response(f"{url}/render") as answer:
            page.locator("#render").click()
        assert answer.value.status == 402

        # Buy credits: the billing page knows how many more are needed; then the confirmation.
        page.locator("#buy-credits").click()
        page.wait_for_url(f"{emu.url}/billing?**")
        expect(page.locator("#needed")).to_have_text(str(ESTIMATE - have))
        self.steps.shot("billing")
        page.locator("#buy-10").click()
        page.wait_for_url(f"{url}/studio?back=1")
        expect(page.locator("#credits-added")).to_contain_text("Credits added")
        expect(page.locator("#new-balance")).to_have_text(str(have + 10))
        self.shot("credits-added")

        # 403: a form post to the paid route from another origin of the same site (another
        # port of 127.0.0.1): the SameSite=Lax cookie goes along, Sec-Fetch-Site says
        # same-site, and same-site is not enough (docs/architecture.md, "Refusals").
        other = "http://127.0.0.1:9/elsewhere"
        page.route(other, lambda route: route.fulfill(content_type="text/html", body=(
            f'<!doctype html><html lang="en"><title>Elsewhere</title><form method="post" action="{url}/render">'
            '<button id="go">Go</button></form></html>')))
        page.goto(other)
        page.locator("#go").click()
        page.wait_for_url(f"{url}/render")
        expect(page.locator("h1")).to_have_text("Request refused")
        expect(page.locator("#back")).to_have_attribute("href", "/")
        self.shot("403")

        # 503: Focus fails (the emulator's fault setting) once the cached wallet is gone (no
        # stale-if-error window in these walks: a stale wallet would be shown instead).
        self.expire_wallet_cache()
        emu.fail_next("GET /api/wallet", 503, times=10, retry_after=7)
        try:
            response = page.goto(f"{url}/studio?fresh=1")
            assert response is not None and response.status == 503
            expect(page.locator("h1")).to_have_text("Temporarily unavailable")
            expect(page.locator("#retry")).to_have_attribute("href", "/studio?fresh=1")
            self.shot("503")
        finally:
            emu.clear_faults()
        page.locator("#retry").click()
        expect(page.locator("#credits")).to_have_text(str(have + 10))

        # 404: a page.
        response = page.goto(f"{url}/no-such-page")
        assert response is not None and response.status == 404
        expect(page.locator("h1")).to_have_text("Page not found")
        self.shot("404")

        # Sign out: the signed-out page; then out of Focus too; the next visit asks who you are.
        page.goto(f"{url}/studio")
        page.locator("#sign-out").click()
        page.wait_for_url(f"{url}/_focus/signed-out?**")
        expect(page.locator("#sign-in")).to_be_visible()
        self.shot("signed-out")
        page.locator("#sign-out-focus").click()
        page.wait_for_url(f"{emu.url}/signout?**")
        page.locator("#sign-out").click()
        page.wait_for_url(f"{url}/_focus/signed-out?**")
        expect(page.locator("h1")).to_have_text("Signed out of Focus too")
        self.shot("signed-out-of-focus")
        page.locator("#sign-in").click()
        page.wait_for_url(f"{emu.url}/signin?**")
        expect(page.locator(f"#user-{user.clerk_id}")).to_be_visible()  # asked again: who are you?


def served(framework: str) -> Callable[[FocusEmulator, Clock], AbstractContextManager[str]]:
    from tests.examples import servers

    serve: Callable[[FocusEmulator, Clock], AbstractContextManager[str]] = getattr(servers, f"{framework}_served")
    return serve


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_the_pages_people_meet(framework: str, page: Page, emu: FocusEmulator, clock: FakeClock,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.examples import servers

    for name, value in FAST_STEPS.items():
        monkeypatch.setenv(name, value)
    # The example's own settings (example_apps.common.focus_settings) name the billing page's
    # parameter; the in-process FastAPI server builds its config without them.
    plain = servers.config
    monkeypatch.setattr(servers, "config", lambda *args: plain(*args).replace(purchase_need_param="need",
                                                                                stale_if_error=0))
    monkeypatch.setenv("FOCUS_STALE_IF_ERROR", "0")  # Flask's app reads its settings from the environment
    emu.create_app(APP, starter_credits=0)
    with served(framework)(emu, clock) as url:
        PagesWalk(page, url, emu, Steps(page, ARTIFACTS / f"pages-{framework}"),
                  lambda: clock.advance(31)).run()  # past wallet_ttl (30 s)


@contextmanager
def django(emu: FocusEmulator, log: Path) -> Iterator[str]:
    from .test_example_apps import django_served

    with django_served(emu, log) as url:
        yield url


def test_the_pages_people_meet_on_django(page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from . import test_example_apps

    # Django runs in its own process on the system's clock: its wallet cache lives 1 s here,
    # so the 503 step waits that second instead of moving a clock.
    monkeypatch.setattr(test_example_apps, "DJANGO_FOCUS", {**test_example_apps.DJANGO_FOCUS, "FOCUS_WALLET_TTL": "1",
                                                            "FOCUS_STALE_IF_ERROR": "0"})
    with FocusEmulator(db=":memory:", clock=SystemClock(), host="localhost") as emu:
        emu.create_app(APP, starter_credits=0)
        with django(emu, tmp_path / "django.log") as url:
            PagesWalk(page, url, emu, Steps(page, ARTIFACTS / "pages-django"), lambda: time.sleep(1.2)).run()
        emu.check_books()
