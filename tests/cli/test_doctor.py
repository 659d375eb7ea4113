"""``focus doctor`` as a user runs it: the app's FOCUS_* settings in the environment, a
session token piped to ``--token-stdin``, against a real emulator (its JWKS, its tokens).

The azp rules it reports follow Clerk: ``azp`` is "the Origin header that was included in
the original Frontend API request" (https://clerk.com/docs/guides/sessions/session-tokens),
matched exactly against the authorized parties and refused when missing once parties are
configured (clerk/javascript packages/backend/src/jwt/assertions.ts,
assertAuthorizedPartiesClaim); ``sts: "pending"`` is signed out
(packages/backend/src/tokens/authObjects.ts, treatPendingAsSignedOut defaults to true).
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from focus_middleware.cli import main
from focus_middleware.cli.doctor_azp import azp_checks, sources_of
from focus_middleware.cli.doctor_checks import Check, exit_status
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .runner import Cli, Result

APP_ORIGIN = "https://app.example"


def doctor(cli: Cli, *args: str, token: str | None = None, **env: str) -> Result:
    """``focus doctor --token-stdin ...`` with ``token`` on stdin (as ``echo $T | focus
    doctor --token-stdin`` would), recorded so leaks are looked for in every run."""
    argv = ("doctor", *(("--token-stdin",) if token is not None else ()), *args)
    done = subprocess.run(
        cli.command(*argv), env={**cli.env, **env}, cwd=cli.tmp, input=token or "",
        capture_output=True, text=True, timeout=60,
    )
    result = Result(done.returncode, done.stdout, done.stderr)
    cli.runs.append((argv, result))
    return result


@pytest.fixture
def here(cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``doctor``, run in this process through the CLI's ``main`` (the same parser, the same
    HTTP to the emulator, without an interpreter start per case); recorded in ``cli.runs``."""

    def run(*args: str, token: str | None = None, **env: str) -> Result:
        with monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("FOCUS_")]:
                patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(token or ""))
            argv = ("doctor", *(("--token-stdin",) if token is not None else ()), *args)
            capsys.readouterr()
            code = main(list(argv))
            out, err = capsys.readouterr()
        result = Result(code, out, err)
        cli.runs.append((argv, result))
        return result

    return run


def app_env(emulator: FocusEmulator, **more: str) -> dict[str, str]:
    """An app that verifies locally and is served at APP_ORIGIN."""
    return {"FOCUS_API_URL": emulator.url, "FOCUS_ISSUER": emulator.issuer, "FOCUS_PUBLIC_ORIGIN": APP_ORIGIN, **more}


def shows_signature(token: str, text: str) -> bool:
    """Whether ``text`` holds any 12 characters of the token's signature."""
    signature = token.rsplit(".", 1)[-1]
    return any(signature[start:start + 12] in text for start in range(len(signature) - 11))


def assert_never_leaked(cli: Cli, token: str) -> None:
    """Neither the token nor any part of its signature in any output."""
    cli.assert_never_printed(token)
    for args, result in cli.runs:
        assert not shows_signature(token, result.out + result.err), f"`focus {' '.join(args)}` printed the signature"


def lines(result: Result, status: str) -> dict[str, str]:
    """The text checks of one status, by check name."""
    found = {}
    for line in result.out.splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and words[0] == status:
            name, _, detail = words[1].partition("  ")
            found[name.strip()] = detail.strip()
    return found


