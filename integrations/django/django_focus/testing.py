"""Testing a Django project's Focus views offline, against the emulator.

::

    from focus_middleware.testing import FocusEmulator
    from django_focus.testing import emulator_settings, force_focus_login

    def test_render(client, settings, focus_emulator):
        settings.FOCUS = emulator_settings(focus_emulator, app="video")
        user = focus_emulator.create_user(credits=10)
        force_focus_login(client, user)
        assert client.post("/render/").status_code == 200
        focus_emulator.check_books()

``force_focus_login`` signs a Django test client (``Client`` or ``AsyncClient``) in as an
emulated user the way a browser is after sign-in: a real session JWT minted by the
emulator in the app's session cookie (or, with ``pat=True``, a real PAT as a bearer
header). Nothing is mocked, so the middleware, the guards and the ledger behave as they
will in production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from focus_middleware.sessions import session_cookie_name

from django_focus.conf import config_from_settings

if TYPE_CHECKING:
    from http.cookies import SimpleCookie

    from focus_middleware.testing import EmulatedUser, FocusEmulator


class _TestClient(Protocol):
    cookies: SimpleCookie
    defaults: dict[str, Any]


def emulator_settings(emulator: FocusEmulator, **extra: Any) -> dict[str, Any]:
    """A ``FOCUS`` setting pointed at ``emulator`` (its API and its issuer); ``extra``
    adds or overrides keys (``app``, ``public_origin``, ``clock``...)."""
    return {"api_url": emulator.url, "issuer": emulator.issuer, **extra}


def force_focus_login(client: _TestClient, user: EmulatedUser, *, pat: bool = False, lifetime: float | None = None) -> str:
    """Sign ``client`` in as ``user``; returns the token it now carries.

    The session JWT is minted for the app's authorized party (its public origin) and
    lives ``lifetime`` seconds (default: the emulator's). ``pat=True`` sends a new PAT as
    ``Authorization: Bearer`` on every request instead, as an API client would.
    """
    config = config_from_settings()
    if pat:
        token = user.pat()
        client.defaults[_authorization_key(client)] = f"Bearer {token}"
        return token
    parties = config.authorized_parties or ()
    token = user.session_jwt(lifetime=lifetime, azp=parties[0] if parties else None)
    client.cookies[session_cookie_name(config)] = token
    return token


def _authorization_key(client: _TestClient) -> str:
    # Client's defaults are WSGI environ keys; AsyncClient's become ASGI header names.
    from django.test.client import AsyncRequestFactory

    return "AUTHORIZATION" if isinstance(client, AsyncRequestFactory) else "HTTP_AUTHORIZATION"


def focus_logout(client: _TestClient) -> None:
    """Forget what :func:`force_focus_login` gave ``client``."""
    client.defaults.pop(_authorization_key(client), None)
    name = session_cookie_name(config_from_settings())
    if name in client.cookies:
        del client.cookies[name]


__all__ = ["emulator_settings", "focus_logout", "force_focus_login"]
