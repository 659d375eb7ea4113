"""The pieces under tests/no_echo and tests/servers: re-encoding a query
(focus_middleware.urls), the ASGI scope rewrite, and the log filter
(focus_middleware.logging)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from focus_middleware import sessions, urls
from focus_middleware.asgi.middleware import _scrub_return_trip_token
from focus_middleware.logging import REDACTED, RedactTokens, install, redact
from focus_middleware.urls import UnsafeURL, query_without, request_target, scrubbed_return_trip_query

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJlLXBhcnQ"


def test_the_parameter_names_are_the_session_rules_own() -> None:
    assert (urls.TOKEN_PARAM, urls.STATE_PARAM, urls.BOUNCE_PARAM) == (
        sessions.TOKEN_PARAM, sessions.STATE_PARAM, sessions.BOUNCE_PARAM)


@pytest.mark.parametrize(("query", "expected"), [
    ("a=1&token=x&b=2", "a=1&b=2"),
    ("token=x&tok%65n=y&to+ken=z", "to+ken=z"),  # a name is compared as parsers decode it
    ("q=a+b&r=%2B&s=%20", "q=a+b&r=%2B&s=%20"),  # the meaning of every pair is kept
    ("flag&&x=", "flag&x="),
    ('q="<>`{}|\\^ #', "q=%22%3C%3E%60%7B%7D%7C%5C%5E%20%23"),
    ("q=100%&r=%zz", "q=100%25&r=%25zz"),
    ("q=\u00c3\u00a9", "q=%C3%A9"),  # UTF-8 bytes, as WSGI and ASGI hand them over (latin-1)
    ("q=\u00e9", "q=%C3%A9"),  # a query that was really decoded (Django under ASGI)
    ("q=%0A%00", "q=%0A%00"),  # escaped control characters are data
    ("next=/a?b=c:d@e", "next=/a?b=c:d@e"),
])
def test_a_query_is_re_encoded_pair_by_pair(query: str, expected: str) -> None:
    assert query_without(query, frozenset({"token"})) == expected


@pytest.mark.parametrize("char", [chr(c) for c in range(0x20)] + ["\x7f"])
def test_a_raw_control_character_is_refused_never_passed(char: str) -> None:
    with pytest.raises(UnsafeURL) as raised:
        query_without(f"a=1{char}&token={JWT}", frozenset())
    assert JWT not in str(raised.value)
    with pytest.raises(UnsafeURL):
        request_target("", f"/a{char}b", "")


def test_a_path_is_quoted() -> None:
    assert request_target("/root", "/a b/\u00e9", "x=1") == "/root/a%20b/%C3%A9?x=1"


@pytest.mark.parametrize(("method", "query", "expected"), [
    ("GET", b"q=1&focus_state=n&token=" + JWT.encode() + b"&focus_bounce=1", b"q=1&focus_state=n&focus_bounce=1"),
    ("GET", b"focus_state=n&token=a&token=b", b"focus_state=n"),
    ("GET", b"token=" + JWT.encode(), None),  # not a return trip: the app's own token
    ("POST", b"focus_state=n&token=a", None),
    ("GET", b"focus_state=n", None),
    ("GET", b"focus_state=n&my_token=a", None),
])
def test_the_return_trip_token_is_scrubbed_from_a_query(method: str, query: bytes, expected: bytes | None) -> None:
    assert scrubbed_return_trip_query(method, query) == expected


def test_the_scope_is_rewritten_in_place() -> None:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "query_string": b"focus_state=n&token=" + JWT.encode(),
                             "raw_path": b"/studio?focus_state=n&token=" + JWT.encode()}
    _scrub_return_trip_token(scope)
    assert scope["query_string"] == b"focus_state=n" and scope["raw_path"] == b"/studio?focus_state=n"
    scope = {"type": "http", "method": "GET", "query_string": b"focus_state=n&token=x", "raw_path": b"/studio"}
    _scrub_return_trip_token(scope)
    assert scope["raw_path"] == b"/studio"


@pytest.mark.parametrize(("line", "expected"), [
    (f'"GET /studio?focus_state=n&token={JWT} HTTP/1.1" 303', f'"GET /studio?focus_state=n&token={REDACTED} HTTP/1.1" 303'),
    ("GET /reset?access_token=abc&x=1", f"GET /reset?access_token={REDACTED}&x=1"),
    ("Authorization: Bearer focus_pat_abc.def", f"Authorization: Bearer {REDACTED}"),
    ("cookie: a=1; __session=xyz; focus_session=abc", f"cookie: a=1; __session={REDACTED}; focus_session={REDACTED}"),
    (f"redirect_to=http%3A%2F%2Fa%2F%3Ft%3D{JWT}", f"redirect_to=http%3A%2F%2Fa%2F%3Ft%3D{REDACTED}"),
    ("GET /tokens?mytoken=1&page=2", "GET /tokens?mytoken=1&page=2"),
    ("nothing to see", "nothing to see"),
])
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


class Atoms(dict[str, Any]):
    """Like gunicorn's SafeAtoms: a dict subclass whose lookups a format depends on."""

    def __getitem__(self, key: str) -> Any:
        return super().get(key, "-")


def test_the_filter_keeps_a_records_shape(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.no_echo.server")
    install("tests.no_echo.server")
    install("tests.no_echo.server")
    assert sum(isinstance(f, RedactTokens) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="tests.no_echo.server"):
        logger.info('%s - "%s" %d', "127.0.0.1", f"GET /s?token={JWT} HTTP/1.1", 303)
        atoms = Atoms(r=f"GET /s?focus_state=n&token={JWT} HTTP/1.1", s="303")
        logger.info('"%(r)s" %(s)s %(missing)s', atoms)
    assert [r.getMessage() for r in caplog.records] == [
        f'127.0.0.1 - "GET /s?token={REDACTED} HTTP/1.1" 303',
        f'"GET /s?focus_state=n&token={REDACTED} HTTP/1.1" 303 -',
    ]
    assert JWT not in caplog.text
