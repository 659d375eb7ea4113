"""The whole-suite check that no credential reaches telemetry (issue 27).

Every log record a handler would see (after the loggers' own filters, such as
:class:`focus_middleware.logging.RedactTokens`) and every event of
:mod:`focus_middleware.events` is kept as text; at the end of the run each is searched for
every credential the emulator minted in this process (session JWTs, PATs, cookie and device
secrets: :mod:`focus_middleware.testing.minted`) and for any ``?token=`` value. A server's
own request line (werkzeug's, gunicorn's...) is checked only where the test installed
:class:`~focus_middleware.logging.RedactTokens` on it: without it a WSGI server logs the
return trip's ``?token=`` by design, which is why that filter exists. Searching
by candidate (each JWT-shaped string, each 43-character window of a URL-safe run) keeps
the check linear in the text however many tokens were minted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from focus_middleware import events
from focus_middleware.logging import SERVER_LOGGERS, RedactTokens
from focus_middleware.testing import minted

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_RUN = re.compile(r"[A-Za-z0-9_-]{43,}")
_QUERY_TOKEN = re.compile(r"[?&;](?:[A-Za-z0-9_.-]*[_.-])?token=([^&\s\"'#;]+)")
_SECRET_LENGTH = 43  # secrets.token_urlsafe(32)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.texts: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in SERVER_LOGGERS and not any(
                isinstance(f, RedactTokens) for f in logging.getLogger(record.name).filters):
            return  # a server's request line, whose redaction is opt-in (focus_middleware.logging.install)
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg!r} {record.args!r}"
        extras = [str(v) for k, v in vars(record).items() if k.startswith("focus_")]
        if record.exc_info and record.exc_info[1] is not None:
            extras.append(str(record.exc_info[1]))
        self.texts.append((f"log {record.name}", " ".join([text, *extras])))

    def event(self, event: events.Event) -> None:
        self.texts.append((f"event {type(event).__name__}", repr(event)))


def candidates(text: str) -> Iterator[str]:
    yield from _JWT.findall(text)
    for run in _RUN.findall(text):
        for start in range(len(run) - _SECRET_LENGTH + 1):
            yield run[start:start + _SECRET_LENGTH]


def leaks(texts: list[tuple[str, str]], seen: set[str]) -> list[str]:
    """Where a minted credential or a ``?token=`` value appears, described without it."""
    secrets = {s[-_SECRET_LENGTH:] if len(s) > _SECRET_LENGTH and not s.startswith("eyJ") else s for s in seen}
    found: list[str] = []
    for where, text in texts:
        if any(c in secrets for c in candidates(text)):
            found.append(f"{where}: a minted credential")
        for value in _QUERY_TOKEN.findall(text):
            if value not in ("[redacted]", "REDACTED") and len(value) >= 16:
                found.append(f"{where}: a ?token= value")
    return found
