"""What ``focus doctor`` concludes about a configuration and a pasted token, as data.

Pure: :mod:`focus_middleware.cli.doctor` fetches (the JWKS, Focus) and prints; this module
only judges. Every verdict that the middleware itself makes comes from the core's own
functions (``read_header``, ``azp_refusal``, ``check_claims``, the size limits), so the
doctor cannot drift from what a request would meet; the words around a verdict, and the
setting that would change it, are the doctor's.

The token is decoded without being trusted and never written anywhere: a check's text
holds claims that are not secrets (``iss``, ``azp``, ``sub``, times, ``sts``, ``kid``),
made printable first because a pasted token can hold anything.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeGuard

import jwt

from focus_middleware.cli.output import cell
from focus_middleware.config import FocusConfig
from focus_middleware.outcome import CredentialSource
from focus_middleware.tokens import (
    MAX_COOKIE_TOKEN,
    MAX_HEADER_TOKEN,
    PENDING,
    SESSION_CATEGORY,
    SIGNIN_SOURCES,
    TokenExpired,
    TokenRejected,
    azp_refusal,
    check_claims,
    looks_like_pat,
    parse_jwks,
    read_header,
)

Status = Literal["pass", "fail", "warn", "info", "skip", "unavailable"]
Use = Literal["bearer", "browser", "both"]

# A pasted token larger than this is not decoded at all (the limits are far below it).
_MAX_DECODE = 64 * 1024
# Browser sources in a fixed order, for stable output.
_BROWSER_SOURCES: tuple[CredentialSource, ...] = tuple(
    s for s in ("return_trip", "refresh", "app_cookie", "clerk_cookie") if s in SIGNIN_SOURCES
)
_BROWSER_PATH = "the browser sign-in path"
_BROWSER_PATH_SOURCES = "the return trip from sign-in, the refresh endpoint, the app's and Clerk's cookies"
_SIGNATURE_OPTIONS: Any = {
    "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
    "verify_iss": False, "verify_aud": False, "verify_sub": False, "verify_jti": False, "require": [],
}


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


def _text(value: object, limit: int = 120) -> str:
    """A value from the token, safe for a terminal and bounded."""
    return cell(value if isinstance(value, str) else json.dumps(value), limit)


def _when(seconds: float) -> str:
    try:
        return cell(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} (not a representable time)"


def _number(value: object) -> TypeGuard[float]:
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
                              f" accepted on {_BROWSER_PATH} ({_BROWSER_PATH_SOURCES})"))
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


# -- the token ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Peek:
    """A token's header and payload, decoded without any trust; None when unreadable."""

    header: dict[str, Any] | None
    payload: dict[str, Any] | None


