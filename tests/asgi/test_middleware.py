"""FocusMiddleware in a real Starlette/FastAPI app: where the account appears, what it
costs, what it leaves alone (lifespan, bodies, streams), and the response headers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from focus_middleware import AnonymousFocusUser, FocusConfig, FocusMiddleware, FocusUser
from focus_middleware.asgi import Finish, focus_context
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, NAV, ORIGIN, AppFactory, client_for, starlette_app, test_client

pytestmark = pytest.mark.anyio
WALLET = "GET /api/wallet"


def bearer(token: str) -> dict[str, str]:
    return {**API, "authorization": f"Bearer {token}"}


async def test_account_appears_in_state_user_and_auth(make_app: AppFactory, config: FocusConfig,
                                                      user: EmulatedUser) -> None:
    async with client_for(make_app(config)) as client:
        r = await client.get("/", headers=bearer(user.session_jwt(azp=ORIGIN)))
    assert r.json() == {"authenticated": True, "clerk_id": user.clerk_id, "credits": 10, "reason": None,
                        "scopes": ["authenticated"]}


async def test_cookies_carry_the_account_app_cookie_first(config: FocusConfig, user: EmulatedUser,
                                                          emu: FocusEmulator) -> None:
    other = emu.create_user(credits=3)
    async with client_for(starlette_app(config)) as client:
        client.cookies.set("focus_session", user.session_jwt(azp=ORIGIN))
        client.cookies.set("__session", other.session_jwt(azp=ORIGIN))
        assert (await client.get("/", headers=API)).json()["clerk_id"] == user.clerk_id


async def test_no_credentials_costs_no_upstream_call(make_app: AppFactory, config: FocusConfig,
                                                     emu: FocusEmulator) -> None:
    emu.reset_calls()
    async with client_for(make_app(config)) as client:
        r = await client.get("/", headers=API)
        # A cookie of some other app, and another auth scheme, are no credentials either.
        r2 = await client.get("/", headers={**API, "authorization": "Basic dXNlcjpwdw==", "cookie": "theme=dark"})
    assert r.json()["reason"] == r2.json()["reason"] == "anonymous"
    assert r.json()["scopes"] == []
    assert emu.calls(WALLET) == 0 and emu.calls("GET /.well-known/jwks.json") == 0


async def test_refusals_on_unprotected_routes_are_anonymous_with_a_reason(
        config: FocusConfig, user: EmulatedUser, emu: FocusEmulator, clock: FakeClock) -> None:
    async with client_for(starlette_app(config)) as client:
        forged = user.session_jwt(azp=ORIGIN, key="foreign")
        assert (await client.get("/", headers=bearer(forged))).json()["reason"] == "rejected"
        assert (await client.get("/", headers=bearer("x" * 9000))).json()["reason"] == "rejected"
        expiring = user.session_jwt(azp=ORIGIN, lifetime=10)
        clock.advance(30)
        assert (await client.get("/", headers=bearer(expiring))).json()["reason"] == "expired"
        emu.fail_next(WALLET, 503)
        r = await client.get("/", headers=bearer(user.session_jwt(azp=ORIGIN)))
        # Unavailable is neither signed in nor a plain "signed out".
        assert r.json() == {"authenticated": False, "clerk_id": None, "credits": None, "reason": "unavailable",
                            "scopes": []}


async def test_cross_origin_cookie_post_never_acts_as_the_user_even_unguarded(
        config: FocusConfig, user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        client.cookies.set("focus_session", user.session_jwt(azp=ORIGIN))
        foreign = await client.post("/", headers={**API, "origin": "https://evil.example"})
        assert foreign.json()["reason"] == "cross_origin" and foreign.json()["clerk_id"] is None
        site = await client.post("/", headers={**API, "sec-fetch-site": "same-site"})
        assert site.json()["reason"] == "cross_origin"
        same = await client.post("/", headers={**API, "origin": ORIGIN})
        assert same.json()["clerk_id"] == user.clerk_id
        # Reading (GET) cross-origin is not a state change.
        assert (await client.get("/", headers={**API, "sec-fetch-site": "cross-site"})).json()["clerk_id"] == user.clerk_id


async def test_user_objects_are_starlette_users(config: FocusConfig, user: EmulatedUser) -> None:
    seen: dict[str, Any] = {}

    async def capture(request: Request) -> Response:
        seen["user"] = request.user
        seen["ctx"] = focus_context(request)
        return Response()

    app = Starlette(routes=[Route("/", capture)])
    app.add_middleware(FocusMiddleware, config=config)
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(app) as client:
        await client.get("/", headers=bearer(token))
        signed_in = seen["user"]
        await client.get("/")
        anonymous = seen["user"]
    assert isinstance(signed_in, FocusUser) and signed_in.identity == user.clerk_id
    assert signed_in.display_name == user.email and signed_in.account.credits == 10
    assert isinstance(anonymous, AnonymousFocusUser) and anonymous.account is None and not anonymous.is_authenticated
    # Not the token, nor any of its three parts (a random id may well contain "eyJ").
    for shown in (repr(signed_in), repr(seen["ctx"].proceed)):
        assert not any(part in shown for part in (token, *token.split(".")))


async def test_starlette_requires_works_with_our_scopes(config: FocusConfig, user: EmulatedUser) -> None:
    from starlette.authentication import requires

    @requires("authenticated")
    async def only(request: Request) -> Response:
        return Response("ok")

    app = Starlette(routes=[Route("/", only)])
    app.add_middleware(FocusMiddleware, config=config)
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 403
        assert (await client.get("/", headers=bearer(user.session_jwt(azp=ORIGIN)))).status_code == 200


async def test_request_auth_is_starlettes_and_an_apps_change_stays_in_its_request(config: FocusConfig,
                                                                                    user: EmulatedUser) -> None:
    # request.auth is made per request (lazily): a view that adds a scope for itself must
    # not hand it to the next request, signed in or not.
    from starlette.authentication import AuthCredentials

    seen: list[tuple[bool, list[str]]] = []

    async def escalate(request: Request) -> Response:
        seen.append((isinstance(request.auth, AuthCredentials), list(request.auth.scopes)))
        request.auth.scopes.append("admin")
        return Response("ok")

    app = Starlette(routes=[Route("/", escalate)])
    app.add_middleware(FocusMiddleware, config=config)
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(app) as client:
        for headers in (bearer(token), bearer(token), {}, {}):
            assert (await client.get("/", headers=headers)).status_code == 200
    assert seen == [(True, ["authenticated"]), (True, ["authenticated"]), (True, []), (True, [])]


async def test_guard_without_middleware_is_a_clear_error() -> None:
    from focus_middleware import require_account

    @require_account
    async def guarded(request: Request) -> Response:
        return Response()

    app = Starlette(routes=[Route("/", guarded)])
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="FocusMiddleware is not installed"):
            await client.get("/")


# -- response headers -----------------------------------------------------------------------------


async def test_cache_headers(config: FocusConfig, user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        anonymous = await client.get("/stream")
        assert anonymous.headers["vary"] == "Accept-Encoding, Cookie, Authorization"
        assert anonymous.headers["cache-control"] == "public, max-age=60"  # no credentials: left alone
        signed_in = await client.get("/stream", headers=bearer(user.session_jwt(azp=ORIGIN)))
        assert signed_in.headers["cache-control"] == "private, max-age=60"
        assert signed_in.headers.get_list("vary") == ["Accept-Encoding, Cookie, Authorization"]
        echo = await client.post("/echo", content=b"x", headers=bearer(user.session_jwt(azp=ORIGIN)))
        assert echo.headers["cache-control"] == "no-store"
        page = await client.get("/", headers=bearer(user.session_jwt(azp=ORIGIN)))
        assert page.headers["cache-control"] == "private"


# -- what the middleware leaves alone ---------------------------------------------------------------


async def test_request_and_response_bodies_stream_through(config: FocusConfig, user: EmulatedUser) -> None:
    messages: list[dict[str, Any]] = []
    app = starlette_app(config)
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10]
    received: list[int] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            received.append(len(chunk))
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    token = user.session_jwt(azp=ORIGIN)
    scope = {"type": "http", "method": "POST", "path": "/echo", "headers": [(b"authorization", f"Bearer {token}".encode())],
             "query_string": b"", "scheme": "http", "server": ("app.example.test", 80), "client": ("10.0.0.1", 5),
             "root_path": "", "asgi": {"version": "3.0"}, "http_version": "1.1"}
    await app(scope, receive, send)
    assert messages[-1]["body"] == b"a" * 10 + b"b" * 10 + b"c" * 10

    messages.clear()
    scope = {**scope, "method": "GET", "path": "/stream"}
    await app(scope, receive, send)
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert [m.get("more_body", False) for m in bodies][-1] is False and len(bodies) >= 3  # not buffered


async def test_lifespan_passes_through(config: FocusConfig) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"shared": "value"}
        events.append("shutdown")

    async def show(request: Request) -> Response:
        return JSONResponse({"shared": request.state.shared, "account": request.state.focus_account})

    app = Starlette(routes=[Route("/", show)], lifespan=lifespan)
    app.add_middleware(FocusMiddleware, config=config)
    with test_client(app) as client:
        assert client.get("/").json() == {"shared": "value", "account": None}
    assert events == ["startup", "shutdown"]
    # Served again after a shutdown: the middleware's client is made anew.
    with test_client(app) as client:
        assert client.get("/").json()["shared"] == "value"


def test_starlette_testclient_without_lifespan(config: FocusConfig, user: EmulatedUser) -> None:
    """TestClient without ``with`` runs each request on a new event loop: the resolver's
    client must survive that."""
    client = test_client(starlette_app(config))
    for _ in range(2):
        token = user.session_jwt(azp=ORIGIN, jti=str(_))
        r = client.get("/private", headers={"authorization": f"Bearer {token}", "accept": "application/json"})
        assert r.status_code == 200


async def test_websocket_gets_identity_and_no_refusals(config: FocusConfig, user: EmulatedUser) -> None:
    app = starlette_app(config)
    token = user.session_jwt(azp=ORIGIN)
    with test_client(app) as client:
        with client.websocket_connect("/ws", headers={"cookie": f"focus_session={token}", "origin": ORIGIN}) as ws:
            assert ws.receive_json() == {"authenticated": True, "reason": None}
        # A cookie-authenticated handshake from another origin (CSWSH) is anonymous.
        with client.websocket_connect("/ws", headers={"cookie": f"focus_session={token}",
                                                      "origin": "https://evil.example"}) as ws:
            assert ws.receive_json() == {"authenticated": False, "reason": "cross_origin"}
        with client.websocket_connect("/ws", headers={"cookie": "focus_session=garbage"}) as ws:
            assert ws.receive_json() == {"authenticated": False, "reason": "rejected"}


async def test_root_path_is_part_of_every_url(config: FocusConfig) -> None:
    async with client_for(starlette_app(config), root_path="/app") as client:
        r = await client.get("/private", headers=NAV)
    assert r.status_code == 303
    assert "redirect_to=http%3A%2F%2Fapp.example.test%2Fapp%2Fprivate%3F" in r.headers["location"]


# -- the plumbing a paid job will use -----------------------------------------------------------------


async def test_finish_hooks_see_how_the_response_ended(config: FocusConfig, user: EmulatedUser) -> None:
    finishes: list[Finish] = []

    async def record(finish: Finish) -> None:
        finishes.append(finish)

    async def ok(request: Request) -> Response:
        focus_context(request).on_finish(record)
        return Response("fine", status_code=201)

    async def boom(request: Request) -> Response:
        focus_context(request).on_finish(record)
        raise ValueError("handler failed")

    app = Starlette(routes=[Route("/ok", ok), Route("/boom", boom)])
    app.add_middleware(FocusMiddleware, config=config)
    async with client_for(app) as client:
        await client.get("/ok", headers=bearer(user.session_jwt(azp=ORIGIN)))
        with pytest.raises(ValueError):
            await client.get("/boom")
    assert finishes[0] == Finish(201, True, None)
    assert finishes[1].status is None and not finishes[1].complete and isinstance(finishes[1].error, ValueError)


async def test_the_resolver_can_be_shared(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    from focus_middleware.resolver import AsyncResolver

    resolver = AsyncResolver(config)
    token = user.session_jwt(azp=ORIGIN)
    emu.reset_calls()
    for _ in range(2):
        async with client_for(starlette_app(config, resolver=resolver)) as client:
            assert (await client.get("/", headers=bearer(token))).json()["clerk_id"] == user.clerk_id
    assert emu.calls(WALLET) == 1  # one cache for both apps
    with pytest.raises(ValueError, match="another configuration"):
        FocusMiddleware(starlette_app(config), config=config.replace(app="other"), resolver=resolver)
    await resolver.aclose()


async def test_http_transport_client_header_is_not_trusted(config: FocusConfig) -> None:
    """X-Forwarded-For/-Host from an untrusted peer change nothing."""
    async with client_for(starlette_app(config.replace(public_origin=None))) as client:
        r = await client.get("/private", headers={**NAV, "host": "evil.example", "x-forwarded-host": "evil.example",
                                                  "x-forwarded-proto": "https"})
    assert "evil.example" not in r.headers["location"]
    assert "redirect_to=http%3A%2F%2Fapp.example.test%2Fprivate" in r.headers["location"]
    trusted = config.replace(public_origin=None, trusted_proxies=("203.0.113.9",))
    async with client_for(starlette_app(trusted)) as client:
        r = await client.get("/private", headers={**NAV, "x-forwarded-host": "proxy.example", "x-forwarded-proto": "https"})
    assert "redirect_to=https%3A%2F%2Fproxy.example%2Fprivate" in r.headers["location"]
