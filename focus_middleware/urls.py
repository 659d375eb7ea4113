"""URLs rebuilt from a request, safe to hand to a browser or another site.

Every URL the library emits that carries the request's own path and query (a
``Location``, the 401's ``signin_url``, the 402's ``purchase_url``, the ``next`` of an
app's sign-in page) is built here, never copied from the request line. Why: the query is
whatever the client sent. Copied byte for byte it carried a session token from ``?token=``
into the sign-in and purchase URLs handed to Focus (and to whoever reads those JSON
bodies), and raw control characters into ``Location``, where a line feed is a header
injection (Django refuses it with a 500; Werkzeug and runserver sent NUL and DEL on).

So the query is parsed into its ``&``-separated pairs, the pairs named by the caller are
dropped, and every remaining name and value is re-encoded: a valid ``%XX`` escape and
RFC 3986's query characters stay as they were (the pair means exactly what it meant to any
parser, ``+`` included), everything else (spaces, quotes, ``#``, non-ASCII bytes, a stray
``%``) is percent-encoded. A raw control character (C0 or DEL) in the path or the query is
not re-encoded but refused (:class:`UnsafeURL`, which the response builders turn into a
400): no client that follows RFC 3986 sends one, and guessing what it meant is how
injections pass. Escaped ones (``%0A``) are data, and stay escaped.

The return trip's parameter names are repeated here (``sessions`` owns them; a test keeps
the two in step) so that :mod:`focus_middleware.responses` can use them without importing
the session rules.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus

TOKEN_PARAM = "token"
STATE_PARAM = "focus_state"
BOUNCE_PARAM = "focus_bounce"
BILLED_PARAM = "focus_billed"
"""Added to the 402's ``redirect_to``: a browser back from buying credits has its wallet
read afresh (see :func:`focus_middleware.sessions.billing_return`)."""

NEVER_ECHOED = frozenset({TOKEN_PARAM, STATE_PARAM, BOUNCE_PARAM, BILLED_PARAM})
"""Parameters left out of every URL built from a request and sent to sign-in or billing:
the token is a credential (whoever's it is: Focus returns its own under that name anyway,
replacing it), the nonce and the counter belong to one sign-in round only, and the
billing marker belongs to one purchase (the 402 adds a fresh one; never two)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NEEDS_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9!$'()*+,;=:@/?\-._~%]")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


class UnsafeURL(ValueError):
    """The request's path or query holds a raw control character: no URL is built from
    it. The message never quotes the URL (it may hold a token)."""

    def __init__(self) -> None:
        super().__init__("the request's URL holds a control character")


def _as_bytes(text: str) -> bytes:
    """The query's bytes: WSGI and ASGI adapters hand them over decoded as latin-1 (a
    UTF-8 query round-trips); a query that was really decoded (Django under ASGI decodes
    UTF-8) is encoded back as UTF-8."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")
    if raw.isascii():
        return raw
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return text.encode("utf-8")
    return raw


def _escape(match: re.Match[str]) -> str:
    return f"%{ord(match.group()):02X}"


def _reencode(part: str) -> str:
    if part.isascii() and not _NEEDS_ESCAPE.search(part):
        return part
    return _NEEDS_ESCAPE.sub(_escape, _as_bytes(part).decode("latin-1"))


def query_without(query_string: str, names: frozenset[str]) -> str:
    """``query_string`` without any pair named in ``names`` (names compared decoded, as
    every framework's parser reads them), each remaining pair re-encoded; raises
    :class:`UnsafeURL` for a raw control character."""
    if not query_string:
        return ""
    if _CONTROL.search(query_string):
        raise UnsafeURL()
    kept = []
    for part in query_string.split("&"):
        if not part:
            continue
        name, eq, value = part.partition("=")
        if names and unquote_plus(name) in names:
            continue
        kept.append(_reencode(name) + eq + _reencode(value))
    return "&".join(kept)


def request_target(root_path: str, path: str, query: str) -> str:
    """``path?query`` for a Location or a ``redirect_to``: the (decoded) path quoted, the
    query as :func:`query_without` built it; raises :class:`UnsafeURL` for a control
    character in either (an escaped one in a path arrives decoded, and is refused too: no
    page of an app has a line feed in its path)."""
    target = root_path + path
    if _CONTROL.search(target) or _CONTROL.search(query):
        raise UnsafeURL()
    return quote(target, safe=_PATH_SAFE) + (f"?{query}" if query else "")


def has_control_character(*parts: str) -> bool:
    """Whether any of a request's URL parts holds a raw control character (C0 or DEL)."""
    return any(_CONTROL.search(part) for part in parts)


def scrubbed_return_trip_query(method: str, query_string: bytes) -> bytes | None:
    """The query of a GET back from sign-in (it carries our ``focus_state``) without its
    ``token`` pairs, every other byte as it came; None when there is nothing to remove.

    For a server's access log, which reads the request's query after the response: the
    token came from Focus for this trip only (``focus_state`` is only ever in a URL we
    built without any ``token``), so no one downstream needs to see it again.
    """
    if method != "GET" or b"focus_state" not in query_string or b"token" not in query_string:
        return None
    parts = query_string.split(b"&")
    names = [unquote_plus(p.partition(b"=")[0].decode("latin-1")) for p in parts]
    if STATE_PARAM not in names or TOKEN_PARAM not in names:
        return None
    return b"&".join(p for p, n in zip(parts, names, strict=True) if n != TOKEN_PARAM)


__all__ = [
    "BILLED_PARAM",
    "BOUNCE_PARAM",
    "NEVER_ECHOED",
    "STATE_PARAM",
    "TOKEN_PARAM",
    "UnsafeURL",
    "has_control_character",
    "query_without",
    "request_target",
    "scrubbed_return_trip_query",
]
