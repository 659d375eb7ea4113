"""What a Focus-protected route may answer instead of running, written as OpenAPI.

An API document that only lists a route's own success lies to its readers and to the
tools that test against it (Schemathesis reports every refusal as an undocumented
status). The refusals are the core's (:mod:`focus_middleware.access`), so their
description lives in the core too, beside no framework: an adapter that knows which
routes carry which protection (FastAPI's ``focus_openapi``) only places these pieces.

What each protection can produce, and nothing more (a tool that fuzzes the document
must be able to rely on it):

=============  =====================================================================
optional       nothing: a missing, forged or expired credential means anonymous
``account``    303 to sign in (browser navigations), 401, 503; 403 for a cookie-
               authenticated state change from another origin (unsafe methods only)
``credits``    the same, and 402 when the cached wallet holds too few credits
``paid``       303, 401, 402 (the reservation), 403 for every method, 503
=============  =====================================================================

The 401, 402, 403 and 503 bodies are JSON for API clients and an HTML page for browser
navigations; the JSON schemas are components (``FocusUnauthorized``...) so that clients
can be generated against them. Not described: the middleware's own endpoints under
``/_focus``, and the sign-in return trip (a navigation carrying ``focus_state``, a
parameter no route declares).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from focus_middleware.access import Requirement
from focus_middleware.responses import _SAFE_METHODS, Protection

SCHEME_NAME: Final = "FocusBearer"
"""The bearer security scheme's name in the document."""
BEARER_FORMAT: Final = "Focus PAT or Clerk session JWT"
SCHEME_DESCRIPTION: Final = "A Focus personal access token (`focus login`) or a Clerk session JWT."

SECURITY_SCHEME: Final[Mapping[str, str]] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": BEARER_FORMAT,
    "description": SCHEME_DESCRIPTION,
}
"""Browsers' cookies are not declared: their name depends on the app's public origin, and a
browser sends them without being told."""

REF: Final = "#/components/schemas/"


def required_security() -> list[dict[str, list[str]]]:
    """An operation that needs a Focus credential."""
    return [{SCHEME_NAME: []}]


def optional_security() -> list[dict[str, list[str]]]:
    """An operation that takes a Focus credential but runs without one: the empty
    requirement ``{}`` is OpenAPI's way to say "or none at all"."""
    return [{SCHEME_NAME: []}, {}]


_ERROR_CODES = {
    "FocusUnauthorized": "unauthorized",
    "FocusInsufficientCredits": "insufficient_credits",
    "FocusForbidden": "forbidden",
    "FocusUnavailable": "unavailable",
}


def _error(name: str, description: str, **properties: Any) -> dict[str, Any]:
    return {
        "title": name,
        "description": description,
        "type": "object",
        "required": ["error", *properties],
        "properties": {"error": {"type": "string", "enum": [_ERROR_CODES[name]]}, **properties},
    }


