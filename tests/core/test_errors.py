"""The error family: which status means which error, what each carries, and that no
message or repr can hold a secret."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from focus_middleware import api_contract
from focus_middleware.api_contract import Reply, error_for, parse_retry_after
from focus_middleware.errors import (
    REDACTED,
    ConflictError,
    FocusAPIError,
    FocusError,
    InsufficientCreditsError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
    redact,
)

BASE = "https://account.example"


def _error(status: int, body: Any = None, call: endpoints.Call[Any] | None = None, **headers: str) -> Exception:
    content = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    reply = Reply(status, httpx.Headers({k.replace("_", "-"): v for k, v in headers.items()}), content)
    return error_for(call or api_contract.wallet(), reply, base_url=BASE, now=1000.0)


def test_401_carries_the_services_signin_url_or_the_default() -> None:
    err = _error(401, {"error": "unauthorized", "signin_url": "https://a/signin?x=1"})
    assert isinstance(err, UnauthorizedError) and err.signin_url == "https://a/signin?x=1" and err.status == 401
    default = _error(401, b"")
    assert isinstance(default, UnauthorizedError) and default.signin_url == f"{BASE}/signin"


def test_402_carries_the_purchase_prompt() -> None:
    call = api_contract.create_job("video", "render", 5)
    err = _error(402, {"error": "insufficient_credits", "required": 5, "available": 2}, call)
    assert isinstance(err, InsufficientCreditsError)
    assert (err.required, err.available, err.action, err.purchase_url) == (5, 2, "render", f"{BASE}/billing")
    assert "required 5" in str(err) and "available 2" in str(err)
    sparse = _error(402, "not json", call)
    assert isinstance(sparse, InsufficientCreditsError) and sparse.required is None and sparse.action == "render"


@pytest.mark.parametrize(("status", "kind"), [(404, NotFoundError), (409, ConflictError), (400, FocusAPIError), (418, FocusAPIError)])
def test_other_statuses(status: int, kind: type[Exception]) -> None:
    err = _error(status, {"error": "some_code", "message": "m"})
    assert type(err) is kind
    assert isinstance(err, FocusAPIError) and err.status == status and err.error == "some_code"


def test_429_and_retry_after() -> None:
    err = _error(429, None, retry_after="7")
    assert isinstance(err, RateLimitedError) and err.retry_after == 7.0
    assert isinstance(_error(429), RateLimitedError)


def test_5xx_is_unavailable_and_ambiguous_only_for_state_changing_calls() -> None:
    get = _error(503, None, retry_after="2")
    assert isinstance(get, UnavailableError) and get.status == 503 and not get.ambiguous and get.retry_after == 2.0
    post = _error(500, None, api_contract.complete_job("j", 1))
    assert isinstance(post, UnavailableError) and post.ambiguous


def test_parse_retry_after() -> None:
    assert parse_retry_after("5", 0) == 5.0
    assert parse_retry_after(" 1.5 ", 0) == 1.5
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 4.0) == 6.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 50.0) == 0.0
    assert parse_retry_after("-3", 0) == 0.0
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None


def test_family() -> None:
    for cls in (UnauthorizedError, InsufficientCreditsError, RateLimitedError, NotFoundError, ConflictError, PayloadError):
        assert issubclass(cls, FocusError)
    assert issubclass(UnavailableError, FocusError) and not issubclass(UnavailableError, FocusAPIError)
    assert issubclass(PayloadError, ValueError)


def test_bodies_are_redacted_and_never_in_messages() -> None:
    body = {"error": "x", "token": "eyJ.secret.jwt", "nested": [{"access_token": "gho_secret", "ok": 1}], "Authorization": "Bearer s"}
    err = FocusAPIError(500, body)
    assert err.body == {"error": "x", "token": REDACTED, "nested": [{"access_token": REDACTED, "ok": 1}], "Authorization": REDACTED}
    for text in (str(err), repr(err)):
        assert "secret" not in text and "Bearer" not in text
    assert body["token"] == "eyJ.secret.jwt"  # the caller's object is not modified


def test_error_code_must_look_like_a_code() -> None:
    assert FocusAPIError(400, {"error": "invalid_request"}).error == "invalid_request"
    assert FocusAPIError(400, {"error": "Bearer eyJhbGciOi.x.y"}).error is None
    assert FocusAPIError(400, {"error": "x" * 100}).error is None
    assert "Bearer" not in str(FocusAPIError(400, {"error": "Bearer abc"}))


def test_reprs_name_the_facts_only() -> None:
    assert repr(UnauthorizedError("https://a/signin")) == "UnauthorizedError(signin_url='https://a/signin')"
    assert "required=5" in repr(InsufficientCreditsError(5, 1, "render"))
    assert repr(RateLimitedError(3.0)) == "RateLimitedError(retry_after=3.0)"
    assert "ambiguous=True" in repr(UnavailableError("x", ambiguous=True))


def test_redact_bounds_depth_and_length() -> None:
    deep: Any = "leaf"
    for _ in range(20):
        deep = {"k": deep}
    assert REDACTED in json.dumps(redact(deep))
    assert len(redact("x" * 10_000)) < 2100


def test_non_json_error_body_is_kept_as_text() -> None:
    err = _error(500, b"<html>gateway</html>", api_contract.list_jobs())
    assert isinstance(err, UnavailableError)
    api = _error(400, b"<html>bad</html>")
    assert isinstance(api, FocusAPIError) and api.body == "<html>bad</html>"
