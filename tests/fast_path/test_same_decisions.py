"""The fast path (focus_middleware.fast_path) answers exactly as the full plan would: the
same outcome, the same account, the same Vary/Cache-Control; and it stops answering the
moment anything the answer came from changes (expiry, the wallet dropped, a cache reset)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from focus_middleware import events
from focus_middleware.asgi import FocusMiddleware
from focus_middleware.asgi import middleware as asgi_middleware
from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.fast_path import BEARER_KEY_TAIL, table_key
from focus_middleware.resolver import AsyncResolver
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.helpers import ORIGIN

pytestmark = pytest.mark.anyio


async def who(request: Request) -> Response:
    account = request.state.focus_account
    credential = getattr(request.user, "account", None)
    ctx = request.scope["focus"]
    return JSONResponse({"clerk_id": account.clerk_id if account else None, "credits": account.credits if account else None,
                         "reason": getattr(request.user, "reason", "authenticated"), "named": credential is not None,
                         "source": getattr(getattr(ctx.outcome, "credential", None), "source", None),
                         "path": ctx.facts.path, "method": ctx.facts.method})


@pytest.fixture
def app(config: FocusConfig) -> Iterator[FocusMiddleware]:
    middleware = FocusMiddleware(Starlette(routes=[Route("/", who, methods=["GET", "POST"])]), config=config)
    yield middleware


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=7)


async def call(app: FocusMiddleware, headers: list[tuple[bytes, bytes]], *, method: str = "GET", path: str = "/",
               query: bytes = b"") -> tuple[int, dict[str, str], Any]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"), *headers],
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    headers_out = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers_out, json.loads(body) if body.startswith(b"{") else body


def _no_plan(*args: object, **kwargs: object) -> Any:
    raise AssertionError("the full plan ran for a request the fast path should answer")


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


def cookie(config: FocusConfig, token: str) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"theme=dark; {config.session_cookie}={token}".encode())]


def hot(app: FocusMiddleware) -> int:
    return len(app.resolver.core.hot)


async def test_a_warm_request_is_answered_from_the_table_as_the_plan_answered_it(
        app: FocusMiddleware, config: FocusConfig, emu: FocusEmulator, user: EmulatedUser,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    for headers, source in ((bearer(token), "bearer"), (cookie(config, token), "app_cookie")):
        cold = await call(app, headers)
        wallet_calls = emu.calls("GET /api/wallet")
        with monkeypatch.context() as patched:
            patched.setattr(asgi_middleware, "request_plan", _no_plan)
            warm = await call(app, headers)
        assert warm == cold
        assert cold[1]["vary"] == "Cookie, Authorization" and cold[1]["cache-control"] == "private"
        assert warm[2]["source"] == source and warm[2]["clerk_id"] == user.clerk_id and warm[2]["credits"] == 7
        assert emu.calls("GET /api/wallet") == wallet_calls
    assert hot(app) == 2


async def test_anonymous_requests_are_answered_without_the_plan(app: FocusMiddleware) -> None:
    status, headers, body = await call(app, [])
    assert status == 200 and body["reason"] == "anonymous" and "cache-control" not in headers
    assert headers["vary"] == "Cookie, Authorization"
    # A token in the query is a credential (ignored or refused by the plan), never anonymous here.
    assert (await call(app, [], query=b"token=abc"))[2]["reason"] in ("anonymous", "rejected")


async def test_expiry_while_cached_ends_the_reuse(app: FocusMiddleware, config: FocusConfig, clock: FakeClock,
                                                  user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=120)
    assert (await call(app, bearer(token)))[2]["reason"] == "authenticated"
    assert (await call(app, bearer(token)))[2]["reason"] == "authenticated"
    # Inside min_token_life of exp: the plan decides again (still signed in, not reused).
    clock.advance(120 - config.min_token_life + 1)
    assert app.resolver.core.hot.get(_bearer_header(token), True, clock.time()) is None
    assert (await call(app, bearer(token)))[2]["reason"] == "authenticated"
    clock.advance(config.min_token_life + config.leeway + 1)
    status, _, body = await call(app, bearer(token))
    assert status == 200 and body["reason"] == "expired" and body["clerk_id"] is None


def _bearer_header(token: str) -> bytes:
    return f"Bearer {token}".encode()


async def test_a_token_reused_as_bearer_then_cookie_is_judged_by_each_source(
        config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    signin_origin = config.signin_origin
    assert signin_origin is not None
    app = FocusMiddleware(Starlette(routes=[Route("/", who)]), config=config)
    token = user.session_jwt(azp=signin_origin, lifetime=600)
    for _ in range(2):  # cold, then warm
        assert (await call(app, cookie(config, token)))[2]["reason"] == "authenticated"
        status, _, body = await call(app, bearer(token))
        assert status == 200 and body["reason"] == "rejected"
    assert hot(app) == 1  # only the cookie's answer is kept


async def test_forget_wallet_and_a_reset_end_the_reuse(app: FocusMiddleware, emu: FocusEmulator,
                                                       user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, bearer(token))
    assert (await call(app, bearer(token)))[2]["credits"] == 7
    await app.resolver.aforget_wallet(user.clerk_id)
    calls = emu.calls("GET /api/wallet")
    await call(app, bearer(token))
    assert emu.calls("GET /api/wallet") == calls + 1  # read afresh, not the remembered answer
    app.resolver.core.cache.clear()  # type: ignore[attr-defined]  (an invalidation feed's reset)
    await call(app, bearer(token))
    assert emu.calls("GET /api/wallet") == calls + 2


async def test_a_cross_origin_cookie_post_is_decided_by_the_plan(app: FocusMiddleware, config: FocusConfig,
                                                                 user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, cookie(config, token))
    assert (await call(app, cookie(config, token)))[2]["reason"] == "authenticated"
    foreign = [*cookie(config, token), (b"origin", b"https://evil.example"), (b"sec-fetch-site", b"cross-site")]
    status, _, body = await call(app, foreign, method="POST")
    assert status == 200 and body["reason"] == "cross_origin" and body["clerk_id"] is None


async def test_our_paths_and_markers_take_the_plan(app: FocusMiddleware, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, bearer(token))
    status, headers, _ = await call(app, bearer(token), path="/_focus/refresh.js")
    assert status == 200 and "javascript" in headers.get("content-type", "")


async def test_the_facts_are_built_on_first_use(app: FocusMiddleware, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, bearer(token))
    body = (await call(app, bearer(token), method="POST"))[2]
    assert body["method"] == "POST" and body["path"] == "/" and body["reason"] == "authenticated"


async def test_a_repeated_credential_header_takes_the_plan(app: FocusMiddleware, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, bearer(token))
    status, _, body = await call(app, [*bearer(token), *bearer(token)])
    assert status == 200 and body["reason"] == "rejected"  # the plan joins them: not one token


async def test_an_async_resolver_shares_the_table(config: FocusConfig, user: EmulatedUser) -> None:
    resolver = AsyncResolver(config)
    app = FocusMiddleware(Starlette(routes=[Route("/", who)]), config=config, resolver=resolver)
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, bearer(token))
    assert len(resolver.core.hot) == 1
    await resolver.aclose()


async def test_a_subscriber_hears_the_same_events_from_the_table_as_from_the_plan(
        app: FocusMiddleware, user: EmulatedUser, monkeypatch: pytest.MonkeyPatch) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, bearer(token))  # cold: verified, wallet read, remembered
    heard: list[object] = []
    unsubscribe = events.subscribe(heard.append)
    try:
        app.resolver.core.hot._answers.clear()  # everything cached, but the plan answers once more
        await call(app, bearer(token))
        from_plan, heard[:] = list(heard), []
        with monkeypatch.context() as patched:
            patched.setattr(asgi_middleware, "request_plan", _no_plan)
            await call(app, bearer(token))
        from_table = list(heard)
    finally:
        unsubscribe()
    assert from_plan == [events.CacheLookup("jwt", "l1", True), events.CacheLookup("wallet", "l1", True),
                         events.Decision("authenticated", None, "bearer", "session")]
    assert from_table == from_plan


async def test_the_table_holds_no_token_in_its_keys(app: FocusMiddleware, config: FocusConfig,
                                                    user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, bearer(token))
    await call(app, cookie(config, token))
    keys = list(app.resolver.core.hot._answers)
    assert len(keys) == 2 and all(isinstance(key, int) for key in keys)  # hashes, nothing of the token


async def test_a_header_hashing_as_a_remembered_one_is_not_given_its_answer(
        app: FocusMiddleware, config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    """Two headers with one hash: the table finds the candidate by hash, and gives it only
    to the header it came from. A real SipHash collision cannot be produced here, so the
    answer is filed under the other header's hash, as a collision would find it."""
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    other = emu.create_user(credits=3)
    other_token = other.session_jwt(azp=ORIGIN, lifetime=600)
    answers = app.resolver.core.hot._answers
    for presented, stranger in ((bearer(token), bearer(other_token)),
                                (cookie(config, token), cookie(config, other_token)),
                                # The same token behind another cookie: the plan reads the whole header.
                                (cookie(config, token), [(b"cookie", f"{config.session_cookie}={token}; x=1".encode())])):
        await call(app, presented)
        answers.clear()
        await call(app, presented)  # remembered for `presented` alone
        (remembered,) = answers.values()
        answers.clear()
        name, header = stranger[0]
        key = table_key(header, name == b"authorization")
        answers[key] = remembered
        status, _, body = await call(app, stranger)
        expected = other.clerk_id if header.endswith(other_token.encode()) else user.clerk_id
        assert status == 200 and body["clerk_id"] == expected
        assert answers[key] is not remembered  # the plan answered and filed its own answer
    status, _, body = await call(app, bearer(other_token))
    assert body["clerk_id"] == other.clerk_id and body["credits"] == 3


