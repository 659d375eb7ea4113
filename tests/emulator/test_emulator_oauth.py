"""OAuth helpers: emulated provider tokens for connected providers, and X's users/me."""

from __future__ import annotations

from typing import TYPE_CHECKING

from focus_middleware.testing import EmulatedUser, FocusEmulator

if TYPE_CHECKING:
    from conftest import Api


def test_x_token_is_404_until_connected(api: Api, focus_user: EmulatedUser) -> None:
    pat = focus_user.pat()
    missing = api.client.get("/api/xToken", headers=api.auth(pat))
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_connected" and missing.json()["provider"] == "x"
    token = focus_user.connect_oauth("x")
    assert token.startswith("emu_x_")
    found = api.client.get("/api/xToken", headers=api.auth(focus_user.session_jwt()))
    assert found.status_code == 200 and found.json() == {"provider": "x", "token": token}
    assert api.client.get("/api/oauthToken/x", headers=api.auth(pat)).json()["token"] == token


def test_any_provider_with_a_chosen_token(api: Api, focus_user: EmulatedUser) -> None:
    pat = focus_user.pat()
    assert api.client.get("/api/oauthToken/github", headers=api.auth(pat)).status_code == 404
    assert focus_user.connect_oauth("github", token="gho_chosen") == "gho_chosen"
    answer = api.client.get("/api/oauthToken/github", headers=api.auth(pat))
    assert answer.json() == {"provider": "github", "token": "gho_chosen"}
    focus_user.connect_oauth("github", token="gho_rotated")  # reconnecting replaces it
    assert api.client.get("/api/oauthToken/github", headers=api.auth(pat)).json()["token"] == "gho_rotated"
    assert api.client.get("/api/oauthToken/bad slug!", headers=api.auth(pat)).status_code == 400


def test_tokens_belong_to_their_user_and_need_a_credential(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    focus_user.connect_oauth("x")
    other = focus_emulator.create_user()
    assert api.client.get("/api/xToken", headers=api.auth(other.pat())).status_code == 404
    assert api.client.get("/api/xToken").status_code == 401


def test_x_me_answers_for_an_emulated_x_token_offline(
    api: Api, focus_emulator: FocusEmulator
) -> None:
    user = focus_emulator.create_user(name="Ada Lovelace", email="ada@example.test")
    x_token = user.connect_oauth("x")
    me = api.client.get("/api/xMe", headers=api.auth(x_token))
    assert me.status_code == 200
    data = me.json()["data"]
    assert data["name"] == "Ada Lovelace" and data["username"] == "ada" and data["id"].isdigit()
    assert api.client.get("/api/xMe", headers=api.auth(x_token)).json()["data"] == data  # stable
    github = user.connect_oauth("github")
    for token in (None, "unknown", user.pat(), github):
        refused = api.client.get("/api/xMe", headers=api.auth(token))
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
