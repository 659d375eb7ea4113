"""What the WSGI, Flask and Django fast-path tests present, spelled once: the credential
headers as a test client takes them, and the stand-in for a plan that must not run."""

from __future__ import annotations

from typing import Any

from focus_middleware.config import FocusConfig


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def cookie(config: FocusConfig, token: str) -> dict[str, str]:
    return {"cookie": f"theme=dark; {config.session_cookie}={token}"}


def no_plan(*args: object, **kwargs: object) -> Any:
    raise AssertionError("the full plan ran for a request the fast path should answer")
