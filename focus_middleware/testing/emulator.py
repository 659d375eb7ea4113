"""``FocusEmulator``: the Python handle on a running emulator, for tests, demos, benchmarks.

It wires the parts (store, issuer, API app, fault middleware), serves them with uvicorn in
a daemon thread on a socket it binds itself (so the URL, and with it the ``iss`` claim, is
known before the first request), and offers the operations a test needs that the HTTP
contract does not: create users and apps, set balances, mint tokens of any shape, sign a
browser in (``user.signin_cookie()``), connect OAuth providers, rotate keys, audit the
books, count calls and inject faults (an error status, latency before the handler, a
response held after it, the JWKS down).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.types import ASGIApp

from focus_middleware.clock import Clock, SystemClock
from focus_middleware.testing.app import build_app, endpoint_namer, endpoint_names
from focus_middleware.testing.auth import session_headers
from focus_middleware.testing.claims import OrgMembership, SessionHolder, TokenVersion
from focus_middleware.testing.cors import CORSMiddleware
from focus_middleware.testing.credentials import (
    clerk_like_id,
    new_pat,
    new_secret,
    token_hash,
)
from focus_middleware.testing.faults import FaultMiddleware, Faults, InjectedFailure
from focus_middleware.testing.inputs import presented_token, slug_value
from focus_middleware.testing.issuer import Issuer, KeyChoice
from focus_middleware.testing.origins import Origins
from focus_middleware.testing.settings import SESSION_CATEGORY, EmulatorSettings
from focus_middleware.testing.sweeper import StaleJobSweeper, SweepMiddleware
from focus_middleware.testing.store import (
    DEFAULT_STARTER_CREDITS,
    MEMORY,
    STATUSES,
    Account,
    Store,
)

JWKS_ENDPOINT = "GET /.well-known/jwks.json"
DAY = 24 * 3600.0


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server runs so the URL is known up front.

    The protocol is spelled out: asyncio only sets TCP_NODELAY on accepted sockets whose
    ``proto`` is IPPROTO_TCP, and ``socket.create_server`` leaves it 0, which costs every
    response a 40 ms Nagle/delayed-ACK stall.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _PromptServer(uvicorn.Server):
    """uvicorn, noticing a stop request within 10 ms instead of 100 ms.

    A test suite starts and stops an emulator per test; uvicorn's own loop (the same
    ticks, slower) would add most of a tenth of a second to every teardown.
    """

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)


class _ServerThread:
    """uvicorn serving one ASGI app on an already-bound socket, in a daemon thread.

    uvicorn installs signal handlers only in the main thread, so Ctrl-C stays with the
    host program; ``stop`` asks the server to exit and joins it.
    """

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            log_config=None,  # leave the host program's logging alone
            access_log=False,  # access lines would carry query strings
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = _PromptServer(config)
        self._sock = sock
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="focus-emulator", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # uvicorn reports startup failures with SystemExit
            self._error = exc

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Focus emulator's server did not start") from self._error
            time.sleep(0.002)

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()


@dataclass(frozen=True)
class EmulatedUser:
    """A user of the emulator, with what a test does as or to them."""

    clerk_id: str
    account_id: str
    email: str | None
    session_id: str = field(repr=False)
    """The user's sign-in session: the ``sid`` claim of the tokens minted here. It is not a
    credential (the sign-in cookie holds a separate secret: see ``signin_cookie``)."""
    _emulator: FocusEmulator = field(repr=False, compare=False)

    def session_jwt(
        self,
        lifetime: float | None = None,
        azp: str | None = None,
        headers: dict[str, Any] | None = None,
        key: KeyChoice = "current",
        *,
        claims: Mapping[str, Any] | None = None,
        version: TokenVersion | None = None,
        **more_claims: Any,
    ) -> str:
        """A session JWT as Clerk would mint it (the emulator's claims version, v2 by
        default, the session ``cat`` header; ``azp`` only when given), or bent:
        ``claims`` and keyword claims override or add claims (None removes one; the
        mapping also reaches claims named like a parameter), ``headers`` the JWT header,
        ``version`` picks v1 or v2 for this token, ``key="foreign"`` signs with a key the
        JWKS does not hold (under the current ``kid``)."""
        overrides = {**(claims or {}), **more_claims}
        return self._emulator._mint(self, lifetime, azp, headers, key, overrides, version)

    @property
    def organization(self) -> OrgMembership | None:
        """The active organisation the user's session tokens carry."""
        return self._emulator._store.account(self.account_id).organization

    def pat(self) -> str:
        """A new personal access token (only its hash is stored), valid 90 days."""
        return self._emulator._new_pat(self)

    def revoke_pats(self) -> None:
        self._emulator._store.revoke_pats(self.account_id)

    def signin_cookie(self) -> str:
        """Sign this user in as a browser would: a new sign-in session, whose secret (the
        value of the ``focus_emulator_signin`` cookie) is returned and stored only hashed."""
        return self._emulator._sign_in(self)

    def connect_oauth(self, provider: str, token: str | None = None) -> str:
        """Connect an OAuth provider (``"x"`` for X) with ``token``, or a made-up one;
        returns the token ``/api/oauthToken/{provider}`` will hand out."""
        return self._emulator._connect_oauth(self, provider, token)

    @property
    def credits(self) -> int:
        self._emulator._sweeper.sweep()
        return self._emulator._store.account(self.account_id).credits


