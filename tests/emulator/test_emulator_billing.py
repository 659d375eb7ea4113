"""Buying credits: the page a 402 prompt sends a person to, and back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from focus_middleware.testing import FocusEmulator

from emulator_browser import Browser

APP = "http://127.0.0.1:8000"


def purchases(emu: FocusEmulator, email: str) -> list[int]:
    user = emu.find_user(email=email)
    assert user is not None
    return [row["amount"] for row in emu.ledger(user) if row["kind"] == "purchase"]


def test_a_signed_out_buyer_signs_in_then_buys_and_returns(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    first = browser.get("/billing", redirect_to=f"{APP}/render?job=1")
    assert first.status_code == 303
    back_to = parse_qs(urlsplit(first.headers["location"]).query)["redirect_to"][0]
    assert back_to == f"{focus_emulator.url}/billing?redirect_to=http%3A%2F%2F127.0.0.1%3A8000%2Frender%3Fjob%3D1"
    signin = browser.follow(first)
    billing = browser.follow(browser.click(signin, "sign-in", email="buyer@example.test"))
    assert billing.status_code == 200 and 'id="balance">0<' in billing.text
    for amount in (10, 50, 100):
        assert f'id="buy-{amount}"' in billing.text
    done = browser.click(billing, "buy-50")
    assert done.status_code == 303 and done.headers["location"] == f"{APP}/render?job=1"
    assert purchases(focus_emulator, "buyer@example.test") == [50]
    again = browser.get("/billing")
    assert 'id="balance">50<' in again.text


def test_without_redirect_to_the_page_shows_what_was_added(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    user = focus_emulator.create_user(credits=5, email="stay@example.test")
    page = browser.click(browser.get("/signin", redirect_to=APP), f"user-{user.clerk_id}")
    assert page.status_code == 303
    bought = browser.click(browser.get("/billing"), "buy-10")
    assert bought.status_code == 200 and 'id="added">Added 10 credits' in bought.text
    assert 'id="balance">15<' in bought.text
    assert user.credits == 15
    assert [r["kind"] for r in focus_emulator.ledger(user)] == ["adjust", "purchase"]


def test_refused_redirect_to_and_forged_forms_buy_nothing(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    browser.sign_in(APP, email="careful@example.test")
    for bad in ("//evil.example", "javascript:alert(1)", "http://evil.example/"):
        page = browser.get("/billing", redirect_to=bad)
        assert page.status_code == 400 and "location" not in page.headers
    billing = browser.get("/billing", redirect_to=APP)
    assert browser.click(billing, "buy-100", headers={"Origin": "http://evil.example"}).status_code == 403
    assert browser.client.post("/billing", data={"amount": "100", "csrf": "x"}).status_code == 403
    (form,) = browser.forms(billing)
    for amount in ("0", "-5", "abc", "²", "10001"):
        data = {**form.fields, "amount": amount}
        assert browser.client.post("/billing", data=data).status_code == 400
    data = {**form.fields, "amount": "10", "redirect_to": "http://evil.example/"}
    assert browser.client.post("/billing", data=data).status_code == 400
    assert purchases(focus_emulator, "careful@example.test") == []
    focus_emulator.check_books()
