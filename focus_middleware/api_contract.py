"""Every endpoint of the Focus contract, once, without I/O.

Each function here returns a :class:`Call`: what to send (method, path, query, JSON body),
whether it is safe to repeat, and how to read the answer. Both clients (blocking and
async) send the same calls and read them with the same :func:`interpret`, so a quirk of
the service is handled in one place, and these are testable without a network.

A :class:`Call` never holds the credential: the client adds ``Authorization`` when it sends,
so a call can be logged, retried, or put in an exception without leaking anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from focus_middleware.errors import (
    ConflictError,
    FocusAPIError,
    InsufficientCreditsError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from focus_middleware.models import (
    JOB_COMPLETED,
    JOB_FAILED,
    CreatedJob,
    DevicePoll,
    DeviceStart,
    Job,
    SessionToken,
    SettledJob,
    Wallet,
    jobs_from_json,
)

T = TypeVar("T")

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$")
_COOKIE_VALUE = re.compile(r'^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e"]{0,8192}$')
_POLL_ERRORS = frozenset({"slow_down", "expired_token", "access_denied", "invalid_grant"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: status, headers (case-insensitive mapping) and the raw body."""

    status: int
    headers: Mapping[str, str]
    content: bytes = b""

    def json(self) -> Any:
        if not self.content.strip():
            return None
        try:
            return json.loads(self.content)
        except (ValueError, UnicodeDecodeError):
            raise PayloadError("the body is not JSON") from None

    def json_or_text(self) -> Any:
        """For error bodies: the JSON if it is JSON, else the text (for the error's ``body``)."""
        try:
            return self.json()
        except PayloadError:
            return self.content[:2000].decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request to Focus, and how to read its answer.

    ``name`` is the endpoint as the emulator counts it (``"POST /api/jobs"``): the only
    form that goes into logs, since a path may hold a code. ``retry_safe`` says whether
    the call may be repeated after a failure whose outcome is unknown (GETs; also
    ``device/start``, which only mints a fresh code). ``ok`` lists the statuses
    ``parse`` understands; every other status becomes an error from :func:`error_for`.
    """

    name: str
    method: Literal["GET", "POST"]
    path: str
    parse: Callable[[Reply], T] = field(repr=False)
    params: tuple[tuple[str, str], ...] = ()
    body: Any = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    retry_safe: bool = False
    authenticated: bool = True
    ok: frozenset[int] = frozenset({200, 201})
    action: str | None = None
    url: str | None = field(default=None, repr=False)


# -- reading answers -----------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return seconds


def _int_field(body: Any, key: str) -> int | None:
    value = body.get(key) if isinstance(body, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _str_field(body: Any, key: str) -> str | None:
    value = body.get(key) if isinstance(body, Mapping) else None
    return value if isinstance(value, str) and value else None


def error_for(call: Call[Any], reply: Reply, *, base_url: str, now: float) -> Exception:
    """The error a status means, with what a caller needs to act on it."""
    status = reply.status
    body = reply.json_or_text()
    if status == 401:
        return UnauthorizedError(_str_field(body, "signin_url") or f"{base_url}/signin", body, status)
    if status == 402:
        return InsufficientCreditsError(
            required=_int_field(body, "required"),
            available=_int_field(body, "available"),
            action=_str_field(body, "action") or call.action,
            purchase_url=_str_field(body, "purchase_url") or f"{base_url}/billing",
            body=body,
            status=status,
        )
    if status == 404:
        return NotFoundError(status, body, f"{call.name}: not found (404)")
    if status == 409:
        return ConflictError(status, body, f"{call.name}: conflict (409)")
    retry_after = parse_retry_after(reply.headers.get("retry-after"), now)
    if status == 429:
        return RateLimitedError(retry_after, body, status)
    if status >= 500:
        return UnavailableError(
            f"{call.name}: Focus answered {status}",
            status=status,
            ambiguous=not call.retry_safe,
            retry_after=retry_after,
        )
    return FocusAPIError(status, body, f"{call.name}: unexpected status {status}")


def interpret(call: Call[T], reply: Reply, *, base_url: str, now: float) -> T:
    """The call's result, or the error its answer means. A well-formed but unexpected body
    raises :class:`FocusAPIError` naming the endpoint, never a crash."""
    if reply.status not in call.ok:
        raise error_for(call, reply, base_url=base_url, now=now)
    try:
        return call.parse(reply)
    except PayloadError as exc:
        raise FocusAPIError(reply.status, reply.json_or_text(), f"{call.name}: unexpected response: {exc}") from None


# -- the endpoints ---------------------------------------------------------------------------------


def _json_body(parse: Callable[[Any], T]) -> Callable[[Reply], T]:
    return lambda reply: parse(reply.json())


def _check_slug(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ValueError(f"{what} must be a slug (letters, digits, '.', '-', '_'), got {value!r}")
    return value


def _check_amount(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number >= 0, got {value!r}")
    return value


def wallet(app: str | None = None) -> Call[Wallet]:
    params = (("app", _check_slug(app, "app")),) if app is not None else ()
    return Call("GET /api/wallet", "GET", "/api/wallet", _json_body(Wallet.from_json), params, retry_safe=True)


def create_job(app: str, action: str, cost_estimate: int, metadata: Mapping[str, Any] | None = None) -> Call[CreatedJob]:
    body: dict[str, Any] = {
        "app": _check_slug(app, "app"),
        "action": action,
        "cost_estimate": _check_amount(cost_estimate, "cost_estimate"),
    }
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return Call("POST /api/jobs", "POST", "/api/jobs", _json_body(CreatedJob.from_json), body=body, action=action)


def complete_job(job_id: str, actual_cost: int, metadata: Mapping[str, Any] | None = None) -> Call[SettledJob]:
    body: dict[str, Any] = {"job_id": job_id, "actual_cost": _check_amount(actual_cost, "actual_cost")}
    if metadata is not None:
        body["metadata"] = dict(metadata)

    def parse(reply: Reply) -> SettledJob:
        return SettledJob.from_json(reply.json(), job_id=job_id, status=JOB_COMPLETED, actual_cost=actual_cost)

    return Call("POST /api/jobs/complete", "POST", "/api/jobs/complete", parse, body=body)


def fail_job(job_id: str, refund: bool = True) -> Call[SettledJob]:
    def parse(reply: Reply) -> SettledJob:
        return SettledJob.from_json(reply.json(), job_id=job_id, status=JOB_FAILED, actual_cost=None)

    body = {"job_id": job_id, "refund": bool(refund)}
    return Call("POST /api/jobs/fail", "POST", "/api/jobs/fail", parse, body=body)


def list_jobs(app: str | None = None, status: str | None = None, limit: int | None = None) -> Call[list[Job]]:
    params: list[tuple[str, str]] = []
    if app is not None:
        params.append(("app", _check_slug(app, "app")))
    if status is not None:
        params.append(("status", _check_slug(status, "status")))
    if limit is not None:
        params.append(("limit", str(_check_amount(limit, "limit"))))
    return Call("GET /api/jobs", "GET", "/api/jobs", _json_body(jobs_from_json), tuple(params), retry_safe=True)


def cookie_header(cookies: Mapping[str, str]) -> str:
    """A ``Cookie`` header from name/value pairs; anything that could split the header or
    smuggle another cookie is refused rather than sent."""
    parts = []
    for name, value in cookies.items():
        if not _COOKIE_NAME.match(name) or not isinstance(value, str) or not _COOKIE_VALUE.match(value):
            raise ValueError("cookies must be valid cookie names and values")
        parts.append(f"{name}={value}")
    return "; ".join(parts)


def session_token(cookies: Mapping[str, str] | None = None) -> Call[str]:
    """Cookie-authenticated: pass the browser's Focus cookies; no bearer is sent."""
    headers = (("cookie", cookie_header(cookies)),) if cookies else ()
    return Call(
        "GET /api/sessionToken",
        "GET",
        "/api/sessionToken",
        _json_body(lambda data: SessionToken.from_json(data).token),
        headers=headers,
        retry_safe=True,
        authenticated=not cookies,
    )


