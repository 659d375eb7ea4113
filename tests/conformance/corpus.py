"""The conformance corpus (``clerk_tokens.json``): loading it, filling in its placeholders,
and minting the token each case describes with the emulator's test API.

The JSON is data so that a reviewer can read every case with the page or SDK source it
follows next to it, and so that a new shape Clerk documents is one entry, not new code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from focus_middleware.clock import Clock
from focus_middleware.testing import EmulatedUser

CORPUS = Path(__file__).with_name("clerk_tokens.json")

APP = "http://app.example.test"
"""The app's public origin ($APP)."""
SIBLING = "https://other.thefocus.ai"
OTHER = "https://evil.example"

Credential = Literal["bearer", "app_cookie", "clerk_cookie", "return_trip", "refresh"]
CREDENTIALS: tuple[Credential, ...] = ("bearer", "app_cookie", "clerk_cookie", "return_trip", "refresh")
Decision = Literal["accept", "refuse", "expired"]

@dataclass(frozen=True)
class Case:
    id: str
    source: str
    token: dict[str, Any]
    credential: Credential
    config: dict[str, Any]
    decision: Decision
    reason: str | None
    status: int | None
    account: dict[str, Any] | None
    presented_before: tuple[Credential, ...]

    @property
    def config_key(self) -> str:
        """Cases with equal settings share one app per adapter."""
        return json.dumps(self.config, sort_keys=True)


def load_cases() -> list[Case]:
    document = json.loads(CORPUS.read_text(encoding="utf-8"))
    cases = []
    for raw in document["cases"]:
        expected = raw["decision"]
        assert raw["credential"] in CREDENTIALS, raw["id"]
        assert expected["decision"] in ("accept", "refuse", "expired"), raw["id"]
        cases.append(Case(
            id=raw["id"], source=raw["source"], token=raw["token"], credential=raw["credential"],
            config=raw.get("config", {}), decision=expected["decision"], reason=expected.get("reason"),
            status=expected.get("status"), account=expected.get("account"),
            presented_before=tuple(raw.get("presented_before", ())),
        ))
    return cases


def placeholders(signin_origin: str) -> dict[str, str]:
    """Whole-value placeholders: an origin, its trailing-slash and its upper-case variant.
    Origins serialise lower-case without a trailing slash, so the variants are other
    strings, and matching is exact."""
    return {
        "$APP": APP, "$APP_SLASH": APP + "/", "$APP_UPPER": APP.upper(),
        "$SIGNIN": signin_origin, "$SIGNIN_SLASH": signin_origin + "/", "$SIGNIN_UPPER": signin_origin.upper(),
        "$SIBLING": SIBLING, "$OTHER": OTHER,
    }


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    return value


def mint(user: EmulatedUser, spec: dict[str, Any], clock: Clock, names: dict[str, str]) -> str:
    """The token ``spec`` describes, for ``user``, at the clock's now: the emulator mints
    Clerk's claims of the version asked for (v2: ``v``, ``fva``, ``sts``, ``pla``, ``fea``,
    ``jti``; v1: none of those) with the session ``cat`` header, and the spec bends them."""
    spec = fill(spec, names)
    claims: dict[str, Any] = {"azp": spec.get("azp")}  # None leaves the claim out
    now = clock.time()
    for name, offset in spec.get("times", {}).items():
        claims[name] = int(now + offset)
    claims.update(spec.get("claims", {}))
    version: Literal[1, 2] = 1 if spec.get("shape", "v2") == "v1" else 2

    def make(pad: int) -> str:
        extra = {"pad": "x" * pad} if pad else {}
        return user.session_jwt(headers=spec.get("header"), key=spec.get("key", "current"),
                                claims={**claims, **extra}, version=version)

    token = make(0)
    size = spec.get("size")
    if size:
        # base64url turns 3 bytes into 4 characters; a little over, never under.
        token = make(math.ceil((size - len(token)) * 3 / 4) + 8)
        assert size <= len(token) < size + 64
    return token
