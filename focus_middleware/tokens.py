"""Deciding whether a bearer string is a genuine Clerk session JWT, or could be a PAT.

Everything here is pure CPU except fetching the JWKS, which the caller supplies as a
function (sync or async): one set of decisions serves both drivers. The checks run in an
order that never lets an attacker choose how a token is verified: shape and size before
any parsing, RS256 and a key from the configured JWKS only (whatever the header says),
the signature before any claim is believed, then the claims.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import anyio
import jwt
from cachetools import TTLCache
from jwt.algorithms import RSAAlgorithm

from focus_middleware import events
from focus_middleware.clock import Clock
from focus_middleware.config import FocusConfig
from focus_middleware.outcome import CredentialSource

MAX_HEADER_TOKEN = 8192
"""The longest token accepted from a header (or any source): servers cap a request line
or header near 8 KiB, so a longer one is not a token anyone was issued."""

MAX_COOKIE_TOKEN = 3800
"""The longest token the app stores in its session cookie: a browser keeps at most 4 KiB per
cookie, name and attributes included, and silently drops a larger one (which would then
loop through sign-in). Tokens arriving to be stored (return trip, refresh) are held to it."""

MAX_TOKEN_LENGTH = MAX_HEADER_TOKEN
# The payload may take almost all of MAX_HEADER_TOKEN (Clerk templates add custom claims).
_COMPACT_JWT = re.compile(r"^[A-Za-z0-9_-]{2,2048}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{2,1024}$")
_KID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# PATs are opaque; this only rules out what no token service would mint.
_PAT = re.compile(r"^[A-Za-z0-9_.~+/=-]{16,512}$")

# Clerk tags each JWT class in the protected header; only session tokens authenticate a
# request here. "ignore" is stamped on every class by instances that opt out of tagging.
SESSION_CATEGORY = "cl_B7d4PD111AAA"
_ACCEPTED_CATEGORIES = frozenset({SESSION_CATEGORY, "cl_I7d4PD111III"})


SIGNIN_SOURCES: frozenset[CredentialSource] = frozenset({"return_trip", "refresh", "app_cookie", "clerk_cookie"})
"""Where a token can only have come from this browser's own sign-in on Focus: the
nonce-bound return trip, the refresh endpoint, the app cookie those two set, and Clerk's
``__session`` (written on the parent domain by Focus's own pages). A token minted on the
sign-in site carries that site's origin as ``azp`` (Clerk stamps the Origin of the page that
asked for it), so it is accepted here; presented as a bearer it could come from any other
app on Focus that holds the person's token, and is not (``allow_signin_azp_bearer``)."""


def azp_refusal(azp: object, source: CredentialSource, config: FocusConfig) -> str | None:
    """None when a genuine token's ``azp`` is acceptable through ``source``, else the reason.

    Clerk's SDK compares exactly (``authorizedParties.includes(azp)``) and refuses a token
    without ``azp`` once parties are configured; so do we, except for the sign-in site's
    origin on :data:`SIGNIN_SOURCES` and, with ``allow_missing_azp``, a token without one
    there. With no authorized parties at all (no ``public_origin``) nothing is checked.
    """
    if azp is not None and not isinstance(azp, str):
        return "azp"
    if not config.authorized_parties:
        return None
    if azp is None:
        return None if config.allow_missing_azp and source in SIGNIN_SOURCES else "azp"
    if azp in config.authorized_parties:
        return None
    if azp == config.signin_origin and (source in SIGNIN_SOURCES or config.allow_signin_azp_bearer):
        return None
    return "azp"


