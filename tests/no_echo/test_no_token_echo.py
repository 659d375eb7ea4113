"""A ``?token=`` never reaches a URL the library emits, and a control character never
reaches ``Location`` (issue 18, item 3), on every adapter run in process: ASGI (Starlette
through httpx.ASGITransport, and raw scopes for bytes httpx would escape), WSGI (Werkzeug's
test Client) and Flask (``app.test_client()``). Django's Client: tests/django/
test_no_token_echo.py. Against the real emulator over HTTP.

The token of ``GET /me?token=…`` is not the return trip's (no ``focus_state``): it is left
in the app's URL, but ``signin_url``/``purchase_url`` point at Focus and the 401/402 bodies
go to whoever called, so it is left out of them (sessions.py's module docstring).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask, jsonify
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from flask_focus import Focus
from flask_focus.testing import emulator_settings
from focus_middleware import FocusConfig, FocusMiddleware, require_account, require_credits
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import FocusWSGIMiddleware
from focus_middleware.wsgi import require_account as wsgi_require_account
from focus_middleware.wsgi import require_credits as wsgi_require_credits

ORIGIN = "http://app.example.test"
API = {"accept": "application/json"}
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
NONCE = "n0nce-for-this-trip-0123456789"
CONTROL = [chr(c) for c in range(0x20)] + ["\x7f"]


@pytest.fixture
def config(emu: FocusEmulator, clock: FakeClock) -> FocusConfig:
    return FocusConfig(api_url=emu.url, issuer=emu.issuer, app="video", public_origin=ORIGIN, clock=clock,
                       timeout=2.0, max_retries=0)


@pytest.fixture
def poor(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=1)


@pytest.fixture
def secret(emu: FocusEmulator) -> str:
    """A real session JWT of another user, as the "app's own" token of the URL."""
    return emu.create_user(credits=0).session_jwt(azp=ORIGIN)


# -- the apps -----------------------------------------------------------------------------------


def starlette_app(config: FocusConfig) -> Starlette:
    @require_account
    async def me(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"ok": True})

    @require_credits(5)
    async def costly(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/me", me), Route("/costly", costly)])
    app.add_middleware(FocusMiddleware, config=config)
    return app


def wsgi_app(config: FocusConfig) -> FocusWSGIMiddleware:
    @wsgi_require_account
    def me(request: Request) -> Response:
        return Response(json.dumps({"ok": True}), mimetype="application/json")

    @wsgi_require_credits(5)
    def costly(request: Request) -> Response:
        return Response(json.dumps({"ok": True}), mimetype="application/json")

    views = {"/me": me, "/costly": costly}

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        view = views.get(request.path)
        response: Any = view(request) if view else Response("not found", status=404)
        return response(environ, start_response)

    return FocusWSGIMiddleware(app, config=config)


def flask_app(emu: FocusEmulator, clock: FakeClock) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, **emulator_settings(emu), FOCUS_APP="video", FOCUS_PUBLIC_ORIGIN=ORIGIN,
                      FOCUS_CLOCK=clock, FOCUS_TIMEOUT=2.0, FOCUS_MAX_RETRIES=0)
    focus = Focus(app)

    @app.get("/me")
    @focus.login_required
    def me() -> Any:
        return jsonify(ok=True)

    @app.get("/costly")
    @focus.require_credits(5)
    def costly() -> Any:
        return jsonify(ok=True)

    return app


# -- one interface over the three in-process clients ----------------------------------------------


class Answer:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def everything(self) -> str:
        """Status line aside, every byte the client received, decoded as a header is."""
        return "\n".join(f"{k}: {v}" for k, v in self.headers) + "\n" + self.body.decode("latin-1")


async def asgi_get(app: Any, path: str, query: bytes, headers: dict[str, str]) -> Answer:
    """A raw ASGI request, so the query reaches the app byte for byte (httpx would escape
    what a lenient server such as uvicorn's httptools passes through)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("app.example.test", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return Answer(start["status"], [(k.decode(), v.decode("latin-1")) for k, v in start["headers"]], body)


@pytest.fixture(params=["asgi", "wsgi", "flask"])
def get(request: pytest.FixtureRequest, config: FocusConfig, emu: FocusEmulator, clock: FakeClock) -> Iterator[Any]:
    """``get(path, query, headers)`` against one adapter; ``query`` is the raw query."""
    kind = request.param
    if kind == "asgi":
        app = starlette_app(config)

        async def get_asgi(path: str, query: str, headers: dict[str, str]) -> Answer:
            return await asgi_get(app, path, query.encode("latin-1"), headers)

        yield get_asgi
        return
    client = Client(wsgi_app(config)) if kind == "wsgi" else flask_app(emu, clock).test_client()

    async def get_wsgi(path: str, query: str, headers: dict[str, str]) -> Answer:
        cookie = headers.pop("cookie", None)
        if cookie:  # the test clients keep their own cookie jar, which replaces the header
            name, _, value = cookie.partition("=")
            client.set_cookie(name, value)
        r = client.get(path, query_string=query, headers=headers)
        return Answer(r.status_code, list(r.headers.items()), r.get_data())

    yield get_wsgi


def redirect_to(url: str) -> str:
    return parse_qs(urlsplit(url).query)["redirect_to"][0]


# -- the 401 and the 402 -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_401_never_echoes_the_token(get: Any, secret: str) -> None:
    r = await get("/me", f"token={secret}&q=1&token=again-{secret}", dict(API))
    assert r.status == 401
    assert secret not in r.everything()
    body = json.loads(r.body)
    assert redirect_to(body["signin_url"]) == f"{ORIGIN}/me?q=1"  # the rest of the URL is kept


@pytest.mark.anyio
async def test_the_402_never_echoes_the_token(get: Any, secret: str, poor: EmulatedUser) -> None:
    # The bearer decides; the query's token is the app's own (say, a reset link's).
    headers = {**API, "authorization": f"Bearer {poor.pat()}"}
    r = await get("/costly", f"a=%20b&token={secret}", headers)
    assert r.status == 402
    assert secret not in r.everything()
    assert redirect_to(json.loads(r.body)["purchase_url"]) == f"{ORIGIN}/costly?a=%20b&focus_billed=1"


@pytest.mark.anyio
async def test_the_402_page_never_echoes_the_token(get: Any, secret: str, poor: EmulatedUser) -> None:
    headers = {**NAV, "authorization": f"Bearer {poor.pat()}"}
    r = await get("/costly", f"token={secret}", headers)
    assert r.status == 402 and b"<" in r.body
    assert secret not in r.everything()


@pytest.mark.anyio
async def test_the_sign_in_redirect_never_carries_the_token(get: Any, secret: str) -> None:
    r = await get("/me", f"token={secret}&q=1", dict(NAV))
    assert r.status == 303
    assert secret not in r.everything()
    back = redirect_to(r.header("location") or "")
    assert back.startswith(f"{ORIGIN}/me?q=1&focus_state=")


@pytest.mark.anyio
@pytest.mark.parametrize("junk", ['"<>', "a b", "\u00e9", "%zz", "#frag", "\\"])
async def test_the_rest_of_the_query_is_re_encoded_not_copied(get: Any, junk: str) -> None:
    r = await get("/me", "q=" + junk, dict(API))
    assert r.status == 401
    back = redirect_to(json.loads(r.body)["signin_url"])
    query = urlsplit(back).query
    assert all(c.isascii() and c not in ' "<>\\#' for c in query) and query.startswith("q=")


# -- control characters ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("char", CONTROL, ids=[f"{ord(c):02x}" for c in CONTROL])
async def test_a_raw_control_character_in_the_query_is_a_400(get: Any, char: str) -> None:
    for headers in (dict(API), dict(NAV)):
        r = await get("/me", f"q=a{char}b", headers)
        assert r.status == 400, (headers, r.status)
        assert r.header("location") is None


@pytest.mark.anyio
@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x7f", "\x01"], ids=["lf", "cr", "nul", "del", "soh"])
async def test_a_return_trip_with_a_raw_control_character_is_a_400_and_its_token_unused(
    get: Any, user: EmulatedUser, char: str
) -> None:
    token = user.session_jwt(azp=ORIGIN)
    headers = {**NAV, "cookie": f"focus_state={NONCE}"}
    r = await get("/me", f"focus_state={NONCE}&x=1{char}2&token={token}", headers)
    assert r.status == 400
    assert r.header("location") is None
    assert token not in r.everything()
    assert not any(k.lower() == "set-cookie" and v.startswith("focus_session=ey") for k, v in r.headers)


@pytest.mark.anyio
async def test_a_return_trip_with_escaped_control_characters_redirects_cleanly(get: Any, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN)
    headers = {**NAV, "cookie": f"focus_state={NONCE}"}
    r = await get("/me", f"x=%0A%0d%00%7F&focus_state={NONCE}&token={token}&y=%C3%A9", headers)
    assert r.status == 303
    assert r.header("location") == f"{ORIGIN}/me?x=%0A%0d%00%7F&y=%C3%A9"
    assert token not in (r.header("location") or "")
    assert any(k.lower() == "set-cookie" and v.startswith(("focus_session=ey", "__Host-focus_session=ey"))
               for k, v in r.headers)


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


@pytest.mark.anyio
async def test_the_401_and_402_through_httpx_never_echo_the_token(config: FocusConfig, secret: str,
                                                                   poor: EmulatedUser) -> None:
    transport = httpx.ASGITransport(app=starlette_app(config))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        r = await client.get("/me", params={"token": secret}, headers=API)
        assert r.status_code == 401 and secret not in r.text and secret not in str(r.headers)
        assert redirect_to(r.json()["signin_url"]) == f"{ORIGIN}/me"
        r = await client.get("/costly", params={"token": secret}, headers={**API, "authorization": f"Bearer {poor.pat()}"})
        assert r.status_code == 402 and secret not in r.text and secret not in str(r.headers)
        assert redirect_to(r.json()["purchase_url"]) == f"{ORIGIN}/costly?focus_billed=1"