def checks(result: Result) -> dict[str, dict[str, Any]]:
    document = json.loads(result.out)
    return {c["check"]: c for c in document["checks"]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- against the emulator --------------------------------------------------------------------


def test_a_token_for_this_app_passes_every_check(cli: Cli, emulator: FocusEmulator, person: EmulatedUser) -> None:
    token = person.session_jwt(azp=APP_ORIGIN)
    result = doctor(cli, token=token, **app_env(emulator))
    assert result.code == 0, result
    passed = lines(result, "pass")
    for name in ("settings", "parties", "jwks", "size", "header", "category", "signature", "iss", "exp", "nbf",
                 "iat", "sts", "sub", "azp (bearer)", "azp (browser)"):
        assert name in passed, f"no pass line for {name}:\n{result.out}"
    assert passed["jwks"].startswith("1 signing key at " + emulator.jwks_url)
    assert not lines(result, "fail") and "No check failed." in result.out
    # The claims that are not secrets are shown, so a person can compare them.
    assert person.clerk_id in result.out and APP_ORIGIN in result.out
    as_json = doctor(cli, "--json", token=token, **app_env(emulator))
    document = json.loads(as_json.out)
    assert (as_json.code, document["result"], document["exit_code"]) == (0, "ok", 0)
    assert document["claims"]["azp"] == APP_ORIGIN and document["claims"]["sub"] == person.clerk_id
    assert {c["status"] for c in document["checks"]} == {"pass"}
    assert_never_leaked(cli, token)


def test_a_token_for_another_site_fails_naming_azp_and_the_setting(
    cli: Cli, emulator: FocusEmulator, person: EmulatedUser
) -> None:
    token = person.session_jwt(azp="https://evil.example")
    result = doctor(cli, token=token, **app_env(emulator))
    assert result.code == 1, result
    failed = lines(result, "fail")
    assert set(failed) == {"azp (bearer)", "azp (browser)"}, result.out
    assert "https://evil.example" in failed["azp (bearer)"] and "another site" in failed["azp (bearer)"]
    assert "fix: only if this app really is served at https://evil.example: set FOCUS_PUBLIC_ORIGIN" in result.out
    found = checks(doctor(cli, "--json", token=token, **app_env(emulator)))
    assert found["azp (bearer)"]["status"] == "fail"
    assert found["azp (bearer)"]["settings"] == ["FOCUS_PUBLIC_ORIGIN", "FOCUS_AUTHORIZED_PARTIES"]
    assert found["signature"]["status"] == "pass"  # genuine, just not for this app
    assert_never_leaked(cli, token)


def test_a_sign_in_site_token_is_accepted_on_the_browser_path_not_as_a_bearer(
    cli: Cli, emulator: FocusEmulator, person: EmulatedUser
) -> None:
    # The sign-in site is the emulator here (signin_url defaults to api_url + "/signin"):
    # a token minted on its page carries its origin as azp.
    token = person.session_jwt(azp=emulator.url)
    result = doctor(cli, token=token, **app_env(emulator))
    assert result.code == 1, result
    bearer = lines(result, "fail")["azp (bearer)"]
    assert "is the sign-in site: accepted on the browser sign-in path, refused as a bearer" in bearer
    assert "fix: FOCUS_ALLOW_SIGNIN_AZP_BEARER=true" in result.out
    assert "the sign-in site" in lines(result, "pass")["azp (browser)"]
    # Received only through the browser's sign-in, nothing fails...
    assert doctor(cli, "--use", "browser", token=token, **app_env(emulator)).code == 0
    # ...and with the setting the fix names, as a bearer too.
    allowed = doctor(cli, token=token, **app_env(emulator, FOCUS_ALLOW_SIGNIN_AZP_BEARER="true"))
    assert allowed.code == 0, allowed
    assert "FOCUS_ALLOW_SIGNIN_AZP_BEARER is on" in lines(allowed, "pass")["azp (bearer)"]
    assert_never_leaked(cli, token)


def test_a_token_without_azp_is_never_a_bearer(
    cli: Cli, here: Callable[..., Result], emulator: FocusEmulator, person: EmulatedUser
) -> None:
    token = person.session_jwt(azp=None)
    result = here("--json", token=token, **app_env(emulator, FOCUS_ALLOW_MISSING_AZP="1"))
    found = checks(result)
    assert result.code == 1
    assert found["azp (bearer)"]["status"] == "fail" and found["azp (bearer)"]["settings"] == []
    assert "never accepted" in found["azp (bearer)"]["detail"]
    assert found["azp (browser)"]["status"] == "pass"
    without = checks(here("--json", "--use", "browser", token=token, **app_env(emulator)))
    assert without["azp (browser)"]["settings"] == ["FOCUS_ALLOW_MISSING_AZP"]
    assert_never_leaked(cli, token)


def test_jwks_down_exits_5_with_a_clear_message(cli: Cli, emulator: FocusEmulator, person: EmulatedUser) -> None:
    token = person.session_jwt(azp=APP_ORIGIN)
    emulator.set_jwks_down(True)
    result = doctor(cli, token=token, **app_env(emulator))
    assert result.code == 5, result
    down = [line for line in result.out.splitlines() if line.split()[:2] == ["unavailable", "jwks"]]
    assert len(down) == 1 and f"could not fetch {emulator.jwks_url}" in down[0] and "503" in down[0]
    assert "not checked: no keys could be had" in lines(result, "skip")["signature"]
    assert "could not be reached" in result.out.splitlines()[-1]
    assert_never_leaked(cli, token)


def test_an_unreachable_jwks_exits_5_and_a_definite_failure_still_exits_1(
    cli: Cli, emulator: FocusEmulator, person: EmulatedUser
) -> None:
    nowhere = f"http://127.0.0.1:{closed_port()}/.well-known/jwks.json"
    token = person.session_jwt(azp=APP_ORIGIN)
    result = doctor(cli, "--json", token=token, **app_env(emulator, FOCUS_JWKS_URL=nowhere))
    document = json.loads(result.out)
    assert (result.code, document["result"]) == (5, "unavailable"), result
    jwks = checks(result)["jwks"]
    assert jwks["status"] == "unavailable" and nowhere in jwks["detail"] and "ConnectError" in jwks["detail"]
    # Retrying will not make a token for another site acceptable: that answer wins.
    evil = person.session_jwt(azp="https://evil.example")
    assert doctor(cli, token=evil, **app_env(emulator, FOCUS_JWKS_URL=nowhere)).code == 1
    assert_never_leaked(cli, token)
    assert_never_leaked(cli, evil)


@pytest.mark.parametrize(
    ("claims", "name", "fragment", "setting"),
    [
        ({"exp": int(time.time()) - 120}, "exp", "s ago): a browser navigation would be sent to sign in", "FOCUS_LEEWAY"),
        ({"nbf": int(time.time()) + 600}, "nbf", "in the future (not_yet_valid)", "FOCUS_LEEWAY"),
        ({"iat": int(time.time()) + 600}, "iat", "in the future (issued_in_future)", "FOCUS_LEEWAY"),
        ({"sts": "pending"}, "sts", "pending (session_pending)", None),
        ({"sub": "mch_2abc"}, "sub", "is a machine", None),
        ({"iss": "https://clerk.other.example"}, "iss", "is not FOCUS_ISSUER", "FOCUS_ISSUER"),
    ],
)
def test_each_claim_failure_names_its_fix(
    cli: Cli, here: Callable[..., Result], emulator: FocusEmulator, person: EmulatedUser, claims: dict[str, Any],
    name: str, fragment: str, setting: str | None,
) -> None:
    token = person.session_jwt(azp=APP_ORIGIN, **claims)
    result = here("--json", token=token, **app_env(emulator))
    assert result.code == 1, result.out
    failed = {n: c for n, c in checks(result).items() if c["status"] == "fail"}
    assert list(failed) == [name], failed
    assert fragment in failed[name]["detail"] and failed[name]["fix"]
    assert failed[name]["settings"] == ([setting] if setting else [])
    assert_never_leaked(cli, token)


def test_within_the_leeway_is_not_a_failure(
    cli: Cli, here: Callable[..., Result], emulator: FocusEmulator, person: EmulatedUser
) -> None:
    token = person.session_jwt(azp=APP_ORIGIN, exp=int(time.time()) - 1, nbf=int(time.time()) + 2)
    result = here(token=token, **app_env(emulator, FOCUS_LEEWAY="10"))
    assert result.code == 0, result.out
    assert "within FOCUS_LEEWAY (10 s)" in lines(result, "pass")["exp"]
    assert_never_leaked(cli, token)


def test_header_problems(cli: Cli, here: Callable[..., Result], emulator: FocusEmulator, person: EmulatedUser) -> None:
    template = person.session_jwt(azp=APP_ORIGIN, headers={"cat": "cl_T3mpl4te"})
    found = checks(here("--json", token=template, **app_env(emulator)))
    assert found["category"]["status"] == "fail" and "cat=cl_T3mpl4te" in found["category"]["detail"]
    assert found["signature"]["status"] == "skip"
    forged = person.session_jwt(azp=APP_ORIGIN, key="foreign")
    found = checks(here("--json", token=forged, **app_env(emulator)))
    assert found["signature"]["status"] == "fail" and "does not verify" in found["signature"]["detail"]
    oversized = person.session_jwt(azp=APP_ORIGIN, padding="x" * 4000)
    result = here("--json", token=oversized, **app_env(emulator))
    size = checks(result)["size"]
    assert size["status"] == "fail" and "3800 a cookie can hold" in size["detail"] and "fine as a bearer" in size["detail"]
    assert here("--use", "bearer", token=oversized, **app_env(emulator)).code == 0
    garbage = here(token="not a token at all", **app_env(emulator))
    assert garbage.code == 1 and "neither a session JWT" in lines(garbage, "fail")["token"]
    for token in (template, forged, oversized):
        assert_never_leaked(cli, token)


def test_without_an_issuer_focus_is_asked_and_the_cost_is_said(
    cli: Cli, here: Callable[..., Result], emulator: FocusEmulator, person: EmulatedUser
) -> None:
    env = {"FOCUS_API_URL": emulator.url, "FOCUS_PUBLIC_ORIGIN": APP_ORIGIN}
    token = person.session_jwt(azp=APP_ORIGIN)
    result = here(token=token, **env)
    assert result.code == 0, result
    assert "checked remotely" in lines(result, "warn")["issuer"] and "fix: set FOCUS_ISSUER" in result.out
    assert f"FOCUS_ISSUER={emulator.issuer} would verify it locally" in lines(result, "info")["iss"]
    assert f"accepts it (GET /api/wallet): user {person.clerk_id}" in lines(result, "pass")["focus"]
    assert emulator.calls("GET /api/wallet", token) == 1
    expired = person.session_jwt(azp=APP_ORIGIN, exp=int(time.time()) - 120)
    refused = here(token=expired, **env)
    assert refused.code == 1 and "refused the token (401)" in lines(refused, "fail")["focus"]
    pat = person.pat()
    as_pat = here(token=pat, **env)
    assert as_pat.code == 0 and "shaped like a PAT" in lines(as_pat, "info")["token"]
    for secret in (token, expired, pat):
        cli.assert_never_printed(secret)


def test_no_public_origin_is_a_warning_and_no_token_is_fine(here: Callable[..., Result], emulator: FocusEmulator) -> None:
    result = here(FOCUS_API_URL=emulator.url, FOCUS_ISSUER=emulator.issuer)
    assert result.code == 0, result
    assert "azp is not checked" in lines(result, "warn")["parties"]
    assert "fix: set FOCUS_PUBLIC_ORIGIN" in result.out
    assert "pipe a session token to --token-stdin" in lines(result, "skip")["token"]


def test_a_bad_setting_fails_naming_it(here: Callable[..., Result], emulator: FocusEmulator) -> None:
    result = here("--json", FOCUS_API_URL=emulator.url, FOCUS_LEEWAY="soon")
    assert result.code == 1
    assert checks(result)["settings"]["detail"].startswith("FOCUS_LEEWAY: expected a number")
    base = here("--base-url", emulator.url, "--json", FOCUS_API_URL="https://nowhere.invalid")
    assert json.loads(base.out)["settings"]["api_url"] == emulator.url  # --base-url wins


def test_a_misspelt_setting_is_named(here: Callable[..., Result], emulator: FocusEmulator) -> None:
    # from_env() ignores FOCUS_* names it does not know (other tools may own some), so a
    # typo would silently leave public_origin unset.
    result = here("--json", FOCUS_API_URL=emulator.url, FOCUS_PUBLIC_ORGIN=APP_ORIGIN, FOCUS_DEBUG="0")
    found = [c for c in json.loads(result.out)["checks"] if c["check"] == "environment"]
    assert found == [{"check": "environment", "status": "warn", "settings": [],
                      "detail": "FOCUS_PUBLIC_ORGIN is not a Focus setting, and is ignored",
                      "fix": "did you mean FOCUS_PUBLIC_ORIGIN?"}]
    assert result.code == 0


def test_token_as_an_argument_warns_about_shell_history(cli: Cli, emulator: FocusEmulator, person: EmulatedUser) -> None:
    token = person.session_jwt(azp=APP_ORIGIN)
    argv = ("doctor", "--token", token)
    done = subprocess.run(cli.command(*argv), env={**cli.env, **app_env(emulator)}, cwd=cli.tmp,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout
    assert "--token leaves the token in your shell history" in done.stderr
    assert token not in done.stdout + done.stderr
    empty = doctor(cli, token="   \n", **app_env(emulator))
    assert empty.code == 2 and "no token given" in empty.err


def test_a_terminal_is_prompted_without_echo(cli: Cli, emulator: FocusEmulator, person: EmulatedUser) -> None:
    """On a terminal, ``--token-stdin`` asks with getpass, which turns echo off
    (https://docs.python.org/3/library/getpass.html): what was typed is not shown back."""
    token = person.session_jwt(azp=APP_ORIGIN)
    parent, child = pty.openpty()
    # A session of its own: the child has no controlling terminal but the pty on its stdin,
    # which getpass then uses (and never this test run's own terminal).
    process = subprocess.Popen(
        cli.command("doctor", "--token-stdin"), env={**cli.env, **app_env(emulator)}, cwd=cli.tmp,
        stdin=child, stdout=child, stderr=child, start_new_session=True, close_fds=True,
    )
    os.close(child)
    seen = b""
    try:
        seen += _read_until(parent, b"Session token (not shown): ")
        os.write(parent, token.encode() + b"\n")
        seen += _read_until(parent, b"No check failed.")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        os.close(parent)
    text = seen.decode(errors="replace")
    assert "pass  azp (bearer)" in text
    assert token not in text and not shows_signature(token, text)


def _read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} in {seen!r}")
        try:
            seen += os.read(fd, 4096)
        except OSError:  # the child is gone
            raise AssertionError(f"no {marker!r} in {seen!r}") from None
    return seen


# -- the judgement alone, in process ---------------------------------------------------------


@pytest.mark.parametrize(
    ("azp", "fragment"),
    [
        ("https://APP.example", "only by case or a trailing slash"),
        (APP_ORIGIN + "/", "only by case or a trailing slash"),
        ("null", "opaque origin"),
        (42, "azp is not a string"),
        ("https://sibling.thefocus.ai", "another site"),
    ],
)
def test_near_misses_of_azp_are_refused_everywhere(azp: object, fragment: str) -> None:
    config = FocusConfig(api_url="https://account.example", public_origin=APP_ORIGIN)
    found = azp_checks(azp, True, config, sources_of("both"))
    assert [c.name for c in found] == ["azp (bearer)", "azp (browser)"]
    assert all(c.status == "fail" and fragment in c.detail for c in found), found


def test_a_definite_failure_outranks_an_unreachable_service() -> None:
    down, bad = Check("jwks", "unavailable", "-"), Check("azp (bearer)", "fail", "-")
    assert exit_status([Check("x", "pass", "-"), Check("y", "warn", "-")]) == "ok"
    assert exit_status([down]) == "unavailable"
    assert exit_status([down, bad]) == "failed"
