"""Which origins the emulator trusts: where sign-in may return to, and who gets CORS.

An open redirect on a sign-in page hands a fresh session token to whoever wrote the link,
so ``redirect_to`` is held to a strict shape before anything is sent to it: an absolute
``http``/``https`` URL, no user-info, no backslashes or control characters (browsers read
``/\\evil`` and ``\\\\evil`` as ``//evil``), on a loopback host (any port) or on an origin
added explicitly. Anything else is refused with a reason, never "fixed up".

The same allow-list decides which ``Origin`` gets credentialed CORS answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_URL = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")


class RefusedRedirect(ValueError):
    """A ``redirect_to`` the emulator will not send a browser (and a token) to."""


def _origin(scheme: str, host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{shown}"
    return f"{scheme}://{shown}:{port}"


def normalize_origin(value: str) -> str:
    """``scheme://host[:port]`` in canonical form (lower case, default port dropped);
    raises ValueError for anything that is not exactly an origin."""
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"not an http(s) origin: {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"an origin has no path, query or fragment: {value!r}")
    return _origin(scheme, parts.hostname.lower(), parts.port)


@dataclass(frozen=True)
class Origins:
    """The loopback hosts (any port, unless ``loopback`` is off) plus ``extra`` origins."""

    extra: frozenset[str] = frozenset()
    loopback: bool = True

    @classmethod
    def of(cls, extra: Iterable[str] = (), loopback: bool = True) -> Origins:
        return cls(frozenset(normalize_origin(o) for o in extra), loopback)

    def with_origin(self, origin: str) -> Origins:
        return Origins(self.extra | {normalize_origin(origin)}, self.loopback)

    def allows(self, origin: str | None) -> bool:
        """Whether a request's ``Origin`` header names a trusted origin."""
        if not origin:
            return False
        try:
            return self._allowed(normalize_origin(origin))
        except ValueError:
            return False

    def _allowed(self, origin: str) -> bool:
        if origin in self.extra:
            return True
        host = urlsplit(origin).hostname
        return self.loopback and host in LOOPBACK_HOSTS

    def check_redirect(self, url: str) -> str:
        """The origin of ``url`` if the emulator may redirect there; else RefusedRedirect
        saying why."""
        if not url:
            raise RefusedRedirect("redirect_to is empty")
        if len(url) > MAX_URL:
            raise RefusedRedirect(f"redirect_to is longer than {MAX_URL} characters")
        if _FORBIDDEN.search(url):
            raise RefusedRedirect("redirect_to holds a backslash, a space or a control character")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise RefusedRedirect("redirect_to must be an absolute http:// or https:// URL")
        if not url[len(parts.scheme) :].startswith("://") or not parts.netloc:
            raise RefusedRedirect("redirect_to must name a host (scheme://host/...)")
        if "@" in parts.netloc:
            raise RefusedRedirect("redirect_to must not carry user information (user@host)")
        try:
            port = parts.port
        except ValueError:
            raise RefusedRedirect("redirect_to has an invalid port") from None
        host = (parts.hostname or "").lower()
        origin = _origin(scheme, host, port)
        if not host or not self._allowed(origin):
            raise RefusedRedirect(f"{origin} is not an allowed origin for redirect_to")
        return origin


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` set in its query; its other parameters are kept, earlier
    values of the same names dropped (a bounce must not pile up stale tokens)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urlencode([*kept, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
