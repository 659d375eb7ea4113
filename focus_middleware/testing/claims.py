"""The claims of a session JWT as Clerk mints them: version 2 by default, version 1 on request.

The emulator exists so that apps are tested against what the real service hands them, so
the shapes follow Clerk's documentation, not our assumptions:

- https://clerk.com/docs/guides/sessions/session-tokens ("Default claims", both tabs):
  v2 carries ``azp exp fva iat iss jti nbf sid sub v pla fea sts``, ``o`` only with an
  active organisation and ``act`` only while impersonating; v1 carries
  ``azp exp fva iat iss nbf sid sub`` and ``org_id org_slug org_role org_permissions``.
  ``nbf`` is set back by the "Allowed Clock Skew" before ``iat``.
- clerk/javascript ``packages/shared/src/types/jwtv2.ts`` (the payload types) and
  ``packages/shared/src/jwtPayloadParser.ts`` (how Clerk's SDKs turn v2's compact ``o``
  back into v1's ``org_role``/``org_permissions``: the role gains ``org:``, and each
  feature's ``fpm`` bitmask selects from ``per``, bit 0 being the first permission).

An organisation membership is described once, in v1's terms (what an app reads), and
encoded for either version here, so a test sees the same membership through both.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TokenVersion = Literal[1, 2]
TOKEN_VERSIONS: tuple[TokenVersion, ...] = (1, 2)

_PERMISSION = re.compile(r"org:([A-Za-z0-9_\-]+):([A-Za-z0-9_\-]+)")
"""A v1 permission key, ``org:<feature>:<permission>``: the only shape v2's ``fea``/``per``/
``fpm`` triple can carry, so anything else is refused when the membership is made."""


@dataclass(frozen=True)
class OrgMembership:
    """A user's active organisation and their membership in it.

    ``role`` and ``permissions`` are in v1's (and Clerk's SDKs') spelling: ``org:admin``,
    ``org:<feature>:<permission>``. Clerk leaves system permissions (``org:sys_*``) out of
    session tokens; the emulator puts in exactly what is listed, so a faithful test lists
    only custom ones. ``plan`` is the organisation's plan, for v2's ``pla``.
    """

    id: str
    slug: str
    role: str = "org:member"
    permissions: tuple[str, ...] = field(default=())
    plan: str = "free"

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", tuple(self.permissions))
        for name in ("id", "slug", "role", "plan"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or "," in value:
                raise ValueError(f"organization {name} must be a non-empty string without commas")
        if not self.role.startswith("org:") or len(self.role) == len("org:"):
            raise ValueError("organization role must look like 'org:admin'")
        for permission in self.permissions:
            if not isinstance(permission, str) or not _PERMISSION.fullmatch(permission):
                raise ValueError(
                    "organization permissions must look like 'org:<feature>:<permission>'"
                )

    @classmethod
    def of(cls, value: OrgMembership | Mapping[str, Any]) -> OrgMembership:
        """A membership from itself or from a mapping with the same keys."""
        if isinstance(value, OrgMembership):
            return value
        unknown = set(value) - {"id", "slug", "role", "permissions", "plan"}
        if unknown:
            raise ValueError(f"unknown organization keys: {sorted(unknown)}")
        return cls(**dict(value))

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "slug": self.slug,
                "role": self.role,
                "permissions": list(self.permissions),
                "plan": self.plan,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> OrgMembership | None:
        return None if text is None else cls.of(json.loads(text))

    # -- the two encodings ----------------------------------------------------------------

    def v1_claims(self) -> dict[str, Any]:
        return {
            "org_id": self.id,
            "org_slug": self.slug,
            "org_role": self.role,
            "org_permissions": list(self.permissions),
        }

    def features(self) -> list[str]:
        """The organisation features the permissions name, in order of first mention."""
        return list(dict.fromkeys(_split(p)[0] for p in self.permissions))

    def v2_claim(self) -> dict[str, Any]:
        """v2's ``o``: role without ``org:``; ``per`` the distinct permission names and
        ``fpm`` one bitmask per feature of ``fea`` (same order) saying which of them it
        grants. Without permissions ``per`` and ``fpm`` are left out, as Clerk's SDK
        then reads no permissions."""
        claim: dict[str, Any] = {"id": self.id, "slg": self.slug, "rol": self.role[len("org:") :]}
        if self.permissions:
            pairs = [_split(p) for p in self.permissions]
            names = list(dict.fromkeys(name for _, name in pairs))
            masks = []
            for feature in self.features():
                granted = {name for f, name in pairs if f == feature}
                masks.append(sum(1 << i for i, name in enumerate(names) if name in granted))
            claim["per"] = ",".join(names)
            claim["fpm"] = ",".join(str(mask) for mask in masks)
        return claim


def _split(permission: str) -> tuple[str, str]:
    match = _PERMISSION.fullmatch(permission)
    assert match is not None  # checked when the membership was made
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class SessionHolder:
    """Who a session token is minted for: the user, their session and what it carries."""

    clerk_id: str
    session_id: str
    plan: str = "free"
    organization: OrgMembership | None = None
    signed_in_at: float | None = None
    """When the session's first factor was verified (its sign-in), for ``fva``."""


def session_claims(
    holder: SessionHolder,
    *,
    issuer: str,
    now: float,
    lifetime: float,
    clock_skew: float,
    azp: str | None,
    version: TokenVersion,
) -> dict[str, Any]:
    """Clerk's default claims for ``holder``'s session, ``azp`` left out when None (Clerk
    omits it when the request's Origin is empty or null)."""
    if version not in TOKEN_VERSIONS:
        raise ValueError("token version must be 1 or 2")
    first_factor = holder.signed_in_at if holder.signed_in_at is not None else now
    claims: dict[str, Any] = {
        "azp": azp,
        "exp": int(now + lifetime),
        # Minutes since the first factor; -1: no second factor was ever verified.
        "fva": [max(0, int((now - first_factor) // 60)), -1],
        "iat": int(now),
        "iss": issuer,
        "nbf": int(now - clock_skew),
        "sid": holder.session_id,
        "sub": holder.clerk_id,
    }
    org = holder.organization
    if version == 1:
        if org is not None:
            claims.update(org.v1_claims())
    else:
        plans = [f"u:{holder.plan}"] + ([] if org is None else [f"o:{org.plan}"])
        features = [] if org is None else [f"o:{f}" for f in org.features()]
        claims.update(
            {
                "jti": secrets.token_hex(10),
                "v": 2,
                "pla": ",".join(plans),
                "fea": ",".join(features) or None,
                "sts": "active",
                "o": None if org is None else org.v2_claim(),
            }
        )
    return {k: v for k, v in claims.items() if v is not None}
