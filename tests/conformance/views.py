"""What every adapter's two test routes answer: the account as JSON (the guarded route) and
the reason unprotected code sees (the public route), in one shape for all frameworks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def account_view(account: Any, reason: str | None) -> dict[str, Any]:
    """The account's identity and the claims-derived attributes the corpus checks. Read with
    ``getattr`` so that a core without ``actor``/``organization`` yet fails the cases that
    expect them instead of every case."""
    if not account:
        return {"reason": reason, "clerk_id": None}
    actor = getattr(account, "actor", None)
    org = getattr(account, "organization", None)
    return {
        "reason": "authenticated",
        "clerk_id": account.clerk_id,
        "actor": dict(actor) if isinstance(actor, Mapping) else actor,
        "organization": None if org is None else {
            "id": org.id, "slug": org.slug, "role": org.role, "permissions": list(org.permissions),
        },
    }