async def test_a_forged_token_ending_as_a_remembered_one_finds_its_slot_and_is_refused(
        app: FocusMiddleware, user: EmulatedUser, emu: FocusEmulator) -> None:
    """A bearer is keyed by its last bytes (its signature): a token forged from a remembered
    one, claims changed and signature kept, really lands on the remembered answer's key.
    The comparison sends it to the plan, which refuses the signature; the answer stays its
    owner's, still given from the table.

    A JWT in compact serialization ends in its signature (RFC 7515 §7.1:
    header.payload.signature), and Clerk signs session tokens with RS256
    (https://clerk.com/docs/guides/development/troubleshooting/jwt-decoder: "only the RS256
    algorithm is supported"), 342 base64url characters, as the emulator does."""
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    intruder = emu.create_user(credits=100)
    head, _claims, signature = token.split(".")
    forged_claims = intruder.session_jwt(azp=ORIGIN, lifetime=600).split(".")[1]
    forged = f"{head}.{forged_claims}.{signature}"
    assert len(signature) >= BEARER_KEY_TAIL and forged != token
    assert table_key(bearer(forged)[0][1], True) == table_key(bearer(token)[0][1], True)
    await call(app, bearer(token))
    (remembered,) = app.resolver.core.hot._answers.values()

    status, _, body = await call(app, bearer(forged))
    assert body["clerk_id"] is None and body["reason"] != "authenticated", (status, body)
    assert list(app.resolver.core.hot._answers.values()) == [remembered]
    status, _, body = await call(app, bearer(token))
    assert status == 200 and body["clerk_id"] == user.clerk_id