def _with_optional(schema: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {**schema, "properties": {**schema["properties"], **properties}}


_URL = {"type": "string", "format": "uri"}
_TEXT = {"type": "string"}

SCHEMAS: Final[Mapping[str, Mapping[str, Any]]] = {
    "FocusUnauthorized": _with_optional(
        _error(
            "FocusUnauthorized",
            "No valid Focus credential. Send a bearer token, or send the user to `signin_url`.",
            signin_url={**_URL, "description": "Focus's sign-in page, coming back to this URL."},
        ),
        # Only where the client can act on it (responses._TOLD_REASONS): a pending session.
        reason={"type": "string", "enum": ["session_pending"], "description": "Why, when the user can act on it."},
        message=_TEXT,
    ),
    "FocusInsufficientCredits": _error(
        "FocusInsufficientCredits",
        "The account has fewer credits than the action needs.",
        required={"type": "integer", "minimum": 0, "description": "Credits the action needs."},
        # An overage may have taken the balance below zero (see focus-api.md).
        available={"type": "integer", "description": "Credits the account has."},
        action={**_TEXT, "description": "The action that was refused."},
        purchase_url={**_URL, "description": "Where the user buys credits, coming back to this URL."},
    ),
    "FocusForbidden": _error(
        "FocusForbidden",
        "A request authenticated by cookie came from another origin.",
        message=_TEXT,
    ),
    "FocusUnavailable": _error(
        "FocusUnavailable",
        "The Focus account service could not answer; try again after `Retry-After` seconds.",
        message=_TEXT,
    ),
}
"""The refusals' JSON bodies, for ``components/schemas``. Open to fields added later
(clients must ignore what they do not know), so no ``additionalProperties: false``."""


def _header(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": dict(schema)}


def _content(schema_name: str | None, *, page: bool) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if schema_name is not None:
        content["application/json"] = {"schema": {"$ref": REF + schema_name}}
    if page:
        content["text/html"] = {"schema": {"type": "string"}}
    return content


_RESPONSES: Final[Mapping[int, Mapping[str, Any]]] = {
    303: {
        "description": "A browser navigation without a usable session is sent to sign in (on Focus, "
                       "or the app's own sign-in page) and comes back here.",
        "headers": {"Location": _header("Where to sign in.", _URL)},
    },
    401: {
        "description": "No valid Focus credential: JSON with `WWW-Authenticate: Bearer` "
                       "(`error=\"invalid_token\"` when one was presented); a browser whose sign-in "
                       "rounds are used up gets a page with a sign-in link.",
        "headers": {"WWW-Authenticate": _header("The bearer challenge.", _TEXT)},
        "content": _content("FocusUnauthorized", page=True),
    },
    402: {
        "description": "Too few credits for this action: JSON for API clients, a page with a link to buy "
                       "credits for a browser navigation.",
        "content": _content("FocusInsufficientCredits", page=True),
    },
    403: {
        "description": "A request authenticated by cookie from another origin (a cross-site request "
                       "forgery): JSON, or a page for a browser navigation.",
        "content": _content("FocusForbidden", page=True),
    },
    503: {
        "description": "Focus could not be reached to check the credential or the credits: JSON, or a "
                       "page for a browser navigation. Never answered as signed out or signed in.",
        "headers": {"Retry-After": _header("Seconds to wait before trying again.",
                                           {"type": "integer", "minimum": 0})},
        "content": _content("FocusUnavailable", page=True),
    },
}


_MARK = "__focus_requirements__"


def mark(endpoint: Callable[..., Any], requirement: Requirement) -> None:
    """Record on a guarded endpoint what its guard requires, for API documents (a decorator
    leaves no other trace a framework's router could read). Guards stacked on one
    endpoint add up: ``functools.wraps`` carries the inner ones' marks outwards."""
    setattr(endpoint, _MARK, (*requirements_of(endpoint), requirement))


def requirements_of(endpoint: object) -> tuple[Requirement, ...]:
    """What the guards on ``endpoint`` require (see :func:`mark`); empty if unguarded."""
    found = getattr(endpoint, _MARK, ())
    return tuple(r for r in found if isinstance(r, Requirement)) if isinstance(found, tuple) else ()


def protection_of(requirement: Requirement) -> Protection:
    """The protection a requirement documents as: a credits check for 0 credits never
    answers 402, so it is only an account check."""
    if requirement.protection == "credits" and not requirement.credits:
        return "account"
    return requirement.protection


def refusal_statuses(protection: Protection | None, method: str) -> frozenset[int]:
    """The statuses a route with ``protection`` (None: optional) may answer to ``method``
    instead of running; see the table in the module's docstring."""
    if protection is None:
        return frozenset()
    statuses = {303, 401, 503}
    if protection == "paid" or method.upper() not in _SAFE_METHODS:
        statuses.add(403)
    if protection in ("credits", "paid"):
        statuses.add(402)
    return frozenset(statuses)


def refusal_responses(protections: Iterable[Protection | None], method: str) -> dict[str, dict[str, Any]]:
    """OpenAPI response objects, keyed by status, for an operation guarded by every one of
    ``protections``: what any of them may answer. Fresh copies, the caller's to change."""
    statuses: set[int] = set()
    for protection in protections:
        statuses |= refusal_statuses(protection, method)
    return {str(status): copy.deepcopy(dict(_RESPONSES[status])) for status in sorted(statuses)}


def components() -> dict[str, dict[str, Any]]:
    """The schemas the refusal responses refer to, for ``components/schemas``."""
    return copy.deepcopy({name: dict(schema) for name, schema in SCHEMAS.items()})


def merge_responses(operation: dict[str, Any], responses: Mapping[str, Mapping[str, Any]]) -> None:
    """Add ``responses`` to an operation without overwriting what the app declared itself
    (its own description or body for the same status wins; missing media types and
    headers are added). Running it twice changes nothing."""
    declared = operation.setdefault("responses", {})
    for status, response in responses.items():
        existing = declared.setdefault(status, {"description": response["description"]})
        for part in ("content", "headers"):
            for key, value in response.get(part, {}).items():
                existing.setdefault(part, {}).setdefault(key, copy.deepcopy(value))


__all__ = [
    "BEARER_FORMAT",
    "SCHEMAS",
    "SCHEME_DESCRIPTION",
    "SCHEME_NAME",
    "SECURITY_SCHEME",
    "components",
    "mark",
    "merge_responses",
    "optional_security",
    "refusal_responses",
    "protection_of",
    "refusal_statuses",
    "required_security",
    "requirements_of",
]
