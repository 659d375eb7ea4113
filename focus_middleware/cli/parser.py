"""The ``focus`` command line: every subcommand, option and default in one place.

Options that pick the Focus service (``--base-url``) or the output (``--json``) are
spelled the same on every account command, through shared parent parsers.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from typing import NoReturn, cast

from focus_middleware.cli import account, doctor, emulator, login
from focus_middleware.cli.context import base_url_option
from focus_middleware.cli.exits import EPILOG


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)")


def did_you_mean(given: str, choices: list[str]) -> str | None:
    """The choice ``given`` was probably meant to be (git's "did you mean"), if any is close."""
    close = difflib.get_close_matches(given.lower(), choices, n=1, cutoff=0.6)
    return close[0] if close else None


class SuggestingParser(argparse.ArgumentParser):
    """argparse, adding the closest choice to an "invalid choice" error (``focus walet``:
    did you mean ``wallet``?); the exit code stays argparse's 2. Python 3.14's
    ``suggest_on_error`` does the same; this runs on 3.11."""

    def error(self, message: str) -> NoReturn:
        found = _INVALID_CHOICE.search(message)
        if found:
            choices = re.findall(r"'([^']*)'", found["choices"])
            match = did_you_mean(found["given"], choices)
            if match is not None:
                message = f"{message}; did you mean '{match}'?"
        super().error(message)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _service_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--base-url",
        type=base_url_option,
        metavar="URL",
        help="the Focus service (default $FOCUS_API_URL, else https://account.thefocus.ai);"
        " tokens are stored per base URL",
    )
    return parent


def _json_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parent


def _app_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--app", default=os.environ.get("FOCUS_APP") or None, metavar="SLUG", help=f"{what} (default $FOCUS_APP)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(
        prog="focus",
        description="Focus account platform tools: log in, look at your wallet and jobs, run the emulator.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Every subcommand's parser suggests too (``--framework flsk``); typed as the plain
    # parser it extends, which is what the commands' own modules add to.
    commands = cast("argparse._SubParsersAction[argparse.ArgumentParser]", parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=SuggestingParser))
    service, as_json = _service_options(), _json_option()

    def add(name: str, summary: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=summary, description=summary, parents=list(parents),
            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    cmd = add("login", "log in with a device code and store the token", service)
    cmd.add_argument("--no-browser", action="store_true", help="only print the URL; do not open a browser")
    cmd.set_defaults(run=login.run_login)

    cmd = add("logout", "forget the stored token (keyring and file); Focus has no revocation endpoint", service)
    cmd.set_defaults(run=account.run_logout)

    cmd = add("whoami", "show the account the token belongs to", service, as_json)
    cmd.set_defaults(run=account.run_whoami)

    cmd = add("print-token", "print the token (the only command that does)", service)
    cmd.set_defaults(run=account.run_print_token)

    cmd = add("wallet", "show credits, and the apps used", service, as_json)
    _app_option(cmd, "only this app among the apps used (a read: never grants its starter credits)")
    cmd.set_defaults(run=account.run_wallet)

    cmd = add("jobs", "list paid jobs, as Focus orders them (newest first)", service, as_json)
    _app_option(cmd, "only this app's jobs")
    cmd.add_argument("--status", choices=("started", "completed", "failed"), help="only jobs in this state")
    cmd.add_argument("--limit", type=_positive_int, metavar="N", help="at most N jobs")
    cmd.set_defaults(run=account.run_jobs)

    cmd = add("doctor", "check this app's FOCUS_* settings, its JWKS and a session token as a request would", service, as_json)
    doctor.add_options(cmd)
    cmd.set_defaults(run=doctor.run_doctor)

    emulator.add_commands(commands)
    return parser
