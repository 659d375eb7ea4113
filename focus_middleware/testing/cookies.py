"""The cookies the emulator sets on browsers, with their attributes in one place.

- ``focus_emulator_signin``: the sign-in session's secret. HttpOnly, SameSite=Lax, long
  lived: a browser that comes back to ``/signin`` is sent straight back with a token.
- ``focus_emulator_csrf``: the token the emulator's forms echo back (double submit);
  HttpOnly and SameSite=Lax, so another site can neither read nor send it.
- ``__session`` on a configured parent domain (optional): Clerk's session JWT cookie, as
  apps on ``*.thefocus.ai`` receive it. Readable by scripts, as Clerk's is.
"""

from __future__ import annotations

from starlette.responses import Response

from focus_middleware.testing.auth import SIGNIN_COOKIE
from focus_middleware.testing.inputs import SESSION_COOKIE
from focus_middleware.testing.settings import EmulatorSettings

CSRF_COOKIE = "focus_emulator_csrf"
CSRF_LIFETIME = 24 * 3600


class Cookies:
    def __init__(self, settings: EmulatorSettings, secure: bool) -> None:
        self.settings = settings
        self.secure = secure

    def set_signin(self, response: Response, secret: str) -> None:
        response.set_cookie(
            SIGNIN_COOKIE,
            secret,
            max_age=int(self.settings.signin_lifetime),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear_signin(self, response: Response) -> None:
        response.delete_cookie(
            SIGNIN_COOKIE, path="/", secure=self.secure, httponly=True, samesite="lax"
        )

    def set_csrf(self, response: Response, token: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=CSRF_LIFETIME,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def set_clerk_session(self, response: Response, token: str) -> None:
        """Clerk's ``__session`` on the parent domain, if one is configured. Clerk sets it
        ``SameSite=None; Secure``; on plain http a browser would drop that, so Lax there."""
        domain = self.settings.session_cookie_domain
        if domain is None:
            return
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(self.settings.token_lifetime),
            path="/",
            domain=domain,
            secure=self.secure,
            httponly=False,
            samesite="none" if self.secure else "lax",
        )

    def clear_clerk_session(self, response: Response) -> None:
        domain = self.settings.session_cookie_domain
        if domain is not None:
            response.delete_cookie(
                SESSION_COOKIE,
                path="/",
                domain=domain,
                secure=self.secure,
                samesite="none" if self.secure else "lax",
            )
