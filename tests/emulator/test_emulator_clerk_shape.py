"""The emulator's session JWTs have the shape Clerk documents, so apps are tested against
what they will really be handed.

Sources followed here:
- https://clerk.com/docs/guides/sessions/session-tokens ("Default claims", the Version 2
  and Version 1 tabs): v2 claims ``azp exp fva iat iss jti nbf sid sub v pla fea sts``,
  ``o {id, slg, rol, per, fpm}`` only with an active organisation; v1 claims
  ``azp exp fva iat iss nbf sid sub`` and ``org_id org_slug org_role org_permissions``;
  ``azp`` is "the Origin header that was included in the original Frontend API request"
  and may be omitted when that Origin is empty or null; ``nbf`` comes from the "Allowed
  Clock Skew" setting (5 s by default).
- clerk/javascript ``packages/backend/src/tokens/jwtCategories.ts``: the ``cat`` header
  ``cl_B7d4PD111AAA`` marks a session token.
- clerk/javascript ``packages/shared/src/jwtPayloadParser.ts``: how Clerk's SDKs read v2's
  ``o`` back into v1's role and permissions (``org:`` + ``rol``; each feature's ``fpm``
  bitmask, least significant bit first, selects from ``per``). ``clerk_v2_org`` below is
  that algorithm, so the two encodings are checked to say the same thing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from emulator_browser import Browser, token_from, verified

APP = "http://127.0.0.1:8000"
SESSION_CAT = "cl_B7d4PD111AAA"
ORG = {
    "id": "org_2acme",
    "slug": "acme",
    "role": "org:admin",
    "permissions": ["org:impersonation:read", "org:memberships:read", "org:memberships:manage"],
}
V2_KEYS = {"exp", "fva", "iat", "iss", "jti", "nbf", "sid", "sub", "v", "pla", "sts"}
V1_KEYS = {"exp", "fva", "iat", "iss", "nbf", "sid", "sub"}


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def clerk_v2_org(claims: dict[str, Any]) -> tuple[str, list[str]]:
    """Role and permissions as Clerk's SDK derives them from a v2 token
    (jwtPayloadParser.ts: __experimental_JWTPayloadToAuthObjectProperties)."""
    o = claims["o"]
    features = [f[2:] for f in claims.get("fea", "").split(",") if f.startswith("o:")]
    names = o["per"].split(",") if o.get("per") and o.get("fpm") else []
    masks = [int(m) for m in o["fpm"].split(",")] if names else []
    permissions = [
        f"org:{feature}:{name}"
        for feature, mask in zip(features, masks)
        for i, name in enumerate(names)
        if mask >> i & 1
    ]
    return f"org:{o['rol']}", permissions


def session_token(emu: FocusEmulator, cookie: str, origin: str | None = APP) -> str:
    headers = {} if origin is None else {"Origin": origin}
    answer = httpx.get(
        emu.url + "/api/sessionToken", cookies={"focus_emulator_signin": cookie}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


# -- version 2, the default ---------------------------------------------------------------


def test_session_jwt_has_clerks_v2_default_claims(
    focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    token = focus_user.session_jwt()
    claims = verified(focus_emulator, token)
    assert set(claims) == V2_KEYS  # no azp unless asked, no o without an organisation
    assert claims["v"] == 2 and claims["sts"] == "active" and claims["pla"] == "u:free"
    assert claims["fva"] == [0, -1]  # just signed in; no second factor
    assert claims["nbf"] == claims["iat"] - 5  # Clerk's default allowed clock skew
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256", "typ": "JWT", "kid": jwt.get_unverified_header(token)["kid"], "cat": SESSION_CAT
    }
    assert verified(focus_emulator, focus_user.session_jwt(azp=APP))["azp"] == APP


def test_every_token_has_its_own_jti(fake_emulator: FocusEmulator) -> None:
    user = fake_emulator.create_user()
    tokens = [user.session_jwt() for _ in range(5)]  # same second on a fake clock
    assert len({unverified(t)["iat"] for t in tokens}) == 1
    assert len({unverified(t)["jti"] for t in tokens}) == 5


def test_fva_counts_minutes_since_sign_in(fake_emulator: FocusEmulator, clock: FakeClock) -> None:
    user = fake_emulator.create_user()
    clock.advance(7 * 60 + 59)
    assert unverified(user.session_jwt())["fva"] == [7, -1]
    cookie = user.signin_cookie()  # a new sign-in: its first factor is fresh
    clock.advance(61)
    assert unverified(session_token(fake_emulator, cookie))["fva"] == [1, -1]


def test_nbf_follows_the_configured_clock_skew() -> None:
    with FocusEmulator(clock_skew=0) as emu:
        claims = unverified(emu.create_user().session_jwt())
        assert claims["nbf"] == claims["iat"]


def test_a_pending_session_can_be_minted(focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    for token in (focus_user.session_jwt(claims={"sts": "pending"}), focus_user.session_jwt(sts="pending")):
        claims = verified(focus_emulator, token)
        assert claims["sts"] == "pending" and claims["v"] == 2


def test_the_claims_mapping_reaches_claims_named_like_parameters(focus_user: EmulatedUser) -> None:
    claims = unverified(focus_user.session_jwt(claims={"key": "k", "version": 9, "jti": None}))
    assert claims["key"] == "k" and claims["version"] == 9 and "jti" not in claims


def test_an_impersonation_actor_can_be_added(focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    act = {"iss": "https://dashboard.clerk.com", "sid": "sess_2imp", "sub": "user_2admin"}
    assert verified(focus_emulator, focus_user.session_jwt(act=act))["act"] == act


# -- azp: the origin of the page that asked Clerk ----------------------------------------


def test_the_return_trip_token_carries_the_emulators_own_origin(
    browser: Browser, focus_emulator: FocusEmulator
) -> None:
    back = browser.sign_in(f"{APP}/render", email="azp@example.test")
    claims = verified(focus_emulator, token_from(back.headers["location"]))
    assert claims["azp"] == focus_emulator.url != APP
    assert set(claims) == V2_KEYS | {"azp"}
    # A browser already signed in is sent straight back the same way.
    again = browser.get("/signin", redirect_to="http://localhost:9000/x")
    assert verified(focus_emulator, token_from(again.headers["location"]))["azp"] == focus_emulator.url


def test_session_token_azp_is_the_emulators_origin_whoever_asks(
    focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    cookie = focus_user.signin_cookie()
    for origin in (APP, "https://evil.example", None):
        claims = verified(focus_emulator, session_token(focus_emulator, cookie, origin))
        assert claims["azp"] == focus_emulator.url


def test_session_token_can_be_minted_without_azp() -> None:
    with FocusEmulator(session_token_azp=False) as emu:
        user = emu.create_user()
        claims = verified(emu, session_token(emu, user.signin_cookie()))
        assert "azp" not in claims and claims["sub"] == user.clerk_id
        # The return trip still stamps the sign-in page's origin.
        browser = Browser(emu)
        back = browser.sign_in(APP + "/", email="noazp@example.test")
        assert verified(emu, token_from(back.headers["location"]))["azp"] == emu.url
        browser.close()


# -- organisations ------------------------------------------------------------------------


def test_v2_carries_the_organisation_in_o(focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user(organization=ORG)
    claims = verified(focus_emulator, user.session_jwt())
    assert claims["o"] == {
        "id": "org_2acme", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "1,3"
    }
    assert claims["fea"] == "o:impersonation,o:memberships"
    assert claims["pla"] == "u:free,o:free"  # a user plan and an organisation plan
    assert not {"org_id", "org_slug", "org_role", "org_permissions"} & set(claims)
    assert clerk_v2_org(claims) == ("org:admin", ORG["permissions"])


def test_an_organisation_without_permissions(focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user(organization={"id": "org_2bare", "slug": "bare"})
    claims = unverified(user.session_jwt())
    assert claims["o"] == {"id": "org_2bare", "slg": "bare", "rol": "member"}
    assert "fea" not in claims


def test_v1_tokens_have_v1_claims() -> None:
    with FocusEmulator(token_version=1) as emu:
        plain = verified(emu, emu.create_user().session_jwt())
        assert set(plain) == V1_KEYS and plain["nbf"] == plain["iat"] - 5
        member = emu.create_user(organization=ORG)
        claims = verified(emu, member.session_jwt())
        assert set(claims) == V1_KEYS | {"org_id", "org_slug", "org_role", "org_permissions"}
        assert claims["org_id"] == "org_2acme" and claims["org_slug"] == "acme"
        assert claims["org_role"] == "org:admin"
        assert claims["org_permissions"] == ORG["permissions"]
        # The server's tokens follow the setting too.
        served = verified(emu, session_token(emu, member.signin_cookie()))
        assert "v" not in served and served["org_role"] == "org:admin"


def test_one_token_can_be_minted_in_the_other_version(focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user(organization=ORG)
    v1, v2 = unverified(user.session_jwt(version=1)), unverified(user.session_jwt(version=2))
    assert "v" not in v1 and v1["org_permissions"] == ORG["permissions"]
    assert clerk_v2_org(v2) == (v1["org_role"], v1["org_permissions"])


def test_the_servers_tokens_carry_the_organisation(
    focus_emulator: FocusEmulator, browser: Browser
) -> None:
    user = focus_emulator.create_user(organization=ORG)
    cookie = user.signin_cookie()
    assert verified(focus_emulator, session_token(focus_emulator, cookie))["o"]["id"] == "org_2acme"
    browser.client.cookies.set("focus_emulator_signin", cookie)
    back = browser.get("/signin", redirect_to=APP + "/")
    claims = verified(focus_emulator, token_from(back.headers["location"]))
    assert claims["o"]["slg"] == "acme" and claims["azp"] == focus_emulator.url


def test_the_active_organisation_can_change(focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user()
    focus_emulator.set_organization(user, ORG)
    assert user.organization is not None and user.organization.slug == "acme"
    assert unverified(user.session_jwt())["o"]["id"] == "org_2acme"
    focus_emulator.set_organization(user, None)
    assert user.organization is None and "o" not in unverified(user.session_jwt())


def test_the_organisation_is_kept_in_a_file_store(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with FocusEmulator(db=db) as emu:
        emu.create_user(clerk_id="user_2member", organization=ORG)
    with FocusEmulator(db=db) as emu:
        user = emu.find_user("user_2member")
        assert user is not None and user.organization is not None
        assert list(user.organization.permissions) == ORG["permissions"]
    columns = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(accounts)")}
    assert "organization" in columns


@pytest.mark.parametrize(
    "organization",
    [
        {**ORG, "role": "admin"},  # Clerk's roles are org:<key>
        {**ORG, "permissions": ["read"]},  # v2 cannot carry a permission without a feature
        {**ORG, "id": ""},
        {**ORG, "colour": "red"},
    ],
)
def test_a_membership_clerk_could_not_mint_is_refused(
    focus_emulator: FocusEmulator, organization: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        focus_emulator.create_user(organization=organization)


# -- the emulator accepts what it mints ---------------------------------------------------


def test_the_emulators_api_accepts_every_shape_it_mints(focus_emulator: FocusEmulator) -> None:
    user = focus_emulator.create_user(organization=ORG)
    cookie = user.signin_cookie()
    for token in (
        user.session_jwt(),
        user.session_jwt(version=1),
        user.session_jwt(azp=APP),
        session_token(focus_emulator, cookie),
    ):
        answer = httpx.get(focus_emulator.url + "/api/wallet", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert answer.json()["account"]["clerk_id"] == user.clerk_id


def test_an_unknown_token_version_is_refused() -> None:
    with pytest.raises(ValueError):
        FocusEmulator(token_version=3)  # type: ignore[arg-type]
