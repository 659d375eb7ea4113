"""The issuer: JWKS, session JWTs verified by PyJWT against the served keys, rotation."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from jwt import PyJWK, PyJWKClient

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator


def verify(emu: FocusEmulator, token: str, **options: Any) -> dict[str, Any]:
    """Verify as an app would: key from the served JWKS by kid, RS256, issuer checked."""
    key = PyJWKClient(emu.jwks_url, cache_keys=False).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key=key, algorithms=["RS256"], issuer=emu.issuer, options=options
    )
    return claims


def header_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def test_jwks_publishes_an_rs256_signing_key(focus_emulator: FocusEmulator) -> None:
    (key,) = httpx.get(focus_emulator.jwks_url).json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert key["kid"]
    assert PyJWK(key).key.key_size == 2048


def test_session_jwt_has_clerks_claims_and_verifies(
    focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    token = focus_user.session_jwt(azp="http://127.0.0.1:8000")
    claims = verify(focus_emulator, token)
    assert claims["sub"] == focus_user.clerk_id and claims["sub"].startswith("user_2")
    assert claims["sid"] == focus_user.session_id and claims["sid"].startswith("sess_2")
    assert claims["iss"] == focus_emulator.url
    assert claims["azp"] == "http://127.0.0.1:8000"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["nbf"] <= claims["iat"]
    kid = header_of(token)["kid"]
    assert header_of(token) == {"alg": "RS256", "typ": "JWT", "kid": kid, "cat": "cl_B7d4PD111AAA"}


def test_azp_is_left_out_unless_asked(focus_user: EmulatedUser) -> None:
    assert "azp" not in jwt.decode(focus_user.session_jwt(), options={"verify_signature": False})


def test_times_come_from_the_emulator_clock(fake_emulator: FocusEmulator, clock: FakeClock) -> None:
    user = fake_emulator.create_user()
    claims = verify(fake_emulator, user.session_jwt(lifetime=300))
    assert claims["iat"] == int(clock.time())
    assert claims["exp"] == int(clock.time() + 300)


def test_token_lifetime_default_is_configurable() -> None:
    with FocusEmulator(token_lifetime=5) as emu:
        claims = verify(emu, emu.create_user().session_jwt())
        assert claims["exp"] - claims["iat"] == 5


def test_claims_and_headers_can_be_bent(focus_user: EmulatedUser) -> None:
    token = focus_user.session_jwt(
        sid=None, iss="https://evil.example", org_id="org_1",
        headers={"typ": None, "jku": "https://evil.example/jwks", "cat": "cl_B7d4PD111AAA"},
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "sid" not in claims
    assert claims["iss"] == "https://evil.example" and claims["org_id"] == "org_1"
    header = header_of(token)
    assert "typ" not in header
    assert header["jku"] == "https://evil.example/jwks" and header["cat"] == "cl_B7d4PD111AAA"


def test_a_foreign_key_forges_the_current_kid(
    focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    forged = focus_user.session_jwt(key="foreign")
    assert header_of(forged)["kid"] == header_of(focus_user.session_jwt())["kid"]
    with pytest.raises(jwt.InvalidSignatureError):
        verify(focus_emulator, forged)


def test_rotation_keeps_the_old_key_for_the_grace_only(
    fake_emulator: FocusEmulator, clock: FakeClock
) -> None:
    user = fake_emulator.create_user()
    old = user.session_jwt(lifetime=7200)
    old_kid = header_of(old)["kid"]
    fake_emulator.rotate_keys(grace=600)

    new = user.session_jwt(lifetime=7200)
    assert header_of(new)["kid"] != old_kid
    kids = [k["kid"] for k in httpx.get(fake_emulator.jwks_url).json()["keys"]]
    assert kids == [header_of(new)["kid"], old_kid]  # signing key first
    verify(fake_emulator, old, verify_exp=False)
    verify(fake_emulator, new, verify_exp=False)
    wallet = fake_emulator.url + "/api/wallet"
    assert httpx.get(wallet, headers={"Authorization": f"Bearer {old}"}).status_code == 200

    clock.advance(601)
    kids = [k["kid"] for k in httpx.get(fake_emulator.jwks_url).json()["keys"]]
    assert kids == [header_of(new)["kid"]]
    with pytest.raises(jwt.PyJWKClientError):
        verify(fake_emulator, old, verify_exp=False)
    verify(fake_emulator, new, verify_exp=False)
    assert httpx.get(wallet, headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert httpx.get(wallet, headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_rotation_without_grace_drops_the_old_key_at_once(focus_emulator: FocusEmulator) -> None:
    focus_emulator.rotate_keys(grace=0)
    focus_emulator.rotate_keys()
    assert len(httpx.get(focus_emulator.jwks_url).json()["keys"]) == 2


def test_session_token_endpoint_mints_for_the_signed_in_browser(
    focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    url = focus_emulator.url + "/api/sessionToken"
    signed_in = httpx.get(
        url, cookies={"focus_emulator_signin": focus_user.signin_cookie()},
        headers={"Origin": "http://127.0.0.1:8000"},
    )
    assert signed_in.status_code == 200
    assert signed_in.headers["cache-control"] == "no-store"
    token = signed_in.json()["token"]
    claims = verify(focus_emulator, token)
    # azp: Focus's own origin, whichever app's page asked (see test_emulator_clerk_shape).
    assert claims["sub"] == focus_user.clerk_id and claims["azp"] == focus_emulator.url
    assert header_of(token)["cat"] == "cl_B7d4PD111AAA"  # Clerk's session category

    for cookies in ({}, {"focus_emulator_signin": "sess_unknown"}):
        signed_out = httpx.get(url, cookies=cookies)
        assert signed_out.status_code == 401
        assert signed_out.json()["signin_url"] == focus_emulator.url + "/signin"


def test_the_signin_cookie_is_not_the_session_id(
    focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    """Every JWT carries its ``sid``: were the cookie the sid, any token would mint more."""
    url = focus_emulator.url + "/api/sessionToken"
    cookie = focus_user.signin_cookie()
    token = httpx.get(url, cookies={"focus_emulator_signin": cookie}).json()["token"]
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    assert sid != cookie and sid.startswith("sess_2")
    for guess in (sid, focus_user.session_id):
        assert httpx.get(url, cookies={"focus_emulator_signin": guess}).status_code == 401


def test_the_session_category_is_configurable() -> None:
    with FocusEmulator(session_category=None, allowed_origins=["https://app.example"]) as emu:
        user = emu.create_user()
        cookie = {"focus_emulator_signin": user.signin_cookie()}
        url = emu.url + "/api/sessionToken"
        token = httpx.get(url, cookies=cookie, headers={"Origin": "https://app.example"})
        assert "cat" not in header_of(token.json()["token"])
        assert "cat" not in header_of(user.session_jwt())


def test_cookie_secrets_are_stored_hashed(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with FocusEmulator(db=db) as emu:
        cookie = emu.create_user().signin_cookie()
    assert cookie.encode() not in db.read_bytes()
    assert hashlib.sha256(cookie.encode()).hexdigest().encode() in db.read_bytes()
