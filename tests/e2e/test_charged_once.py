"""Issue 20 in Chromium on Clip Studio (FastAPI and Flask, served for real on loopback on
the emulator's fake clock): a render answers with a redirect to its result page
(post/redirect/get), so reloading the result page reads it again and the books show one
charge; the form's idempotency key makes the same form sent twice one render and one
charge (the second answer is the 409 with the first job: a fetch is no navigation).

A reload after post/redirect/get repeats the GET, not the POST: the HTML standard's
"reload" navigates to the document's URL, which the 303 made the result page's (RFC 9110,
15.4.4: a 303 is followed with GET).
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.examples.servers import APP, FAST_STEPS

from .browser import ARTIFACTS, Console, Steps
from .test_example_apps import server_for


def settled(emu: FocusEmulator, user: EmulatedUser, page: Page) -> None:
    for _ in range(100):
        if not emu.jobs(user, status="started"):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"a job is still started: {emu.jobs(user)}")


def sign_in(page: Page, url: str, user: EmulatedUser, emu: FocusEmulator) -> None:
    page.goto(f"{url}/studio")
    assert page.url.startswith(f"{emu.url}/signin?"), page.url
    with page.expect_navigation(url=f"{url}/studio"):
        page.locator(f"#user-{user.clerk_id}").click()


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_a_reloaded_result_page_is_charged_once(framework: str, page: Page, emu: FocusEmulator, clock: FakeClock,
                                                console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    serve = server_for(framework)
    for name, value in FAST_STEPS.items():
        monkeypatch.setenv(name, value)
    emu.create_app(APP, starter_credits=0)
    user = emu.create_user(credits=10, name="Rita Reload")
    steps = Steps(page, ARTIFACTS / f"charged-once-{framework}")
    result_url = re.compile(r".*/renders/[^/]+$")
    with serve(emu, clock) as url:
        sign_in(page, url, user, emu)
        page.locator("#title").fill("Reload me")
        with page.expect_navigation(url=result_url):
            page.locator("#render").click()
        job_id = page.locator("#job-id").inner_text()
        assert page.url == f"{url}/renders/{job_id}"
        settled(emu, user, page)
        steps.shot("result")

        # Reload the result page, twice: the same page again, and no second charge.
        for _ in range(2):
            page.reload()
            expect(page.locator("#job-id")).to_have_text(job_id)
            expect(page.locator("#description")).to_contain_text("Reload me")
        settled(emu, user, page)
        steps.shot("reloaded")
        jobs = emu.jobs(user)
        assert [(j["id"], j["status"], j["actual_cost"]) for j in jobs] == [(job_id, "completed", 3)], jobs
        assert user.credits == 7
        assert sum(row["amount"] for row in emu.ledger(user)) == 7

        # The same studio form sent twice from the page (a script's retry, a double submit):
        # its idempotency key makes the second one answer with the first job, charging nothing.
        page.goto(f"{url}/studio")
        page.locator("#title").fill("Sent twice")
        answers = page.evaluate("""async () => {
            const form = document.querySelector('#render').form;
            const send = () => fetch(form.action, {method: 'POST', body: new URLSearchParams(new FormData(form)),
                                                   headers: {accept: 'application/json'}});
            const first = await send();
            const again = await send();
            return [first.status, first.url, again.status, await again.text(), again.url];
        }""")
        settled(emu, user, page)
        jobs = emu.jobs(user)
        assert len(jobs) == 2 and all(j["status"] == "completed" for j in jobs), (jobs, answers)
        assert answers[0] == 200 and answers[1] == f"{url}/renders/{jobs[0]['id']}", answers  # followed the 303
        assert answers[2] == 409 and json.loads(answers[3])["job_id"] == jobs[0]["id"], answers
        assert user.credits == 4
        steps.shot("sent-twice")
        emu.check_books()
    for line in console.tolerated():
        print("tolerated console error:", line)
