"""What the resolver decided about a request.

Five outcomes, one meaning each; the refusal rules turn them into responses. Reasons are
short codes for logs and metrics and never carry token text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from focus_middleware.models import FocusAccount

CredentialSource = Literal["bearer", "app_cookie", "clerk_cookie", "return_trip", "refresh"]
CredentialKind = Literal["session", "pat"]


def token_hash(token: str) -> str:
    """The only form in which a token may be used as a key or mentioned anywhere."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential that proved who the user is; paid jobs are settled with it."""

    kind: CredentialKind
    source: CredentialSource
    token: str = field(repr=False)
    expires_at: float | None = None

    @property
    def hash(self) -> str:
        return token_hash(self.token)


@dataclass(frozen=True, slots=True)
class Authenticated:
    account: FocusAccount
    credential: Credential


@dataclass(frozen=True, slots=True)
class Anonymous:
    """No credential at all."""


@dataclass(frozen=True, slots=True)
class Expired:
    """Only genuine but expired session tokens: a browser is bounced to refresh them."""

    source: CredentialSource


@dataclass(frozen=True, slots=True)
class Rejected:
    """A forged, malformed or refused credential."""

    reason: str
    source: CredentialSource
    presented: bool = True


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Focus could not be asked and nothing cached answers: neither signed in nor out."""

    reason: str
    retry_after: int = 5


Outcome: TypeAlias = Authenticated | Anonymous | Expired | Rejected | Unavailable
ANONYMOUS = Anonymous()
