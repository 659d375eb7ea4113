"""The emulator's secrets: how they are made, and the only form in which they are kept.

PATs, sign-in cookie secrets and device codes are all random and high-entropy, handed out
once, and stored as SHA-256 hashes only: a copy of the database signs nobody in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from focus_middleware.testing import minted

PAT_PREFIX = "focus_pat_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    """256 random bits, URL-safe: cookie secrets and device codes."""
    return minted.record(secrets.token_urlsafe(32))


def new_pat() -> str:
    return PAT_PREFIX + new_secret()


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison, for a secret presented against the expected one."""
    return hmac.compare_digest(a.encode(), b.encode())


_BASE62 = string.ascii_letters + string.digits


def clerk_like_id(prefix: str) -> str:
    """An id shaped like Clerk's (``user_2...``, ``sess_2...``)."""
    return f"{prefix}_2" + "".join(secrets.choice(_BASE62) for _ in range(26))