class TokenRejected(Exception):
    """Not a genuine session token. ``reason`` is a short code for logs, never token text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenExpired(Exception):
    """Genuine (signature, issuer, party all good) but past its ``exp``."""

    def __init__(self, claims: VerifiedClaims) -> None:
        super().__init__("expired")
        self.claims = claims


class KeysUnavailable(Exception):
    """The JWKS could not be had and no usable copy is cached."""


@dataclass(frozen=True, slots=True)
class VerifiedClaims:
    sub: str
    exp: float
    sid: str | None
    azp: str | None
    claims: Mapping[str, Any]


PENDING = "pending"
"""``sts`` of a session with unfinished tasks on Focus (Clerk v2 claims). Clerk's SDKs treat
it as signed out by default (``treatPendingAsSignedOut``), and so do we."""


def looks_like_jwt(token: str) -> bool:
    return len(token) <= MAX_HEADER_TOKEN and token.count(".") == 2 and _COMPACT_JWT.match(token) is not None


def looks_like_pat(token: str) -> bool:
    return token.count(".") != 2 and _PAT.match(token) is not None


def _b64json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise TokenRejected("malformed") from None
    if not isinstance(value, dict):
        raise TokenRejected("malformed")
    return value


def read_header(token: str) -> dict[str, Any]:
    """The header of a compact JWS, refused early for anything we would never accept."""
    if len(token) > MAX_HEADER_TOKEN:
        raise TokenRejected("oversized")
    if not _COMPACT_JWT.match(token):
        raise TokenRejected("malformed")
    header = _b64json(token.split(".", 1)[0])
    if header.get("alg") != "RS256":
        raise TokenRejected("algorithm")
    if "crit" in header or "b64" in header:
        raise TokenRejected("crit")
    if header.get("typ") not in (None, "JWT", "jwt"):
        raise TokenRejected("category")
    if "cat" in header and header["cat"] not in _ACCEPTED_CATEGORIES:
        raise TokenRejected("category")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise TokenRejected("kid")
    return header


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload read without verification ({} if unreadable): to bound a cache entry's
    life, or to hold a token that Focus itself accepted to our ``azp`` rule."""
    try:
        return _b64json(token.split(".")[1])
    except (TokenRejected, IndexError):
        return {}


def unverified_exp(token: str) -> float | None:
    """``exp`` read without verification: only to bound a cache entry's life."""
    exp = unverified_claims(token).get("exp")
    return float(exp) if isinstance(exp, (int, float)) and _is_number(exp) else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- keys -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _KeySet:
    keys: Mapping[str, Any]
    fetched_at: float


def parse_jwks(document: object) -> dict[str, Any]:
    """RSA signing keys of a JWKS by ``kid``; anything else in it is skipped, not fatal."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, Any] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            continue
        try:
            keys[kid] = RSAAlgorithm.from_jwk(entry)
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            continue
    return keys


class KeyRing:
    """The verification keys of one JWKS source, and when to fetch it again.

    An unknown ``kid`` triggers at most one refresh per cooldown, and is then remembered as
    unknown for a while, so a storm of forged kids costs one JWKS fetch, not one each. When
    the JWKS endpoint fails, the last good set keeps serving for ``stale_window``.
    """

    def __init__(self, config: FocusConfig) -> None:
        self._config = config
        self._clock: Clock = config.clock
        self._set: _KeySet | None = None
        self._last_attempt = -math.inf
        self._unknown: TTLCache[str, bool] = TTLCache(maxsize=1024, ttl=config.jwks_refresh_cooldown or 1.0, timer=self._clock.monotonic)
        if config.jwt_public_key is not None:
            self._static: Any | None = _load_pem(config.jwt_public_key)
        else:
            self._static = None

    def find(self, kid: str) -> tuple[Any | None, bool]:
        """``(key, should_fetch)``. A key with ``should_fetch`` may still be served if the fetch fails."""
        if self._static is not None:
            return self._static, False
        now = self._clock.monotonic()
        current = self._set
        key = current.keys.get(kid) if current else None
        if key is not None:
            fresh = now - current.fetched_at < self._config.jwks_ttl  # type: ignore[union-attr]
            return key, not fresh and self._may_attempt(now)
        if kid in self._unknown:
            return None, False
        return None, self._may_attempt(now)

    def _may_attempt(self, now: float) -> bool:
        return now - self._last_attempt >= self._config.jwks_refresh_cooldown

    def begin_fetch(self) -> None:
        self._last_attempt = self._clock.monotonic()

    def fetched(self, document: object | None) -> None:
        """Record a fetch's result; ``None`` (or a bad document) is a failed fetch."""
        try:
            keys = parse_jwks(document) if document is not None else None
        except ValueError:
            keys = None
        if keys:
            self._set = _KeySet(MappingProxyType(keys), self._clock.monotonic())
            self._unknown.clear()
        if events.active:
            events.emit(events.JwksRefresh(bool(keys), len(keys or ())))

    def settle(self, kid: str) -> Any:
        """The key after any fetch, or the reason there is none."""
        now = self._clock.monotonic()
        current = self._set
        if current is None:
            raise KeysUnavailable()
        key = current.keys.get(kid)
        if key is None:
            self._unknown[kid] = True
            raise TokenRejected("unknown_kid")
        if now - current.fetched_at >= self._config.jwks_ttl + self._config.jwks_stale_window:
            raise KeysUnavailable()
        return key


