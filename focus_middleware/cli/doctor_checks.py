"""What ``focus doctor`` concludes, as data: a :class:`Check` per line, the settings part
of the diagnosis, and the exit status they add up to.

Pure, like :mod:`doctor_token` and :mod:`doctor_azp`: :mod:`focus_middleware.cli.doctor`
fetches (the JWKS, Focus) and prints; these modules only judge. Every verdict that the
middleware itself makes comes from the core's own functions (``read_header``,
``azp_refusal``, ``check_claims``, ``parse_jwks``, the size limits), so the doctor cannot
drift from what a request would meet; the words around a verdict, and the setting that
would change it, are the doctor's.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeGuard

from focus_middleware.cli.output import cell
from focus_middleware.config import FocusConfig
from focus_middleware.tokens import parse_jwks

Status = Literal["pass", "fail", "warn", "info", "skip", "unavailable"]

BROWSER_PATH = "the browser sign-in path"
BROWSER_PATH_SOURCES = "the return trip from sign-in, the refresh endpoint, the app's and Clerk's cookies"
# Variables of the CLI itself, not settings: never "did you mean" material.
_CLI_VARIABLES = frozenset({"FOCUS_TOKEN", "FOCUS_DEBUG"})


def env_name(setting: str) -> str:
    """A :class:`FocusConfig` field as the environment spells it (``FOCUS_LEEWAY``)."""
    return "FOCUS_" + setting.upper()


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the diagnosis. ``settings`` are the :class:`FocusConfig` fields that
    would change a failed verdict (empty when no setting can: the token itself is wrong)."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    settings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "settings": [env_name(s) for s in self.settings],
        }


@dataclass(frozen=True, slots=True)
class Keys:
    """What signatures are checked against: the JWKS's keys by ``kid``, or a static key."""

    by_kid: Mapping[str, Any] = field(default_factory=dict)
    static: Any | None = None
    where: str = ""


def shown(value: object, limit: int = 120) -> str:
    """A value from a token, safe for a terminal (escape sequences shown as ``?``) and bounded."""
    return cell(value if isinstance(value, str) else json.dumps(value), limit)


def when(seconds: float) -> str:
    try:
        return cell(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} (not a representable time)"


def is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- the configuration -----------------------------------------------------------------


def settings_summary(config: FocusConfig) -> dict[str, Any]:
    """The settings the diagnosis depends on (no secrets: a cache URL may hold a password
    and is not shown)."""
    return {
        "api_url": config.api_url,
        "app": config.app,
        "issuer": config.issuer,
        "jwks_url": config.jwks_url,
        "jwt_public_key": config.jwt_public_key is not None,
        "verifies": "locally" if config.verifies_locally else "remotely",
        "public_origin": config.public_origin,
        "authorized_parties": list(config.authorized_parties or ()),
        "signin_origin": config.signin_origin,
        "allow_missing_azp": config.allow_missing_azp,
        "allow_signin_azp_bearer": config.allow_signin_azp_bearer,
        "leeway": config.leeway,
        "min_token_life": config.min_token_life,
    }


def settings_checks(config: FocusConfig) -> list[Check]:
    checks = [Check("settings", "pass", "every FOCUS_* setting is valid")]
    if config.checks_azp:
        parties = ", ".join(config.authorized_parties or ())
        checks.append(Check("parties", "pass", f"azp must be {parties}; the sign-in site's {config.signin_origin} is also"
                              f" accepted on {BROWSER_PATH} ({BROWSER_PATH_SOURCES})"))
    else:
        checks.append(Check(
            "parties", "warn",
            "azp is not checked: neither FOCUS_PUBLIC_ORIGIN nor FOCUS_AUTHORIZED_PARTIES is set,"
            " so a session token minted for any other site on this Focus is accepted here",
            fix="set FOCUS_PUBLIC_ORIGIN to the origin browsers reach this app at (https://app.example)",
            settings=("public_origin", "authorized_parties"),
        ))
    if config.issuer is None:
        checks.append(Check(
            "issuer", "warn",
            "no FOCUS_ISSUER: session JWTs are checked remotely, by a call to Focus (GET /api/wallet)"
            " for every new token (Clerk's tokens live about a minute, so about one call per signed-in"
            " user a minute), cached until the token's exp, at most"
            f" {config.remote_checks_per_second:g} a second; while Focus is down, an uncached token"
            " gets 503",
            fix="set FOCUS_ISSUER to your Clerk instance's Frontend API URL (a token's iss claim) to"
            " verify tokens locally against its JWKS",
            settings=("issuer",),
        ))
    return checks


def keys_check(url: str, document: object) -> tuple[Check, Keys | None]:
    """Judge a fetched JWKS document (its parsing is the core's)."""
    try:
        keys = parse_jwks(document)
    except ValueError:
        return Check("jwks", "fail", f"{url} answered JSON that is not a JWKS (no \"keys\" list)",
                     fix="check FOCUS_ISSUER (or FOCUS_JWKS_URL): it must be the Clerk Frontend API URL",
                     settings=("issuer", "jwks_url")), None
    if not keys:
        return Check("jwks", "fail", f"the JWKS at {url} holds no RS256 signing key",
                     fix="check FOCUS_ISSUER (or FOCUS_JWKS_URL): it must be the Clerk Frontend API URL",
                     settings=("issuer", "jwks_url")), None
    count = f"{len(keys)} signing key{'s' if len(keys) != 1 else ''}"
    return Check("jwks", "pass", f"{count} at {url}"), Keys(by_kid=keys, where=url)


def environment_checks(environ: Mapping[str, str]) -> list[Check]:
    """``FocusConfig.from_env()`` ignores ``FOCUS_*`` names it does not know (other tools may
    own some), so a misspelt setting silently does nothing: name the near misses."""
    known = {"FOCUS_" + f.name.upper() for f in dataclasses.fields(FocusConfig) if f.name != "clock"}
    checks = []
    for name in sorted(environ):
        if not name.startswith("FOCUS_") or name in known or name in _CLI_VARIABLES:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        if close:
            checks.append(Check("environment", "warn", f"{name} is not a Focus setting, and is ignored",
                                fix=f"did you mean {close[0]}?"))
    return checks


def exit_status(checks: Sequence[Check]) -> Literal["ok", "failed", "unavailable"]:
    """A definite failure wins over an unreachable service: it will not go away by retrying."""
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return "failed"
    if "unavailable" in statuses:
        return "unavailable"
    return "ok"
