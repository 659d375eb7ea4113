"""The demo's walk, over HTTP, for each example app: what a person does after ``make demo``.

Sign in on the emulator's page, see the wallet, render until the credits run out, meet the
402 page, buy credits on the emulator's billing page, render again, render with live
progress, come back after the session token expired, use the API with a personal access
token, sign out. The emulator's ledger is the judge of every credit.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any

import httpx

from focus_middleware.clock import Clock, FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .browser import Browser, Page

ESTIMATE, COST, STREAM_COST = 5, 3, 4


def settled(emu: FocusEmulator, user: EmulatedUser, jobs: int) -> list[dict[str, Any]]:
    """The user's jobs once ``jobs`` exist and none is still open (a settlement lands just
    after the response that ends the job)."""
    deadline = time.monotonic() + 5
    while True:
        found = emu.jobs(user)
        if len(found) == jobs and all(j["status"] != "started" for j in found):
            return found
        assert time.monotonic() < deadline, f"jobs never settled: {found}"
        time.sleep(0.01)


def studio_showing(browser: Browser, url: str, credits: int) -> Page:
    """The studio once it shows ``credits``. The app drops its cached wallet when Focus
    answers the settlement, a moment after the ledger has it: a page read in between (the
    result page, read while the job was open, cached the balance with the estimate held)
    may still show that balance. Waits that moment out, no longer."""
    deadline = time.monotonic() + 5
    while True:
        studio = browser.open(url)
        if studio.status == 200 and studio.number("credits") == credits:
            return studio
        assert time.monotonic() < deadline, f"the studio still shows {studio.number('credits')}, not {credits}"
        time.sleep(0.01)


def test_the_demo_walk(serve: AbstractContextManager[str], emu: FocusEmulator, user: EmulatedUser,
                       clock: Clock, framework: str) -> None:
    with serve as app, Browser() as browser:
        studio = sign_in(browser, app, emu, user)
        studio = render_until_out_of_credits(browser, app, emu, user, studio)
        studio = buy_credits_and_render_again(browser, app, emu, user, studio)
        studio = render_with_live_progress(browser, emu, user, studio)
        if isinstance(clock, FakeClock):
            studio = come_back_after_the_token_expired(browser, app, emu, clock)
            studio = render_with_a_token_about_to_expire(browser, app, emu, user, clock, studio)
        use_the_api_with_a_pat(app, emu, user)
        sign_out(browser, app, studio)
    jobs = emu.jobs(user)
    assert [(j["action"], j["status"], j["actual_cost"]) for j in reversed(jobs)] == [
        ("render", "completed", COST)] * 4 + [("render-stream", "completed", STREAM_COST)] + [
        ("render", "completed", COST)]
    assert user.credits == 12 - 3 * COST + 10 - COST - STREAM_COST - COST == 3
    purchases = [row for row in emu.ledger(user) if row["kind"] == "purchase"]
    assert [row["amount"] for row in purchases] == [10]


def sign_in(browser: Browser, app: str, emu: FocusEmulator, user: EmulatedUser) -> Page:
    home = browser.open(f"{app}/")
    assert home.status == 200 and home.has("sign-in") and not home.has("credits")
    assert not home.has("sign-out")
    signin = browser.follow(home, "sign-in")
    assert signin.url.startswith(f"{emu.url}/signin?") and signin.has("email"), signin.url
    studio = browser.submit(signin, "sign-in", email=user.email or "", name="Wanda Walker")
    assert studio.status == 200 and studio.url == f"{app}/studio", studio.visited()
    assert any("token=" in url for url in studio.visited())  # the return trip, then a clean URL
    assert studio.number("credits") == 12
    assert studio.text("account-id") == user.account_id and studio.text("clerk-id") == user.clerk_id
    assert studio.has("render") and studio.has("render-stream") and studio.has("sign-out")
    assert '/_focus/refresh.js" defer' in studio.response.text
    assert browser.cookie("focus_session", "127.0.0.1") is not None
    return studio


def render(browser: Browser, studio: Page, title: str) -> Page:
    return browser.submit(studio, "render", title=title)


def render_until_out_of_credits(browser: Browser, app: str, emu: FocusEmulator, user: EmulatedUser,
                                studio: Page) -> Page:
    for n in range(1, 4):
        result = render(browser, studio, f"Clip <{n}> & co")
        assert result.status == 200 and result.url == f"{app}/renders/{result.text('job-id')}", result.visited()
        assert result.number("charged") == COST
        assert f"Clip &lt;{n}&gt; &amp; co" in result.response.text  # escaped, not markup
        job = settled(emu, user, n)[0]
        assert result.text("job-id") == job["id"] and job["status"] == "completed"
        assert job["metadata"]["description"] == f"Preview render of \u201cClip <{n}> & co\u201d (24 frames)"
        assert job["metadata"]["previewUrl"] == f"{app}/previews/{job['id']}.svg"
        preview = browser.client.get(job["metadata"]["previewUrl"])
        assert preview.status_code == 200 and preview.headers["content-type"].startswith("image/svg+xml")
        assert result.number("credits-left") == 12 - n * COST
        back = browser.follow(result, "back")
        assert back.status == 200 and back.url == f"{app}/studio", back.visited()
        studio = studio_showing(browser, back.url, 12 - n * COST)
    refused = render(browser, studio, "One too many")
    assert refused.status == 402, refused.response.text[:500]
    assert refused.number("required") == ESTIMATE and refused.number("available") == 3
    assert len(emu.jobs(user)) == 3  # the 402 reserved nothing
    return studio


def buy_credits_and_render_again(browser: Browser, app: str, emu: FocusEmulator, user: EmulatedUser,
                                 studio: Page) -> Page:
    refused = render(browser, studio, "One too many")
    billing = browser.follow(refused, "buy-credits")
    assert billing.url.startswith(f"{emu.url}/billing?") and billing.number("balance") == 3
    back = browser.submit(billing, "buy-10")
    assert back.status == 200 and back.url == f"{app}/studio?back=1", back.visited()  # via GET /render
    assert back.number("credits") == 13 and back.has("welcome-back")
    result = render(browser, back, "After buying")
    assert result.status == 200 and result.number("charged") == COST
    settled(emu, user, 4)
    return studio_showing(browser, f"{app}/studio", 10)


def render_with_live_progress(browser: Browser, emu: FocusEmulator, user: EmulatedUser, studio: Page) -> Page:
    with browser.stream(studio, "render-stream", title="Live one") as response:
        assert response.status_code == 200
        chunks = response.iter_text()
        first = next(chunks)
        assert 'id="progress"' in first and "<li>" not in first
        # The job is open while the page streams: charged only after the last chunk.
        assert emu.jobs(user)[0]["status"] == "started" and emu.jobs(user)[0]["action"] == "render-stream"
        body = first + "".join(chunks)
    page = Page(httpx.Response(200, text=body, request=response.request))
    assert body.count("<li>") == 6 and "Encoding the preview" in body
    assert '<script src="/_focus/refresh.js" defer>' in body
    assert page.number("charged") == STREAM_COST and page.has("result")
    job = settled(emu, user, 5)[0]
    assert job["action"] == "render-stream" and job["actual_cost"] == STREAM_COST
    assert job["metadata"]["description"].startswith("Preview render of \u201cLive one\u201d")
    return studio_showing(browser, studio.url, 10 - STREAM_COST)


def come_back_after_the_token_expired(browser: Browser, app: str, emu: FocusEmulator, clock: FakeClock) -> Page:
    """Minutes later: the token in the app's cookie expired long ago, the browser is still
    signed in to Focus, so the next page bounces through Focus and back, unasked."""
    before = browser.cookie("focus_session", "127.0.0.1")
    clock.advance(600)
    again = browser.open(f"{app}/studio")
    assert again.status == 200 and again.url == f"{app}/studio", again.visited()
    assert any(url.startswith(f"{emu.url}/signin?") for url in again.visited())  # bounced
    assert again.number("credits") == 10 - STREAM_COST
    assert browser.cookie("focus_session", "127.0.0.1") != before
    return again


def render_with_a_token_about_to_expire(browser: Browser, app: str, emu: FocusEmulator, user: EmulatedUser,
                                        clock: FakeClock, studio: Page) -> Page:
    """Paid work needs a token that can still settle it: with 5 s left the form post is not
    carried out; the browser gets the page that keeps the form (in the tab, by script: this
    walk has none, tests/e2e/test_kept_form.py has) and goes through Focus for a fresh token,
    landing back on the studio to press Render again."""
    clock.advance(55)
    jobs = len(emu.jobs(user))
    kept = render(browser, studio, "Just in time")
    assert kept.status == 200 and kept.url == f"{app}/render" and kept.has("focus-sign-in"), kept.visited()
    assert len(emu.jobs(user)) == jobs  # nothing reserved
    again = browser.follow(kept, "focus-sign-in")
    assert again.status == 200 and again.url.startswith(f"{app}/studio"), again.visited()
    assert any(url.startswith(f"{emu.url}/signin?") for url in again.visited())
    assert len(emu.jobs(user)) == jobs
    return again


def use_the_api_with_a_pat(app: str, emu: FocusEmulator, user: EmulatedUser) -> None:
    pat = user.pat()
    auth = {"authorization": f"Bearer {pat}", "accept": "application/json"}
    with httpx.Client(base_url=app, timeout=15) as script:
        anonymous = script.get("/api/me", headers={"accept": "application/json"})
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        me = script.get("/api/me", headers=auth)
        assert me.status_code == 200, me.text
        assert me.json() == {"account_id": user.account_id, "clerk_id": user.clerk_id, "credits": 6,
                             "plan": "free", "credential": "pat"}
        made = script.post("/api/render", json={"title": "From a script"}, headers=auth)
        assert made.status_code == 200, made.text
        body = made.json()
        assert body["actual_cost"] == COST and body["cost_estimate"] == ESTIMATE
        assert body["preview_url"] == f"{app}/previews/{body['job_id']}.svg"
        job = settled(emu, user, 6)[0]
        assert job["id"] == body["job_id"] and job["metadata"]["description"] == body["description"]
        broke = script.post("/api/render", json={"title": "No credits left"}, headers=auth)
        assert broke.status_code == 402, broke.text
        assert broke.json()["error"] == "insufficient_credits" and broke.json()["available"] == 3


def sign_out(browser: Browser, app: str, studio: Page) -> None:
    out = browser.submit(studio, "sign-out")
    # The core's signed-out page: sign in again, or sign out of Focus too (issue 23).
    assert out.status == 200 and out.url.startswith(f"{app}/_focus/signed-out?"), out.visited()
    assert out.has("sign-in") and out.has("sign-out-focus") and not out.has("sign-out")
    assert browser.cookie("focus_session", "127.0.0.1") is None
