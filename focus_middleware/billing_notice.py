""""Credits added": how the page a person lands on after buying credits knows it.

One mechanism with the fresh-balance rule (:func:`focus_middleware.sessions.billing_return`):
the 402's purchase link returns with ``focus_billed=1``; the 303 that drops the user's cached
wallet and takes the marker out of the address also sets this short-lived cookie, and the
landing page, whose account was just read from Focus, shows the new balance as a
confirmation when :func:`back_from_billing` says so.

The marker can be forged (it is a query parameter), so the notice says nothing a forger
could make false: it confirms the balance the page reads from Focus, never an amount. It
carries no token or id, only ``1``; it lives a minute (a reload within it shows the notice
again), and an app may drop it sooner with :func:`clear_notice_cookie`.
"""

from __future__ import annotations

from collections.abc import Mapping

NOTICE_COOKIE = "focus_billed"
SECURE_NOTICE_COOKIE = "__Host-focus_billed"
NOTICE_MAX_AGE = 60


def _cookie(secure: bool, value: str, max_age: int) -> str:
    name = SECURE_NOTICE_COOKIE if secure else NOTICE_COOKIE
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def notice_cookie(secure: bool) -> str:
    """The ``Set-Cookie`` value the billing return's 303 carries (``secure`` on https)."""
    return _cookie(secure, "1", NOTICE_MAX_AGE)


def clear_notice_cookie(secure: bool) -> str:
    """The ``Set-Cookie`` value that drops the notice once shown."""
    return _cookie(secure, "", 0)


def back_from_billing(cookies: Mapping[str, str]) -> bool:
    """Whether this request is the page a person landed on after buying credits (within
    a minute): show the account's balance as a confirmation."""
    return cookies.get(NOTICE_COOKIE) == "1" or cookies.get(SECURE_NOTICE_COOKIE) == "1"


__all__ = ["NOTICE_COOKIE", "NOTICE_MAX_AGE", "back_from_billing", "clear_notice_cookie", "notice_cookie"]
