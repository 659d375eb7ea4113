"""FocusWSGIMiddleware on the core's fast path (issue 22), through Werkzeug's test client
against the emulator: a warm account read is the plan's remembered answer, without the facts
or the plan; whatever the answer came from ending (expiry, a forgotten wallet) ends the
reuse; a cookie on an unsafe method always takes the plan. And once the app has returned,
the context lets go of the environ: Focus makes no reference cycle, and an answer with
nothing to settle goes back to the server as the app made it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse
from werkzeug.wrappers import Request, Response

from focus_middleware.cache import MemoryCache
from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.models import FocusAccount
from focus_middleware.request_plan import account_plan
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import FocusWSGIMiddleware, WSGIFocusContext, focus_account, require_credits
from focus_middleware.wsgi import middleware as wsgi_middleware
from focus_middleware.wsgi.proxy import AccountProxy
from tests.helpers import ORIGIN, unreachable_per_request
from tests.fast_path.presented import bearer, cookie, no_plan

WALLET = "GET /api/wallet"

seen: list[WSGIFocusContext] = []


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """A Werkzeug app whose view reads the account as apps do (``environ["focus.account"]``),
    or finds it absent without Focus."""
    request = Request(environ)
    account = environ.get("focus.account")
    ctx = environ.get("focus")
    body = {"clerk_id": account.clerk_id if account else None, "credits": account.credits if account else None,
            "reason": ctx.reason if ctx is not None else None, "method": request.method}
    return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


@require_credits(5)
def five_credits(request: Request) -> Response:
    return Response("ran")


@require_credits(50)
def fifty_credits(request: Request) -> Response:
    return Response("ran")


GUARDED = {"/five": five_credits, "/fifty": fifty_credits}


def watched(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """:func:`app` and two guarded views, keeping each request's context (``seen``)."""
    seen.append(environ["focus"])
    view = GUARDED.get(environ["PATH_INFO"])
    if view is not None:
        return view(Request(environ))(environ, start_response)
    return app(environ, start_response)


@pytest.fixture
def middleware(config: FocusConfig) -> Iterator[FocusWSGIMiddleware]:
    seen.clear()
    engine = FocusWSGIMiddleware(watched, config=config)
    yield engine
    engine.close()
    seen.clear()


@pytest.fixture
def client(middleware: FocusWSGIMiddleware) -> Client:
    return Client(middleware, use_cookies=False)  # the Cookie header as given


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=7)


def get(client: Client, headers: dict[str, str], *, method: str = "GET") -> tuple[int, dict[str, str], Any]:
    """One request, its body read and closed as a server does."""
    response: TestResponse = client.open("/", method=method, headers=headers, buffered=True)
    return response.status_code, dict(response.headers), response.json


