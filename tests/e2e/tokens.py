"""What is inside the app's session cookie, read the way a test may read it: the JWT's
payload decoded without verification (the app verified it when it set the cookie; the
test only asks which claims the browser is carrying)."""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

SESSION_COOKIE = "focus_session"  # the app's cookie on plain http (focus_middleware.sessions)
_JWT = re.compile(r"eyJ[\w-]+\.(eyJ[\w-]+)\.[\w-]+")


def session_cookie(page: Page, app_url: str) -> str | None:
    cookies = {c["name"]: c["value"] for c in page.context.cookies(app_url)}
    return cookies.get(SESSION_COOKIE)


def session_token(page: Page, app_url: str) -> str:
    """The session JWT the browser holds for ``app_url`` (the cookie may wrap it)."""
    cookie = session_cookie(page, app_url)
    assert cookie is not None, f"no {SESSION_COOKIE} cookie for {app_url}"
    found = _JWT.search(cookie)
    assert found is not None, "no session JWT in the app's cookie"
    return found.group(0)


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def session_claims(page: Page, app_url: str) -> dict[str, Any]:
    return claims(session_token(page, app_url))
