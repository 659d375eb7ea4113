"""Who does this request belong to? One set of decisions, a sync and an async driver.

The decisions are written once, as a generator that yields what it needs from the outside
world (:class:`VerifyJWT`, :class:`CheckRemotely`, :class:`FetchWallet`) and receives the
result (or the exception) back. :class:`Resolver` drives it with blocking I/O,
:class:`AsyncResolver` with ``await``; neither contains an ``if`` about auth.

Caches (docs/architecture.md, "Caches"). The in-process cache is read inline: a request whose token
and wallet are cached yields nothing and touches no network. A miss is a :class:`Coalesce`
effect: the driver runs its sub-plan once per key in this process (single flight) and every
concurrent caller shares the result. With a shared backend (``cache_url`` / ``cache_backend``)
the sub-plan first reads the shared level (:class:`SharedGet`), then loads under a short
cross-process lock (:class:`Exclusive`) while other processes poll (:class:`Pause`) for the
value; writes go to both levels (:class:`SharedSet`), the in-process copy living at most
``l1_ttl``. If the shared backend is unavailable the plan carries on as if there were none:
the in-process entry then keeps its own full TTL, never more.

Credentials, in order (docs/architecture.md): a Bearer header alone decides when present; else the
app's own session cookie, then Clerk's ``__session``. A forged or malformed credential is a
refusal; an expired but genuine session token falls through to the next source.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
import sys
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeAlias, TypeVar
from urllib.parse import quote

import anyio
from cachetools import LRUCache

from focus_middleware import events
from focus_middleware.budget import RemoteCheckBudget, client_address, client_group
from focus_middleware.cache import (
    AsyncCacheBackend,
    CacheBackend,
    CacheEntry,
    CacheUnavailable,
    InvalidationFeed,
    MemoryCache,
    Subscription,
    async_backend,
    cache_key,
    namespace_for,
    sync_backend,
)
from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.config import FocusConfig
from focus_middleware.errors import FocusError, UnauthorizedError
from focus_middleware.facts import RequestFacts
from focus_middleware.fast_path import HotAnswers
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
from focus_middleware.request_plan import adrive, drive
from focus_middleware.singleflight import AsyncSingleFlight, SingleFlight
from focus_middleware.tokens import (
    PENDING,
    JWTVerifier,
    KeysUnavailable,
    TokenExpired,
    TokenRejected,
    VerifiedClaims,
    azp_refusal,
    looks_like_jwt,
    looks_like_pat,
    unverified_claims,
)

logger = logging.getLogger("focus_middleware")


# -- what the decisions ask of the outside world -----------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyJWT:
    token: str


@dataclass(frozen=True, slots=True)
class CheckRemotely:
    """Ask the service who a credential belongs to (``GET /api/wallet?app=``)."""

    token: str = field(repr=False)
    client: str = ""
    """Whose budget the check is spent from (see :mod:`focus_middleware.budget`)."""


@dataclass(frozen=True, slots=True)
class FetchWallet:
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Coalesce:
    """Run ``plan`` (a sub-plan) once per ``key`` in this process: concurrent callers with
    the same key wait for that run and all get its result (single flight)."""

    key: str
    plan: Generator[Any, Any, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class SharedGet:
    """Read the shared level: the value, None for a miss, or :class:`CacheUnavailable`."""

    key: str


@dataclass(frozen=True, slots=True)
class SharedSet:
    """Write the shared level (None, or :class:`CacheUnavailable`)."""

    key: str
    value: Any
    ttl: float


@dataclass(frozen=True, slots=True)
class SharedDelete:
    """Delete from the shared level and tell every process to drop its copy."""

    key: str


@dataclass(frozen=True, slots=True)
class Exclusive:
    """Try once to take the cross-process lock of ``key`` for ``ttl`` seconds; if taken,
    run ``plan`` and release. Returns :class:`Held` (with the plan's result),
    :data:`NOT_HELD` (another process has it), or :class:`CacheUnavailable`."""

    key: str
    ttl: float
    plan: Generator[Any, Any, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait a little (real time) before looking again."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Held:
    value: Any


NOT_HELD = object()

Effect: TypeAlias = VerifyJWT | CheckRemotely | FetchWallet | Coalesce | SharedGet | SharedSet | SharedDelete | Exclusive | Pause
AccountPlan: TypeAlias = Generator[Effect, Any, Outcome]
R = TypeVar("R")

# How often a process waiting for another's load looks at the shared level.
_SHARED_POLL = 0.02


@dataclass(frozen=True, slots=True)
class _Identity:
    clerk_id: str
    credential: Credential
    verified_claims: Mapping[str, Any] | None
    wallet: Wallet | None = None
    claims_in_token: bool = False
    """The claims were verified earlier and not kept: read them again from the token (the
    same bytes as verified, so the same claims) when an account has to be built."""

    @property
    def claims(self) -> Mapping[str, Any] | None:
        if self.claims_in_token:
            return unverified_claims(self.credential.token)
        return self.verified_claims


@dataclass(frozen=True, slots=True)
class _Verified:
    """A verified session token's first-level entry: only what a later presentation of
    it needs (who, until when, the ``azp`` judged per source); the claims are in the token."""

    sub: str
    exp: float
    azp: str | None


@dataclass(frozen=True, slots=True)
class _Checked:
    """A remote check's answer, shared by every caller of one flight (so nothing per-caller:
    the outer plan turns it into that caller's identity or refusal)."""

    clerk_id: str | None = None
    refused: bool = False
    failure: Outcome | None = None
    wallet: Wallet | None = None


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A wallet load's answer: a wallet and its version, a refusal, or a failure."""

    wallet: Wallet | None = None
    version: str = ""
    refused: bool = False


class RemoteChecksExhausted(Exception):
    """The remote-check budget is spent for now."""


class ResolverCore:
    """The decisions, and the caches they consult. Holds no network client."""

    def __init__(self, config: FocusConfig, cache: CacheBackend | None = None, *, shared: bool = False) -> None:
        """``cache`` is the in-process level (read inline, so it must not do I/O);
        ``shared`` says whether the driver performs the shared-level effects."""
        self.config = config
        self.cache: CacheBackend = cache if cache is not None else MemoryCache(
            maxsize=config.token_cache_size + config.wallet_cache_size, clock=config.clock
        )
        self.shared = shared
        self._max_polls = math.ceil((config.cache_lock_ttl + 0.5) / _SHARED_POLL)
        self.verifier = JWTVerifier(config) if config.verifies_locally else None
        if not config.checks_azp:
            logger.warning(
                "focus: public_origin is not set, so a session token minted for any app on this Focus is "
                "accepted here (azp is not checked); set public_origin (FOCUS_PUBLIC_ORIGIN) to this app's origin"
            )
        self._remote_checks = RemoteCheckBudget(config)
        namespace = namespace_for(config.api_url, config.issuer, config.app)
        # Key prefixes are built once: the hot path only appends a hex digest.
        self._prefix = {kind: cache_key(namespace, kind, "") for kind in ("jwt", "remote", "wallet", "billed")}
        # Parsed accounts by (token hash, wallet version): a cached request re-parses nothing.
        self._accounts: LRUCache[tuple[str, str], FocusAccount] = LRUCache(maxsize=1024)
        self._wallets: LRUCache[str, tuple[str, Wallet]] = LRUCache(maxsize=1024)
        self._accounts_lock = threading.Lock()
        # Whole answers of requests whose every part is cached (focus_middleware.fast_path).
        self.hot = HotAnswers()
        # When each user's wallet was last forgotten (a tick of _forgets): a wallet read that
        # began before it holds the balance credits moved away from, and is not kept.
        self._forgets = itertools.count(1)
        self._forgotten: LRUCache[str, int] = LRUCache(maxsize=config.wallet_cache_size)
        self._forgotten_lock = threading.Lock()

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

    def plan(self, facts: RequestFacts) -> AccountPlan:
        identity = yield from self.identity_plan(facts)
        outcome = identity if not isinstance(identity, _Identity) else (yield from self.account_for(identity))
        if events.active:
            events.emit(events.decision_of(outcome))
        return outcome

    def identity_plan(self, facts: RequestFacts) -> Generator[Effect, Any, _Identity | Outcome]:
        """Whose request this is, without its wallet: the identity, or the outcome that
        ends the plan (anonymous, expired, rejected, unavailable)."""
        candidates = self.credentials(facts)
        if not candidates:
            return ANONYMOUS
        expired: CredentialSource | None = None
        identity: _Identity | None = None
        for source, token in candidates:
            result = yield from self.identify(source, token, facts)
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
        return identity

    def identify(self, source: CredentialSource, token: str, facts: RequestFacts | None = None
                 ) -> Generator[Effect, Any, _Identity | Outcome]:
        """Who ``token`` (presented through ``source``) belongs to. ``facts`` tell whose
        remote-check budget a check of it would spend."""
        if not token:
            return Rejected("empty", source)
        if looks_like_jwt(token):
            return (yield from self._identify_session(source, token, facts))
        if source == "bearer" and looks_like_pat(token):
            return (yield from self._identify_remote(source, token, "pat", None, facts))
        return Rejected("malformed", source)

    def _identify_session(self, source: CredentialSource, token: str, facts: RequestFacts | None
                          ) -> Generator[Effect, Any, _Identity | Outcome]:
        now = self.config.clock.time()
        key = self._key("jwt", token)
        cached = self.cache.get(key)
        if events.active:
            events.emit(events.CacheLookup("jwt", "l1", isinstance(cached, _Verified)))
        if isinstance(cached, _Verified) and cached.exp > now - self.config.leeway:
            refused = azp_refusal(cached.azp, source, self.config)
            if refused is not None:
                return Rejected(refused, source)
            return _Identity(cached.sub, Credential("session", source, token, cached.exp), None, claims_in_token=True)
        if self.verifier is None:
            payload = unverified_claims(token)
            exp = payload.get("exp")
            if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
                return Rejected("exp", source)
            if exp <= now - self.config.leeway:
                return Expired(source)
            return (yield from self._identify_remote(source, token, "session", float(exp), facts))
        result = yield VerifyJWT(token)
        if isinstance(result, TokenExpired):
            refused = azp_refusal(result.claims.azp, source, self.config)
            return Expired(source) if refused is None else Rejected(refused, source)
        if isinstance(result, TokenRejected):
            return Rejected(result.reason, source)
        if isinstance(result, KeysUnavailable):
            return Unavailable("jwks")
        if isinstance(result, BaseException):
            return Unavailable("verification")
        claims: VerifiedClaims = result
        # Cached before the azp rule: the verification holds whatever the source; the rule
        # is applied to every presentation (a bearer may not reuse a cookie's acceptance).
        # Interned: the many tokens of one user (and of one azp) share the strings.
        azp = sys.intern(claims.azp) if claims.azp is not None else None
        self.cache.set(key, _Verified(sys.intern(claims.sub), claims.exp, azp), claims.exp - now)
        refused = azp_refusal(claims.azp, source, self.config)
        if refused is not None:
            return Rejected(refused, source)
        return _Identity(claims.sub, Credential("session", source, token, claims.exp), claims.claims)

    def _identify_remote(
        self, source: CredentialSource, token: str, kind: CredentialKind, exp: float | None, facts: RequestFacts | None
    ) -> Generator[Effect, Any, _Identity | Outcome]:
        """PATs (and JWTs when no issuer is configured): the wallet call is the check."""
        key = self._key("remote", token)
        cached = self.cache.get(key)
        if events.active:
            events.emit(events.CacheLookup("remote", "l1", isinstance(cached, dict)))
        if isinstance(cached, dict):
            if cached.get("refused"):
                return Rejected("refused", source)
            return self._remote_identity(source, token, kind, exp, cached["clerk_id"], None)
        client = client_group(client_address(facts, self.config)) if facts is not None else ""
        checked: _Checked = yield Coalesce(key, self._remote_plan(token, key, exp, client))
        if checked.failure is not None:
            return checked.failure
        if checked.refused or checked.clerk_id is None:
            return Rejected("refused", source)
        return self._remote_identity(source, token, kind, exp, checked.clerk_id, checked.wallet)

    def _remote_identity(self, source: CredentialSource, token: str, kind: CredentialKind, exp: float | None,
                         clerk_id: str, wallet: Wallet | None) -> _Identity | Outcome:
        """A credential Focus accepted. A session JWT is then genuine, so its claims can be
        read: its ``azp`` and ``sts`` are held to the same rules as a locally verified one."""
        if kind == "session":
            payload = unverified_claims(token)
            if payload.get("sts") == PENDING:
                return Rejected("session_pending", source)
            refused = azp_refusal(payload.get("azp"), source, self.config)
            if refused is not None:
                return Rejected(refused, source)
        return _Identity(clerk_id, Credential(kind, source, token, exp), None, wallet)

    def _remote_plan(self, token: str, key: str, exp: float | None, client: str) -> Generator[Effect, Any, _Checked]:
        load = partial(self._check_remote, token, key, exp, client)
        if not self.shared:
            return (yield from load())
        return (yield from self._shared_fill(key, self._remote_from_shared, load, "remote"))

    def _check_remote(self, token: str, key: str, exp: float | None, client: str) -> Generator[Effect, Any, _Checked]:
        began = self._tick()
        result = yield CheckRemotely(token, client)
        if isinstance(result, RemoteChecksExhausted):
            return _Checked(failure=Unavailable("rate_limited", retry_after=1))
        if isinstance(result, UnauthorizedError):
            yield from self._store(key, {"refused": True}, self.config.negative_ttl)
            return _Checked(refused=True)
        if isinstance(result, BaseException):
            return _Checked(failure=Unavailable("upstream"))
        wallet: Wallet = result
        # The wallet first: a process that sees the identity in the shared level then finds
        # the wallet there too, instead of fetching it.
        yield from self._save_wallet(wallet, began)
        ttl = self.config.pat_ttl
        if exp is not None:
            ttl = min(ttl, exp - self.config.clock.time())
        if ttl > 0:
            yield from self._store(key, {"clerk_id": wallet.account.clerk_id}, ttl)
        return _Checked(clerk_id=wallet.account.clerk_id, wallet=wallet)

    def _remote_from_shared(self, key: str, value: Any) -> _Checked | None:
        entry = self._adopt(key, value)
        if entry is None:
            return None
        if entry.get("refused"):
            return _Checked(refused=True)
        clerk_id = entry.get("clerk_id")
        return _Checked(clerk_id=clerk_id) if isinstance(clerk_id, str) else None

    def admit_remote_check(self, client: str = "") -> None:
        """Called by a driver just before a remote check goes out (once per single flight)."""
        if not self._remote_checks.allow(client):
            logger.warning("focus: remote credential checks rate-limited")
            if events.active:
                events.emit(events.BudgetExhausted())
            raise RemoteChecksExhausted()

    def account_for(self, identity: _Identity) -> AccountPlan:
        wallet, version, stale = identity.wallet, "", False
        if wallet is None:
            wallet, version, fresh = self.cached_wallet(identity.clerk_id)
            if events.active:
                events.emit(events.CacheLookup("wallet", "l1", wallet is not None and fresh))
            if wallet is None or not fresh:
                key = self.wallet_key(identity.clerk_id)
                loaded: _Loaded = yield Coalesce(key, self._wallet_plan(identity.credential.token, key))
                if loaded.refused:
                    return self._refused_upstream(identity.credential)
                if loaded.wallet is None:
                    if wallet is None:
                        # The shared level may have handed over an entry past its freshness.
                        wallet, version, _ = self.cached_wallet(identity.clerk_id)
                    if wallet is None:
                        return Unavailable("upstream")
                    stale = True
                else:
                    wallet, version = loaded.wallet, loaded.version
        return Authenticated(self._account(identity, wallet, version, stale), identity.credential)

    def _wallet_plan(self, token: str, key: str) -> Generator[Effect, Any, _Loaded]:
        load = partial(self._fetch_wallet, token)
        if not self.shared:
            return (yield from load())
        return (yield from self._shared_fill(key, self._wallet_from_shared, load, "wallet"))

    def _fetch_wallet(self, token: str) -> Generator[Effect, Any, _Loaded]:
        began = self._tick()
        result = yield FetchWallet(token)
        if isinstance(result, UnauthorizedError):
            return _Loaded(refused=True)
        if isinstance(result, BaseException):
            return _Loaded()
        return _Loaded(result, (yield from self._save_wallet(result, began)))

    def _wallet_from_shared(self, key: str, value: Any) -> _Loaded | None:
        """A shared wallet entry: adopted into the first level even when no longer fresh (it
        is then the stale-if-error fallback), but only a fresh one ends the wait."""
        entry = self._adopt(key, value)
        if entry is None or not isinstance(entry.get("wallet"), dict):
            return None
        try:
            if self.config.clock.time() - float(entry["at"]) >= self.config.wallet_ttl:
                return None
            wallet = Wallet.from_json(entry["wallet"])
        except (KeyError, TypeError, ValueError, FocusError):
            return None
        return _Loaded(wallet, str(entry.get("v", "")))

    def _account(self, identity: _Identity, wallet: Wallet, version: str, stale: bool) -> FocusAccount:
        memo_key = (identity.credential.hash, version)
        if version and not stale:
            with self._accounts_lock:
                account = self._accounts.get(memo_key)
            if account is not None:
                return account
        account = FocusAccount.from_wallet(wallet, credential_kind=identity.credential.kind, claims=identity.claims, stale=stale,
                                           name_claims=self.config.name_claims, email_claims=self.config.email_claims)
        if version and not stale:
            with self._accounts_lock:
                self._accounts[memo_key] = account
        return account

    def answer_sources(self, outcome: Authenticated) -> tuple[CacheEntry, CacheEntry, float] | None:
        """The first-level entries an authenticated answer was built from (the verified
        token's and the wallet's) and until when that wallet is fresh, if the answer is
        exactly what they give now; None otherwise, or without an in-process
        :class:`MemoryCache` (only its entries say when they are gone)."""
        cache = self.cache
        if not isinstance(cache, MemoryCache):
            return None
        credential, account = outcome.credential, outcome.account
        token_entry = cache.entry(self._key("jwt", credential.token))
        verified = token_entry.value if token_entry is not None else None
        if token_entry is None or not isinstance(verified, _Verified) or verified.exp != credential.expires_at \
                or verified.sub != account.clerk_id:
            return None
        wallet_entry = cache.entry(self.wallet_key(account.clerk_id))
        stored = wallet_entry.value if wallet_entry is not None else None
        if wallet_entry is None or not isinstance(stored, dict):
            return None
        with self._accounts_lock:
            memo = self._accounts.get((credential.hash, str(stored.get("v", ""))))
        if memo is not account:
            return None
        return token_entry, wallet_entry, float(stored["at"]) + self.config.wallet_ttl

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

    def _wallet_entry(self, wallet: Wallet) -> tuple[str, dict[str, Any]]:
        version = secrets.token_hex(8)
        # Wall-clock age: the entry may be shared by processes on several hosts.
        return version, {"wallet": wallet.to_json(), "at": self.config.clock.time(), "v": version}

    def store_wallet(self, wallet: Wallet) -> str:
        """Into the in-process level only (see :meth:`_save_wallet` for both levels)."""
        version, entry = self._wallet_entry(wallet)
        self.cache.set(self.wallet_key(wallet.account.clerk_id), entry, self.config.wallet_ttl + self.config.stale_if_error)
        return version

    def _tick(self) -> int:
        return next(self._forgets)

    def _save_wallet(self, wallet: Wallet, began: int) -> Generator[Effect, Any, str]:
        """Cache a wallet read from Focus, unless its user's wallet was forgotten after the
        read began (``began``, a :meth:`_tick`): that read may hold a balance from before
        the credits moved (a job settled while the page that read it was being served), and
        caching it after the forget would show the old balance for ``wallet_ttl``. The
        request still gets the wallet it read; the next one reads afresh."""
        version, entry = self._wallet_entry(wallet)
        clerk_id = wallet.account.clerk_id
        with self._forgotten_lock:
            forgotten = self._forgotten.get(clerk_id, 0)
        if forgotten > began:
            return version
        ttl = self.config.wallet_ttl + self.config.stale_if_error
        yield from self._store(self.wallet_key(clerk_id), entry, ttl)
        return version

    def _forgot(self, clerk_id: str) -> str:
        with self._forgotten_lock:
            self._forgotten[clerk_id] = self._tick()
        key = self.wallet_key(clerk_id)
        self.cache.delete(key)
        return key

    def forget_wallet(self, clerk_id: str) -> None:
        """After a job moved credits: the next request reads the balance afresh. In-process
        only; the drivers' ``forget_wallet`` also drop it from the shared level, everywhere."""
        self._forgot(clerk_id)

    def forget_plan(self, clerk_id: str) -> Generator[Effect, Any, None]:
        """:meth:`forget_wallet` in this process, then in the shared level and, through its
        invalidation feed, in every process."""
        key = self._forgot(clerk_id)
        if self.shared:
            yield SharedDelete(key)

    def back_from_billing(self, facts: RequestFacts) -> Generator[Effect, Any, Outcome | None]:
        """A browser back from buying credits (the 402's ``redirect_to`` marker): its
        user's wallet is dropped from both levels, so the next page reads the balance from
        Focus. None once done; else the outcome that left no one to do it for (anonymous,
        rejected, unavailable, or expired: the caller bounces that one to refresh it).

        The marker is only a query parameter, which anyone can put in a link, so it is
        honoured at most once per user per ``wallet_ttl`` (remembered in this process,
        keyed by a hash of the user id): a flood of marked requests costs Focus at most
        one wallet read per user per ``wallet_ttl``, as the cache alone would."""
        identity = yield from self.identity_plan(facts)
        if not isinstance(identity, _Identity):
            return identity
        if self._billing_marker_due(identity.clerk_id):
            yield from self.forget_plan(identity.clerk_id)
        return None

    def _billing_marker_due(self, clerk_id: str) -> bool:
        key = self._key("billed", clerk_id)
        with self._accounts_lock:  # check and set as one step: concurrent marked requests honour one
            if self.cache.get(key) is not None:
                return False
            self.cache.set(key, True, self.config.wallet_ttl)
        return True

    # -- two levels ---------------------------------------------------------------------------

    def _store(self, key: str, entry: dict[str, Any], ttl: float) -> Generator[Effect, Any, None]:
        """Write both levels. The shared copy carries its own deadline (``until``, wall
        clock) so a reader can bound its first-level copy by it. The first-level copy lives
        ``l1_ttl`` at most, or its full ``ttl`` while the shared level is unavailable (then
        this process is on its own, as without one)."""
        if not self.shared or ttl <= 0:
            self.cache.set(key, entry, ttl)
            return
        written = yield SharedSet(key, {**entry, "until": self.config.clock.time() + ttl}, ttl)
        self.cache.set(key, entry, ttl if isinstance(written, CacheUnavailable) else min(ttl, self.config.l1_ttl))

    def _adopt(self, key: str, value: Any) -> dict[str, Any] | None:
        """A value read from the shared level, checked; copied into the first level for
        ``l1_ttl`` at most and never past its own deadline. Returns the entry, or None."""
        if not isinstance(value, dict):
            return None
        until = value.get("until")
        if isinstance(until, bool) or not isinstance(until, (int, float)):
            return None
        remaining = until - self.config.clock.time()
        if not remaining > 0:
            return None
        entry = {k: v for k, v in value.items() if k != "until"}
        self.cache.set(key, entry, min(remaining, self.config.l1_ttl))
        return entry

    def _shared_fill(
        self, key: str, accept: Callable[[str, Any], R | None], load: Callable[[], Generator[Effect, Any, R]],
        kind: events.CacheKind = "wallet",
    ) -> Generator[Effect, Any, R]:
        """A first-level miss with a shared level: read it; else one process loads (under a
        short lock, checking the shared level once more first) while the others poll for its
        value, and take over when the lock is released without one or expires (a crashed
        holder). With the shared level unavailable, load here at once."""
        found = yield SharedGet(key)
        if isinstance(found, CacheUnavailable):
            return (yield from load())
        hit = accept(key, found)
        if events.active:
            events.emit(events.CacheLookup(kind, "l2", hit is not None))
        if hit is not None:
            return hit
        for _ in range(self._max_polls):
            held = yield Exclusive(key, self.config.cache_lock_ttl, self._recheck_then_load(key, accept, load))
            if isinstance(held, Held):
                result: R = held.value
                return result
            if held is not NOT_HELD:
                break  # unavailable
            yield Pause(_SHARED_POLL)
            found = yield SharedGet(key)
            if isinstance(found, CacheUnavailable):
                break
            hit = accept(key, found)
            if hit is not None:
                return hit
        return (yield from load())

    def _recheck_then_load(
        self, key: str, accept: Callable[[str, Any], R | None], load: Callable[[], Generator[Effect, Any, R]]
    ) -> Generator[Effect, Any, R]:
        found = yield SharedGet(key)
        hit = None if isinstance(found, CacheUnavailable) else accept(key, found)
        if hit is not None:
            return hit
        return (yield from load())


_EXPECTED = (TokenRejected, TokenExpired, KeysUnavailable, FocusError, RemoteChecksExhausted, CacheUnavailable)


def shared_cache_from_config(config: FocusConfig) -> object | None:
    """The shared backend a configuration asks for: its ``cache_backend`` object, or a
    :class:`~focus_middleware.cache_redis.RedisCache` for its ``cache_url``, or None."""
    if config.cache_backend is not None:
        backend: object = config.cache_backend
        return backend
    if config.cache_url is not None:
        try:
            from focus_middleware.cache_redis import RedisCache
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("cache_url needs the redis extra: pip install 'focus-middleware[redis]'") from exc
        return RedisCache(config.cache_url)
    return None


def config_of(config: FocusConfig | None, resolver: Resolver | AsyncResolver | None, adapter: str) -> FocusConfig:
    """An adapter's configuration: the one given, else its resolver's, else the
    environment's. A resolver built for another configuration is refused: its caches and
    its client would answer for another app."""
    if config is None:
        return resolver.config if resolver is not None else FocusConfig.from_env()
    if resolver is not None and resolver.config != config:
        raise ValueError(f"{adapter}: the resolver was built for another configuration")
    return config


class _SharedSetup:
    """What both drivers do with a shared backend: pick it, subscribe the in-process level
    to its invalidations, and close what they opened."""

    def __init__(self, config: FocusConfig, shared: object | None) -> None:
        self.backend = shared if shared is not None else shared_cache_from_config(config)
        # A backend built here from cache_url is ours to close; one passed in is not.
        self.owned = shared is None and config.cache_backend is None and self.backend is not None
        self.subscription: Subscription | None = None

    def subscribe(self, core: ResolverCore) -> None:
        if isinstance(self.backend, InvalidationFeed):
            cache = core.cache
            reset = getattr(cache, "clear", None)
            self.subscription = self.backend.subscribe(cache.delete, reset if callable(reset) else None)

    def close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
        if self.owned:
            close = getattr(self.backend, "close", None)
            if callable(close):
                close()


class Resolver:
    """Blocking driver: for WSGI, Flask and Django's sync path.

    ``cache`` is the in-process level; ``shared`` a shared backend object (default: the
    configuration's ``cache_backend`` or ``cache_url``).
    """

    def __init__(self, config: FocusConfig, *, client: FocusClient | None = None, cache: CacheBackend | None = None,
                 shared: object | None = None) -> None:
        self._setup = _SharedSetup(config, shared)
        self.shared: CacheBackend | None = sync_backend(self._setup.backend) if self._setup.backend is not None else None
        self.core = ResolverCore(config, cache, shared=self.shared is not None)
        self.config = config
        self.client = client or FocusClient.from_config(config)
        self._flight = SingleFlight()
        self._setup.subscribe(self.core)

    def resolve(self, facts: RequestFacts) -> Outcome:
        return self.run(self.core.plan(facts))

    def run(self, plan: Generator[Effect, Any, R]) -> R:
        """Drive a plan made of this module's effects (no request body to read)."""
        return drive(plan, self.perform)

    def perform(self, effect: Effect) -> object:
        """Carry out one effect; an expected failure is returned, not raised."""
        try:
            if isinstance(effect, VerifyJWT):
                assert self.core.verifier is not None
                return self.core.verifier.verify(effect.token, self._fetch_jwks)
            if isinstance(effect, Coalesce):
                plan = effect.plan
                return self._flight.do(effect.key, lambda: self.run(plan))
            if isinstance(effect, (CheckRemotely, FetchWallet)):
                return self._fetch(effect)
            return self._perform_shared(effect)
        except _EXPECTED as exc:
            return exc


    def _perform_shared(self, effect: Effect) -> object:
        shared = self.shared
        if isinstance(effect, Pause):
            time.sleep(effect.seconds)
            return None
        if shared is None:
            raise TypeError(f"{type(effect).__name__} without a shared cache")
        if isinstance(effect, SharedGet):
            return shared.get(effect.key)
        if isinstance(effect, SharedSet):
            shared.set(effect.key, effect.value, effect.ttl)
            return None
        if isinstance(effect, SharedDelete):
            shared.delete(effect.key)
            return None
        if isinstance(effect, Exclusive):
            lock = shared.lock(effect.key, effect.ttl)
            if not lock.acquire(blocking=False):
                return NOT_HELD
            try:
                return Held(self.run(effect.plan))
            finally:
                try:
                    lock.release()
                except CacheUnavailable:
                    pass  # it expires by itself
        raise TypeError(f"unknown effect {type(effect).__name__}")

    def _fetch(self, effect: CheckRemotely | FetchWallet) -> Wallet:
        if isinstance(effect, CheckRemotely):
            self.core.admit_remote_check(effect.client)
        return self.client.wallet(app=self.config.app, token=effect.token)

    def _fetch_jwks(self) -> object | None:
        assert self.config.jwks_url is not None
        try:
            return self.client.get_json_document(self.config.jwks_url)
        except FocusError:
            logger.warning("focus: JWKS fetch failed")
            return None

    def forget_wallet(self, clerk_id: str) -> None:
        """After credits moved: drop the user's wallet here, in the shared level and, through
        its invalidation feed, in every other process."""
        self.run(self.core.forget_plan(clerk_id))

    def close(self) -> None:
        self._setup.close()
        self.client.close()


class AsyncResolver:
    """Asyncio driver: for ASGI and Django's async path. Same decisions, awaited I/O;
    the shared level through its async face (``redis.asyncio``), so the loop never blocks."""

    def __init__(self, config: FocusConfig, *, client: AsyncFocusClient | None = None, cache: CacheBackend | None = None,
                 shared: object | None = None) -> None:
        self._setup = _SharedSetup(config, shared)
        self.shared: AsyncCacheBackend | None = async_backend(self._setup.backend) if self._setup.backend is not None else None
        self.core = ResolverCore(config, cache, shared=self.shared is not None)
        self.config = config
        self.client = client or AsyncFocusClient.from_config(config)
        self._flight = AsyncSingleFlight()
        self._background: set[asyncio.Task[None]] = set()
        self._setup.subscribe(self.core)

    async def resolve(self, facts: RequestFacts) -> Outcome:
        return await self.run(self.core.plan(facts))

    async def run(self, plan: Generator[Effect, Any, R]) -> R:
        """Drive a plan made of this module's effects (no request body to read)."""
        return await adrive(plan, self.perform)

    async def perform(self, effect: Effect) -> object:
        """Carry out one effect; an expected failure is returned, not raised."""
        try:
            if isinstance(effect, VerifyJWT):
                assert self.core.verifier is not None
                return await self.core.verifier.averify(effect.token, self._fetch_jwks)
            if isinstance(effect, Coalesce):
                plan = effect.plan
                return await self._flight.do(effect.key, lambda: self.run(plan))
            if isinstance(effect, (CheckRemotely, FetchWallet)):
                return await self._fetch(effect)
            return await self._perform_shared(effect)
        except _EXPECTED as exc:
            return exc


    async def _perform_shared(self, effect: Effect) -> object:
        shared = self.shared
        if isinstance(effect, Pause):
            await anyio.sleep(effect.seconds)
            return None
        if shared is None:
            raise TypeError(f"{type(effect).__name__} without a shared cache")
        if isinstance(effect, SharedGet):
            return await shared.get(effect.key)
        if isinstance(effect, SharedSet):
            await shared.set(effect.key, effect.value, effect.ttl)
            return None
        if isinstance(effect, SharedDelete):
            await shared.delete(effect.key)
            return None
        if isinstance(effect, Exclusive):
            lock = shared.lock(effect.key, effect.ttl)
            if not await lock.acquire(blocking=False):
                return NOT_HELD
            try:
                return Held(await self.run(effect.plan))
            finally:
                # Released even when this task is cancelled (a client went away), so the
                # other processes need not wait for the lease to run out.
                with anyio.move_on_after(1.0, shield=True):
                    try:
                        await lock.release()
                    except CacheUnavailable:
                        pass
        raise TypeError(f"unknown effect {type(effect).__name__}")

    async def _fetch(self, effect: CheckRemotely | FetchWallet) -> Wallet:
        if isinstance(effect, CheckRemotely):
            self.core.admit_remote_check(effect.client)
        return await self.client.wallet(app=self.config.app, token=effect.token)

    async def _fetch_jwks(self) -> object | None:
        assert self.config.jwks_url is not None
        try:
            return await self.client.get_json_document(self.config.jwks_url)
        except FocusError:
            logger.warning("focus: JWKS fetch failed")
            return None

    async def aforget_wallet(self, clerk_id: str) -> None:
        """After credits moved: drop the user's wallet here, in the shared level and, through
        its invalidation feed, in every other process."""
        await self.run(self.core.forget_plan(clerk_id))

    def forget_wallet(self, clerk_id: str) -> None:
        """:meth:`aforget_wallet` for callers that cannot await: the in-process copy goes at
        once; the shared delete runs as a task on the running loop (or, outside a loop,
        through the backend's blocking face)."""
        plan = self.core.forget_plan(clerk_id)
        try:
            effect = next(plan)
        except StopIteration:
            return  # no shared level
        plan.close()
        assert isinstance(effect, SharedDelete)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                sync_backend(self._setup.backend).delete(effect.key)
            except CacheUnavailable:
                pass
            return
        task = loop.create_task(self._shared_delete(effect.key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shared_delete(self, key: str) -> None:
        await self.perform(SharedDelete(key))

    async def aclose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        aclose = getattr(self.shared, "aclose", None)
        if self._setup.owned and callable(aclose):
            await aclose()
        self._setup.close()
        await self.client.aclose()
