"""Who is calling: a bearer JWT or PAT, Clerk's ``__session`` cookie, or the emulator's
own sign-in cookie.

Two different things are authenticated here, and kept apart:

- **API credentials** (bearer session JWT or PAT, or the ``__session`` JWT cookie): what
  apps send to ``/api/*``, exactly as the real service accepts them.
- **The sign-in session** (``focus_emulator_signin``): the emulator's own long-lived
  cookie, playing Clerk's session on its own domain. It holds a random secret whose hash
  is stored; the session id (``sid``) is never a credential, since every JWT carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from focus_middleware.testing.claims import SessionHolder
from focus_middleware.testing.credentials import PAT_PREFIX, token_hash
from focus_middleware.testing.inputs import ApiError, bearer_token, session_cookie
from focus_middleware.testing.issuer import InvalidToken, Issuer
from focus_middleware.testing.settings import EmulatorSettings
from focus_middleware.testing.store import Account, Store

SIGNIN_COOKIE = "focus_emulator_signin"

Via = Literal["pat", "jwt", "signin"]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the account, how it authenticated, its session id (None
    for a PAT) and, for a browser's sign-in session, when it signed in (for ``fva``)."""

    account: Account
    via: Via
    session_id: str | None
    signed_in_at: float | None = None


class Authenticator:
    def __init__(self, store: Store, issuer: Issuer, settings: EmulatorSettings) -> None:
        self.store = store
        self.issuer = issuer
        self.settings = settings

    @property
    def issuer_url(self) -> str:
        """The emulator's own URL (its origin), once it is started."""
        url = self.issuer.url
        if url is None:
            raise RuntimeError("the emulator is not started")
        return url

    @property
    def signin_url(self) -> str:
        return f"{self.issuer.url}/signin"

    def unauthorized(self, token_presented: bool, message: str | None = None) -> ApiError:
        challenge = 'Bearer error="invalid_token"' if token_presented else "Bearer"
        return ApiError(
            401,
            "unauthorized",
            message or "a valid session token or personal access token is required",
            headers={"WWW-Authenticate": challenge},
            signin_url=self.signin_url,
        )

    async def api_caller(self, request: Request) -> Caller:
        """The caller of an API endpoint (bearer first, then ``__session``), or 401."""
        bearer = bearer_token(request.headers)
        token = bearer or session_cookie(request.headers)
        if token is None:
            raise self.unauthorized(token_presented=False)
        caller = await run_in_threadpool(self._caller_for, token, bearer is not None)
        if caller is None:
            raise self.unauthorized(token_presented=True)
        return caller

    def _caller_for(self, token: str, is_bearer: bool) -> Caller | None:
        if is_bearer and token.startswith(PAT_PREFIX):
            account = self.store.pat_account(token_hash(token))
            return None if account is None else Caller(account, "pat", None)
        try:
            claims = self.issuer.verify(token)
        except InvalidToken:
            return None
        sid = claims.get("sid")
        account = self.store.upsert_account(claims["sub"])
        return Caller(account, "jwt", sid if isinstance(sid, str) else None)

    async def signed_in(self, request: Request) -> Caller | None:
        """The browser's sign-in session, from the emulator's own cookie."""
        secret = request.cookies.get(SIGNIN_COOKIE)
        if not secret:
            return None
        found = await run_in_threadpool(
            self.store.signin_session, token_hash(secret), self.settings.signin_lifetime
        )
        if found is None:
            return None
        session_id, signed_in_at, account = found
        return Caller(account, "signin", session_id, signed_in_at)


def mint_session_token(
    issuer: Issuer, settings: EmulatorSettings, caller: Caller, azp: str | None
) -> str:
    """A fresh session JWT for a signed-in browser, as Clerk mints it: the configured
    claims version, ``azp`` the Origin of the page that asked (None: left out), and the
    session category header."""
    assert caller.session_id is not None
    account = caller.account
    holder = SessionHolder(
        account.clerk_id, caller.session_id, account.plan, account.organization, caller.signed_in_at
    )
    claims = issuer.session_claims(holder, settings.token_lifetime, azp, settings.token_version)
    return issuer.mint(claims, session_headers(settings))


def session_headers(settings: EmulatorSettings) -> dict[str, Any]:
    """The extra JWT header of a session token: Clerk's ``cat`` for its category
    (clerk/javascript packages/backend/src/tokens/jwtCategories.ts), unless turned off."""
    category = settings.session_category
    return {} if category is None else {"cat": category}