def device_start() -> Call[DeviceStart]:
    # Repeating only mints another code (the lost one expires): safe to retry.
    return Call(
        "POST /api/device/start",
        "POST",
        "/api/device/start",
        _json_body(DeviceStart.from_json),
        body={},
        retry_safe=True,
        authenticated=False,
    )


def device_complete(user_code: str, approve: bool = True, cookies: Mapping[str, str] | None = None) -> Call[bool]:
    """Approve (or deny) a user code with a Clerk session: a bearer JWT, or the browser's
    cookies when given."""

    def parse(reply: Reply) -> bool:
        data = reply.json()
        return not (isinstance(data, Mapping) and data.get("ok") is False)

    headers = (("cookie", cookie_header(cookies)),) if cookies else ()
    body = {"user_code": user_code, "approve": bool(approve)}
    return Call(
        "POST /api/device/complete",
        "POST",
        "/api/device/complete",
        parse,
        body=body,
        headers=headers,
        authenticated=not cookies,
    )


def _parse_poll(reply: Reply) -> DevicePoll:
    if reply.status == 202:
        return DevicePoll("pending")
    data = reply.json()
    if reply.status == 200:
        token = SessionToken.from_json(data).token
        return DevicePoll("approved", token)
    code = data.get("error") if isinstance(data, Mapping) else None
    if code == "authorization_pending":
        return DevicePoll("pending")
    if code in _POLL_ERRORS:
        return DevicePoll(code)
    raise FocusAPIError(reply.status, data, "GET /api/device/poll: unexpected 400")


