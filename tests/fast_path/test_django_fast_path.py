"""django-focus on the core's fast path (issue 22): a warm request takes the remembered answer
(the same decision, Vary and Cache-Control as the plan's) without building the facts; expiry,
a forgotten wallet and a cookie on an unsafe method go back to the plan; a view that never
reads the account builds nothing; and the middleware leaves no reference cycle behind. Both
of Django's handlers: WSGI (``Client``) and ASGI (``AsyncClient``)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client
from django.urls import path
from django.utils.functional import SimpleLazyObject

from django_focus import middleware as focus_middleware
from django_focus import request as focus_request
from django_focus.request import focus_context
from django_focus.runtime import get_runtime
from focus_middleware.clock import FakeClock
from focus_middleware.models import FocusAccount
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.django.conftest import API, CROSS_SITE, SAME_ORIGIN, Either, focus_settings
from tests.django.settings import ORIGIN

pytestmark = pytest.mark.anyio

WALLET = "GET /api/wallet"
FOCUS_MIDDLEWARE = "django_focus.middleware.FocusMiddleware"


# -- this module is the URLconf: views that read the account, or not, with or without Focus -----


def _who(account: Any) -> HttpResponse:
    return JsonResponse({"clerk_id": account.clerk_id if account else None, "credits": account.credits if account else None,
                         "reason": getattr(account, "reason", "authenticated") if account is not None else "no middleware"})


def who(request: HttpRequest) -> HttpResponse:
    return _who(getattr(request, "focus_account", None))


async def awho(request: HttpRequest) -> HttpResponse:
    read = getattr(request, "afocus_account", None)
    return _who(await read() if read is not None else None)


def untouched(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"no account read here", headers={"cache-control": "public, max-age=60"})


urlpatterns = [path("", who), path("async", awho), path("untouched", untouched)]


@pytest.fixture(autouse=True)
def focus(settings: Any, emu: FocusEmulator, clock: FakeClock) -> Iterator[None]:
    settings.FOCUS = focus_settings(emu, clock)
    settings.ROOT_URLCONF = __name__
    yield


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=7)


@pytest.fixture(params=["wsgi", "asgi"])
def browser(request: pytest.FixtureRequest) -> Either:
    return Either(request.param)


class Counted:
    """Calls of a function of django_focus, counted (and refused, if ``refuse``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.calls = 0
        self.refuse = False
        real = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.refuse:
                raise AssertionError(f"{name} ran for a request the fast path should answer")
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """The account plans the context drives."""
    return Counted(monkeypatch, focus_request, "account_plan")


@pytest.fixture
def facts_built(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """The facts built, by the context (on first use) or by the middleware (up front)."""
    counted = Counted(monkeypatch, focus_request, "facts_from_request")
    monkeypatch.setattr(focus_middleware, "facts_from_request", focus_request.facts_from_request)
    return counted


def bearer(token: str) -> dict[str, str]:
    return {**API, "authorization": f"Bearer {token}"}


def reply(response: Any) -> tuple[int, Any, str | None, str | None]:
    return response.status_code, response.json(), response.get("Vary"), response.get("Cache-Control")


def sign_in(browser: Either, token: str) -> None:
    browser.client.cookies["focus_session"] = token


# -- the same answers, without the plan or the facts ------------------------------------------------


async def test_a_warm_request_is_answered_from_the_table_as_the_plan_answered_it(
        browser: Either, user: EmulatedUser, emu: FocusEmulator, plans: Counted, facts_built: Counted) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    hot = get_runtime().core.hot
    for target in ("/", "/async"):
        for headers, cookie in ((bearer(token), False), (API, True)):
            browser.client.cookies.clear()
            if cookie:
                sign_in(browser, token)
            hot_before = len(hot)
            cold = reply(await browser.get(target, headers=headers))
            assert cold == (200, {"clerk_id": user.clerk_id, "credits": 7, "reason": "authenticated"},
                            "Cookie, Authorization", "private")
            assert len(hot) in (hot_before, hot_before + 1)  # offered to the table (kept once per credential)
            wallet_reads = emu.calls(WALLET)
            plans.refuse = facts_built.refuse = True
            warm = reply(await browser.get(target, headers=headers))
            plans.refuse = facts_built.refuse = False
            assert warm == cold
            assert emu.calls(WALLET) == wallet_reads
    assert len(hot) == 2  # the bearer's answer and the cookie's


async def test_a_request_without_credentials_builds_no_facts(browser: Either, facts_built: Counted,
                                                             plans: Counted) -> None:
    facts_built.refuse = plans.refuse = True
    r = await browser.get("/", headers=API)
    assert reply(r) == (200, {"clerk_id": None, "credits": None, "reason": "anonymous"}, "Cookie, Authorization", None)


def test_a_remembered_account_is_attached_itself_and_any_other_stays_lazy(user: EmulatedUser, plans: Counted) -> None:
    """A credential the table remembers gives ``request.focus_account`` the account itself,
    found when the request comes in (a dict lookup, no I/O): no lazy object, whose every use
    goes through Django's Python-level ``__getattribute__``. One the table does not know stays
    lazy: nothing is resolved unless the view reads it."""
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    cold = Client().get("/untouched", headers=bearer(token)).wsgi_request
    assert isinstance(cold.focus_account, SimpleLazyObject) and plans.calls == 0  # type: ignore[attr-defined]
    assert Client().get("/", headers=bearer(token)).json()["clerk_id"] == user.clerk_id  # read: resolved, remembered
    assert plans.calls == 1
    warm = Client().get("/untouched", headers=bearer(token)).wsgi_request
    account = warm.focus_account  # type: ignore[attr-defined]
    assert type(account) is FocusAccount and account.clerk_id == user.clerk_id and account.credits == 7
    assert plans.calls == 1


async def test_a_view_that_never_reads_the_account_builds_nothing(browser: Either, user: EmulatedUser,
                                                                  emu: FocusEmulator, facts_built: Counted,
                                                                  plans: Counted) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    facts_built.refuse = plans.refuse = True
    r = await browser.get("/untouched", headers=bearer(token))
    # Credentialed: private, as the plan would have said, though nothing was resolved.
    assert r.status_code == 200 and r["Cache-Control"] == "private, max-age=60" and r["Vary"] == "Cookie, Authorization"
    sign_in(browser, token)
    assert (await browser.get("/untouched", headers=API))["Cache-Control"] == "private, max-age=60"
    browser.client.cookies.clear()
    assert (await browser.get("/untouched", headers=API))["Cache-Control"] == "public, max-age=60"
    # A Cookie header that holds no cookie is no credential, as the facts parse it.
    r = await browser.get("/untouched", headers={**API, "cookie": "no pairs here"})
    assert r["Cache-Control"] == "public, max-age=60"
    assert emu.calls(WALLET) == 0


# -- what ends the reuse ---------------------------------------------------------------------------


async def test_expiry_while_cached_ends_the_reuse(browser: Either, user: EmulatedUser, clock: FakeClock,
                                                  plans: Counted) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=120)
    assert (await browser.get("/", headers=bearer(token))).json()["reason"] == "authenticated"
    assert (await browser.get("/", headers=bearer(token))).json()["reason"] == "authenticated"
    assert plans.calls == 1
    # Inside min_token_life of exp: the plan decides again (still signed in, not reused).
    min_token_life = get_runtime().config.min_token_life
    clock.advance(120 - min_token_life + 1)
    assert (await browser.get("/", headers=bearer(token))).json()["reason"] == "authenticated"
    assert plans.calls == 2
    clock.advance(min_token_life + get_runtime().config.leeway + 1)
    r = await browser.get("/", headers=bearer(token))
    assert r.status_code == 200 and r.json() == {"clerk_id": None, "credits": None, "reason": "expired"}
    assert plans.calls == 3


async def test_forget_wallet_ends_the_reuse(browser: Either, user: EmulatedUser, emu: FocusEmulator,
                                            plans: Counted) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    await browser.get("/", headers=bearer(token))
    assert (await browser.get("/", headers=bearer(token))).json()["credits"] == 7
    emu.set_credits(user, 3)
    get_runtime().resolver.forget_wallet(user.clerk_id)
    wallet_reads = emu.calls(WALLET)
    assert (await browser.get("/", headers=bearer(token))).json()["credits"] == 3
    assert emu.calls(WALLET) == wallet_reads + 1 and plans.calls == 2


async def test_a_cookie_on_an_unsafe_method_takes_the_plan(browser: Either, user: EmulatedUser,
                                                           plans: Counted) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    sign_in(browser, token)
    assert (await browser.get("/", headers=API)).json()["reason"] == "authenticated"
    assert (await browser.get("/", headers=API)).json()["reason"] == "authenticated"
    assert plans.calls == 1
    assert (await browser.post("/", headers={**API, **CROSS_SITE})).json()["reason"] == "cross_origin"
    assert (await browser.post("/", headers={**API, **SAME_ORIGIN})).json()["reason"] == "authenticated"
    assert plans.calls == 3
    # A bearer is not judged by origin: its POST is answered from the table.
    browser.client.cookies.clear()
    await browser.get("/", headers=bearer(token))
    plans.refuse = True
    assert (await browser.post("/", headers={**bearer(token), **CROSS_SITE})).json()["reason"] == "authenticated"


# -- reference cycles ------------------------------------------------------------------------------


SAMPLES = 5
"""Measurements per side, the least kept: now and then Django's ASGI handler leaves one
request's objects in a cycle of its own (with or without Focus), which must not count."""


def _unreachable_per_request(call: Callable[[], Any], requests: int = 20) -> float:
    """Objects the cyclic collector finds per request: garbage that reference counting left."""
    for _ in range(10):
        call()
    found = []
    for _ in range(SAMPLES):
        gc.collect()
        gc.disable()
        try:
            for _ in range(requests):
                call()
            found.append(gc.collect() / requests)
        finally:
            gc.enable()
    return min(found)


def _get(client: Client, target: str, headers: dict[str, str]) -> Callable[[], None]:
    def call() -> None:
        response = client.get(target, headers=headers)
        assert response.status_code == 200
        del response.json  # the test client's own cycle (the response's json() holds it), not ours

    return call


@pytest.mark.parametrize("target", ["/", "/untouched"])
def test_warm_requests_leave_no_more_garbage_with_focus_than_without(settings: Any, user: EmulatedUser,
                                                                    target: str) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    cases = {"bearer": bearer(token), "anonymous": API}
    with_focus = {name: _unreachable_per_request(_get(Client(), target, headers)) for name, headers in cases.items()}
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != FOCUS_MIDDLEWARE]
    without = {name: _unreachable_per_request(_get(Client(), target, headers)) for name, headers in cases.items()}
    for name in cases:
        assert with_focus[name] <= without[name], (name, with_focus, without)


