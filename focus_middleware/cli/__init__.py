"""The ``focus`` command: log in to Focus from a terminal, look at the account, run the
emulator.

Commands (every account command takes ``--base-url URL``, default ``$FOCUS_API_URL``,
else ``https://account.thefocus.ai``)::

    focus login [--no-browser]        device-code login; stores the PAT
    focus logout                      forget the stored PAT (keyring and file)
    focus whoami [--json]             the account the token belongs to
    focus print-token                 the token itself (the only command that prints it)
    focus wallet [--app SLUG] [--json]
    focus jobs [--app SLUG] [--status started|completed|failed] [--limit N] [--json]
    focus doctor [--token-stdin] [--use bearer|browser|both] [--json]
                                      check FOCUS_* settings, the JWKS and a session token
    focus emulator [--host --port --db --allow-origin --session-cookie-domain]
    focus demo [--framework fastapi|starlette|flask|django] [--app-port --host --port --db]

The token is read from ``$FOCUS_TOKEN`` when set, else from the system keyring, else from
``$XDG_CONFIG_HOME/focus/credentials.json`` (see :mod:`focus_middleware.credentials_store`).

Exit codes (also in ``focus --help``), stable for scripts:

- 0: success
- 1: any other error (an unexpected answer from Focus, a local file problem)
- 2: usage error (argparse's code: a bad option or value, a bad ``$FOCUS_API_URL``)
- 3: not logged in: no stored token, Focus refused it (401), or the login was denied or
  expired
- 4: insufficient credits (402)
- 5: Focus unavailable: unreachable, timed out, 5xx, or rate-limited
- 130: interrupted by Ctrl-C

Failures are one line on stderr (``focus <command>: <what happened>``), never a traceback;
``FOCUS_DEBUG=1`` adds the traceback. Tokens never appear in either.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence

from focus_middleware.cli.demo import run_demo
from focus_middleware.cli.emulator import exposure_warning, is_loopback, run_emulator
from focus_middleware.cli.exits import ERROR, report
from focus_middleware.cli.parser import build_parser
from focus_middleware.credentials_store import resolve_base_url


def _silence_stdout() -> None:
    """After a closed pipe (``focus jobs | head -1``), point stdout at /dev/null so the
    interpreter's final flush does not fail again with a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``focus`` command; its exit code. Usage errors exit 2 through argparse."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt as exc:  # exit 130, one line: Ctrl-C is an answer, not a crash
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        return report(args.command, exc)
    except BrokenPipeError:
        _silence_stdout()
        return ERROR
    except Exception as exc:
        return report(args.command, exc, base_url=_base_url(args))


def _base_url(args: argparse.Namespace) -> str | None:
    """The Focus service an account command talks to, to name it in an error."""
    if not hasattr(args, "base_url"):
        return None  # emulator, demo: no service to reach
    try:
        return resolve_base_url(args.base_url)
    except ValueError:
        return None


__all__ = ["build_parser", "exposure_warning", "is_loopback", "main", "run_demo", "run_emulator"]
