"""Every JWT check of docs/architecture.md, each with a token that only that check refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.outcome import Authenticated, Expired, Rejected
from focus_middleware.resolver import Resolver
from focus_middleware.testing import EmulatedUser, FocusEmulator

from tests.helpers import ORIGIN, facts


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"sig") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h, p, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p)))


def outcome_of(resolver: Resolver, token: str) -> object:
    return resolver.resolve(facts(bearer=token))


def test_a_genuine_token_is_accepted(resolver: Resolver, user: EmulatedUser) -> None:
    out = outcome_of(resolver, user.session_jwt(azp=ORIGIN))
    assert isinstance(out, Authenticated)
    assert out.account.clerk_id == user.clerk_id
    assert out.account.credits == 50
    assert out.credential.kind == "session"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"azp": "https://other.example"}, "azp"),
        ({"azp": None}, "azp"),
        ({"exp": "99999999999"}, "exp"),
        ({"exp": None}, "exp"),
        ({"sub": 12345}, "sub"),
        ({"sub": "mch_2abc"}, "sub"),
    ],
)
def test_claims_that_are_refused(resolver: Resolver, user: EmulatedUser, claims: dict[str, Any], reason: str) -> None:
    out = outcome_of(resolver, user.session_jwt(**{"azp": ORIGIN, **claims}))
    assert isinstance(out, Rejected)
    assert out.reason == reason


def test_not_yet_valid_and_issued_in_future(resolver: Resolver, user: EmulatedUser, clock: FakeClock) -> None:
    now = clock.time()
    out = outcome_of(resolver, user.session_jwt(azp=ORIGIN, nbf=now + 120))
    assert isinstance(out, Rejected) and out.reason == "not_yet_valid"
    out = outcome_of(resolver, user.session_jwt(azp=ORIGIN, iat=now + 120))
    assert isinstance(out, Rejected) and out.reason == "issued_in_future"
    # within the leeway both are fine (the wallet is cached, so the service is not asked)
    assert isinstance(outcome_of(resolver, user.session_jwt(azp=ORIGIN)), Authenticated)
    assert isinstance(outcome_of(resolver, user.session_jwt(azp=ORIGIN, nbf=now + 3, iat=now + 3)), Authenticated)


def test_forged_signature(resolver: Resolver, user: EmulatedUser) -> None:
    out = outcome_of(resolver, user.session_jwt(azp=ORIGIN, key="foreign"))
    assert isinstance(out, Rejected) and out.reason == "signature"


def test_tampered_payload(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    other = emu.create_user(credits=999)
    token = user.session_jwt(azp=ORIGIN)
    h, p, s = token.split(".")
    _, payload = parts(token)
    payload["sub"] = other.clerk_id
    out = outcome_of(resolver, ".".join([h, b64(json.dumps(payload).encode()), s]))
    assert isinstance(out, Rejected) and out.reason == "signature"


def test_alg_none_and_hs256_confusion(resolver: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    header, payload = parts(user.session_jwt(azp=ORIGIN))
    assert isinstance(outcome_of(resolver, forge({**header, "alg": "none"}, payload)), Rejected)
    # HS256 "signed" with the public key's JWK text as the secret: the classic confusion.
    jwks = httpx.get(emu.jwks_url).json()
    secret = json.dumps(jwks["keys"][0]).encode()
    h = b64(json.dumps({**header, "alg": "HS256"}).encode())
    p = b64(json.dumps(payload).encode())
    sig = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    out = outcome_of(resolver, f"{h}.{p}.{b64(sig)}")
    assert isinstance(out, Rejected) and out.reason == "algorithm"


def test_jku_and_embedded_keys_are_never_used(resolver: Resolver, user: EmulatedUser, clock: FakeClock) -> None:
    with FocusEmulator(db=":memory:", clock=clock) as attacker:
        mallory = attacker.create_user()
        jwks = httpx.get(attacker.jwks_url).json()
        token = mallory.session_jwt(
            azp=ORIGIN, iss=resolver.config.issuer, sub=user.clerk_id,
            headers={"jku": attacker.jwks_url, "x5u": attacker.jwks_url, "jwk": jwks["keys"][0]},
        )
        attacker.reset_calls()
        out = outcome_of(resolver, token)
        assert isinstance(out, Rejected)
        assert attacker.calls("GET /.well-known/jwks.json") == 0
    # A genuine token carrying a jku is judged by our JWKS alone.
    genuine = user.session_jwt(azp=ORIGIN, headers={"jku": "https://evil.example/jwks.json"})
    assert isinstance(outcome_of(resolver, genuine), Authenticated)


def test_crit_is_refused(resolver: Resolver, user: EmulatedUser) -> None:
    out = outcome_of(resolver, user.session_jwt(azp=ORIGIN, headers={"crit": ["exp"]}))
    assert isinstance(out, Rejected) and out.reason == "crit"


@pytest.mark.parametrize("header", [{"cat": "cl_B7d4PD222AAA"}, {"cat": "cl_B7d4PD333AAA"}, {"typ": "at+jwt"}])
def test_non_session_categories(resolver: Resolver, user: EmulatedUser, header: dict[str, str]) -> None:
    out = outcome_of(resolver, user.session_jwt(azp=ORIGIN, headers=header))
    assert isinstance(out, Rejected) and out.reason == "category"


def test_session_category_is_accepted(resolver: Resolver, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, headers={"cat": "cl_B7d4PD111AAA", "typ": "JWT"})
    assert isinstance(outcome_of(resolver, token), Authenticated)


@pytest.mark.parametrize("kid", ["", "x" * 200, "../../etc/passwd", "kid with spaces", 7])
def test_kid_is_bounded(resolver: Resolver, user: EmulatedUser, kid: object) -> None:
    out = outcome_of(resolver, user.session_jwt(azp=ORIGIN, headers={"kid": kid}))
    assert isinstance(out, Rejected) and out.reason == "kid"


@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "a.b.c.d.e",
        "not a jwt at all.x.y",
        "e30.e30.",
        b64(b"[1,2]") + "." + b64(b"{}") + ".c2ln",
        b64(b"\xff\xfe") + "." + b64(b"{}") + ".c2ln",
        "!!!.???.###",
        "eyJhbGciOiJSUzI1NiJ9." + "A" * 20000 + ".c2ln",
    ],
)
def test_malformed_bearers_are_refused_without_exception(resolver: Resolver, emu: FocusEmulator, token: str) -> None:
    emu.reset_calls()
    out = outcome_of(resolver, token)
    assert isinstance(out, Rejected)
    assert emu.calls("GET /api/wallet") == 0


def test_oversized_token_is_refused_before_parsing(resolver: Resolver, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, padding="x" * 9000)
    out = outcome_of(resolver, token)
    assert isinstance(out, Rejected) and out.reason in ("oversized", "malformed")


def test_expired_token_is_expired_not_rejected(resolver: Resolver, user: EmulatedUser, clock: FakeClock) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=20)
    assert isinstance(outcome_of(resolver, token), Authenticated)
    clock.advance(24)  # past exp, inside the 5 s leeway; the wallet is still cached
    assert isinstance(outcome_of(resolver, token), Authenticated)
    clock.advance(2)
    out = outcome_of(resolver, token)
    assert isinstance(out, Expired) and out.source == "bearer"


def test_expired_and_forged_is_rejected(resolver: Resolver, user: EmulatedUser, clock: FakeClock) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=1, key="foreign")
    clock.advance(30)
    assert isinstance(outcome_of(resolver, token), Rejected)


def test_static_pem_key(emu: FocusEmulator, user: EmulatedUser, clock: FakeClock) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from jwt.algorithms import RSAAlgorithm

    jwk = httpx.get(emu.jwks_url).json()["keys"][0]
    pem = RSAAlgorithm.from_jwk(jwk).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()  # type: ignore[union-attr]
    config = FocusConfig(api_url=emu.url, issuer=emu.issuer, jwt_public_key=pem, app="video",
                         public_origin=ORIGIN, clock=clock)
    r = Resolver(config)
    emu.reset_calls()
    assert isinstance(outcome_of(r, user.session_jwt(azp=ORIGIN)), Authenticated)
    assert emu.calls("GET /.well-known/jwks.json") == 0
    r.close()
