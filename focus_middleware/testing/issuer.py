"""The emulator's Clerk: RSA signing keys, the JWKS, minting and verifying session JWTs.

Keys live in the store, so a file-backed emulator keeps verifying the tokens it minted
before a restart. Rotation follows Clerk's practice: the new key signs at once, the old
one stays in the JWKS for a grace period (by the emulator's clock) so tokens already out
keep verifying, then disappears.

Minting is done by hand (header, payload, RS256 signature) rather than through PyJWT's
encoder, because tests need tokens PyJWT would refuse to produce: arbitrary or missing
header fields (``typ``, ``crit``, ``jku``...), missing claims, a key that is not
published. Verification, on the other hand, is PyJWT's, with times checked against the
emulator's clock.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from focus_middleware.clock import Clock
from focus_middleware.testing import minted
from focus_middleware.testing.claims import SessionHolder, TokenVersion, session_claims
from focus_middleware.testing.store import Store

KeyChoice = Literal["current", "foreign"]


class InvalidToken(Exception):
    """A session JWT the emulator does not accept (the reason is for tests, not users)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _json_b64(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _load(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Apply the "a field set to None is removed" rule of the minting API."""
    return {k: v for k, v in values.items() if v is not None}


class Issuer:
    """Signs and verifies the emulator's session JWTs.

    ``url`` (the ``iss`` claim) is only known once the server is bound, so the emulator
    sets it at start; minting before that is an error.
    """

    def __init__(self, store: Store, clock: Clock, leeway: float = 5.0) -> None:
        if leeway < 0:
            raise ValueError("leeway must be >= 0")
        self._store = store
        self._clock = clock
        self.leeway = leeway
        """Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``, as Clerk's SDK
        does (5 s): a token minted by a host whose clock runs ahead is not refused."""
        self._lock = threading.Lock()
        self._parsed: dict[str, rsa.RSAPrivateKey] = {}
        self._foreign: rsa.RSAPrivateKey | None = None
        self.url: str | None = None
        if not store.published_keys():
            self.rotate(grace=0.0)

    # -- keys -------------------------------------------------------------------------

    def rotate(self, grace: float) -> None:
        """A new key signs from now on; the old one is published ``grace`` more seconds."""
        key = _new_key()
        self._store.add_key(f"emu-{secrets.token_hex(8)}", _pem(key), grace)

    def _published(self) -> list[tuple[str, rsa.RSAPrivateKey]]:
        keys = []
        for stored in self._store.published_keys():
            with self._lock:
                parsed = self._parsed.get(stored.kid)
                if parsed is None:
                    parsed = self._parsed[stored.kid] = _load(stored.private_pem)
            keys.append((stored.kid, parsed))
        return keys

    def _signing_key(self, choice: KeyChoice) -> tuple[str, rsa.RSAPrivateKey]:
        kid, key = self._published()[0]
        if choice == "foreign":
            with self._lock:
                if self._foreign is None:
                    self._foreign = _new_key()
                key = self._foreign
        return kid, key

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: every published key, signing key first."""
        return {"keys": [self._jwk(kid, key.public_key()) for kid, key in self._published()]}

    @staticmethod
    def _jwk(kid: str, public: rsa.RSAPublicKey) -> dict[str, str]:
        numbers = public.public_numbers()
        return {
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "alg": "RS256",
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }

    # -- minting ----------------------------------------------------------------------

    def session_claims(
        self,
        holder: SessionHolder,
        lifetime: float,
        azp: str | None,
        version: TokenVersion = 2,
    ) -> dict[str, Any]:
        """Clerk's default session claims (:mod:`claims`) by the emulator's clock, ``nbf``
        set back by the leeway as Clerk sets it back by the "Allowed Clock Skew"."""
        if self.url is None:
            raise RuntimeError("start the emulator before minting tokens")
        return session_claims(
            holder,
            issuer=self.url,
            now=self._clock.time(),
            lifetime=lifetime,
            clock_skew=self.leeway,
            azp=azp,
            version=version,
        )

    def mint(
        self,
        claims: dict[str, Any],
        headers: dict[str, Any] | None = None,
        key: KeyChoice = "current",
    ) -> str:
        """Sign ``claims`` (None values dropped) with RS256 under the current ``kid``."""
        kid, private = self._signing_key(key)
        header = _without_none({"alg": "RS256", "typ": "JWT", "kid": kid, **(headers or {})})
        signing_input = f"{_json_b64(header)}.{_json_b64(_without_none(claims))}".encode()
        signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return minted.record(f"{signing_input.decode()}.{b64url(signature)}")

    # -- verifying --------------------------------------------------------------------

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a session JWT this emulator issued and that is live now."""
        public = self._public_key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=public,
                algorithms=["RS256"],
                issuer=self.url,
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    # Times are checked below against the emulator's clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        self._check_times(claims)
        return claims

    def _public_key_for(self, token: str) -> rsa.RSAPublicKey:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        for published_kid, key in self._published():
            if kid == published_kid:
                return key.public_key()
        raise InvalidToken("unknown kid")

    def _check_times(self, claims: dict[str, Any]) -> None:
        now, leeway = self._clock.time(), self.leeway
        exp = _time(claims.get("exp"))
        nbf = _time(claims.get("nbf", claims.get("iat")))
        iat = _time(claims.get("iat"))
        if exp is None or exp <= now - leeway:
            raise InvalidToken("expired")
        if nbf is None or nbf > now + leeway:
            raise InvalidToken("not yet valid")
        if iat is None or iat > now + leeway:
            raise InvalidToken("issued in the future")


def _time(value: Any) -> float | None:
    """A NumericDate claim as a float; None when absent or not a number (bools neither)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