def test_a_header_no_server_could_hand_over_is_left_to_the_plan() -> None:
    """PEP 3333 headers are latin-1 ``str``; one that is not cannot be the bytes of any
    remembered header: neither looked up nor remembered."""
    from focus_middleware.fast_path import HotAnswers
    table = HotAnswers()
    for header, bearer_header in (("Bearer \u20ac", True), ("session=\u20ac", False)):
        # Never stored, so only which header it would be filed under is read of the answer.
        table.put(header, SimpleNamespace(bearer=bearer_header))  # type: ignore[arg-type]
        assert len(table) == 0 and table.get(header, bearer_header, 0.0) is None


def test_one_answer_serves_asgi_bytes_and_wsgi_str_of_the_same_header_only() -> None:
    """The plan remembers the ``str`` its facts hold; ASGI servers hand over bytes, WSGI
    servers latin-1 ``str`` (PEP 3333): either finds the answer (one core may serve both),
    and no header that differs by a byte does, whichever its type."""
    from focus_middleware.cache import CacheEntry
    from focus_middleware.fast_path import HotAnswers, _Hot
    from focus_middleware.request_plan import PROCEED_ANONYMOUS

    header = "Bearer " + "h.c." + "s" * 342
    table = HotAnswers()
    hot = _Hot(PROCEED_ANONYMOUS, 100.0, CacheEntry(None, 1e18), CacheEntry(None, 1e18), True, header, ())
    table.put(header, hot)
    raw = header.encode("latin-1")
    for asked in (raw, header, raw, header):
        assert table.get(bytes(bytearray(asked)) if isinstance(asked, bytes) else "".join(asked), True, 1.0) is hot
    # The same key (the last 64 bytes), one byte different before them: refused in each type.
    other = "Bearer " + "h.C." + "s" * 342
    assert table_key(other, True) == table_key(header, True)
    for asked_other in (other.encode("latin-1"), other, other.encode("latin-1")):
        assert table.get(asked_other, True, 1.0) is None
    assert table.get("bearer" + header[6:], True, 1.0) is None  # another spelling: the plan reads it
    assert len(table) == 1 and table.get(raw, True, 1.0) is hot


