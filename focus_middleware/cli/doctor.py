"""``focus doctor``: this app's Focus settings, and a session token, checked the way a
request would check them, for the day an app first meets the real service.

It reads the app's configuration as the middleware does (``FocusConfig.from_env()``, so
every ``FOCUS_*`` variable, ``--base-url`` overriding ``FOCUS_API_URL``), fetches the JWKS
(or says what remote checking costs when there is no ``FOCUS_ISSUER``) and, given a token,
says which check it passes or fails and which setting would change a failure. The
verdicts themselves are :mod:`doctor_checks`', :mod:`doctor_token`'s and
:mod:`doctor_azp`'s, taken from the core.

The token is read from stdin (``--token-stdin``; on a terminal a prompt that does not echo),
never needed on the command line: ``--token`` exists for convenience and warns that it
lands in shell history. Nothing the command writes holds the token: checks quote only
claims that are not secrets, and every line is scrubbed of it before it is written.

Exit codes: 0 when nothing failed (warnings allowed), 1 when a check failed, 5 when the
JWKS or Focus could not be reached and nothing else failed (a definite failure is the more
useful answer: retrying will not fix it).
"""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from focus_middleware.cli.doctor_checks import (
    Check,
    Keys,
    env_name,
    environment_checks,
    exit_status,
    keys_check,
    settings_checks,
    settings_summary,
)
from focus_middleware.cli.doctor_token import claims_summary, peek, token_checks
from focus_middleware.cli.exits import ERROR, OK, UNAVAILABLE, USAGE, CLIError, remember_secret, scrub
from focus_middleware.cli.output import cell, pairs
from focus_middleware.client import FocusClient
from focus_middleware.config import ConfigError, FocusConfig
from focus_middleware.errors import (
    FocusAPIError,
    FocusError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from focus_middleware.tokens import looks_like_pat

_MAX_INPUT = 1024 * 1024
_EXIT = {"ok": OK, "failed": ERROR, "unavailable": UNAVAILABLE}
DOCTOR_EXITS = """\
focus doctor exits 0 when no check failed (warnings allowed), 1 when one did, and 5 when
the JWKS or Focus could not be reached and nothing else failed.
FOCUS_* variables are the app's settings, read as FocusConfig.from_env() reads them.

"""
TOKEN_ARGUMENT_WARNING = (
    "focus doctor: warning: --token leaves the token in your shell history and in the process list;"
    " prefer --token-stdin\n"
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """``doctor``'s own options (``--base-url`` and ``--json`` come from the shared parents)."""
    parser.epilog = DOCTOR_EXITS + (parser.epilog or "")
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "--token-stdin", action="store_true",
        help="also check a session token, read from stdin (on a terminal: prompted, not echoed)",
    )
    given.add_argument(
        "--token", metavar="JWT", help="the token to check; it lands in your shell history: prefer --token-stdin"
    )
    parser.add_argument(
        "--use", choices=("bearer", "browser", "both"), default="both",
        help="how the app will receive the token: as Authorization: Bearer, on the browser sign-in path"
        " (return trip, refresh, cookies), or both (default)",
    )


def run_doctor(args: argparse.Namespace) -> int:
    token = _read_token(args)
    overrides: dict[str, Any] = {"api_url": args.base_url} if args.base_url else {}
    try:
        config = FocusConfig.from_env(**overrides)
    except ConfigError as exc:
        problem = str(exc)[len(exc.setting):].lstrip(": ")
        checks = [Check("settings", "fail", f"{env_name(exc.setting)}: {problem}",
                        fix=f"correct {env_name(exc.setting)}", settings=(exc.setting,))]
        return _finish(args, None, checks, None)
    checks = settings_checks(config) + environment_checks(os.environ)
    key_checks, keys = _keys(config)
    checks += key_checks
    claims = None
    if token is None:
        checks.append(Check("token", "skip", "none given: pipe a session token to --token-stdin to check it too"))
    else:
        checks += token_checks(token, config, keys, config.clock.time(), args.use)
        payload = peek(token).payload
        claims = claims_summary(payload) if payload is not None else None
        if _asks_focus(token, config, checks):
            checks.append(_remote_check(config, token))
    return _finish(args, config, checks, claims)


def _read_token(args: argparse.Namespace) -> str | None:
    if args.token is not None:
        sys.stderr.write(TOKEN_ARGUMENT_WARNING)
        raw: str = args.token
    elif args.token_stdin:
        try:
            if sys.stdin.isatty():
                raw = getpass.getpass("Session token (not shown): ")
            else:
                raw = sys.stdin.read(_MAX_INPUT)
        except EOFError:  # Ctrl-D at the prompt
            raw = ""
    else:
        return None
    token = raw.strip()
    if token[:7].lower() == "bearer ":  # pasted with its header scheme
        token = token[7:].strip()
    remember_secret(token)
    if not token:
        raise CLIError("no token given (pipe one to --token-stdin)", USAGE)
    return token


# -- what needs the network ------------------------------------------------------------


def _keys(config: FocusConfig) -> tuple[list[Check], Keys | None]:
    if config.jwt_public_key is not None:
        try:
            key = load_pem_public_key(config.jwt_public_key.encode())
        except (ValueError, TypeError):
            return [Check("keys", "fail", "FOCUS_JWT_PUBLIC_KEY is not a readable PEM public key",
                          settings=("jwt_public_key",))], None
        return [Check("keys", "pass", "a static public key (FOCUS_JWT_PUBLIC_KEY); no JWKS is fetched")], \
            Keys(static=key, where="FOCUS_JWT_PUBLIC_KEY")
    if config.jwks_url is None:
        return [], None  # no issuer: settings_checks said what remote checking costs
    url = config.jwks_url
    try:
        with FocusClient.from_config(config) as client:
            document = client.get_json_document(url)
    except (RateLimitedError, UnavailableError) as exc:
        return [Check(
            "jwks", "unavailable",
            f"could not fetch {url}: {exc}; until it answers, the middleware cannot verify a session JWT"
            " whose key it does not already hold (such requests get 503)",
            fix="check that this machine reaches it (proxy, firewall, DNS), and FOCUS_ISSUER / FOCUS_JWKS_URL",
            settings=("issuer", "jwks_url"),
        )], None
    except FocusAPIError as exc:
        return [Check("jwks", "fail", f"{url} answered HTTP {exc.status}, not a JWKS",
                      fix="FOCUS_ISSUER must be your Clerk instance's Frontend API URL (the iss of its tokens)",
                      settings=("issuer", "jwks_url"))], None
    except FocusError:
        return [Check("jwks", "fail", f"{url} did not answer JSON",
                      fix="FOCUS_ISSUER must be your Clerk instance's Frontend API URL (the iss of its tokens)",
                      settings=("issuer", "jwks_url"))], None
    check, keys = keys_check(url, document)
    return [check], keys


def _asks_focus(token: str, config: FocusConfig, checks: Sequence[Check]) -> bool:
    """Whether the middleware would ask Focus about this token: a PAT always; a session JWT
    when there is no issuer, once its header passed (a malformed bearer costs no call)."""
    if token.count(".") != 2:
        return looks_like_pat(token)
    header_ok = all(c.status != "fail" for c in checks if c.name in ("size", "header", "category"))
    return config.issuer is None and header_ok


def _remote_check(config: FocusConfig, token: str) -> Check:
    # Without ?app=: the doctor must not grant an app's starter credits as a side effect.
    where = f"Focus at {config.api_url}"
    try:
        with FocusClient.from_config(config, token) as client:
            wallet = client.wallet()
    except UnauthorizedError:
        return Check("focus", "fail", f"{where} refused the token (401): expired, revoked, or from another"
                     " Clerk instance than this Focus's", fix="check FOCUS_API_URL (or --base-url)",
                     settings=("api_url",))
    except (RateLimitedError, UnavailableError) as exc:
        return Check("focus", "unavailable", f"{where} could not be asked: {exc}")
    except FocusError as exc:
        return Check("focus", "fail", f"{where} answered something unexpected: {exc}")
    return Check("focus", "pass", f"{where} accepts it (GET /api/wallet): user {cell(wallet.account.clerk_id)}")


# -- output -----------------------------------------------------------------------------


def _finish(args: argparse.Namespace, config: FocusConfig | None, checks: list[Check], claims: dict[str, Any] | None) -> int:
    status = exit_status(checks)
    code = _EXIT[status]
    if args.json:
        document = {
            "result": status,
            "exit_code": code,
            "settings": settings_summary(config) if config is not None else None,
            "checks": [c.to_json() for c in checks],
            "claims": claims,
        }
        _write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return code
    if config is not None:
        _write(f"Focus doctor: {config.api_url}\n\nsettings\n")
        _write(_settings_table(config))
    _write("\nchecks\n" + "".join(_check_lines(c) for c in checks))
    if claims:
        _write("\nclaims (decoded, not trusted; none is a secret)\n" + _claims_table(claims))
    _write("\n" + _verdict(status, checks) + "\n")
    return code


def _write(text: str) -> None:
    # The last guard: whatever a message carried, the token never reaches the terminal.
    sys.stdout.write(scrub(text))
    sys.stdout.flush()


def _pairs(items: list[tuple[str, Any]]) -> str:
    buffer = io.StringIO()
    pairs([(f"  {label}", value) for label, value in items], out=buffer)
    return buffer.getvalue()


def _settings_table(config: FocusConfig) -> str:
    summary = settings_summary(config)
    return _pairs([
        ("api_url", summary["api_url"]),
        ("app", summary["app"]),
        ("issuer", summary["issuer"] or "none: session JWTs are checked remotely"),
        ("jwks_url", summary["jwks_url"]),
        ("public_origin", summary["public_origin"]),
        ("authorized_parties", ", ".join(summary["authorized_parties"]) or None),
        ("signin origin", summary["signin_origin"]),
        ("allow_missing_azp", summary["allow_missing_azp"]),
        ("allow_signin_azp_bearer", summary["allow_signin_azp_bearer"]),
        ("leeway", f"{config.leeway:g} s"),
        ("min_token_life", f"{config.min_token_life:g} s"),
    ])


def _check_lines(check: Check) -> str:
    line = f"  {check.status:<5} {check.name:<15} {check.detail}\n"
    if check.fix:
        line += f"  {'':<5} {'':<15} fix: {check.fix}\n"
    return line


def _claims_table(claims: dict[str, Any]) -> str:
    items: list[tuple[str, Any]] = []
    for name, value in claims.items():
        if name in ("exp", "nbf", "iat") and isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                value = f"{cell(datetime.fromtimestamp(value, UTC))} ({value:.0f})"
            except (OverflowError, OSError, ValueError):
                pass
        elif not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        items.append((name, value))
    return _pairs(items)


def _verdict(status: str, checks: Sequence[Check]) -> str:
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    warnings = f", {warned} warning{'s' if warned != 1 else ''}" if warned else ""
    if status == "failed":
        return f"{failed} check{'s' if failed != 1 else ''} failed{warnings}: see fix: above."
    if status == "unavailable":
        return f"Focus or its JWKS could not be reached, so the diagnosis is incomplete{warnings}."
    return f"No check failed{warnings}."
