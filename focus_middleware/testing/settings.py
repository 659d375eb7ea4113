"""What an emulator is configured with, in one frozen value shared by its parts."""

from __future__ import annotations

from dataclasses import dataclass, field

from focus_middleware.testing.claims import TOKEN_VERSIONS, TokenVersion
from focus_middleware.testing.origins import Origins

SESSION_CATEGORY = "cl_B7d4PD111AAA"
"""The ``cat`` header Clerk puts on session tokens (other categories are other tokens)."""
DAY = 24 * 3600.0


@dataclass(frozen=True)
class EmulatorSettings:
    token_lifetime: float = 60.0
    """Seconds a session JWT lives (Clerk: about 60)."""
    origins: Origins = field(default_factory=Origins)
    """Where sign-in may return to and who gets credentialed CORS answers (the
    emulator's own origin is always added)."""
    session_category: str | None = SESSION_CATEGORY
    """The ``cat`` header of tokens the server mints; None leaves it out."""
    token_version: TokenVersion = 2
    """The session-token claims version (Clerk's v2 is the default since 2025-04-14; v1
    has ``org_*`` claims instead of ``o``, and no ``v``, ``jti``, ``pla``, ``fea``,
    ``sts``)."""
    session_token_azp: bool = True
    """Whether ``/api/sessionToken`` stamps ``azp`` (the emulator's own origin: the token
    is minted on Focus's site). False mints without it, as Clerk does when the request's
    Origin is empty or null."""
    session_cookie_domain: str | None = None
    """If set, sign-in also sets Clerk's ``__session`` cookie (the session JWT) on this
    parent domain, as Clerk does for apps on ``*.thefocus.ai``."""
    signin_lifetime: float = 30 * DAY
    """How long a browser stays signed in to the emulator."""
    stale_job_age: float = DAY
    """A job still ``started`` after this long is failed with refund."""
    device_interval: int = 5
    device_expires_in: int = 900
    code_attempts: int = 5
    """Wrong device codes allowed per sign-in session and per client address ..."""
    code_window: float = 60.0
    """... within this many seconds."""

    def __post_init__(self) -> None:
        if self.token_lifetime <= 0 or self.signin_lifetime <= 0 or self.stale_job_age <= 0:
            raise ValueError("lifetimes and stale_job_age must be positive")
        if self.token_version not in TOKEN_VERSIONS:
            raise ValueError("token_version must be 1 or 2")
