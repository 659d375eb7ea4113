"""OAuth helpers: the provider tokens Clerk keeps for a user, and X's ``users/me``.

Tokens are emulated: ``user.connect_oauth("x")`` stores one; ``/api/xToken`` and
``/api/oauthToken/{provider}`` hand it to the user's own credential; ``/api/xMe`` answers
for an emulated X token with a fake X user (Twitter API v2's shape), without leaving the
machine, so an app's X integration can be exercised offline.
"""

from __future__ import annotations

import hashlib
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from focus_middleware.testing.auth import Authenticator
from focus_middleware.testing.inputs import ApiError, bearer_token, slug_value
from focus_middleware.testing.store import Account

X_PROVIDER = "x"


def x_user(account: Account) -> dict[str, str]:
    """A stable fake X user for an account: numeric id, name, handle."""
    digest = hashlib.sha256(account.id.encode()).hexdigest()
    handle_source = (account.email or account.clerk_id).split("@")[0]
    handle = re.sub(r"[^A-Za-z0-9_]", "_", handle_source)[:15] or "focus_user"
    return {
        "id": str(int(digest[:15], 16)),
        "name": account.display_name[:50],
        "username": handle,
    }


class OAuthAPI:
    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    async def _token(self, request: Request, provider: str) -> Response:
        caller = await self.auth.api_caller(request)
        token = await run_in_threadpool(self.auth.store.oauth_token, caller.account.id, provider)
        if token is None:
            raise ApiError(
                404,
                "not_connected",
                f"the user has not connected {provider}",
                provider=provider,
            )
        return JSONResponse(
            {"provider": provider, "token": token}, headers={"Cache-Control": "no-store"}
        )

    async def x_token(self, request: Request) -> Response:
        return await self._token(request, X_PROVIDER)

    async def oauth_token(self, request: Request) -> Response:
        provider = slug_value(request.path_params["provider"], "provider")
        return await self._token(request, provider.lower())

    async def x_me(self, request: Request) -> Response:
        token = bearer_token(request.headers)
        account = None
        if token is not None:
            account = await run_in_threadpool(self.auth.store.oauth_account, X_PROVIDER, token)
        if account is None:
            raise ApiError(
                401,
                "unauthorized",
                "an X access token of a connected user is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return JSONResponse({"data": x_user(account)})