def test_a_warm_read_is_the_plans_answer_without_facts_or_plan(
        client: Client, middleware: FocusWSGIMiddleware, config: FocusConfig, emu: FocusEmulator,
        user: EmulatedUser, monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    for headers in (bearer(token), cookie(config, token)):
        cold = get(client, headers)
        assert seen[-1]._facts is not None  # the plan ran on the facts
        wallet_calls = emu.calls(WALLET)
        with monkeypatch.context() as patched:
            patched.setattr(wsgi_middleware, "account_plan", no_plan)
            warm = get(client, headers)
        assert warm == cold
        assert cold[1]["Vary"] == "Cookie, Authorization" and cold[1]["Cache-Control"] == "private"
        assert warm[2]["clerk_id"] == user.clerk_id and warm[2]["credits"] == 7 and warm[2]["reason"] == "authenticated"
        assert seen[-1]._facts is None and seen[-1].resolved  # answered without building the facts
        assert emu.calls(WALLET) == wallet_calls
    assert len(middleware.resolver.core.hot) == 2
    # Built on first need all the same while the app runs (a guard's refusal: the next
    # test); once it has returned, the context holds no environ to build them from.
    with pytest.raises(RuntimeError, match="let go of this request's environ when the app returned"):
        seen[-1].facts


def test_a_guard_lets_a_warm_request_through_without_the_facts(
        client: Client, user: EmulatedUser, monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    get(client, bearer(token))
    monkeypatch.setattr(wsgi_middleware, "account_plan", no_plan)
    response = client.get("/five", headers=bearer(token), buffered=True)
    assert response.status_code == 200 and response.text == "ran"
    assert seen[-1]._facts is None
    # A refusal is the core's, from the facts.
    response = client.get("/fifty", headers={**bearer(token), "accept": "application/json"}, buffered=True)
    assert response.status_code == 402 and response.json["error"] == "insufficient_credits"
    assert seen[-1]._facts is not None


def test_anonymous_requests_build_nothing(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsgi_middleware, "account_plan", no_plan)
    status, headers, body = get(client, {})
    assert status == 200 and body["reason"] == "anonymous" and body["clerk_id"] is None
    assert headers["Vary"] == "Cookie, Authorization" and "Cache-Control" not in headers
    assert seen[-1]._facts is None


def test_expiry_while_cached_ends_the_reuse(client: Client, middleware: FocusWSGIMiddleware, config: FocusConfig,
                                            clock: FakeClock, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=120)
    assert get(client, bearer(token))[2]["reason"] == "authenticated"
    assert get(client, bearer(token))[2]["reason"] == "authenticated"
    key = f"Bearer {token}"
    assert middleware.resolver.core.hot.get(key, True, clock.time()) is not None
    # Inside min_token_life of exp: the plan decides again (still signed in, not reused).
    clock.advance(120 - config.min_token_life + 1)
    assert middleware.resolver.core.hot.get(key, True, clock.time()) is None
    assert get(client, bearer(token))[2]["reason"] == "authenticated"
    assert seen[-1]._facts is not None
    clock.advance(config.min_token_life + config.leeway + 1)
    status, _, body = get(client, bearer(token))
    assert status == 200 and body["reason"] == "expired" and body["clerk_id"] is None


def test_forget_wallet_ends_the_reuse(client: Client, middleware: FocusWSGIMiddleware, emu: FocusEmulator,
                                      user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    get(client, bearer(token))
    assert get(client, bearer(token))[2]["credits"] == 7
    calls = emu.calls(WALLET)
    middleware.resolver.forget_wallet(user.clerk_id)
    assert get(client, bearer(token))[2]["credits"] == 7
    assert emu.calls(WALLET) == calls + 1  # read afresh, not the remembered answer
    assert seen[-1]._facts is not None


def test_a_first_level_copy_that_runs_out_ends_the_reuse(config: FocusConfig, clock: FakeClock, emu: FocusEmulator,
                                                        user: EmulatedUser) -> None:
    """With a shared level the first level keeps a wallet ``l1_ttl`` at most: past that the
    plan reads the shared level again (where another process may have dropped it), and so
    must the fast path, even before the cache meets the expired entry."""
    shared = MemoryCache(clock=clock)
    engine = FocusWSGIMiddleware(watched, config=config.replace(cache_backend=shared, l1_ttl=5.0))
    shared_client = Client(engine, use_cookies=False)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    assert get(shared_client, bearer(token))[2]["credits"] == 7
    assert get(shared_client, bearer(token))[2]["credits"] == 7  # remembered
    emu.add_credits(user, 10)
    shared.delete(engine.resolver.core.wallet_key(user.clerk_id))  # as another process's purchase does
    clock.advance(6.0)
    assert get(shared_client, bearer(token))[2]["credits"] == 17
    engine.close()


def test_a_cookie_on_an_unsafe_method_takes_the_plan(client: Client, config: FocusConfig, user: EmulatedUser,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    get(client, cookie(config, token))
    assert get(client, cookie(config, token))[2]["reason"] == "authenticated"  # remembered
    plans: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        plans.append(args)
        return account_plan(*args, **kwargs)

    monkeypatch.setattr(wsgi_middleware, "account_plan", counted)
    foreign = {**cookie(config, token), "origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    status, _, body = get(client, foreign, method="POST")
    assert status == 200 and body["reason"] == "cross_origin" and body["clerk_id"] is None
    own = {**cookie(config, token), "origin": ORIGIN, "sec-fetch-site": "same-origin"}
    assert get(client, own, method="POST")[2]["reason"] == "authenticated"
    assert len(plans) == 2  # both decided by the plan, neither remembered
    assert get(client, cookie(config, token))[2]["reason"] == "authenticated" and len(plans) == 2


def test_a_remembered_account_is_in_the_environ_itself_and_any_other_behind_the_proxy(
        config: FocusConfig, user: EmulatedUser) -> None:
    """A credential the table remembers puts the account itself at ``environ["focus.account"]``,
    found as the request comes in (a dict lookup, no I/O): nothing to read it through. One the
    table does not know is the lazy proxy: nothing is resolved unless the app reads it."""
    got: dict[str, Any] = {}

    def keeping(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        got.update(account=environ["focus.account"], ctx=environ["focus"])
        start_response("204 No Content", [])
        return []

    engine = FocusWSGIMiddleware(keeping, config=config)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    Client(engine).get("/", headers=bearer(token), buffered=True)
    assert isinstance(got["account"], AccountProxy) and not got["ctx"].resolved
    assert got["account"].clerk_id == user.clerk_id  # read after the response: resolved, remembered
    Client(engine).get("/", headers=bearer(token), buffered=True)
    assert type(got["account"]) is FocusAccount and got["ctx"].resolved
    assert got["account"].clerk_id == user.clerk_id and got["account"].credits == 7
    engine.close()


def test_after_the_response_the_environ_the_context_and_the_account_all_still_read_it(
        config: FocusConfig, user: EmulatedUser) -> None:
    """The environ keeps its context; the context keeps of the environ only what it may still
    need: its text, to resolve an account nobody asked for (nothing that could lead back to
    the environ), or nothing once the account is known."""
    kept: dict[str, Any] = {}

    def keeping(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["app.own"] = object()  # an app's object in the environ: not kept by Focus
        kept.update(environ=environ, ctx=environ["focus"], account=environ["focus.account"])
        start_response("204 No Content", [])
        return []

    engine = FocusWSGIMiddleware(keeping, config=config)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    Client(engine).get("/", headers=bearer(token), buffered=True)
    ctx = kept["ctx"]
    assert not ctx.resolved and ctx.environ is not kept["environ"]
    assert all(type(value) is str for value in ctx.environ.values())  # the CGI variables
    assert ctx.environ["HTTP_AUTHORIZATION"] == f"Bearer {token}" and ctx.environ["REQUEST_METHOD"] == "GET"
    assert focus_account(kept["environ"]).clerk_id == user.clerk_id  # resolved after the response
    assert kept["account"] and kept["account"].clerk_id == user.clerk_id
    assert engine.context(kept["environ"]) is ctx and ctx.facts.path == "/"
    Client(engine).get("/", headers=bearer(token), buffered=True)  # remembered: known from the start
    assert kept["ctx"] is not ctx and kept["ctx"].environ is None and type(kept["account"]) is FocusAccount
    assert focus_account(kept["environ"]).clerk_id == user.clerk_id
    engine.close()


def test_an_account_resolved_after_the_app_returned_is_resolved_from_the_request_as_it_came(
        config: FocusConfig, user: EmulatedUser) -> None:
    """What the context keeps of an environ for a later resolution is all the facts need,
    a port given as a number included (``facts_from_environ`` takes one)."""
    kept: dict[str, Any] = {}

    def quiet(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        kept["ctx"] = environ["focus"]
        start_response("204 No Content", [])
        return []

    engine = FocusWSGIMiddleware(quiet, config=config)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    body = engine({"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "QUERY_STRING": "a=1", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": 8000, "wsgi.url_scheme": "http", "HTTP_AUTHORIZATION": f"Bearer {token}"},
                  lambda status, headers, exc_info=None: None)
    assert body == []
    ctx = kept["ctx"]
    assert not ctx.resolved and ctx.account is not None and ctx.account.clerk_id == user.clerk_id
    facts = ctx.facts
    assert (facts.host, facts.path, facts.query_string, facts.method) == ("127.0.0.1:8000", "/x", "a=1", "GET")
    engine.close()


def test_an_answer_with_nothing_to_settle_goes_to_the_server_as_the_app_made_it(config: FocusConfig) -> None:
    """Its length (waitress and wsgiref set ``Content-Length`` for a list of one item) and the
    server's own ``wsgi.file_wrapper`` (sent with ``sendfile``)."""
    class FileWrapper:
        def __init__(self, file: Any, block_size: int = 8192) -> None:
            self.file = file

        def __iter__(self) -> Iterator[bytes]:
            return iter([self.file.read()])

    made: list[object] = []

    def listing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        body = environ["wsgi.file_wrapper"](io.BytesIO(b"file")) if environ["PATH_INFO"] == "/file" else [b"one"]
        made.append(body)
        return body

    engine = FocusWSGIMiddleware(listing, config=config)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.file_wrapper": FileWrapper}
    headers: list[list[tuple[str, str]]] = []
    body = engine(dict(environ), lambda status, given, exc_info=None: headers.append(given))
    assert body is made[-1] and ("Vary", "Cookie, Authorization") in headers[-1]
    body = engine({**environ, "PATH_INFO": "/file"}, lambda status, given, exc_info=None: None)
    assert body is made[-1] and isinstance(body, FileWrapper)
    engine.close()


# -- reference cycles -------------------------------------------------------------------------


def plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI app that makes no cycle of its own (a Werkzeug ``Request`` would: it puts itself
    in its environ) and reads the account, or not (``?quiet``)."""
    account = None if environ.get("QUERY_STRING") == "quiet" else environ.get("focus.account")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello" if not account else account.clerk_id.encode()]


@pytest.mark.parametrize("credentials", ["none", "bearer", "cookie", "bearer unread", "pat"])
def test_focus_makes_no_cycle(config: FocusConfig, user: EmulatedUser, credentials: str) -> None:
    """As a server calls the app: a fresh environ per request, the body read and closed.
    An app that makes no cycle leaves nothing to the collector with Focus either: whether
    the account was known from the start, resolved by the view, or never asked for."""
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    headers = {"none": {}, "bearer": bearer(token), "cookie": cookie(config, token), "bearer unread": bearer(token),
               "pat": bearer(user.pat) if credentials == "pat" else {}}[credentials]
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "quiet" if "unread" in credentials else "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}}
    engine = FocusWSGIMiddleware(plain, config=config)
    counts = {}
    for name, wsgi_app in (("bare", plain), ("focus", engine)):
        def serve(wsgi_app: Callable[..., Any] = wsgi_app) -> None:
            body = wsgi_app(dict(environ), lambda status, given, exc_info=None: None)
            try:
                assert b"".join(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        counts[name] = unreachable_per_request(serve)
    engine.close()
    assert counts == {"bare": 0, "focus": 0}


@pytest.mark.parametrize("credentials", ["none", "bearer", "cookie"])
def test_in_an_environ_that_is_a_cycle_focus_adds_only_what_the_environ_holds(
        config: FocusConfig, user: EmulatedUser, credentials: str) -> None:
    """Werkzeug's test client (and a Werkzeug ``Request``) make each environ a cycle, which
    the collector frees: what the environ holds of ours goes with it, the context and the
    account's proxy (no proxy when the account is known), nothing more."""
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    headers = {"none": {}, "bearer": bearer(token), "cookie": cookie(config, token)}[credentials]
    engine = FocusWSGIMiddleware(app, config=config)
    counts = {}
    for name, wsgi_app in (("bare", app), ("focus", engine)):
        test_client = Client(wsgi_app, use_cookies=False)
        counts[name] = unreachable_per_request(lambda: test_client.get("/", headers=headers, buffered=True))
    engine.close()
    assert counts["focus"] <= counts["bare"] + (1 if credentials != "none" else 2), counts
