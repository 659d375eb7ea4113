"""Who does this request belong to? One set of decisions, a sync and an async driver.

The decisions are written once, as a generator that yields what it needs from the outside
world (:class:`VerifyJWT`, :class:`CheckRemotely`, :class:`FetchWallet`) and receives the
result (or the exception) back. :class:`Resolver` drives it with blocking I/O,
:class:`AsyncResolver` with ``await``; neither contains an ``if`` about auth.

Credentials, in order (design.md): a Bearer header alone decides when present; else the
app's own session cookie, then Clerk's ``__session``. A forged or malformed credential is a
refusal; an expired but genuine session token falls through to the next source.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import quote

from cachetools import LRUCache

from focus_middleware.cache import CacheBackend, MemoryCache, cache_key, namespace_for
from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.config import FocusConfig
from focus_middleware.errors import FocusError, UnauthorizedError
from focus_middleware.facts import RequestFacts
from focus_middleware.models import FocusAccount, Wallet
from focus_middleware.outcome import (
    ANONYMOUS,
    Authenticated,
    Credential,
    CredentialKind,
    CredentialSource,
    Expired,
    Outcome,
    Rejected,
    Unavailable,
    token_hash,
)
from focus_middleware.singleflight import AsyncSingleFlight, SingleFlight
from focus_middleware.tokens import (
    JWTVerifier,
    KeysUnavailable,
    TokenExpired,
    TokenRejected,
    VerifiedClaims,
    looks_like_jwt,
    looks_like_pat,
    unverified_exp,
)

logger = logging.getLogger("focus_middleware")


# -- what the decisions ask of the outside world -----------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyJWT:
    token: str


@dataclass(frozen=True, slots=True)
class CheckRemotely:
    """Ask the service who a credential belongs to (``GET /api/wallet?app=``)."""

    token: str
    flight_key: str


@dataclass(frozen=True, slots=True)
class FetchWallet:
    token: str
    flight_key: str


Effect: TypeAlias = VerifyJWT | CheckRemotely | FetchWallet
Plan: TypeAlias = Generator[Effect, Any, Outcome]


@dataclass(frozen=True, slots=True)
class _Identity:
    clerk_id: str
    credential: Credential
    claims: Mapping[str, Any] | None
    wallet: Wallet | None = None


class RemoteChecksExhausted(Exception):
    """The remote-check budget is spent for now."""


class _RateLimit:
    """A token bucket for remote credential checks, so a flood of random bearers cannot
    turn this app into an amplifier against the Focus service."""

    def __init__(self, per_second: float, config: FocusConfig) -> None:
        self._rate = per_second
        self._burst = max(per_second, 1.0)
        self._tokens = self._burst
        self._clock = config.clock
        self._at = self._clock.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


class ResolverCore:
    """The decisions, and the caches they consult. Holds no network client."""

    def __init__(self, config: FocusConfig, cache: CacheBackend | None = None) -> None:
        self.config = config
        self.cache: CacheBackend = cache or MemoryCache(
            maxsize=config.token_cache_size + config.wallet_cache_size, clock=config.clock
        )
        self.verifier = JWTVerifier(config) if config.verifies_locally else None
        self._remote_checks = _RateLimit(config.remote_checks_per_second, config)
        namespace = namespace_for(config.api_url, config.issuer, config.app)
        # Key prefixes are built once: the hot path only appends a hex digest.
        self._prefix = {kind: cache_key(namespace, kind, "") for kind in ("jwt", "remote", "wallet")}
        # Parsed accounts by (token hash, wallet version): a cached request re-parses nothing.
        self._accounts: LRUCache[tuple[str, str], FocusAccount] = LRUCache(maxsize=1024)
        self._wallets: LRUCache[str, tuple[str, Wallet]] = LRUCache(maxsize=1024)
        self._accounts_lock = threading.Lock()

    # -- keys: namespaced by configuration, hashes only -----------------------------------

    def _key(self, kind: str, secret: str) -> str:
        return self._prefix[kind] + token_hash(secret)

    def wallet_key(self, clerk_id: str) -> str:
        return self._prefix["wallet"] + quote(clerk_id, safe="")

    # -- the plan --------------------------------------------------------------------------

    def credentials(self, facts: RequestFacts) -> list[tuple[CredentialSource, str]]:
        auth = facts.headers.get("authorization")
        if auth is not None:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer":
                return [("bearer", value.strip())]
        found: list[tuple[CredentialSource, str]] = []
        cookies = facts.cookies
        app_cookie = cookies.get(self.config.session_cookie or "")
        if app_cookie:
            found.append(("app_cookie", app_cookie))
        clerk = cookies.get("__session")
        if self.config.clerk_cookie_suffix:
            clerk = cookies.get(f"__session_{self.config.clerk_cookie_suffix}") or clerk
        if clerk:
            found.append(("clerk_cookie", clerk))
        return found

    def plan(self, facts: RequestFacts) -> Plan:
        candidates = self.credentials(facts)
        if not candidates:
            return ANONYMOUS
        expired: CredentialSource | None = None
        identity: _Identity | None = None
        for source, token in candidates:
            result = yield from self.identify(source, token)
            if isinstance(result, Expired):
                expired = expired or source
                continue
            if not isinstance(result, _Identity):
                return result
            identity = result
            break
        if identity is None:
            assert expired is not None
            return Expired(expired)
        return (yield from self.account_for(identity))

    def identify(self, source: CredentialSource, token: str) -> Generator[Effect, Any, _Identity | Outcome]:
        if not token:
            return Rejected("empty", source)
        if looks_like_jwt(token):
            return (yield from self._identify_session(source, token))
        if source == "bearer" and looks_like_pat(token):
            return (yield from self._identify_remote(source, token, "pat", None))
        return Rejected("malformed", source)

    def _identify_session(self, source: CredentialSource, token: str) -> Generator[Effect, Any, _Identity | Outcome]:
        now = self.config.clock.time()
        key = self._key("jwt", token)
        cached = self.cache.get(key)
        if isinstance(cached, dict) and cached.get("exp", 0) > now - self.config.leeway:
            return _Identity(cached["sub"], Credential("session", source, token, cached["exp"]), cached.get("claims"))
        if self.verifier is None:
            exp = unverified_exp(token)
            if exp is None:
                return Rejected("exp", source)
            if exp <= now - self.config.leeway:
                return Expired(source)
            return (yield from self._identify_remote(source, token, "session", exp))
        result = yield VerifyJWT(token)
        if isinstance(result, TokenExpired):
            return Expired(source)
        if isinstance(result, TokenRejected):
            return Rejected(result.reason, source)
        if isinstance(result, KeysUnavailable):
            return Unavailable("jwks")
        if isinstance(result, BaseException):
            return Unavailable("verification")
        claims: VerifiedClaims = result
        self.cache.set(key, {"sub": claims.sub, "exp": claims.exp, "claims": dict(claims.claims)}, claims.exp - now)
        return _Identity(claims.sub, Credential("session", source, token, claims.exp), claims.claims)

    def _identify_remote(
        self, source: CredentialSource, token: str, kind: CredentialKind, exp: float | None
    ) -> Generator[Effect, Any, _Identity | Outcome]:
        """PATs (and JWTs when no issuer is configured): the wallet call is the check."""
        key = self._key("remote", token)
        cached = self.cache.get(key)
        if isinstance(cached, dict):
            if cached.get("refused"):
                return Rejected("refused", source)
            return _Identity(cached["clerk_id"], Credential(kind, source, token, exp), None)
        result = yield CheckRemotely(token, key)
        if isinstance(result, RemoteChecksExhausted):
            return Unavailable("rate_limited", retry_after=1)
        if isinstance(result, UnauthorizedError):
            self.cache.set(key, {"refused": True}, self.config.negative_ttl)
            return Rejected("refused", source)
        if isinstance(result, BaseException):
            return Unavailable("upstream")
        wallet: Wallet = result
        ttl = self.config.pat_ttl
        if exp is not None:
            ttl = min(ttl, exp - self.config.clock.time())
        if ttl > 0:
            self.cache.set(key, {"clerk_id": wallet.account.clerk_id}, ttl)
        self.store_wallet(wallet)
        return _Identity(wallet.account.clerk_id, Credential(kind, source, token, exp), None, wallet)

    def admit_remote_check(self) -> None:
        """Called by a driver just before a remote check goes out (once per single flight)."""
        if not self._remote_checks.allow():
            logger.warning("focus: remote credential checks rate-limited")
            raise RemoteChecksExhausted()

    def account_for(self, identity: _Identity) -> Plan:
        wallet, version, stale = identity.wallet, "", False
        if wallet is None:
            wallet, version, fresh = self.cached_wallet(identity.clerk_id)
            if wallet is None or not fresh:
                result = yield FetchWallet(identity.credential.token, self.wallet_key(identity.clerk_id))
                if isinstance(result, UnauthorizedError):
                    return self._refused_upstream(identity.credential)
                if isinstance(result, BaseException):
                    if wallet is None:
                        return Unavailable("upstream")
                    stale = True
                else:
                    wallet, version = result, self.store_wallet(result)
        return Authenticated(self._account(identity, wallet, version, stale), identity.credential)

    def _account(self, identity: _Identity, wallet: Wallet, version: str, stale: bool) -> FocusAccount:
        memo_key = (identity.credential.hash, version)
        if version and not stale:
            with self._accounts_lock:
                account = self._accounts.get(memo_key)
            if account is not None:
                return account
        account = FocusAccount.from_wallet(wallet, credential_kind=identity.credential.kind, claims=identity.claims, stale=stale)
        if version and not stale:
            with self._accounts_lock:
                self._accounts[memo_key] = account
        return account

    def _refused_upstream(self, credential: Credential) -> Outcome:
        """The service refused a credential we verified: inside our leeway past ``exp`` that
        is expiry (bounce and refresh), otherwise a refusal."""
        if credential.expires_at is not None and credential.expires_at <= self.config.clock.time():
            return Expired(credential.source)
        return Rejected("refused", credential.source)

    # -- the wallet cache ---------------------------------------------------------------------

    def cached_wallet(self, clerk_id: str) -> tuple[Wallet | None, str, bool]:
        """``(wallet, version, fresh)``; the version (unique per fetch) keys the memo."""
        entry = self.cache.get(self.wallet_key(clerk_id))
        if not isinstance(entry, dict):
            return None, "", False
        version = str(entry["v"])
        fresh = self.config.clock.time() - float(entry["at"]) < self.config.wallet_ttl
        with self._accounts_lock:
            parsed = self._wallets.get(clerk_id)
        if parsed is not None and parsed[0] == version:
            return parsed[1], version, fresh
        wallet = Wallet.from_json(entry["wallet"])
        with self._accounts_lock:
            self._wallets[clerk_id] = (version, wallet)
        return wallet, version, fresh

    def store_wallet(self, wallet: Wallet) -> str:
        version = secrets.token_hex(8)
        # Wall-clock age: the entry may be shared by processes on several hosts.
        entry = {"wallet": wallet.to_json(), "at": self.config.clock.time(), "v": version}
        self.cache.set(self.wallet_key(wallet.account.clerk_id), entry, self.config.wallet_ttl + self.config.stale_if_error)
        return version

    def forget_wallet(self, clerk_id: str) -> None:
        """After a job moved credits: the next request reads the balance afresh."""
        self.cache.delete(self.wallet_key(clerk_id))


_EXPECTED = (TokenRejected, TokenExpired, KeysUnavailable, FocusError, RemoteChecksExhausted)


class Resolver:
    """Blocking driver: for WSGI, Flask and Django's sync path."""

    def __init__(self, config: FocusConfig, *, client: FocusClient | None = None, cache: CacheBackend | None = None) -> None:
        self.core = ResolverCore(config, cache)
        self.config = config
        self.client = client or FocusClient.from_config(config)
        self._flight = SingleFlight()

    def resolve(self, facts: RequestFacts) -> Outcome:
        plan = self.core.plan(facts)
        try:
            effect = next(plan)
            while True:
                effect = plan.send(self._perform(effect))
        except StopIteration as done:
            outcome: Outcome = done.value
            return outcome

    def perform(self, effect: Effect) -> object:
        """Carry out one effect of any plan of the core (the session rules' plans too):
        the result, or the expected exception as a value."""
        return self._perform(effect)

    def _perform(self, effect: Effect) -> object:
        try:
            if isinstance(effect, VerifyJWT):
                assert self.core.verifier is not None
                return self.core.verifier.verify(effect.token, self._fetch_jwks)
            return self._flight.do(effect.flight_key, lambda: self._fetch(effect))
        except _EXPECTED as exc:
            return exc

    def _fetch(self, effect: CheckRemotely | FetchWallet) -> Wallet:
        if isinstance(effect, CheckRemotely):
            self.core.admit_remote_check()
        return self.client.wallet(app=self.config.app, token=effect.token)

    def _fetch_jwks(self) -> object | None:
        assert self.config.jwks_url is not None
        try:
            return self.client.get_json_document(self.config.jwks_url)
        except FocusError:
            logger.warning("focus: JWKS fetch failed")
            return None

    def forget_wallet(self, clerk_id: str) -> None:
        self.core.forget_wallet(clerk_id)

    def close(self) -> None:
        self.client.close()


