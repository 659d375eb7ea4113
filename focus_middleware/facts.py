"""What the core needs to know about a request, whatever framework received it.

Adapters translate their request into :class:`RequestFacts` once; the resolver and the
refusal rules read nothing else, which is what keeps every adapter's behaviour the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """A framework-neutral view of one request.

    ``headers`` keys are lower-case. ``path`` excludes ``root_path``/``SCRIPT_NAME``, which
    is kept apart in ``root_path`` so every URL the core emits can be rebuilt absolute from
    the configured public origin.
    """

    method: str
    path: str
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    cookies: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    root_path: str = ""
    scheme: str = "http"
    host: str | None = None
    client_addr: str | None = None

    @property
    def query(self) -> dict[str, str]:
        """The query's first value per name (enough for ``token`` and the state nonce)."""
        out: dict[str, str] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            out.setdefault(key, value)
        return out

    @property
    def has_credentials(self) -> bool:
        """Cheap test that lets a request with nothing to check skip the resolver."""
        auth = self.headers.get("authorization")
        if auth is not None and auth[:7].lower() == "bearer ":
            return True
        return bool(self.cookies) or "token=" in self.query_string


def presents_credentials(authorization: str | None, cookie_header: str | None, query_string: str) -> bool:
    """:attr:`RequestFacts.has_credentials` from the raw header values, for an adapter that
    builds the facts only when someone needs them (WSGI): a request it says no to has none.
    A ``Cookie`` header that parses to nothing still counts here (a harmless superset)."""
    if authorization is not None and authorization[:7].lower() == "bearer ":
        return True
    return bool(cookie_header) or "token=" in query_string


def parse_cookie_header(value: str | None) -> Mapping[str, str]:
    """Parse a ``Cookie`` header leniently: one malformed pair must not hide the others."""
    if not value:
        return _EMPTY
    cookies: dict[str, str] = {}
    for chunk in value.split(";"):
        name, sep, val = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        cookies.setdefault(name, val)
    return cookies


__all__ = ["RequestFacts", "parse_cookie_header", "presents_credentials"]
