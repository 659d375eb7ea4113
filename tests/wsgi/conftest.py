"""A real Werkzeug app behind FocusWSGIMiddleware, against a real emulator.

The app routes with Werkzeug's ``Map`` and its views take a Werkzeug ``Request``; one route
is a bare WSGI application, guarded the same way. Every test gets its own emulator
(tests/conftest.py) on a fake clock shared with the app's config; its books are checked at
teardown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.exceptions import HTTPException, abort
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import FocusWSGIMiddleware, focus_job, paid, require_account, require_credits
from tests.helpers import ORIGIN

NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
SAME_ORIGIN = {"sec-fetch-mode": "cors", "sec-fetch-site": "same-origin", "accept": "application/json"}
API = {"accept": "application/json"}


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=20)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **API}


def as_json(payload: object, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def who(request: Request) -> dict[str, Any]:
    account = request.environ["focus.account"]
    ctx = request.environ["focus"]
    return {"authenticated": bool(account), "clerk_id": account.clerk_id if account else None,
            "credits": account.credits if account else None, "reason": ctx.reason}


def public(request: Request) -> Response:
    return as_json(who(request))


def untouched(request: Request) -> Response:
    return Response("never looked", headers={"cache-control": "public, max-age=60", "vary": "Accept-Encoding"})


@require_account
def private(request: Request) -> Response:
    return as_json(who(request))


@require_credits(5)
def credits(request: Request) -> Response:
    return as_json(who(request))


@require_credits(5, action='<b>"render"</b>')
def credits_page(request: Request) -> Response:
    return as_json(who(request))


class Views:
    """Guards on methods: the request is found among the arguments."""

    @require_account
    def method(self, request: Request) -> Response:
        return as_json(who(request))


@paid(action="render", cost_estimate=5)
def render(request: Request) -> Response:
    job = focus_job(request.environ)
    if "cost" in request.args:
        job.actual_cost = int(request.args["cost"])
    job.metadata["previewUrl"] = "https://example.test/p.png"
    return as_json({"job_id": job.job_id})


@paid(action="render", cost_estimate=5)
def render_boom(request: Request) -> Response:
    raise RuntimeError("the renderer crashed")


@paid(action="render", cost_estimate=5)
def render_abort(request: Request) -> Response:
    abort(422)


@paid(action="render", cost_estimate=5)
def render_stream(request: Request) -> Response:
    job = focus_job(request.environ)
    chunks = int(request.args.get("chunks", "3"))
    delay = float(request.args.get("delay", "0"))

    def body() -> Iterator[bytes]:
        for i in range(chunks):
            if delay:
                time.sleep(delay)
            yield f"chunk {i}\n".encode()
        job.actual_cost = 2  # known only once the work is done

    return Response(body(), mimetype="text/plain")


@require_account
def raw_private(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [f"raw {environ['focus.account'].clerk_id}".encode()]


@paid(action="raw", cost_estimate=1)
def raw_paid(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    yield b"raw paid"


VIEWS: dict[str, Callable[..., Response]] = {
    "public": public, "untouched": untouched, "private": private, "credits": credits,
    "credits_page": credits_page, "method": Views().method, "render": render, "render_boom": render_boom,
    "render_abort": render_abort, "render_stream": render_stream,
}
RAW: dict[str, Callable[..., Any]] = {"/raw": raw_private, "/raw-paid": raw_paid}
URLS = Map([Rule(f"/{name}" if name != "public" else "/", endpoint=name, methods=["GET", "HEAD", "POST", "DELETE"])
            for name in VIEWS])


def werkzeug_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    raw = RAW.get(environ.get("PATH_INFO", ""))
    if raw is not None:
        return raw(environ, start_response)
    request = Request(environ)
    try:
        endpoint, args = URLS.bind_to_environ(environ).match()
        response: Any = VIEWS[endpoint](request, **args)
    except HTTPException as error:
        response = error
    return response(environ, start_response)


def make_app(config: FocusConfig, **options: Any) -> FocusWSGIMiddleware:
    return FocusWSGIMiddleware(werkzeug_app, config=config, **options)


@pytest.fixture
def app(config: FocusConfig) -> Iterator[FocusWSGIMiddleware]:
    middleware = make_app(config)
    yield middleware
    middleware.close()


class BufferedClient(Client):
    """Werkzeug's test client, reading each body whole and closing it as a server does
    (unbuffered, a body is closed only when the test closes the response)."""

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> Any:
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture
def client(app: FocusWSGIMiddleware) -> Client:
    return BufferedClient(app)


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)