class AsyncResolver:
    """Asyncio driver: for ASGI and Django's async path. Same decisions, awaited I/O."""

    def __init__(self, config: FocusConfig, *, client: AsyncFocusClient | None = None, cache: CacheBackend | None = None) -> None:
        self.core = ResolverCore(config, cache)
        self.config = config
        self.client = client or AsyncFocusClient.from_config(config)
        self._flight = AsyncSingleFlight()

    async def resolve(self, facts: RequestFacts) -> Outcome:
        plan = self.core.plan(facts)
        try:
            effect = next(plan)
            while True:
                effect = plan.send(await self._perform(effect))
        except StopIteration as done:
            outcome: Outcome = done.value
            return outcome

    async def perform(self, effect: Effect) -> object:
        """Carry out one effect of any plan of the core (the session rules' plans too):
        the result, or the expected exception as a value."""
        return await self._perform(effect)

    async def _perform(self, effect: Effect) -> object:
        try:
            if isinstance(effect, VerifyJWT):
                assert self.core.verifier is not None
                return await self.core.verifier.averify(effect.token, self._fetch_jwks)
            return await self._flight.do(effect.flight_key, lambda: self._fetch(effect))
        except _EXPECTED as exc:
            return exc

    async def _fetch(self, effect: CheckRemotely | FetchWallet) -> Wallet:
        if isinstance(effect, CheckRemotely):
            self.core.admit_remote_check()
        return await self.client.wallet(app=self.config.app, token=effect.token)

    async def _fetch_jwks(self) -> object | None:
        assert self.config.jwks_url is not None
        try:
            return await self.client.get_json_document(self.config.jwks_url)
        except FocusError:
            logger.warning("focus: JWKS fetch failed")
            return None

    def forget_wallet(self, clerk_id: str) -> None:
        self.core.forget_wallet(clerk_id)

    async def aclose(self) -> None:
        await self.client.aclose()
