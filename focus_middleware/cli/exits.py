"""Exit codes, and turning any failure into one line on stderr.

Scripts branch on the exit code, people read the line; neither wants a traceback. The
codes are part of the CLI's interface (``focus --help`` lists them) and do not change:

====  ===============================================================================
0     success
1     any other error (Focus answered something unexpected, a local file problem...)
2     usage: a bad option or value (argparse's own code)
3     not logged in: no stored token, Focus refused it (401), or a login was denied
      or expired
4     insufficient credits (402)
5     Focus unavailable: unreachable, timed out, 5xx, or rate-limited (429)
130   interrupted (Ctrl-C), as a shell reports a SIGINT death
====  ===============================================================================

Every message goes through :func:`scrub` first: any secret this process has seen (the
PAT, the device code) is replaced, whatever exception carried it. ``FOCUS_DEBUG=1`` adds
the traceback, for bug reports.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TextIO

from focus_middleware.credentials_store import NoCredentialsError
from focus_middleware.errors import (
    FocusError,
    InsufficientCreditsError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)

OK = 0
ERROR = 1
USAGE = 2
NOT_LOGGED_IN = 3
INSUFFICIENT_CREDITS = 4
UNAVAILABLE = 5
INTERRUPTED = 130

EPILOG = """\
exit codes:
  0    success
  1    other error (an unexpected answer from Focus, a local file problem)
  2    usage error (bad option or value)
  3    not logged in: no stored token, token refused, or login denied/expired
  4    insufficient credits
  5    Focus unavailable (unreachable, timeout, 5xx, rate-limited)
  130  interrupted (Ctrl-C)

environment:
  FOCUS_API_URL   base URL of the Focus service (default https://account.thefocus.ai)
  FOCUS_TOKEN     a token to use instead of the stored one
  FOCUS_APP       default for --app
  FOCUS_DEBUG=1   print tracebacks with errors
"""

_SECRETS: set[str] = set()
REDACTED = "[redacted]"


class CLIError(Exception):
    """A failure the command has already put into words, with its exit code."""

    def __init__(self, message: str, code: int = ERROR) -> None:
        super().__init__(message)
        self.code = code


def remember_secret(value: str | None) -> None:
    """Never let ``value`` reach an error line, whatever exception carries it."""
    if value and len(value) >= 8:
        _SECRETS.add(value)


def scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def debugging() -> bool:
    return os.environ.get("FOCUS_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def refused_connection(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection that could not be made (nothing listens there, or
    the name does not resolve), as the client words it, as opposed to an answer or a timeout."""
    return isinstance(exc, UnavailableError) and exc.status is None and str(exc).endswith("failed (ConnectError)")


def classify(exc: BaseException, base_url: str | None = None) -> tuple[int, str]:
    """The exit code and the line for ``exc``; ``base_url`` is the Focus service the
    command talked to, named when nothing answered there."""
    if isinstance(exc, CLIError):
        return exc.code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED, "interrupted"
    if isinstance(exc, NoCredentialsError):
        return NOT_LOGGED_IN, f"not logged in: {exc}"
    if isinstance(exc, UnauthorizedError):
        return NOT_LOGGED_IN, "Focus refused the token (expired or revoked?): run `focus login` again"
    if isinstance(exc, InsufficientCreditsError):
        where = f"; buy more at {exc.purchase_url}" if exc.purchase_url else ""
        return INSUFFICIENT_CREDITS, f"{exc}{where}"
    if isinstance(exc, RateLimitedError):
        return UNAVAILABLE, f"{exc}; try again later"
    if base_url is not None and refused_connection(exc):
        return UNAVAILABLE, (
            f"could not connect to Focus at {base_url} ({exc}): is it running? For the local emulator run"
            " `focus emulator` (or `focus demo`); for another service set FOCUS_API_URL or --base-url"
        )
    if isinstance(exc, UnavailableError):
        return UNAVAILABLE, f"Focus is unavailable: {exc}"
    if isinstance(exc, FocusError | OSError):  # FocusAPIError, a credentials file problem...
        return ERROR, str(exc)
    return ERROR, f"unexpected error: {type(exc).__name__}: {exc} (FOCUS_DEBUG=1 shows the traceback)"


def report(command: str, exc: BaseException, stream: TextIO | None = None, *, base_url: str | None = None) -> int:
    """Write ``exc`` as one line (the traceback first with ``FOCUS_DEBUG=1``); its code."""
    out = stream if stream is not None else sys.stderr
    code, message = classify(exc, base_url)
    if debugging() and not isinstance(exc, KeyboardInterrupt):
        out.write(scrub("".join(traceback.format_exception(exc))))
    line = " ".join(scrub(message).split())  # one line, whatever the message held
    prefix = f"focus {command}" if command else "focus"
    out.write(f"{prefix}: {line}\n")
    out.flush()
    return code
