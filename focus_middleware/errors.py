"""One family of errors for everything that can go wrong talking to Focus.

Callers branch on the class, never on a message: :class:`UnauthorizedError` becomes a
sign-in redirect or a 401, :class:`InsufficientCreditsError` a purchase prompt,
:class:`UnavailableError` and :class:`RateLimitedError` a 503 with ``Retry-After``.

No message, repr or attribute here ever holds a token, a cookie or an ``Authorization``
value: errors end up in logs and error trackers. Response bodies are kept (they help when
the real service differs from the contract) but with secret-looking fields redacted, and
they are never part of the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Keys whose values are secrets in any Focus or OAuth body; matched case-insensitively.
_SECRET_KEYS = frozenset(
    {
        "token",
        "access_token",
        "accesstoken",
        "refresh_token",
        "id_token",
        "device_code",
        "pat",
        "authorization",
        "cookie",
        "set-cookie",
        "secret",
        "client_secret",
        "password",
        "session",
        "__session",
    }
)
_MAX_TEXT_BODY = 2000
_MAX_DEPTH = 8


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of a JSON value with every secret-looking field replaced by ``[redacted]``."""
    if _depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if str(k).lower() in _SECRET_KEYS else redact(v, _depth + 1) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str) and len(value) > _MAX_TEXT_BODY:
        return value[:_MAX_TEXT_BODY] + "…"
    return value


def _error_code(body: Any) -> str | None:
    """The service's short ``error`` code, if the body has a plausible one."""
    if isinstance(body, Mapping):
        code = body.get("error")
        if isinstance(code, str) and 0 < len(code) <= 64 and code.replace("_", "").replace("-", "").isalnum():
            return code
    return None


class FocusError(Exception):
    """Base of every error this library raises about the Focus service."""


class PayloadError(FocusError, ValueError):
    """A JSON document does not have the shape a model needs (the client turns this into a
    :class:`FocusAPIError` carrying the HTTP status)."""


class FocusAPIError(FocusError):
    """The service answered with a status this call cannot use.

    ``body`` is the decoded JSON (or up to 2000 characters of text) with secret-looking
    fields redacted; ``error`` is the body's short ``error`` code when it has one.
    """

    def __init__(self, status: int, body: Any = None, message: str | None = None) -> None:
        self.status = status
        self.body = redact(body)
        self.error = _error_code(body)
        if message is None:
            message = f"Focus answered {status}" + (f" ({self.error})" if self.error else "")
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, error={self.error!r})"


class UnauthorizedError(FocusAPIError):
    """401: the credential is missing, invalid, expired or revoked.

    ``signin_url`` is where a browser should go: the service's own suggestion when it sent
    one, else the configured sign-in page.
    """

    def __init__(self, signin_url: str | None = None, body: Any = None, status: int = 401) -> None:
        super().__init__(status, body, "Focus refused the credential (401)")
        self.signin_url = signin_url

    def __repr__(self) -> str:
        return f"UnauthorizedError(signin_url={self.signin_url!r})"


class InsufficientCreditsError(FocusAPIError):
    """402: the wallet cannot cover the reservation. Everything a purchase prompt needs."""

    def __init__(
        self,
        required: int | None = None,
        available: int | None = None,
        action: str | None = None,
        purchase_url: str | None = None,
        body: Any = None,
        status: int = 402,
    ) -> None:
        detail = ", ".join(
            f"{name} {value}" for name, value in (("required", required), ("available", available)) if value is not None
        )
        super().__init__(status, body, "insufficient credits" + (f" ({detail})" if detail else ""))
        self.required = required
        self.available = available
        self.action = action
        self.purchase_url = purchase_url

    def __repr__(self) -> str:
        return (
            f"InsufficientCreditsError(required={self.required!r}, available={self.available!r}, "
            f"action={self.action!r})"
        )


class RateLimitedError(FocusAPIError):
    """429: the service asked us to slow down; ``retry_after`` seconds when it said."""

    def __init__(self, retry_after: float | None = None, body: Any = None, status: int = 429) -> None:
        suffix = f", retry after {retry_after:g}s" if retry_after is not None else ""
        super().__init__(status, body, f"Focus rate-limited the call{suffix}")
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"RateLimitedError(retry_after={self.retry_after!r})"


class NotFoundError(FocusAPIError):
    """404: no such job (or one that belongs to another account), or an unknown endpoint."""


class ConflictError(FocusAPIError):
    """409: the job was already settled differently."""


class UnavailableError(FocusError):
    """Focus could not give an answer: timeout, refused or dropped connection, 5xx.

    ``status`` is the HTTP status for a 5xx, None for transport failures.
    ``ambiguous`` is True when the request may have reached the service and been applied
    (a timeout after sending, a dropped connection, a 5xx): a state-changing call must
    then be checked before it is repeated. ``retry_after`` is the service's hint, if any.
    """

    def __init__(
        self,
        message: str = "Focus is unavailable",
        *,
        status: int | None = None,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.ambiguous = ambiguous
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"UnavailableError({str(self)!r}, status={self.status!r}, ambiguous={self.ambiguous})"


__all__ = [
    "ConflictError",
    "FocusAPIError",
    "FocusError",
    "InsufficientCreditsError",
    "NotFoundError",
    "PayloadError",
    "RateLimitedError",
    "UnauthorizedError",
    "UnavailableError",
    "redact",
]
