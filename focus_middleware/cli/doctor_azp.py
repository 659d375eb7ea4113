"""``focus doctor``'s azp lines: the core's verdict (:func:`azp_refusal`) for each way the
app receives a token, and why, with the setting that would change it.

The rule is Clerk's (exact match against the authorized parties, a missing azp refused:
clerk/javascript packages/backend/src/jwt/assertions.ts, assertAuthorizedPartiesClaim)
plus this project's: the sign-in site's origin, and with ``allow_missing_azp`` a missing
azp, are accepted only on the browser's own sign-in path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from focus_middleware.cli.doctor_checks import BROWSER_PATH, Check, shown
from focus_middleware.config import FocusConfig
from focus_middleware.outcome import CredentialSource
from focus_middleware.tokens import SIGNIN_SOURCES, azp_refusal

Use = Literal["bearer", "browser", "both"]

# Browser sources in a fixed order, for stable output.
BROWSER_SOURCES: tuple[CredentialSource, ...] = tuple(
    s for s in ("return_trip", "refresh", "app_cookie", "clerk_cookie") if s in SIGNIN_SOURCES
)


def sources_of(use: Use) -> tuple[CredentialSource, ...]:
    if use == "bearer":
        return ("bearer",)
    if use == "browser":
        return BROWSER_SOURCES
    return ("bearer", *BROWSER_SOURCES)


def azp_checks(azp: object, present: bool, config: FocusConfig, sources: Sequence[CredentialSource]) -> list[Check]:
    """One line for the bearer and one for the browser sign-in path (one per source, should
    those ever disagree), each verdict from the core's :func:`azp_refusal`."""
    groups: list[tuple[str, tuple[CredentialSource, ...]]] = []
    if "bearer" in sources:
        groups.append(("bearer", ("bearer",)))
    browser = tuple(s for s in sources if s in SIGNIN_SOURCES)
    if browser:
        verdicts = {azp_refusal(azp, s, config) for s in browser}
        if len(verdicts) == 1:
            groups.append(("browser", browser))
        else:
            groups += [(s, (s,)) for s in browser]
    checks = []
    for label, group in groups:
        refusal = azp_refusal(azp, group[0], config)
        checks.append(_azp_check(f"azp ({label})", azp, present, config, group == ("bearer",), refusal))
    return checks


def _azp_check(name: str, azp: object, present: bool, config: FocusConfig, bearer: bool, refusal: str | None) -> Check:
    path = "as a bearer" if bearer else f"on {BROWSER_PATH}"
    value = "absent" if not present else shown(azp)
    if not config.checks_azp:
        if refusal is None:
            return Check(name, "warn", f"{value}: accepted {path}, but only because azp is not checked",
                         fix="set FOCUS_PUBLIC_ORIGIN to this app's origin", settings=("public_origin", "authorized_parties"))
        return Check(name, "fail", f"{value}: refused {path} (reason {refusal}): azp is not a string")
    parties = ", ".join(config.authorized_parties or ())
    if refusal is None:
        if azp in (config.authorized_parties or ()):
            why = "an authorized party (this app's origin)"
        elif azp is None:
            why = "accepted there because FOCUS_ALLOW_MISSING_AZP is on"
        elif azp == config.signin_origin:
            why = "the sign-in site" + (" (FOCUS_ALLOW_SIGNIN_AZP_BEARER is on)" if bearer else "")
        else:
            why = "accepted"
        return Check(name, "pass", f"{value}: {why}; accepted {path}")
    if azp is None:
        if bearer:
            return Check(name, "fail", f"absent: refused {path} (reason {refusal}); a bearer without azp is never accepted",
                         fix="get the token from a page of this app, so Clerk stamps its origin as azp;"
                         " no setting accepts a bearer without azp")
        return Check(name, "fail", f"absent: refused {path} (reason {refusal})",
                     fix="FOCUS_ALLOW_MISSING_AZP=true accepts tokens without azp there (for a Focus that mints"
                     " them server-side), never as a bearer", settings=("allow_missing_azp",))
    if not isinstance(azp, str):
        return Check(name, "fail", f"{value}: refused {path} (reason {refusal}): azp is not a string",
                     fix="no setting accepts it")
    if azp == config.signin_origin:
        return Check(name, "fail",
                     f"{value} is the sign-in site: accepted on {BROWSER_PATH}, refused as a bearer (reason {refusal})"
                     " since any other app on Focus may hold a token minted there",
                     fix="FOCUS_ALLOW_SIGNIN_AZP_BEARER=true accepts such tokens as bearers too",
                     settings=("allow_signin_azp_bearer",))
    near = [p for p in (*(config.authorized_parties or ()), config.signin_origin) if azp.rstrip("/").lower() == p]
    if near:
        return Check(name, "fail",
                     f"{value}: refused {path} (reason {refusal}): it differs from {near[0]} only by case or a trailing"
                     " slash, and azp is matched exactly (a browser's Origin is lower-case, without a slash)",
                     fix="no setting accepts it: a genuine token carries the origin exactly")
    if azp == "null":
        return Check(name, "fail",
                     f"the string \"null\": refused {path} (reason {refusal}); the token was asked for by a page"
                     " with an opaque origin (a sandboxed frame, a file: page)",
                     fix="get the token from a page of this app; no setting accepts it")
    story = f"another site: the token was minted for {value}, not for this app ({parties})"
    return Check(name, "fail", f"{value}: refused {path} (reason {refusal}); {story}",
                 fix=f"only if this app really is served at {value}: set FOCUS_PUBLIC_ORIGIN to it, or add it to"
                 " FOCUS_AUTHORIZED_PARTIES; otherwise this token must not work here",
                 settings=("public_origin", "authorized_parties"))
