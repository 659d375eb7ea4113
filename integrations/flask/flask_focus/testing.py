"""Test helpers: an app's own tests act as a signed-in Focus user, against the emulator.

::

    from focus_middleware.testing import FocusEmulator
    from flask_focus.testing import emulator_settings, login

    def test_render(focus_emulator, focus_user):          # the pytest plugin's fixtures
        app = create_app({**emulator_settings(focus_emulator), "FOCUS_APP": "video"})
        client = app.test_client()
        login(client, focus_user)                          # the app's session cookie
        assert client.post("/render").status_code == 200

``login`` puts a fresh session JWT of the user into the app's own session cookie, as the
sign-in return trip would; every guard, the refresh and the paid lifecycle then behave as
for a browser that signed in (the token lives as long as the emulator mints them).

A paid job is settled when the server closes the response body, having sent all of it.
Flask's test client does neither unless asked (``buffered=True``, or reading the body and
closing the response): :class:`FocusTestClient` buffers by default, as a server would, so
``app.test_client_class = FocusTestClient`` makes every paid request of a test settle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_focus.state import state_of

if TYPE_CHECKING:
    from focus_middleware.testing import EmulatedUser, FocusEmulator


class FocusTestClient(FlaskClient):
    """Flask's test client, reading each response body whole and closing it, as a server
    does (pass ``buffered=False`` to read a stream chunk by chunk)."""

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> TestResponse:
        response: TestResponse = super().open(*args, buffered=buffered, **kwargs)
        return response


def emulator_settings(emulator: FocusEmulator) -> dict[str, str]:
    """The ``FOCUS_*`` keys that point an app at ``emulator`` (JWTs verified locally)."""
    return {"FOCUS_API_URL": emulator.url, "FOCUS_ISSUER": emulator.issuer}


def _cookie_domain(client: FlaskClient) -> str:
    server_name = client.application.config.get("SERVER_NAME")
    return urlsplit(f"//{server_name}").hostname or "localhost" if server_name else "localhost"


def login(client: FlaskClient, user: EmulatedUser, *, lifetime: float | None = None) -> str:
    """Sign ``client`` in as ``user``: the app's session cookie holds a fresh session JWT
    (``azp`` = the app's public origin). Returns the token."""
    config = state_of(client.application).config
    azp = config.public_origin or (config.authorized_parties[0] if config.authorized_parties else None)
    token = user.session_jwt(lifetime=lifetime, azp=azp)
    assert config.session_cookie is not None
    client.set_cookie(config.session_cookie, token, domain=_cookie_domain(client))
    return token


def logout(client: FlaskClient) -> None:
    """Forget the app's session cookie."""
    config = state_of(client.application).config
    assert config.session_cookie is not None
    client.delete_cookie(config.session_cookie, domain=_cookie_domain(client))


__all__ = ["FocusTestClient", "emulator_settings", "login", "logout"]
