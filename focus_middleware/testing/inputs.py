"""Reading requests strictly: the JSON error type, credentials, bodies and fields.

Every handler validates all of its input before it touches the store, so a bad request
can never move a credit; every refusal is an :class:`ApiError` with a JSON body (API) or
is rendered as a page by the browser handlers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse
from starlette.types import Scope

from focus_middleware.testing.store import STATUSES

MAX_BODY = 64 * 1024
MAX_METADATA = 16 * 1024
MAX_COST = 1_000_000
MAX_LIST = 1000
DEFAULT_LIST = 50
MAX_FORM_FIELDS = 20
SESSION_COOKIE = "__session"
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
FORM_TYPE = "application/x-www-form-urlencoded"


class ApiError(Exception):
    """An error answer: status, machine-readable code, human message, extra fields."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = {"error": error, "message": message, **extra}
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status_code, headers=self.headers)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


# -- credentials ----------------------------------------------------------------------


def bearer_token(headers: Headers) -> str | None:
    """The token of ``Authorization: Bearer``; other schemes count as no header."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def session_cookie(headers: Headers) -> str | None:
    return cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE) or None


def presented_token(scope: Scope) -> str | None:
    """The credential a request presents (bearer first, then ``__session``)."""
    headers = Headers(scope=scope)
    return bearer_token(headers) or session_cookie(headers)


# -- request bodies and fields --------------------------------------------------------


def _digits(raw: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` refuses."""
    return raw.isascii() and raw.isdigit()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, read no further than ``MAX_BODY`` bytes."""
    body = await read_body(request)
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def required(data: Mapping[str, Any], name: str) -> Any:
    if data.get(name) is None:
        raise bad_request(f"{name} is required")
    return data[name]


def cost_field(data: Mapping[str, Any], name: str) -> int:
    """A credit amount: an integer (not a bool, not 5.0) from 0 to ``MAX_COST``."""
    value = required(data, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer")
    if not 0 <= value <= MAX_COST:
        raise bad_request(f"{name} must be between 0 and {MAX_COST}")
    return value


def text_field(data: Mapping[str, Any], name: str, max_length: int = 200) -> str:
    value = required(data, name)
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise bad_request(f"{name} must be a string of 1 to {max_length} characters")
    return value


def slug_value(value: Any, name: str = "app") -> str:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise bad_request(f"{name} must be a slug (letters, digits, '.', '_', '-')")
    return value


def metadata_field(data: Mapping[str, Any]) -> dict[str, Any]:
    value = data.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request("metadata must be a JSON object")
    if len(json.dumps(value)) > MAX_METADATA:
        raise ApiError(413, "payload_too_large", f"metadata is limited to {MAX_METADATA} bytes")
    return value


def bool_field(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false")
    return value


def limit_param(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIST
    if not _digits(raw) or not 1 <= int(raw) <= MAX_LIST:
        raise bad_request(f"limit must be an integer from 1 to {MAX_LIST}")
    return int(raw)


def status_param(raw: str | None) -> str | None:
    if raw is not None and raw not in STATUSES:
        raise bad_request(f"status must be one of {', '.join(STATUSES)}")
    return raw


async def read_body(request: Request) -> bytes:
    """The raw body, read no further than ``MAX_BODY`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not _digits(declared) or int(declared) > MAX_BODY):
        raise ApiError(413, "payload_too_large", f"bodies are limited to {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "payload_too_large", f"bodies are limited to {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request) -> dict[str, str]:
    """An HTML form's fields (first value of each), parsed without python-multipart:
    the pages only ever post ``application/x-www-form-urlencoded``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise ApiError(415, "unsupported_media_type", f"forms must be sent as {FORM_TYPE}")
    body = await read_body(request)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_form", "the form could not be read") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form