async def test_async_requests_leave_no_more_garbage_with_focus_than_without(settings: Any, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=600)

    async def unreachable_per_request(requests: int = 20) -> float:
        client = AsyncClient()  # its handler loads MIDDLEWARE on its first request
        for _ in range(10):
            await client.get("/async", headers=bearer(token))
        found = []
        for _ in range(SAMPLES):
            gc.collect()
            gc.disable()
            try:
                for _ in range(requests):
                    response = await client.get("/async", headers=bearer(token))
                    assert response.status_code == 200
                    del response.json  # the test client's own cycle, not ours
                found.append(gc.collect() / requests)
            finally:
                gc.enable()
        return min(found)

    with_focus = await unreachable_per_request()
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != FOCUS_MIDDLEWARE]
    without = await unreachable_per_request()
    assert with_focus <= without, (with_focus, without)


def test_the_context_lives_as_long_as_its_request(user: EmulatedUser) -> None:
    """The context holds its request weakly: code that keeps the request after the response
    keeps all of it; code that keeps only the context is told plainly."""
    token = user.session_jwt(azp=ORIGIN, lifetime=600)
    response = Client().get("/untouched", headers=bearer(token))
    request = response.wsgi_request
    del response
    ctx = focus_context(request)
    assert ctx.facts.path == "/untouched" and request.focus_account.clerk_id == user.clerk_id  # type: ignore[attr-defined]
    fresh = focus_context(Client().get("/untouched", headers=bearer(token)).wsgi_request)
    gc.collect()  # the test client's response (and with it the request) is garbage now
    with pytest.raises(RuntimeError, match="request of this FocusContext is gone"):
        fresh.request
