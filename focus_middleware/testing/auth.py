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
from typing import Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from focus_middleware.testing.credentials import PAT_PREFIX, token_hash
from focus_middleware.testing.inputs import ApiError, bearer_token, session_cookie
from focus_middleware.testing.issuer import InvalidToken, Issuer
from focus_middleware.testing.settings import EmulatorSettings
from focus_middleware.testing.store import Account, Store

SIGNIN_COOKIE = "focus_emulator_signin"

Via = Literal["pat", "jwt", "signin"]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the account, how it authenticated, and its session id
    (None for a PAT)."""

    account: Account
    via: Via
    session_id: str | None


class Authenticator:
    def __init__(self, store: Store, issuer: Issuer, settings: EmulatorSettings) -> None:
        self.store = store
        self.issuer = issuer
        self.settings = settings

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
        session_id, account = found
        return Caller(account, "signin", session_id)


def mint_session_token(
    issuer: Issuer, settings: EmulatorSettings, caller: Caller, azp: str | None
) -> str:
    """A fresh Clerk-like session JWT for a signed-in browser: Clerk's claims, ``azp`` the
    origin it is minted for, and the session category header."""
    assert caller.session_id is not None
    claims = issuer.session_claims(
        caller.account.clerk_id, caller.session_id, settings.token_lifetime, azp
    )
    category = settings.session_category
    return issuer.mint(claims, None if category is None else {"cat": category})
