"""GET /api/wallet: the account, its granted apps, starter credits granted once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from focus_middleware.testing import EmulatedUser, FocusEmulator

if TYPE_CHECKING:
    from conftest import Api


def test_wallet_without_app_shows_the_account_only(api: Api, focus_user: EmulatedUser) -> None:
    body = api.wallet(focus_user.pat()).json()
    # The emulator also sends the person's email (assumed of the real service; the client
    # reads it when present, see FocusAccount.email).
    assert body["account"] == {
        "id": focus_user.account_id,
        "clerk_id": focus_user.clerk_id,
        "plan": "free",
        "credits": 100,
        "email": focus_user.email,
    }
    assert body["apps"] == []
    assert "app_grant" not in body


def test_starter_credits_are_granted_once_per_account_and_app(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    token = focus_user.pat()
    first = api.wallet(token, app="video").json()
    assert first["account"]["credits"] == 120
    assert first["app_grant"] == {"slug": "video", "starter_credits": 20, "granted": True}
    (app,) = first["apps"]
    assert app["slug"] == "video" and app["granted"] is True
    assert app["granted_at"].endswith("Z")

    again = api.wallet(focus_user.session_jwt(), app="video").json()
    assert again["account"]["credits"] == 120
    grants = [row for row in focus_emulator.ledger(focus_user) if row["kind"] == "grant"]
    assert [(g["amount"], g["app"]) for g in grants] == [(20, "video")]

    other = focus_emulator.create_user()
    assert api.wallet(other.pat(), app="video").json()["account"]["credits"] == 20


def test_starter_credits_are_configurable_per_app(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    focus_emulator.create_app("generous", starter_credits=500)
    focus_emulator.create_app("stingy", starter_credits=0)
    token = focus_user.pat()
    assert api.wallet(token, app="generous").json()["account"]["credits"] == 600
    body = api.wallet(token, app="stingy").json()
    assert body["account"]["credits"] == 600
    assert [a["slug"] for a in body["apps"]] == ["generous", "stingy"]
    assert [r["kind"] for r in focus_emulator.ledger(focus_user)] == ["adjust", "grant"]


def test_python_api_moves_credits_through_the_ledger(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    focus_emulator.add_credits(focus_user, 25)
    focus_emulator.add_credits(focus_user, -5)
    focus_emulator.set_credits(focus_user, 7)
    assert focus_user.credits == 7
    assert api.wallet(focus_user.pat()).json()["account"]["credits"] == 7
    rows = [(r["kind"], r["amount"]) for r in focus_emulator.ledger(focus_user)]
    assert rows == [("adjust", 100), ("purchase", 25), ("adjust", -5), ("adjust", -113)]
    focus_emulator.check_books()


def test_create_user_options(focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user(credits=3, clerk_id="user_2chosen", email="a@b.test", plan="pro")
    assert (user.clerk_id, user.email, user.credits) == ("user_2chosen", "a@b.test", 3)
    assert focus_emulator.find_user("user_2chosen") == user
    assert focus_emulator.find_user("user_2nobody") is None