def _segment(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def peek(token: str) -> Peek:
    parts = token.split(".")
    if len(token) > _MAX_DECODE or len(parts) != 3:
        return Peek(None, None)
    return Peek(_segment(parts[0]), _segment(parts[1]))


def claims_summary(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The claims worth showing (none is a secret), exactly as the token has them."""
    shown = {k: payload[k] for k in ("iss", "sub", "sid", "azp", "exp", "nbf", "iat", "sts", "v") if k in payload}
    act = payload.get("act")
    if isinstance(act, Mapping):
        shown["act"] = {"sub": act.get("sub")}
    org = payload.get("o")
    if isinstance(org, Mapping):
        shown["org"] = {"id": org.get("id"), "slug": org.get("slg"), "role": org.get("rol")}
    elif "org_id" in payload:
        shown["org"] = {"id": payload.get("org_id"), "slug": payload.get("org_slug"), "role": payload.get("org_role")}
    return shown


def sources_of(use: Use) -> tuple[CredentialSource, ...]:
    if use == "bearer":
        return ("bearer",)
    if use == "browser":
        return _BROWSER_SOURCES
    return ("bearer", *_BROWSER_SOURCES)


def token_checks(token: str, config: FocusConfig, keys: Keys | None, now: float, use: Use = "both") -> list[Check]:
    """Every check a request would put ``token`` through, each on its own.

    ``keys`` is None when signatures cannot be checked here (no issuer: Focus checks them;
    or the JWKS could not be had).
    """
    sources = sources_of(use)
    if token.count(".") != 2:
        if looks_like_pat(token):
            return [Check("token", "info", "an opaque token shaped like a PAT: nothing to decode; Focus checks it"
                          " (GET /api/wallet) and the middleware caches the answer")]
        return [Check("token", "fail", "neither a session JWT (three base64url parts separated by dots) nor a PAT",
                      fix="paste the session token itself: the value of the __session cookie, or the token"
                      " of GET /api/sessionToken")]
    checks = [_size_check(token, sources)]
    header_ok, header_checks = _header_checks(token)
    checks += header_checks
    seen = peek(token)
    payload = seen.payload
    if payload is None:
        checks.append(Check("claims", "fail", "the payload is not base64url-encoded JSON"))
        return checks
    signature = _signature_check(token, seen.header, keys, config, header_ok)
    checks.append(signature)
    checks.append(_issuer_check(payload, config))
    checks += _time_checks(payload, config, now)
    checks.append(_status_check(payload))
    checks.append(_subject_check(payload))
    checks += azp_checks(payload.get("azp"), "azp" in payload, config, sources)
    if config.issuer is not None and signature.status == "pass":
        checks += _unexplained(payload, config, now, checks)
    return checks


def _size_check(token: str, sources: Sequence[CredentialSource]) -> Check:
    size = len(token)
    problems = []
    if "bearer" in sources and size > MAX_HEADER_TOKEN:
        problems.append(f"longer than the {MAX_HEADER_TOKEN} accepted in a header (a bearer gets 401)")
    if any(s in SIGNIN_SOURCES for s in sources) and size > MAX_COOKIE_TOKEN:
        problems.append(f"longer than the {MAX_COOKIE_TOKEN} a cookie can hold (the sign-in return trip"
                        " answers 400, the refresh endpoint 400)")
    if problems:
        if "bearer" in sources and size <= MAX_HEADER_TOKEN:
            problems.append("fine as a bearer")
        return Check("size", "fail", f"{size} characters: " + "; ".join(problems),
                     fix="shrink the session token's custom claims in Clerk (Sessions, Customize session"
                     " token); no setting changes this")
    return Check("size", "pass", f"{size} characters (limits: {MAX_HEADER_TOKEN} in a header, {MAX_COOKIE_TOKEN} in a cookie)")


_HEADER_PROBLEMS = {
    "oversized": "too long to be read at all",
    "malformed": "not a compact JWS (base64url header, payload and signature)",
    "algorithm": "its alg is not RS256, the only algorithm Clerk's session tokens use",
    "crit": "its header has crit or b64 extensions, which are refused",
    "kid": "its header has no usable kid (key id)",
}


def _header_checks(token: str) -> tuple[bool, list[Check]]:
    header = peek(token).header or {}
    try:
        read_header(token)
    except TokenRejected as exc:
        if exc.reason == "category":
            return False, [Check("header", "pass", f"alg {_text(header.get('alg'))}"), Check(
                "category", "fail",
                f"not a Clerk session token (typ={_text(header.get('typ'))}, cat={_text(header.get('cat'))}):"
                " a JWT template, OAuth or machine token is refused",
                fix="use the session token (getToken() without a template, or the __session cookie);"
                " no setting accepts another kind")]
        problem = _HEADER_PROBLEMS.get(exc.reason, exc.reason)
        return False, [Check("header", "fail", problem)]
    alg, kid = _text(header.get("alg")), _text(header.get("kid"))
    category = header.get("cat")
    kind = "session token" if category in (None, SESSION_CATEGORY) else "session token (Clerk's impersonation category)"
    return True, [
        Check("header", "pass", f"alg {alg}, kid {kid}"),
        Check("category", "pass", f"a {kind}" + (f" (cat {_text(category)})" if category else " (no cat header)")),
    ]


def _signature_check(token: str, header: Mapping[str, Any] | None, keys: Keys | None, config: FocusConfig, header_ok: bool) -> Check:
    if not header_ok:
        return Check("signature", "skip", "not checked: the header is refused first")
    if config.issuer is None:
        return Check("signature", "skip", "checked by Focus (no FOCUS_ISSUER: remote checking)")
    if keys is None:
        return Check("signature", "skip", "not checked: no keys could be had")
    kid = (header or {}).get("kid")
    key = keys.static
    if key is None:
        key = keys.by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            return Check("signature", "fail",
                         f"kid {_text(kid)} is not among the {len(keys.by_kid)} keys of {keys.where}: the token was"
                         " signed by another Clerk instance, or with a key rotated out long ago",
                         fix="check FOCUS_ISSUER: it must be the iss of your tokens", settings=("issuer", "jwks_url"))
    try:
        jwt.PyJWT().decode(token, key=key, algorithms=["RS256"], options=_SIGNATURE_OPTIONS)
    except jwt.InvalidSignatureError:
        return Check("signature", "fail", "does not verify: the token was altered, or signed by someone else",
                     fix="check FOCUS_ISSUER / FOCUS_JWT_PUBLIC_KEY", settings=("issuer", "jwt_public_key"))
    except (jwt.PyJWTError, ValueError, TypeError):
        return Check("signature", "fail", "unreadable as a signed JWT")
    where = "the configured public key" if keys.static is not None else f"key {_text(kid)}"
    return Check("signature", "pass", f"verified with {where}")


def _issuer_check(payload: Mapping[str, Any], config: FocusConfig) -> Check:
    iss = payload.get("iss")
    if config.issuer is None:
        hint = f"; FOCUS_ISSUER={_text(iss)} would verify it locally" if isinstance(iss, str) else ""
        return Check("iss", "info", f"not compared here (remote checking: Focus decides){hint}")
    if iss == config.issuer:
        return Check("iss", "pass", f"{_text(iss)} is FOCUS_ISSUER")
    return Check("iss", "fail", f"iss {_text(iss)} is not FOCUS_ISSUER ({config.issuer})",
                 fix="if this token comes from your own Clerk instance, set FOCUS_ISSUER to its iss",
                 settings=("issuer",))


def _time_checks(payload: Mapping[str, Any], config: FocusConfig, now: float) -> list[Check]:
    leeway = config.leeway
    checks = []
    exp = payload.get("exp")
    if not _number(exp):
        checks.append(Check("exp", "fail", "missing or not a number"))
    else:
        left = float(exp) - now
        if left > 0:
            detail = f"expires {_when(exp)} (in {left:.0f} s)"
            if left < config.min_token_life:
                detail += (f"; less than FOCUS_MIN_TOKEN_LIFE ({config.min_token_life:g} s) left, so a paid route"
                           " would first have it renewed")
            checks.append(Check("exp", "pass", detail))
        elif -left < leeway:
            checks.append(Check("exp", "pass", f"expired {_when(exp)} ({-left:.0f} s ago), within FOCUS_LEEWAY ({leeway:g} s)"))
        else:
            checks.append(Check(
                "exp", "fail",
                f"expired {_when(exp)} ({-left:.0f} s ago): a browser navigation would be sent to sign in for a"
                " fresh one, an API call gets 401 (WWW-Authenticate error=\"invalid_token\")",
                fix=f"paste a fresh token (Clerk's live about a minute); FOCUS_LEEWAY ({leeway:g} s) only absorbs"
                " clock skew between this machine and Clerk",
                settings=("leeway",),
            ))
    for name, reason in (("nbf", "not_yet_valid"), ("iat", "issued_in_future")):
        if name not in payload:
            checks.append(Check(name, "pass", "absent"))
            continue
        value = payload[name]
        if not _number(value):
            checks.append(Check(name, "fail", "not a number"))
        elif value > now + leeway:
            checks.append(Check(
                name, "fail", f"{_when(value)} is {value - now:.0f} s in the future ({reason})",
                fix=f"fix this machine's clock (or Clerk's is off); FOCUS_LEEWAY ({leeway:g} s) is the skew allowed",
                settings=("leeway",),
            ))
        else:
            checks.append(Check(name, "pass", _when(value)))
    return checks


def _status_check(payload: Mapping[str, Any]) -> Check:
    sts = payload.get("sts")
    if sts == PENDING:
        return Check("sts", "fail",
                     "pending (session_pending): the user has sign-in tasks left on Focus (e.g. choosing an"
                     " organisation); Clerk's SDKs treat that as signed out, so does the middleware (API: 401"
                     " with reason session_pending; a page: sent to sign in)",
                     fix="finish signing in on Focus; no setting accepts a pending session")
    if sts is None:
        return Check("sts", "pass", "absent (a v1 token)")
    return Check("sts", "pass", _text(sts))


def _subject_check(payload: Mapping[str, Any]) -> Check:
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        return Check("sub", "fail", "missing: a session token names its user")
    if sub.startswith("mch_"):
        return Check("sub", "fail", f"{_text(sub)} is a machine: machine tokens do not sign in here",
                     fix="use a user's session token or PAT; no setting accepts machine tokens")
    return Check("sub", "pass", _text(sub))


# -- azp ----------------------------------------------------------------------------------


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
    path = "as a bearer" if bearer else f"on {_BROWSER_PATH}"
    shown = "absent" if not present else _text(azp)
    if not config.checks_azp:
        if refusal is None:
            return Check(name, "warn", f"{shown}: accepted {path}, but only because azp is not checked",
                         fix="set FOCUS_PUBLIC_ORIGIN to this app's origin", settings=("public_origin", "authorized_parties"))
        return Check(name, "fail", f"{shown}: refused {path} (reason {refusal}): azp is not a string")
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
        return Check(name, "pass", f"{shown}: {why}; accepted {path}")
    if azp is None:
        if bearer:
            return Check(name, "fail", f"absent: refused {path} (reason {refusal}); a bearer without azp is never accepted",
                         fix="get the token from a page of this app, so Clerk stamps its origin as azp;"
                         " no setting accepts a bearer without azp")
        return Check(name, "fail", f"absent: refused {path} (reason {refusal})",
                     fix="FOCUS_ALLOW_MISSING_AZP=true accepts tokens without azp there (for a Focus that mints"
                     " them server-side), never as a bearer", settings=("allow_missing_azp",))
    if not isinstance(azp, str):
        return Check(name, "fail", f"{shown}: refused {path} (reason {refusal}): azp is not a string",
                     fix="no setting accepts it")
    if azp == config.signin_origin:
        return Check(name, "fail",
                     f"{shown} is the sign-in site: accepted on {_BROWSER_PATH}, refused as a bearer (reason {refusal})"
                     " since any other app on Focus may hold a token minted there",
                     fix="FOCUS_ALLOW_SIGNIN_AZP_BEARER=true accepts such tokens as bearers too",
                     settings=("allow_signin_azp_bearer",))
    near = [p for p in (*(config.authorized_parties or ()), config.signin_origin) if azp.rstrip("/").lower() == p]
    if near:
        return Check(name, "fail",
                     f"{shown}: refused {path} (reason {refusal}): it differs from {near[0]} only by case or a trailing"
                     " slash, and azp is matched exactly (a browser's Origin is lower-case, without a slash)",
                     fix="no setting accepts it: a genuine token carries the origin exactly")
    if azp == "null":
        return Check(name, "fail",
                     f"the string \"null\": refused {path} (reason {refusal}); the token was asked for by a page"
                     " with an opaque origin (a sandboxed frame, a file: page)",
                     fix="get the token from a page of this app; no setting accepts it")
    story = f"another site: the token was minted for {shown}, not for this app ({parties})"
    return Check(name, "fail", f"{shown}: refused {path} (reason {refusal}); {story}",
                 fix=f"only if this app really is served at {shown}: set FOCUS_PUBLIC_ORIGIN to it, or add it to"
                 " FOCUS_AUTHORIZED_PARTIES; otherwise this token must not work here",
                 settings=("public_origin", "authorized_parties"))


def _unexplained(payload: Mapping[str, Any], config: FocusConfig, now: float, checks: Sequence[Check]) -> list[Check]:
    """The core's own claim check, reported only if it refuses what no check above did: the
    doctor must never say "all good" about a token a request would refuse."""
    if any(c.status == "fail" for c in checks):
        return []
    try:
        check_claims(payload, config, now)
    except TokenExpired:
        reason = "expired"
    except TokenRejected as exc:
        reason = exc.reason
    else:
        return []
    return [Check("claims", "fail", f"the middleware refuses this token's claims ({reason})")]


def exit_status(checks: Sequence[Check]) -> Literal["ok", "failed", "unavailable"]:
    """A definite failure wins over an unreachable service: it will not go away by retrying."""
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return "failed"
    if "unavailable" in statuses:
        return "unavailable"
    return "ok"