def device_poll(device_code: str) -> Call[DevicePoll]:
    # The contract puts the code in the query; the client keeps httpx from logging URLs.
    # Not retried after an unknown outcome: the token is handed out once.
    return Call(
        "GET /api/device/poll",
        "GET",
        "/api/device/poll",
        _parse_poll,
        (("device_code", device_code),),
        authenticated=False,
        ok=frozenset({200, 202, 400}),
    )


def _oauth_token(data: Any) -> str:
    """The provider's access token; tolerant of the shapes Clerk and proxies use."""
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, Mapping):
        for key in ("token", "access_token", "accessToken"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
    raise PayloadError("no access token in the body")


def x_token() -> Call[str]:
    return Call("GET /api/xToken", "GET", "/api/xToken", _json_body(_oauth_token), retry_safe=True)


def oauth_token(provider: str) -> Call[str]:
    slug = _check_slug(provider, "provider")
    return Call(
        "GET /api/oauthToken/{provider}",
        "GET",
        f"/api/oauthToken/{quote(slug, safe='')}",
        _json_body(_oauth_token),
        retry_safe=True,
    )


def x_me() -> Call[dict[str, Any]]:
    """Twitter's ``/2/users/me`` through Focus; sent with the X access token as bearer."""

    def parse(reply: Reply) -> dict[str, Any]:
        data = reply.json()
        if not isinstance(data, dict):
            raise PayloadError("xMe must answer a JSON object")
        return data

    return Call("GET /api/xMe", "GET", "/api/xMe", parse, retry_safe=True)


def json_document(url: str) -> Call[object]:
    """Any JSON document by absolute URL (the issuer's JWKS); sent without credentials."""
    return Call(
        "GET <document>", "GET", "", lambda reply: reply.json(), retry_safe=True, authenticated=False, url=url
    )


__all__ = [
    "Call",
    "Reply",
    "complete_job",
    "cookie_header",
    "create_job",
    "device_complete",
    "device_poll",
    "device_start",
    "error_for",
    "fail_job",
    "interpret",
    "json_document",
    "list_jobs",
    "oauth_token",
    "parse_retry_after",
    "session_token",
    "wallet",
    "x_me",
    "x_token",
]
