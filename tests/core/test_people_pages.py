"""Issue 23 in the core: people's names, the app's name, the 402's numbers, the signed-out
page and the billing notice, decided once for every adapter."""

from __future__ import annotations

from focus_middleware.billing_notice import back_from_billing, notice_cookie
from focus_middleware.config import FocusConfig
from focus_middleware.models import FocusAccount, Wallet
from focus_middleware.pages import signed_out
from focus_middleware.responses import InsufficientCredits, default_insufficient_credits_page

WALLET = {"account": {"id": "a1", "clerk_id": "user_1", "plan": "free", "credits": 3,
                      "name": "Ada  Lovelace", "email": "ada@example.test"}}


def test_a_person_is_named_by_claims_then_the_wallet_then_the_id() -> None:
    wallet = Wallet.from_json(WALLET)
    assert FocusAccount.from_wallet(wallet, credential_kind="pat").display_name == "Ada Lovelace"
    # Clerk's example custom claims (https://clerk.com/docs/guides/sessions/customize-session-tokens).
    claimed = FocusAccount.from_wallet(wallet, credential_kind="session",
                                       claims={"fullName": "Ada L.", "primaryEmail": "a@l.test"})
    assert (claimed.name, claimed.email) == ("Ada L.", "a@l.test")
    bare = Wallet.from_json({"account": {"id": "a1", "clerk_id": "user_1", "credits": 3, "name": "\x00", "email": 5}})
    assert FocusAccount.from_wallet(bare, credential_kind="pat").display_name == "user_1"
    assert Wallet.from_json(wallet.to_json()) == wallet  # a cached wallet keeps the name


def test_the_app_is_named_from_its_slug_unless_named() -> None:
    assert FocusConfig(app="clip-studio").app_name == "Clip Studio"
    assert FocusConfig().app_name == "this app"
    assert FocusConfig(app="x", app_name=" Studio ").app_name == "Studio"
    assert FocusConfig().signout_url == "https://account.thefocus.ai/signout"


def test_the_402_page_explains_the_reservation_and_escapes() -> None:
    info = InsufficientCredits(5, 3, "render", "https://f.test/billing?x=1&y=2", label="<Preview>",
                               usual_cost=3, app_name="Clip & Co", back_url="http://a.test/studio")
    page = default_insufficient_credits_page(info)
    assert info.needed == 2 and '<strong id="needed">2</strong>' in page
    assert '<span id="action">&lt;Preview&gt;</span> needs 5 credits' in page and "usually costs 3" in page
    assert "Clip &amp; Co" in page and 'href="https://f.test/billing?x=1&amp;y=2"' in page
    assert 'id="back" href="http://a.test/studio"' in page and '<html lang="en">' in page


def test_the_signed_out_page_offers_focus_sign_out_until_done() -> None:
    page = signed_out(signin_url="/_focus/signin", focus_signout_url="https://f.test/signout?a=1&b=2").body.decode()
    assert 'id="sign-in" href="/_focus/signin"' in page and 'href="https://f.test/signout?a=1&amp;b=2"' in page
    done = signed_out(signin_url="/_focus/signin", focus_signout_url=None).body.decode()
    assert "sign-out-focus" not in done and "Signed out of Focus too" in done


def test_the_billing_notice_carries_no_secret() -> None:
    cookie = notice_cookie(secure=False)
    assert cookie.startswith("focus_billed=1;") and "HttpOnly" in cookie and "Max-Age=60" in cookie
    assert notice_cookie(secure=True).startswith("__Host-focus_billed=1;")
    assert back_from_billing({"focus_billed": "1"}) and not back_from_billing({})