def test_a_header_of_the_other_type_is_never_compared_with_the_remembered_one_as_is() -> None:
    """``bytes == str`` warns under ``python -b`` and raises under ``-bb`` (which some test
    runs use): the first reuse by the other kind of server must convert, not compare."""
    import subprocess
    import sys

    program = (
        "from focus_middleware.cache import CacheEntry\n"
        "from focus_middleware.fast_path import HotAnswers, _Hot\n"
        "from focus_middleware.request_plan import PROCEED_ANONYMOUS\n"
        "table = HotAnswers()\n"
        "hot = _Hot(PROCEED_ANONYMOUS, 9.0, CacheEntry(None, 1e18), CacheEntry(None, 1e18), False, 'a=1', ())\n"
        "table.put('a=1', hot)\n"
        "assert table.get(b'a=1', False, 1.0) is hot and table.get('a=1', False, 1.0) is hot\n"
    )
    done = subprocess.run([sys.executable, "-bb", "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def test_a_credential_header_named_in_capitals_takes_the_plan(
        app: FocusMiddleware, config: FocusConfig, emu: FocusEmulator, user: EmulatedUser) -> None:
    """The ASGI HTTP spec (asgiref, specs/www.rst, the connection scope's ``headers``):
    "Header names should be lowercased, but it is not required; servers should preserve
    header case on a best-effort basis". The plan lower-cases names, so a bearer named
    ``Authorization`` decides there even beside a remembered cookie; the fast path, which
    matches lower-case names only, must not answer from that cookie."""
    cookie_token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await call(app, cookie(config, cookie_token))
    assert hot(app) == 1  # the cookie's answer is remembered
    other = emu.create_user(credits=7)
    capitalised = [(b"Authorization", f"Bearer {other.session_jwt(azp=ORIGIN, lifetime=600)}".encode())]
    status, _, body = await call(app, [*cookie(config, cookie_token), *capitalised])
    assert status == 200 and body["clerk_id"] == other.clerk_id and body["source"] == "bearer", body
