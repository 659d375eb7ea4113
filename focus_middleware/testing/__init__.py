"""A local emulator of the Focus account service, for demos and tests.

``FocusEmulator`` runs a real HTTP server (Starlette on uvicorn, in a background thread)
that speaks the contract in ``focus-api.md``: wallet, jobs, the device-code flow, OAuth
helpers, a Clerk-like RS256 issuer with a JWKS endpoint, and the pages a person uses
(sign-in with a long-lived sign-in cookie, sign-out, device approval, buying credits), with
credentialed CORS for allow-listed origins and an OpenAPI document at
``/api/openapi.json``. Apps and the middleware are tested against it exactly as against the
real service, offline, with an injectable clock, call counters and fault knobs.

The names are imported lazily so that ``import focus_middleware.testing`` (done by the
pytest plugin in every test session) stays cheap and does not need uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from focus_middleware.testing.emulator import EmulatedUser, FocusEmulator

__all__ = ["EmulatedUser", "FocusEmulator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from focus_middleware.testing import emulator

        return getattr(emulator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
