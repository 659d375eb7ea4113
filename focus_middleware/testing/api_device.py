"""The device-code API: ``/api/device/start``, ``/api/device/complete``, ``/api/device/poll``.

The rules live in :mod:`device`; this module is their HTTP face. Approving needs a person's
session, never a PAT (a PAT that mints PATs would outlive its own revocation): the
emulator's sign-in cookie, or a session JWT. A cookie-authenticated approval must come
from the emulator's own origin, since every loopback app is same-site with it. Wrong codes
count against the caller's session and address (:mod:`ratelimit`).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from focus_middleware.testing.auth import Authenticator, Caller
from focus_middleware.testing.device import DeviceFlow
from focus_middleware.testing.inputs import (
    ApiError,
    bool_field,
    read_json_object,
    text_field,
)
from focus_middleware.testing.origins import normalize_origin
from focus_middleware.testing.ratelimit import AttemptLimiter

POLL_ERRORS = {
    "slow_down": "polling too fast: wait the interval, now 5 s longer",
    "expired_token": "the device code is unknown or has expired; start again",
    "access_denied": "the request was denied",
    "invalid_grant": "the device code was already redeemed",
}


class DeviceAPI:
    def __init__(self, auth: Authenticator, flow: DeviceFlow, limiter: AttemptLimiter) -> None:
        self.auth = auth
        self.flow = flow
        self.limiter = limiter

    def _verification_uri(self) -> str:
        return f"{self.auth.issuer.url}/device"

    async def start(self, request: Request) -> Response:
        data = await _optional_json(request)
        client_name = None
        if data.get("client_name") is not None:
            client_name = text_field(data, "client_name", max_length=100)
        address = request.client.host if request.client else None
        started = await run_in_threadpool(self.flow.start, client_name, address)
        uri = self._verification_uri()
        return JSONResponse(
            {
                "device_code": started.device_code,
                "user_code": started.user_code,
                "verification_uri": uri,
                "verification_uri_complete": f"{uri}?user_code={started.user_code}",
                "expires_in": started.expires_in,
                "interval": started.interval,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _person(self, request: Request) -> Caller:
        """A signed-in person: the sign-in cookie (from the emulator's own origin) or a
        session JWT; a PAT is refused."""
        caller = await self.auth.signed_in(request)
        if caller is not None:
            self._own_origin(request)
            return caller
        caller = await self.auth.api_caller(request)
        if caller.via == "pat":
            raise self.auth.unauthorized(
                True, "a session is required: a personal access token cannot approve devices"
            )
        return caller

    def _own_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        own = self.auth.issuer.url or ""
        try:
            same = origin is None or normalize_origin(origin) == normalize_origin(own)
        except ValueError:
            same = False
        if not same:
            raise ApiError(403, "forbidden", "cookie-authenticated approval is same-origin only")

    async def complete(self, request: Request) -> Response:
        caller = await self._person(request)
        data = await read_json_object(request)
        user_code = text_field(data, "user_code", max_length=20)
        approve = bool_field(data, "approve", default=True)
        address = request.client.host if request.client else "unknown"
        keys = [f"session:{caller.session_id or caller.account.id}", f"address:{address}"]
        wait = self.limiter.retry_after(keys)
        if wait is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"too many wrong codes; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        decided = await run_in_threadpool(
            self.flow.decide, user_code, caller.account.id, approve
        )
        if not decided:
            self.limiter.fail(keys)
            raise ApiError(
                400, "invalid_user_code", "the code is wrong, expired or already decided"
            )
        return JSONResponse({"ok": True})

    async def poll(self, request: Request) -> Response:
        device_code = request.query_params.get("device_code", "")
        if not device_code or len(device_code) > 200:
            raise ApiError(400, "invalid_request", "device_code is required")
        poll = await run_in_threadpool(self.flow.poll, device_code)
        headers = {"Cache-Control": "no-store"}
        if poll.answer == "approved":
            return JSONResponse({"token": poll.token}, headers=headers)
        if poll.answer == "pending":
            body = {"error": "authorization_pending", "message": "waiting for approval"}
            return JSONResponse(body, status_code=202, headers=headers)
        message = POLL_ERRORS[poll.answer]
        return JSONResponse({"error": poll.answer, "message": message}, 400, headers=headers)


async def _optional_json(request: Request) -> dict[str, Any]:
    """A JSON object body, or {} for an empty one (the contract's start has no body)."""
    if request.headers.get("content-length") in (None, "0") and "chunked" not in (
        request.headers.get("transfer-encoding", "")
    ):
        return {}
    return await read_json_object(request)
