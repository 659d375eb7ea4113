"""Keep credentials out of servers' logs: :class:`RedactTokens`, a ``logging.Filter``.

Why: a WSGI server logs the raw request line, and the sign-in return trip's URL carries a
session JWT in ``?token=`` (the ASGI middleware takes it out of the scope before uvicorn or
hypercorn log it; a WSGI middleware cannot reach the server's copy). The same lines carry
an app's own ``?token=`` (a password reset's) and, with a custom format, headers.

What is redacted, in a record's message and in each of its string arguments (so the line
keeps its shape, and a server's own atoms mapping keeps its type):

- the value of a query parameter named ``token`` or ending in ``_token``/``-token``/
  ``.token`` (``access_token``, ``id_token``...);
- the credential after ``Bearer``;
- the value of a session cookie (``__session``, ``__session_<suffix>``, ``focus_session``,
  ``__Host-focus_session``);
- anything shaped like a JWT (``eyJ….eyJ….…``), wherever it sits (inside an encoded
  ``redirect_to`` too).

``focus_state`` is left as it is: it proves nothing without the ``HttpOnly`` state cookie
it must match, is spent by the trip, and is what ties a return trip's log line to its
sign-in when something goes wrong.

One line per server (each adds the filter to the server's logger; it is idempotent):

- gunicorn: ``focus_middleware.logging.install("gunicorn.access", "gunicorn.error")`` in
  ``gunicorn.conf.py`` (read by default; ``-c`` names another);
- waitress: ``install("waitress")`` (waitress logs paths, not queries; add ``"wsgi"`` if
  paste's ``TransLogger`` writes your access log);
- ``flask run`` and Werkzeug's ``run_simple``: ``install("werkzeug")`` where the app is made;
- Django's runserver: ``install("django.server")`` in ``settings.py``;
- uvicorn / hypercorn (for an app's own ``?token=``; the return trip's is already gone):
  ``install("uvicorn.access")`` / ``install("hypercorn.access")``.

``install()`` with no names covers all of them. This module imports no framework.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"

SERVER_LOGGERS = (
    "gunicorn.access",
    "gunicorn.error",
    "waitress",
    "wsgi",
    "werkzeug",
    "django.server",
    "uvicorn.access",
    "hypercorn.access",
)
"""The loggers through which the usual Python servers write request lines."""

_QUERY_TOKEN = re.compile(r"(?i)((?:^|[?&;])(?:[A-Za-z0-9_.-]*[_.-])?token=)[^&\s\"'#;]+")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+")
_SESSION_COOKIE = re.compile(r"(?i)((?:^|[\s;,\"'])(?:__session(?:_[A-Za-z0-9]+)?|(?:__Host-)?focus_session)=)[^;\s\"',]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_MARKERS = ("token", "bearer", "session", "eyJ")


def redact(text: str) -> str:
    """``text`` with every credential it holds replaced by ``[redacted]``."""
    lowered = text.lower()
    if not any(marker.lower() in lowered for marker in _MARKERS):
        return text
    text = _JWT.sub(REDACTED, text)
    text = _QUERY_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
    return _SESSION_COOKIE.sub(rf"\g<1>{REDACTED}", text)


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("latin-1")).encode("latin-1")
    return value


class RedactTokens(logging.Filter):
    """Redact credentials in every record it sees; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redact_arg(a) for a in args)
        elif isinstance(args, MutableMapping):
            # In place: gunicorn's atoms are a dict subclass whose lookups format depends on.
            for key, value in list(args.items()):
                args[key] = _redact_arg(value)
        return True


def install(*names: str) -> None:
    """Add :class:`RedactTokens` to each named logger (default: :data:`SERVER_LOGGERS`),
    once. A logger's filter sees the records logged through that logger, which is how each
    of these servers writes its request lines."""
    for name in names or SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


__all__ = ["REDACTED", "SERVER_LOGGERS", "RedactTokens", "install", "redact"]
