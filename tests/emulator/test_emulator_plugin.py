"""The pytest fixtures that users of focus_middleware.testing get from the entry point."""

from __future__ import annotations

import httpx

from focus_middleware.testing import EmulatedUser, FocusEmulator

seen_users: list[str] = []
seen_sessions: list[str] = []


def test_focus_user_has_100_credits_on_the_running_emulator(
    focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    assert focus_user.credits == 100
    headers = {"Authorization": f"Bearer {focus_user.pat()}"}
    wallet = httpx.get(focus_emulator.url + "/api/wallet", headers=headers)
    assert wallet.json()["account"]["credits"] == 100
    seen_users.append(focus_user.clerk_id)


def test_each_test_gets_a_fresh_emulator(focus_emulator: FocusEmulator) -> None:
    assert seen_users
    assert focus_emulator.find_user(seen_users[0]) is None


def test_the_session_emulator_is_shared(focus_emulator_session: FocusEmulator) -> None:
    seen_sessions.append(focus_emulator_session.create_user().clerk_id)


def test_the_session_emulator_is_shared_again(focus_emulator_session: FocusEmulator) -> None:
    assert focus_emulator_session.find_user(seen_sessions[0]) is not None
