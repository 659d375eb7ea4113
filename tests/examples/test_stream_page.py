"""The streamed render's page ends in a finished state (issue 25): its heading never says
"Rendering" once done (the line that does is hidden by the page's last part), and the
result says what was charged and how many credits are left, as the plain render's does."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager

import httpx

from focus_middleware.testing import EmulatedUser, FocusEmulator

from .browser import Browser, Page
from .test_walk import STREAM_COST, settled


def test_the_streamed_page_ends_finished_with_the_new_balance(
        serve: AbstractContextManager[str], emu: FocusEmulator, user: EmulatedUser) -> None:
    with serve as app, Browser() as browser:
        home = browser.open(app)
        studio = browser.submit(browser.follow(home, "sign-in"), f"user-{user.clerk_id}")
        before = studio.number("credits")
        with browser.stream(studio, "render-stream", title="Finale") as response:
            chunks = response.iter_text()
            first = next(chunks)
            body = first + "".join(chunks)
    # While streaming: a heading that stays true, and a visible line saying it is rendering.
    assert "Rendering&hellip;" in first and 'id="rendering"' in first
    assert "Rendering" not in re.search(r"<h1>(.*?)</h1>", body, re.S).group(1)  # type: ignore[union-attr]
    tail = body.split("</ol>", 1)[1]
    # Done: the page's last part hides the "rendering" line and says what the wallet holds.
    assert "<style>#rendering { display: none; }</style>" in tail
    page = Page(httpx.Response(200, text=body, request=response.request))
    assert page.text("finished") == "Preview ready"
    assert page.number("charged") == STREAM_COST
    assert page.number("credits-left") == before - STREAM_COST
    settled(emu, user, 1)
    assert user.credits == before - STREAM_COST  # what the page said is what the ledger holds
