"""The walk a person takes through a Focus app, in a real browser (issue 13).

Open the app; get sent to Focus's sign-in (the emulator, on ``localhost``: another site);
sign in; land back on the page with the token gone from the address bar; see the account
and credits; run the paid action and see the credits fall by its actual cost; run it until
the 402 page shows what it costs and what is left; buy credits on Focus's page and come
back; run it again; let the session token expire (the emulator's and the app's shared fake
clock, or a short token lifetime for an app in another process) and act again without
signing in again; sign out of the app and of Focus.

What the page shows is checked against the emulator's books (jobs, ledger, balance), a
screenshot of every step goes to ``test-artifacts/e2e/<framework>/NN-step.png``, and the
console must stay free of errors but for the ones each step declares, with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from focus_middleware.clock import Clock, FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .browser import Console, Steps, Traffic, origin_of
from .tokens import session_claims


@dataclass(frozen=True)
class AppUnderTest:
    """Where things are in one app (paths on ``url``, CSS selectors on its pages)."""

    framework: str
    url: str
    app: str  # the Focus app slug its jobs are filed under
    account_path: str  # a page that needs an account and shows it with its credits
    action_path: str  # the page with the paid action's form
    action_button: str  # the form's submit button
    action_url: str  # where the form posts (the 402 page is that URL's answer)
    action: str  # the action's name, as the 402 page shows it
    estimate: int  # what a run reserves
    cost: int  # what a run is charged
    credits: str = "#credits"
    identity: str = "#account-id"  # an element that shows the user's Clerk id
    action_label: str | None = None  # what the 402 page calls the action (paid(label=...)), else its slug
    sign_out: str = "#sign-out"


class Walk:
    def __init__(self, page: Page, target: AppUnderTest, emu: FocusEmulator, clock: Clock,
                 user: EmulatedUser, steps: Steps, console: Console, traffic: Traffic) -> None:
        self.page, self.app, self.emu, self.clock, self.user = page, target, emu, clock, user
        self.steps, self.console, self.traffic = steps, console, traffic
        self.stale_after_purchase = False
        # The refresh script asks Focus for a fresh token from the app's page: a cross-site
        # fetch (127.0.0.1 -> localhost). The emulator's sign-in cookie is SameSite=Lax, so
        # that fetch never carries it and Focus answers 401; the script takes the answer
        # (it stops) and the bounce keeps the session instead. Chromium logs the 401 as a
        # console error, which no page can prevent. Only this URL with only this status.
        console.tolerate(f"{emu.url}/api/sessionToken", 401,
                         "the refresh script's cross-site call without Focus's SameSite=Lax cookie")
        # A page that names no icon (the library's 402 page, the emulator's pages) makes
        # Chromium itself ask for /favicon.ico; no page asked, and a 404 there is harmless.
        for origin in (target.url, emu.url):
            console.tolerate(f"{origin}/favicon.ico", 404, "Chromium's own favicon request")

    # -- helpers --------------------------------------------------------------------------

    def at(self, path: str) -> str:
        return self.app.url + path

    def shown_credits(self) -> int:
        return int(self.page.locator(self.app.credits).inner_text().strip())

    def settled(self, timeout: float = 10.0) -> None:
        """Wait until no job of the user is open. The app settles a job after its answer
        went out, so the browser can be on the next page before Focus has the settlement;
        a page loaded in that moment may show the balance with the whole estimate held."""
        deadline = time.monotonic() + timeout
        while self.emu.jobs(self.user, status="started"):
            assert time.monotonic() < deadline, f"a job is still open after {timeout} s"
            time.sleep(0.02)

    def open_account(self, credits: int | None = None) -> None:
        """The account page, once no job is open. With ``credits``: reloaded until it shows
        them, for a moment at most. The app drops its cached wallet when Focus answers the
        settlement, just after the ledger has it; a page read while the job was open cached
        the balance with the estimate held, and may be served in between."""
        self.settled()
        deadline = time.monotonic() + 5
        self.page.goto(self.at(self.app.account_path))
        expect(self.page).to_have_url(self.at(self.app.account_path))
        while credits is not None and self.shown_credits() != credits and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)
            self.page.reload()

    def assert_shown_credits(self, credits: int, when: str) -> None:
        shown = self.shown_credits()
        assert shown == credits, f"{when}: the page shows {shown} credits, Focus holds {self.user.credits}, expected {credits}"

    def run_action(self) -> None:
        """Press the paid action's button and wait for whatever page answers."""
        with self.page.expect_navigation():
            self.page.locator(self.app.action_button).click()

    def assert_clean_url(self) -> None:
        url = self.page.url
        assert "token=" not in url and "focus_state=" not in url and "focus_bounce=" not in url, url

    def completed_jobs(self) -> list[dict[str, object]]:
        return self.emu.jobs(self.user, status="completed")

    def assert_books(self, credits: int, completed: int) -> None:
        jobs = self.emu.jobs(self.user)
        assert [j["status"] for j in jobs].count("completed") == completed, jobs
        assert not [j for j in jobs if j["status"] == "started"], jobs  # nothing left open
        for job in jobs:
            assert job["app"] == self.app.app and job["cost_estimate"] == self.app.estimate, job
            if job["status"] == "completed":
                assert job["actual_cost"] == self.app.cost, job
        assert self.user.credits == credits
        assert sum(row["amount"] for row in self.emu.ledger(self.user)) == credits
        self.emu.check_books()

    # -- the walk -------------------------------------------------------------------------

    def run(self) -> None:
        page, app, emu, user = self.page, self.app, self.emu, self.user
        start = user.credits
        assert start >= 2 * app.estimate, "the walk needs two runs before the 402"

        # 1. Open the app's account page: sent to Focus's sign-in, which offers this user.
        page.goto(self.at(app.account_path))
        assert page.url.startswith(f"{emu.url}/signin?"), page.url
        back = parse_qs(urlsplit(page.url).query)["redirect_to"][0]
        assert back.startswith(self.at(app.account_path)) and "focus_state=" in back
        expect(page.locator("#return-origin")).to_have_text(app.url)
        user_button = page.locator(f"#user-{user.clerk_id}")
        expect(user_button).to_be_visible()
        self.steps.shot("signin")

        # 2. Sign in: back on the same page, the token and the nonce gone from the address bar.
        with page.expect_navigation(url=self.at(app.account_path)):
            user_button.click()
        self.assert_clean_url()
        trips = [(s, u) for _m, s, u in self.traffic.seen if u.startswith(app.url) and "token=" in u]
        assert len(trips) == 1 and trips[0][0] == 303, trips  # the return trip, answered by a redirect
        cookies = {c["name"]: c for c in page.context.cookies(app.url)}
        session = cookies.get("focus_session")
        assert session is not None and session["httpOnly"], cookies.keys()
        # Minted on Focus's sign-in page, the token names Focus's origin as azp, as Clerk's do
        # (https://clerk.com/docs/guides/sessions/session-tokens, "azp"): issue 17.
        assert session_claims(page, app.url).get("azp") == emu.url

        # 3. The account and its credits.
        expect(page.locator(app.identity)).to_contain_text(user.clerk_id)
        self.assert_shown_credits(start, "after signing in")
        self.steps.shot("account")

        # 4. Run the paid action: the credits fall by its actual cost, on the page and in the books.
        credits = start
        runs = 0
        while credits >= app.estimate:
            page.goto(self.at(app.action_path))
            if runs == 0:
                self.steps.shot("action-form")
            self.run_action()
            if runs == 0:
                self.steps.shot("action-done")  # whatever page the app answers the action with
            runs += 1
            credits -= app.cost
            self.open_account(credits)
            self.assert_shown_credits(credits, f"after run {runs}")
            self.assert_books(credits, completed=runs)
            if runs <= 2:
                self.steps.shot(f"charged-{runs}")

        # 5. One run too many: the 402 page, with the estimate and what is left.
        page.goto(self.at(app.action_path))
        self.console.expect(app.action_url, 402)  # the page itself is the 402 response
        with page.expect_response(app.action_url) as answer:
            self.run_action()
        assert answer.value.status == 402
        expect(page.locator("#required")).to_have_text(str(app.estimate))
        expect(page.locator("#available")).to_have_text(str(credits))
        expect(page.locator("#action")).to_have_text(app.action_label or app.action)
        self.steps.shot("insufficient-credits")
        self.assert_books(credits, completed=runs)  # refused before any job was opened

        # 6. Buy credits on Focus's billing page, and come back to the app.
        with page.expect_navigation():
            page.locator("#buy-credits").click()
        assert page.url.startswith(f"{emu.url}/billing?"), page.url
        expect(page.locator("#balance")).to_have_text(str(credits))
        self.steps.shot("billing")
        with page.expect_navigation():
            page.locator("#buy-10").click()
        credits += 10
        assert origin_of(page.url) == app.url, page.url
        assert [r["kind"] for r in emu.ledger(user)].count("purchase") == 1
        self.steps.shot("back-from-billing")
        self.assert_books(credits, completed=runs)
        # The app may still show the balance from before the purchase: it caches the wallet
        # (FocusConfig.wallet_ttl) and the purchase happened on Focus, out of its sight. The
        # design's answer is that the reservation, not the cached balance, decides: the
        # action must work at once, and its settlement refreshes what the page shows.
        self.open_account()
        self.stale_after_purchase = self.shown_credits() != credits

        # 7. Run it again, at once.
        page.goto(self.at(app.action_path))
        self.run_action()
        runs += 1
        credits -= app.cost
        self.open_account(credits)
        self.assert_shown_credits(credits, "after the run after buying")
        self.assert_books(credits, completed=runs)
        self.steps.shot("charged-after-purchase")

        # 8. Leave the tab open past the token's lifetime, then press the paid button on it:
        # Focus still knows the browser (its sign-in cookie), so the app gets a fresh token
        # through a bounce, with no sign-in form shown.
        page.goto(self.at(app.action_path))
        old_session = {c["name"]: c["value"] for c in page.context.cookies(app.url)}["focus_session"]
        self.let_the_session_token_expire()
        mark = self.traffic.mark()
        self.run_action()
        page.wait_for_load_state()
        trip = self.traffic.since(mark)
        self.assert_silent_bounce(trip)
        self.steps.shot("after-expiry")
        new_session = {c["name"]: c["value"] for c in page.context.cookies(app.url)}["focus_session"]
        assert new_session != old_session, "the app's cookie was not renewed"
        # Whatever that POST became, the next press works at once, and charges once.
        self.settled()
        done = len(self.completed_jobs())
        if done == runs:  # the bounce came back to the form (a POST does not survive a redirect)
            assert origin_of(page.url) == app.url and page.locator(app.action_button).count() == 1, page.url
            mark = self.traffic.mark()
            self.run_action()
            assert not [t for t in self.traffic.since(mark) if t[2].startswith(emu.url)], "signed in again"
        runs += 1
        credits -= app.cost
        self.open_account(credits)
        self.assert_shown_credits(credits, "after the run after the session expired")
        self.assert_books(credits, completed=runs)
        self.steps.shot("charged-after-expiry")

        # 9. Sign out of the app, then of Focus: the next visit asks who you are again.
        with page.expect_navigation():
            page.locator(app.sign_out).click()
        assert origin_of(page.url) == app.url
        assert "focus_session" not in {c["name"] for c in page.context.cookies(app.url)}
        self.steps.shot("signed-out-of-app")
        page.goto(f"{emu.url}/signout?redirect_to={app.url}/")
        expect(page.locator("#sign-out")).to_be_visible()
        self.steps.shot("focus-signout")
        with page.expect_navigation(url=f"{app.url}/"):
            page.locator("#sign-out").click()
        page.goto(self.at(app.account_path))
        assert page.url.startswith(f"{emu.url}/signin?"), page.url
        expect(page.locator("#sign-in")).to_be_visible()
        self.steps.shot("signed-out")
        self.assert_books(credits, completed=runs)

        # The console: nothing but the declared noise.
        problems = self.console.unexpected()
        assert not problems, "console errors:\n" + "\n".join(map(str, problems))

    def let_the_session_token_expire(self) -> None:
        """On the shared fake clock, move it; an app on the system's clock (Django, in its
        own process, with a short token lifetime) is waited for, until the token in its
        cookie is past its ``exp`` (read from the cookie, so no longer than needed)."""
        if isinstance(self.clock, FakeClock):
            self.clock.advance(self.emu.token_lifetime * 2)
            return
        exp = session_claims(self.page, self.app.url)["exp"]
        wait = exp - time.time() + 0.3
        assert wait <= self.emu.token_lifetime + 1, wait
        time.sleep(max(0.0, wait))

    def assert_silent_bounce(self, trip: list[tuple[str, int, str]]) -> None:
        """The way the browser went: through Focus's sign-in, answered by redirects only
        (no form shown, nothing posted there), and back to the app with a clean URL."""
        at_focus = [(m, s, u) for m, s, u in trip if u.startswith(self.emu.url)]
        assert at_focus, f"no bounce through Focus: {trip}"
        assert all(m == "GET" and s == 303 and urlsplit(u).path == "/signin" for m, s, u in at_focus), trip
        assert origin_of(self.page.url) == self.app.url, self.page.url
        self.assert_clean_url()
        assert trip[-1][1] < 400, trip