def _load_pem(pem: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem.encode())


# -- claims ---------------------------------------------------------------------------


def check_claims(payload: Mapping[str, Any], config: FocusConfig, now: float) -> VerifiedClaims:
    """Claims of a token whose signature is already verified. Expiry is decided last, so
    that only an otherwise genuine token is reported as merely expired."""
    exp = payload.get("exp")
    if not _is_number(exp):
        raise TokenRejected("exp")
    for name in ("nbf", "iat"):
        if name in payload and not _is_number(payload[name]):
            raise TokenRejected(name)
    if payload.get("iss") != config.issuer:
        raise TokenRejected("issuer")
    # Whether ``azp`` is acceptable depends on where the token was presented (see
    # :func:`azp_refusal`), which the resolver knows and a cached verification must not fix.
    azp = payload.get("azp")
    if azp is not None and not isinstance(azp, str):
        raise TokenRejected("azp")
    if payload.get("sts") == PENDING:
        raise TokenRejected("session_pending")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub or sub.startswith("mch_"):
        raise TokenRejected("sub")
    sid = payload.get("sid")
    if sid is not None and not isinstance(sid, str):
        raise TokenRejected("sid")
    leeway = config.leeway
    if "nbf" in payload and payload["nbf"] > now + leeway:
        raise TokenRejected("not_yet_valid")
    if "iat" in payload and payload["iat"] > now + leeway:
        raise TokenRejected("issued_in_future")
    claims = VerifiedClaims(sub=sub, exp=float(exp), sid=sid, azp=azp, claims=MappingProxyType(dict(payload)))  # type: ignore[arg-type]
    if exp <= now - leeway:  # type: ignore[operator]
        raise TokenExpired(claims)
    return claims


_DECODE_OPTIONS: Any = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,
    "verify_aud": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


class JWTVerifier:
    """Verify session JWTs against one configured issuer; sync and async share every rule."""

    def __init__(self, config: FocusConfig) -> None:
        if config.issuer is None:
            raise ValueError("local JWT verification needs an issuer")
        self._config = config
        self._keys = KeyRing(config)
        self._lock = threading.Lock()
        self._alock: anyio.Lock | None = None
        self._jws = jwt.PyJWT()

    def _verify_signed(self, token: str, key: Any) -> VerifiedClaims:
        try:
            payload = self._jws.decode(token, key=key, algorithms=["RS256"], options=_DECODE_OPTIONS)
        except jwt.InvalidSignatureError:
            raise TokenRejected("signature") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenRejected("malformed") from None
        return check_claims(payload, self._config, self._config.clock.time())

    def verify(self, token: str, fetch_jwks: Callable[[], object | None]) -> VerifiedClaims:
        kid = read_header(token)["kid"]
        key, should_fetch = self._keys.find(kid)
        if key is None or should_fetch:
            # Also when no fetch is due: one may be in flight; wait for it, then look again.
            with self._lock:
                key, should_fetch = self._keys.find(kid)  # another thread may have fetched
                if should_fetch:
                    self._keys.begin_fetch()
                    self._keys.fetched(fetch_jwks())
                    key = None
        if key is None:
            key = self._keys.settle(kid)
        return self._verify_signed(token, key)

    async def averify(self, token: str, fetch_jwks: Callable[[], Awaitable[object | None]]) -> VerifiedClaims:
        kid = read_header(token)["kid"]
        key, should_fetch = self._keys.find(kid)
        if key is None or should_fetch:
            if self._alock is None:
                self._alock = anyio.Lock()
            async with self._alock:
                key, should_fetch = self._keys.find(kid)
                if should_fetch:
                    self._keys.begin_fetch()
                    self._keys.fetched(await fetch_jwks())
                    key = None
        if key is None:
            key = self._keys.settle(kid)
        return self._verify_signed(token, key)