class FocusEmulator:
    """A local Focus account service over real HTTP; see the module docstring."""

    def __init__(
        self,
        db: str | Path = MEMORY,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: float = 60.0,
        *,
        allowed_origins: Iterable[str] = (),
        session_cookie_domain: str | None = None,
        session_category: str | None = SESSION_CATEGORY,
        token_version: TokenVersion = 2,
        session_token_azp: bool = True,
        clock_skew: float = 5.0,
        stale_job_age: float = DAY,
        device_interval: int = 5,
        device_expires_in: int = 900,
        code_attempts: int = 5,
        code_window: float = 60.0,
    ) -> None:
        """``allowed_origins`` are trusted besides loopback (any port) for ``redirect_to``
        and CORS; ``session_cookie_domain`` makes sign-in also set Clerk's ``__session`` on
        that parent domain; ``session_category`` is the ``cat`` header of session tokens
        (None: none); ``token_version`` their claims (Clerk's v2, or v1);
        ``session_token_azp=False`` makes ``/api/sessionToken`` mint without ``azp``;
        ``clock_skew`` is the leeway on JWT times and how far ``nbf`` is set back before
        ``iat`` (Clerk's "Allowed Clock Skew"); jobs still started
        after ``stale_job_age`` seconds are failed with refund; device codes poll every
        ``device_interval`` s and expire after ``device_expires_in`` s; ``code_attempts``
        wrong codes per ``code_window`` s are allowed per session and per address."""
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.token_lifetime = token_lifetime
        self.settings = EmulatorSettings(
            token_lifetime=token_lifetime,
            origins=Origins.of(allowed_origins),
            session_category=session_category,
            token_version=token_version,
            session_token_azp=session_token_azp,
            session_cookie_domain=session_cookie_domain,
            stale_job_age=stale_job_age,
            device_interval=device_interval,
            device_expires_in=device_expires_in,
            code_attempts=code_attempts,
            code_window=code_window,
        )
        self._host = host
        self._port = port
        self._store = Store(db, self.clock)
        self._issuer = Issuer(self._store, self.clock, leeway=clock_skew)
        self._faults = Faults()
        self._sweeper = StaleJobSweeper(self._store, self.clock, stale_job_age)
        app = build_app(self._store, self._issuer, self.settings, self.clock)
        self._endpoints = endpoint_names(app.routes)
        counted = FaultMiddleware(
            SweepMiddleware(app, self._sweeper),
            self._faults,
            endpoint_namer(app.routes),
            presented_token,
        )
        self._app = CORSMiddleware(counted, self.settings.origins)
        self._server: _ServerThread | None = None
        self._url: str | None = None
        self._stopped = False

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Serve in a background thread; returns once connections are accepted."""
        if self._server is not None or self._stopped:
            raise RuntimeError("an emulator starts once")
        # "localhost" may resolve to two addresses; bind one, advertise the name.
        bind_host = "127.0.0.1" if self._host == "localhost" else self._host
        sock = _bind(bind_host, self._port)
        port = sock.getsockname()[1]
        self._url = f"http://{_url_host(self._host)}:{port}"
        self._issuer.url = self._url
        self._server = _ServerThread(self._app, sock)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the store (an in-memory store is gone after this)."""
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.stop()
        self._store.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FocusEmulator(url={self._url!r})"

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    @property
    def endpoints(self) -> frozenset[str]:
        """The endpoint names that ``calls``, ``fail_next`` and ``set_latency`` take."""
        return self._endpoints

    # -- users, apps, credits ---------------------------------------------------------

    def create_app(self, slug: str, starter_credits: int = DEFAULT_STARTER_CREDITS) -> None:
        """Create an app, or change its starter credits (later grants use the new value)."""
        self._store.create_app(slug_value(slug), starter_credits)

    def create_user(
        self,
        credits: int = 0,
        clerk_id: str | None = None,
        email: str | None = None,
        plan: str = "free",
        name: str | None = None,
        organization: OrgMembership | Mapping[str, Any] | None = None,
    ) -> EmulatedUser:
        """A new user with an open session (``user.session_id``). ``organization`` makes
        them a member of an active organisation, which their tokens carry: an
        ``OrgMembership`` or a mapping of its fields, e.g. ``{"id": "org_2abc", "slug":
        "acme", "role": "org:admin", "permissions": ["org:reports:read"]}``."""
        clerk_id = clerk_id or clerk_like_id("user")
        email = email or f"{clerk_id.lower()}@example.test"
        org = None if organization is None else OrgMembership.of(organization)
        account = self._store.create_account(clerk_id, email, plan, credits, name, org)
        session_id = clerk_like_id("sess")
        self._store.create_session(account.id, session_id)
        return self._user(account, session_id)

    def find_user(
        self, clerk_id: str | None = None, *, email: str | None = None
    ) -> EmulatedUser | None:
        """A user already in the store (a persistent one, one a JWT created, or one who
        signed in on the page), by Clerk id or by email."""
        if (clerk_id is None) == (email is None):
            raise ValueError("give clerk_id or email")
        if clerk_id is not None:
            account = self._store.find_account(clerk_id)
        else:
            assert email is not None
            account = self._store.account_by_email(email)
        if account is None:
            return None
        session_id = self._store.first_session(account.id)
        if session_id is None:
            session_id = clerk_like_id("sess")
            self._store.create_session(account.id, session_id)
        return self._user(account, session_id)

    def _user(self, account: Account, session_id: str) -> EmulatedUser:
        return EmulatedUser(account.clerk_id, account.id, account.email, session_id, self)

    def set_organization(
        self, user: EmulatedUser, organization: OrgMembership | Mapping[str, Any] | None
    ) -> None:
        """Make ``organization`` the user's active one (None: none), as switching the
        active organisation in Clerk does; tokens minted from now on carry it."""
        org = None if organization is None else OrgMembership.of(organization)
        self._store.set_organization(user.account_id, org)

    def set_credits(self, user: EmulatedUser, credits: int) -> None:
        self._store.set_credits(user.account_id, credits)

    def add_credits(self, user: EmulatedUser, credits: int) -> None:
        """Add (a ``purchase``) or, if negative, take away (an ``adjust``) credits."""
        self._store.add_credits(user.account_id, credits, "purchase" if credits > 0 else "adjust")

    def jobs(self, user: EmulatedUser, status: str | None = None) -> list[dict[str, Any]]:
        """The user's jobs, newest first, as ``GET /api/jobs`` shows them."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        self._sweeper.sweep()
        return self._store.jobs(user.account_id, None, status, limit=-1)

    def ledger(self, user: EmulatedUser) -> list[dict[str, Any]]:
        """The user's ledger rows, oldest first (stale reservations released first, as
        the service would have by now)."""
        self._sweeper.sweep()
        return self._store.ledger(user.account_id)

    def check_books(self) -> None:
        """Raise AssertionError naming each account whose books do not balance."""
        errors = self._store.book_errors()
        if errors:
            raise AssertionError("the emulator's books do not balance:\n" + "\n".join(errors))

    def release_stale_jobs(self, max_age: float | None = None) -> int:
        """Fail with refund the jobs started more than ``max_age`` seconds ago (default:
        ``stale_job_age``) by the emulator's clock, now; returns how many. (This happens
        by itself before each request; this is for a test that wants it at once.)"""
        return self._store.release_stale(self.settings.stale_job_age if max_age is None else max_age)

    # -- tokens -----------------------------------------------------------------------

    def _mint(
        self,
        user: EmulatedUser,
        lifetime: float | None,
        azp: str | None,
        headers: dict[str, Any] | None,
        key: KeyChoice,
        claims: dict[str, Any],
        version: TokenVersion | None,
    ) -> str:
        if lifetime is None:
            lifetime = self.token_lifetime
        found = self._store.session_holder(user.session_id)
        signed_in_at, account = found if found is not None else (None, None)
        holder = SessionHolder(
            user.clerk_id,
            user.session_id,
            "free" if account is None else account.plan,
            None if account is None else account.organization,
            signed_in_at,
        )
        base = self._issuer.session_claims(
            holder, lifetime, azp, self.settings.token_version if version is None else version
        )
        header = {**session_headers(self.settings), **(headers or {})}
        return self._issuer.mint({**base, **claims}, header, key)

    def _new_pat(self, user: EmulatedUser) -> str:
        token = new_pat()
        self._store.add_pat(user.account_id, token_hash(token))
        return token

    def _sign_in(self, user: EmulatedUser) -> str:
        secret = new_secret()
        self._store.create_session(user.account_id, clerk_like_id("sess"), token_hash(secret))
        return secret

    def _connect_oauth(self, user: EmulatedUser, provider: str, token: str | None) -> str:
        provider = slug_value(provider, "provider").lower()
        token = token or f"emu_{provider}_{new_secret()}"
        self._store.connect_oauth(user.account_id, provider, token)
        return token

    def rotate_keys(self, grace: float = 3600.0) -> None:
        """A new key signs from now; the old one stays in the JWKS ``grace`` seconds."""
        self._issuer.rotate(grace)

    # -- counters and faults ----------------------------------------------------------

    def _known(self, endpoint: str) -> str:
        if endpoint not in self._endpoints:
            known = ", ".join(sorted(self._endpoints))
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {known}")
        return endpoint

    def calls(self, endpoint: str, credential: str | None = None) -> int:
        """Calls of ``endpoint`` made with the raw token ``credential`` (hashed here),
        or with any credential if None."""
        return self._faults.calls(self._known(endpoint), credential)

    def reset_calls(self) -> None:
        self._faults.reset_calls()

    def fail_next(
        self,
        endpoint: str,
        status: int,
        times: int = 1,
        body: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``endpoint`` answer ``status`` (with ``body``, or a
        default JSON error, and ``Retry-After`` when given) instead of the real answer."""
        if not 100 <= status <= 599 or times < 1:
            raise ValueError("status must be an HTTP status and times at least 1")
        failure = InjectedFailure(status, body, retry_after)
        self._faults.fail_next(self._known(endpoint), failure, times)

    def set_latency(self, seconds: float, endpoint: str | None = None) -> None:
        """Delay every call of ``endpoint`` (of all endpoints if None) by ``seconds``;
        0 removes the delay."""
        self._faults.set_latency(seconds, None if endpoint is None else self._known(endpoint))

    def set_response_delay(self, seconds: float, endpoint: str | None = None) -> None:
        """Hold the answer of ``endpoint`` (of all endpoints if None) ``seconds`` after its
        handler has run: the call takes effect upstream and its answer arrives late, or
        never for a client whose timeout is shorter ("applied upstream, answer lost").
        0 removes the delay."""
        self._faults.set_response_delay(
            seconds, None if endpoint is None else self._known(endpoint)
        )

    def set_jwks_down(self, down: bool) -> None:
        """While down, the JWKS endpoint answers 503."""
        self._faults.set_down(JWKS_ENDPOINT, down)

    def clear_faults(self) -> None:
        """Remove planned failures, latencies, response delays and downtime (counters
        are kept)."""
        self._faults.clear()
