"""The reference row of issue 22: the least an authenticating ASGI middleware can do.

It hashes the bearer, finds the verified claims in a ``TTLCache`` and attaches them to
the scope; no cookie, no wallet, no ``Vary``, no refusal pages, no events. What Focus adds
per request beyond this is what its features cost; the issue's floor is Focus adding no
more microseconds than this sketch does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import jwt
from cachetools import TTLCache
from starlette.types import ASGIApp, Receive, Scope, Send

Claims = dict[str, Any]
SCOPE_KEY = "claims"


def _bearer(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


class SketchMiddleware:
    """``scope["claims"]``: the bearer's verified claims, or None."""

    def __init__(self, app: ASGIApp, verify: Callable[[str], Claims], *, maxsize: int = 10_000,
                 ttl: float = 60.0) -> None:
        self.app = app
        self._verify = verify
        self._claims: TTLCache[bytes, Claims] = TTLCache(maxsize=maxsize, ttl=ttl)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            claims: Claims | None = None
            token = _bearer(scope["headers"])
            if token is not None:
                key = hashlib.sha256(token).digest()
                claims = self._claims.get(key)
                if claims is None:
                    try:  # a miss blocks the loop: acceptable in a sketch, not in Focus
                        claims = self._claims[key] = self._verify(token.decode("latin-1"))
                    except jwt.PyJWTError:
                        claims = None
            scope[SCOPE_KEY] = claims
        await self.app(scope, receive, send)


def jwks_verifier(jwks_url: str, issuer: str) -> Callable[[str], Claims]:
    """RS256 against the issuer's JWKS (PyJWT's client caches the key set)."""
    keys = jwt.PyJWKClient(jwks_url)

    def verify(token: str) -> Claims:
        key = keys.get_signing_key_from_jwt(token).key
        claims: Claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer)
        return claims

    return verify
