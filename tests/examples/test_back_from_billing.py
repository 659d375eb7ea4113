"""Clip Studio after buying credits shows the balance just bought (issue 18, item 4), in
each example app, over HTTP, with the emulator's billing page.

Found from outside: out of credits, the 402 page, buy on Focus's billing page, back in the
studio, which showed the balance it had cached before the purchase for ``wallet_ttl``. The
walk here has the studio read (and cache) the low balance once more while the user is on
the billing page, as a second tab or a glance at the studio does, so only the billing
marker on the way back (``focus_billed``, answered by the core with a 303 that drops the
cached wallet) can make the studio show the new balance at once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from focus_middleware.testing import EmulatedUser, FocusEmulator

from .browser import Browser
from .test_walk import COST, ESTIMATE, render, render_until_out_of_credits, settled, sign_in


def test_back_from_billing_the_studio_shows_the_new_balance(serve: AbstractContextManager[str], emu: FocusEmulator,
                                                            user: EmulatedUser) -> None:
    with serve as app, Browser() as browser:
        studio = sign_in(browser, app, emu, user)
        studio = render_until_out_of_credits(browser, app, emu, user, studio)
        refused = render(browser, studio, "One too many")
        assert refused.status == 402 and refused.number("available") == 3
        billing = browser.follow(refused, "buy-credits")
        assert billing.url.startswith(f"{emu.url}/billing?") and billing.number("balance") == 3
        # Meanwhile, another tab of the studio reads (and caches) the balance before the purchase.
        assert browser.open(f"{app}/studio").number("credits") == 3
        back = browser.submit(billing, "buy-10")
        assert user.credits == 13
        assert back.status == 200 and back.url == f"{app}/studio?back=1", back.visited()
        assert any("focus_billed=1" in url for url in back.visited()), back.visited()
        assert back.number("credits") == 13 and back.has("welcome-back")
        assert browser.open(f"{app}/studio").number("credits") == 13  # a reload shows it too
        result = render(browser, back, "After buying")
        assert result.status == 200 and result.number("charged") == COST
        assert settled(emu, user, 4)[0]["cost_estimate"] == ESTIMATE
