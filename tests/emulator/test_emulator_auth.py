"""Who the API accepts: session JWTs (header or cookie) and PATs, and nothing else."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from focus_middleware.clock import FakeClock
from typing import TYPE_CHECKING

from focus_middleware.testing import EmulatedUser, FocusEmulator

if TYPE_CHECKING:
    from conftest import Api


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_unauthorized(response: httpx.Response, emu: FocusEmulator) -> None:
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.json()["signin_url"] == emu.url + "/signin"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_bearer_jwt_cookie_jwt_and_pat_are_accepted(
    api: Api, focus_user: EmulatedUser
) -> None:
    jwt = focus_user.session_jwt()
    for response in (
        api.wallet(jwt),
        api.client.get("/api/wallet", headers={"Cookie": f"__session={jwt}"}),
        api.wallet(focus_user.pat()),
    ):
        assert response.status_code == 200
        assert response.json()["account"]["clerk_id"] == focus_user.clerk_id
        assert response.json()["account"]["id"] == focus_user.account_id


def test_no_credentials_is_401_with_the_signin_url(api: Api, focus_emulator: FocusEmulator) -> None:
    response = api.wallet(None)
    assert_unauthorized(response, focus_emulator)
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_bearer_header_alone_decides(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    cookie = f"__session={focus_user.session_jwt()}"
    bad = api.client.get("/api/wallet", headers={"Cookie": cookie, "Authorization": "Bearer nope"})
    assert_unauthorized(bad, focus_emulator)
    basic = api.client.get("/api/wallet", headers={"Cookie": cookie, "Authorization": "Basic dTpw"})
    assert basic.status_code == 200  # another scheme counts as no header


def test_a_pat_is_not_accepted_as_the_session_cookie(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    response = api.client.get("/api/wallet", headers={"Cookie": f"__session={focus_user.pat()}"})
    assert_unauthorized(response, focus_emulator)


def test_jwt_expiry_follows_the_emulator_clock_with_5s_leeway(
    fake_api: Api, fake_emulator: FocusEmulator, clock: FakeClock
) -> None:
    clock.advance((0.5 - clock.time() % 1) % 1)  # mid-second: exp is a whole second
    token = fake_emulator.create_user().session_jwt()  # 60 s
    clock.advance(64)
    assert fake_api.wallet(token).status_code == 200  # expired 4.5 s ago: within the skew
    clock.advance(1)
    assert_unauthorized(fake_api.wallet(token), fake_emulator)


def test_a_jwt_not_yet_valid_is_refused_beyond_the_leeway(
    fake_api: Api, fake_emulator: FocusEmulator, clock: FakeClock
) -> None:
    user = fake_emulator.create_user()
    now = int(clock.time())
    assert fake_api.wallet(user.session_jwt(nbf=now + 3)).status_code == 200  # a host 3 s ahead
    assert fake_api.wallet(user.session_jwt(iat=now + 3, nbf=now + 3)).status_code == 200
    early = user.session_jwt(nbf=now + 30)
    assert_unauthorized(fake_api.wallet(early), fake_emulator)
    assert_unauthorized(fake_api.wallet(user.session_jwt(iat=now + 30)), fake_emulator)
    clock.advance(25)
    assert fake_api.wallet(early).status_code == 200


def test_the_leeway_is_configurable(clock: FakeClock) -> None:
    with FocusEmulator(clock=clock, clock_skew=0) as emu:
        user = emu.create_user()
        ahead = user.session_jwt(nbf=int(clock.time()) + 3)
        wallet = emu.url + "/api/wallet"
        assert httpx.get(wallet, headers={"Authorization": f"Bearer {ahead}"}).status_code == 401
    with pytest.raises(ValueError):
        FocusEmulator(clock_skew=-1)


@pytest.mark.parametrize(
    "bend",
    [
        {"lifetime": -6},
        {"iss": "https://evil.example"},
        {"key": "foreign"},
        {"sub": None},
        {"exp": None},
        {"headers": {"kid": "unknown"}},
        {"headers": {"alg": "HS256"}},
        {"headers": {"crit": ["exp"]}},
    ],
)
def test_bent_jwts_are_refused(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser, bend: dict[str, object]
) -> None:
    token = focus_user.session_jwt(**bend)  # type: ignore[arg-type]
    assert_unauthorized(api.wallet(token), focus_emulator)


def test_unsigned_and_garbage_tokens_are_refused(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    good = focus_user.session_jwt()
    header, payload, _ = good.split(".")
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    for token in (unsigned, f"{header}.{payload}.", "garbage", "a.b.c", "focus_pat_unknown"):
        assert_unauthorized(api.wallet(token), focus_emulator)


def test_revoked_pats_stop_working(api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    first, second = focus_user.pat(), focus_user.pat()
    assert api.wallet(first).status_code == 200
    focus_user.revoke_pats()
    assert_unauthorized(api.wallet(first), focus_emulator)
    assert_unauthorized(api.wallet(second), focus_emulator)
    assert api.wallet(focus_user.pat()).status_code == 200  # a new one works


def test_pats_expire_after_90_days(fake_api: Api, fake_emulator: FocusEmulator, clock: FakeClock) -> None:
    token = fake_emulator.create_user().pat()
    clock.advance(89 * 86400)
    assert fake_api.wallet(token).status_code == 200
    clock.advance(2 * 86400)
    assert_unauthorized(fake_api.wallet(token), fake_emulator)


def test_a_jwt_for_an_unknown_user_upserts_an_empty_account(
    api: Api, focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    token = focus_user.session_jwt(sub="user_2brandnew")
    account = api.wallet(token).json()["account"]
    assert account["clerk_id"] == "user_2brandnew" and account["credits"] == 0
    assert account["plan"] == "free"
    found = focus_emulator.find_user("user_2brandnew")
    assert found is not None and found.account_id == account["id"]
    assert api.wallet(token).json()["account"]["id"] == account["id"]  # once
