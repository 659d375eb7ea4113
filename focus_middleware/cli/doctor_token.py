"""``focus doctor``'s token lines: a pasted token put through every check a request would
put it through, each on its own, decoded without being trusted.

The token is never written anywhere: a check's text holds claims that are not secrets
(``iss``, ``azp``, ``sub``, times, ``sts``, ``kid``), made printable first because a
pasted token can hold anything.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from focus_middleware.cli.doctor_azp import Use, azp_checks, sources_of
from focus_middleware.cli.doctor_checks import Check, Keys, is_number, shown, when
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
    check_claims,
    looks_like_pat,
    read_header,
)

# A pasted token larger than this is not decoded at all (the limits are far below it).
_MAX_DECODE = 64 * 1024
_SIGNATURE_OPTIONS: Any = {
    "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
    "verify_iss": False, "verify_aud": False, "verify_sub": False, "verify_jti": False, "require": [],
}


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
            return False, [Check("header", "pass", f"alg {shown(header.get('alg'))}"), Check(
                "category", "fail",
                f"not a Clerk session token (typ={shown(header.get('typ'))}, cat={shown(header.get('cat'))}):"
                " a JWT template, OAuth or machine token is refused",
                fix="use the session token (getToken() without a template, or the __session cookie);"
                " no setting accepts another kind")]
        problem = _HEADER_PROBLEMS.get(exc.reason, exc.reason)
        return False, [Check("header", "fail", problem)]
    alg, kid = shown(header.get("alg")), shown(header.get("kid"))
    category = header.get("cat")
    kind = "session token" if category in (None, SESSION_CATEGORY) else "session token (Clerk's impersonation category)"
    return True, [
        Check("header", "pass", f"alg {alg}, kid {kid}"),
        Check("category", "pass", f"a {kind}" + (f" (cat {shown(category)})" if category else " (no cat header)")),
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
                         f"kid {shown(kid)} is not among the {len(keys.by_kid)} keys of {keys.where}: the token was"
                         " signed by another Clerk instance, or with a key rotated out long ago",
                         fix="check FOCUS_ISSUER: it must be the iss of your tokens", settings=("issuer", "jwks_url"))
    try:
        jwt.PyJWT().decode(token, key=key, algorithms=["RS256"], options=_SIGNATURE_OPTIONS)
    except jwt.InvalidSignatureError:
        return Check("signature", "fail", "does not verify: the token was altered, or signed by someone else",
                     fix="check FOCUS_ISSUER / FOCUS_JWT_PUBLIC_KEY", settings=("issuer", "jwt_public_key"))
    except (jwt.PyJWTError, ValueError, TypeError):
        return Check("signature", "fail", "unreadable as a signed JWT")
    where = "the configured public key" if keys.static is not None else f"key {shown(kid)}"
    return Check("signature", "pass", f"verified with {where}")


def _issuer_check(payload: Mapping[str, Any], config: FocusConfig) -> Check:
    iss = payload.get("iss")
    if config.issuer is None:
        hint = f"; FOCUS_ISSUER={shown(iss)} would verify it locally" if isinstance(iss, str) else ""
        return Check("iss", "info", f"not compared here (remote checking: Focus decides){hint}")
    if iss == config.issuer:
        return Check("iss", "pass", f"{shown(iss)} is FOCUS_ISSUER")
    return Check("iss", "fail", f"iss {shown(iss)} is not FOCUS_ISSUER ({config.issuer})",
                 fix="if this token comes from your own Clerk instance, set FOCUS_ISSUER to its iss",
                 settings=("issuer",))


def _time_checks(payload: Mapping[str, Any], config: FocusConfig, now: float) -> list[Check]:
    leeway = config.leeway
    checks = []
    exp = payload.get("exp")
    if not is_number(exp):
        checks.append(Check("exp", "fail", "missing or not a number"))
    else:
        left = float(exp) - now
        if left > 0:
            detail = f"expires {when(exp)} (in {left:.0f} s)"
            if left < config.min_token_life:
                detail += (f"; less than FOCUS_MIN_TOKEN_LIFE ({config.min_token_life:g} s) left, so a paid route"
                           " would first have it renewed")
            checks.append(Check("exp", "pass", detail))
        elif -left < leeway:
            checks.append(Check("exp", "pass", f"expired {when(exp)} ({-left:.0f} s ago), within FOCUS_LEEWAY ({leeway:g} s)"))
        else:
            checks.append(Check(
                "exp", "fail",
                f"expired {when(exp)} ({-left:.0f} s ago): a browser navigation would be sent to sign in for a"
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
        if not is_number(value):
            checks.append(Check(name, "fail", "not a number"))
        elif value > now + leeway:
            checks.append(Check(
                name, "fail", f"{when(value)} is {value - now:.0f} s in the future ({reason})",
                fix=f"fix this machine's clock (or Clerk's is off); FOCUS_LEEWAY ({leeway:g} s) is the skew allowed",
                settings=("leeway",),
            ))
        else:
            checks.append(Check(name, "pass", when(value)))
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
    return Check("sts", "pass", shown(sts))


def _subject_check(payload: Mapping[str, Any]) -> Check:
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        return Check("sub", "fail", "missing: a session token names its user")
    if sub.startswith("mch_"):
        return Check("sub", "fail", f"{shown(sub)} is a machine: machine tokens do not sign in here",
                     fix="use a user's session token or PAT; no setting accepts machine tokens")
    return Check("sub", "pass", shown(sub))


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
