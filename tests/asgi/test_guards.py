"""Every guard, on Starlette and FastAPI endpoints (sync, async, HTTPEndpoint methods), with
both content types of every refusal: navigations get a redirect or a page, API calls JSON."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.requests import Request
from starlette.responses import Response

from focus_middleware import FocusConfig
from focus_middleware.clock import FakeClock
from focus_middleware.responses import InsufficientCredits
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, NAV, ORIGIN, SAME_ORIGIN_API, XSS_ACTION, AppFactory, client_for, fastapi_app, starlette_app

pytestmark = pytest.mark.anyio
WALLET = "GET /api/wallet"
PROTECTED = ["/private", "/private-sync", "/credits", "/credits-sync", "/page"]


def who_json(user: EmulatedUser) -> dict[str, object]:
    return {"authenticated": True, "clerk_id": user.clerk_id, "credits": 10, "reason": None, "scopes": ["authenticated"]}


def bearer(token: str, base: dict[str, str] = API) -> dict[str, str]:
    return {**base, "authorization": f"Bearer {token}"}


def assert_unauthorized_json(r: object, *, presented: bool) -> None:
    assert r.status_code == 401, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    assert r.headers["www-authenticate"] == ('Bearer error="invalid_token"' if presented else "Bearer")  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["error"] == "unauthorized" and body["signin_url"].endswith("/signin?redirect_to=" + body["signin_url"].split("redirect_to=")[1])
    assert "redirect_to=http%3A%2F%2Fapp.example.test%2F" in body["signin_url"]


# -- require_account ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROTECTED)
async def test_every_guard_refuses_api_calls_with_401_json(path: str, config: FocusConfig) -> None:
    async with client_for(starlette_app(config)) as client:
        assert_unauthorized_json(await client.get(path, headers=API), presented=False)


@pytest.mark.parametrize("path", ["/private", "/credits", "/credits-sync"])
async def test_fastapi_guards_refuse_api_calls_with_401_json(path: str, config: FocusConfig) -> None:
    async with client_for(fastapi_app(config)) as client:
        assert_unauthorized_json(await client.get(path, headers=API), presented=False)
        assert_unauthorized_json(await client.post("/private", json={}, headers=API), presented=False)


@pytest.mark.parametrize("path", PROTECTED)
async def test_every_guard_sends_navigations_to_signin(path: str, config: FocusConfig, emu: FocusEmulator) -> None:
    async with client_for(starlette_app(config)) as client:
        r = await client.get(path + "?q=1", headers=NAV)
    assert r.status_code == 303 and r.headers["cache-control"] == "no-store"
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{emu.url}/signin"
    back = urlsplit(parse_qs(location.query)["redirect_to"][0])
    assert f"{back.scheme}://{back.netloc}{back.path}" == ORIGIN + path
    params = parse_qs(back.query)
    assert params["q"] == ["1"] and params["focus_bounce"] == ["1"]
    assert r.cookies["focus_state"] == params["focus_state"][0]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Lax" in r.headers["set-cookie"]


async def test_without_sec_fetch_a_get_accepting_html_is_a_navigation(config: FocusConfig) -> None:
    async with client_for(starlette_app(config)) as client:
        assert (await client.get("/private", headers={"accept": "text/html,*/*"})).status_code == 303
        assert (await client.get("/private", headers={"accept": "*/*"})).status_code == 401
        # A fetch() that accepts HTML is still not a navigation.
        fetch = await client.get("/private", headers={"accept": "text/html", "sec-fetch-mode": "cors"})
        assert fetch.status_code == 401


async def test_guards_let_an_account_through(make_app: AppFactory, config: FocusConfig, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(make_app(config)) as client:
        for path in ("/private", "/credits-sync"):
            r = await client.get(path, headers=bearer(token))
            assert r.status_code == 200 and r.json()["clerk_id"] == user.clerk_id
        r = await client.get("/credits?n=3", headers=bearer(token))
        assert r.status_code == 200 and r.json() in ({"n": 3}, who_json(user))


async def test_httpendpoint_methods_are_guarded(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(starlette_app(config)) as client:
        assert (await client.get("/page", headers=bearer(token))).status_code == 200
        assert (await client.post("/page", headers=bearer(token))).status_code == 200
        emu.set_credits(user, 2)
        client_cache_bypass = config.replace(wallet_ttl=0.001)
    async with client_for(starlette_app(client_cache_bypass)) as client:
        r = await client.post("/page", headers=bearer(token))
        assert r.status_code == 402 and r.json()["required"] == 3 and r.json()["available"] == 2


async def test_fastapi_endpoint_without_request_parameter(config: FocusConfig, user: EmulatedUser) -> None:
    app = fastapi_app(config)
    async with client_for(app) as client:
        r = await client.post("/private", json={"a": 1}, headers=bearer(user.session_jwt(azp=ORIGIN)))
        assert r.status_code == 200 and r.json() == {"item": {"a": 1}}
    schema = app.openapi()
    params = schema["paths"]["/credits"]["get"].get("parameters", [])
    assert [p["name"] for p in params] == ["n"]  # the injected request is not a parameter


# -- 401 for bad tokens, never 500 --------------------------------------------------------------------


BAD_TOKENS = {
    "garbage": "not a token at all",
    "oversized": "a" * 20_000,
    "three dots": "a.b.c",
    "bad base64": "eyJhbGciOiJSUzI1NiJ9.%%%.sig",
    "json array header": "WzFd.eyJzdWIiOiJ4In0.c2ln",
    "unicode": "ünïcödé.ünïcödé.ünïcödé",
}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
async def test_malformed_and_oversized_tokens_are_401_never_500(name: str, make_app: AppFactory,
                                                                config: FocusConfig) -> None:
    token = BAD_TOKENS[name]
    async with client_for(make_app(config)) as client:
        raw = token.encode()
        auth = await client.get("/private", headers={**API, "authorization": b"Bearer " + raw})
        assert_unauthorized_json(auth, presented=True)
        r = await client.get("/private", headers={**API, "cookie": b"focus_session=" + raw})
        assert_unauthorized_json(r, presented=True)
        assert (await client.get("/", headers={**API, "cookie": b"__session=" + raw})).status_code == 200


async def test_forged_tokens_are_401(make_app: AppFactory, config: FocusConfig, user: EmulatedUser) -> None:
    forgeries = [
        user.session_jwt(azp=ORIGIN, key="foreign"),
        user.session_jwt(azp="https://other-app.example"),
        user.session_jwt(azp=ORIGIN, headers={"alg": "none"}),
        user.session_jwt(azp=ORIGIN, iss="https://evil.example"),
        user.session_jwt(azp=ORIGIN, sub=None),
    ]
    async with client_for(make_app(config)) as client:
        for token in forgeries:
            assert_unauthorized_json(await client.get("/private", headers=bearer(token)), presented=True)
        # A PAT is a bearer credential, never a cookie.
        r = await client.get("/private", headers={**API, "cookie": f"focus_session={user.pat()}"})
        assert_unauthorized_json(r, presented=True)
        assert (await client.get("/private", headers=bearer(user.pat()))).status_code == 200


async def test_expired_token_is_401_for_api_and_a_bounce_for_navigation(config: FocusConfig, user: EmulatedUser,
                                                                        clock: FakeClock) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=10)
    clock.advance(60)
    async with client_for(starlette_app(config)) as client:
        assert_unauthorized_json(await client.get("/private", headers=bearer(token)), presented=True)
        client.cookies.set("focus_session", token)
        r = await client.get("/private", headers=NAV)
        assert r.status_code == 303 and "focus_bounce%3D1" in r.headers["location"]


# -- 503 ---------------------------------------------------------------------------------------------


async def test_focus_unavailable_is_503_json_and_page(make_app: AppFactory, config: FocusConfig,
                                                       user: EmulatedUser, emu: FocusEmulator) -> None:
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(make_app(config)) as client:
        emu.fail_next(WALLET, 503)
        r = await client.get("/private", headers=bearer(token))
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()
        assert r.json()["error"] == "unavailable"
        emu.fail_next(WALLET, 502)
        client.cookies.set("focus_session", token)
        page = await client.get("/private", headers=NAV)
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "Temporarily unavailable" in page.text and page.headers["retry-after"].isdigit()


async def test_jwks_down_on_first_use_is_503_not_401(config: FocusConfig, user: EmulatedUser,
                                                     emu: FocusEmulator) -> None:
    emu.set_jwks_down(True)
    async with client_for(starlette_app(config)) as client:
        r = await client.get("/private", headers=bearer(user.session_jwt(azp=ORIGIN)))
    assert r.status_code == 503


async def test_a_stale_wallet_never_approves_credits(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator,
                                                     clock: FakeClock) -> None:
    token = user.session_jwt(azp=ORIGIN, lifetime=3600)
    async with client_for(starlette_app(config)) as client:
        assert (await client.get("/credits", headers=bearer(token))).status_code == 200
        clock.advance(config.wallet_ttl + 1)
        emu.fail_next(WALLET, 503, times=3)
        # Showing the account from the stale-if-error window is fine ...
        shown = await client.get("/private", headers=bearer(token))
        assert shown.status_code == 200 and shown.json()["credits"] == 10
        # ... approving a spend with it is not.
        r = await client.get("/credits", headers=bearer(token))
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        page = await client.get("/credits", headers=bearer(token, NAV))
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]


# -- 402 ---------------------------------------------------------------------------------------------


async def test_insufficient_credits_json(make_app: AppFactory, config: FocusConfig, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    async with client_for(make_app(config)) as client:
        r = await client.get("/credits-sync", headers=bearer(poor.session_jwt(azp=ORIGIN)))
    assert r.status_code == 402 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["error"] == "insufficient_credits" and body["required"] == 5 and body["available"] == 2
    assert body["purchase_url"] == f"{emu.url}/billing?redirect_to=http%3A%2F%2Fapp.example.test%2Fcredits-sync%3Ffocus_billed%3D1"
    assert body["action"] in (XSS_ACTION, "fa credits sync")  # given, or the endpoint's name


async def test_insufficient_credits_page_escapes_everything(make_app: AppFactory, config: FocusConfig,
                                                            emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=1)
    path = "/credits-sync" if make_app is starlette_app else "/credits"
    async with client_for(make_app(config)) as client:
        r = await client.get(path + '?x="><script>alert(1)</script>', headers=bearer(poor.session_jwt(azp=ORIGIN), NAV))
    assert r.status_code == 402 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<script>" not in r.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in r.text
    assert '<strong id="required">5</strong>' in r.text and '<strong id="available">1</strong>' in r.text
    href = r.text.split('id="buy-credits" href="')[1].split('"')[0]
    assert href.startswith(f"{emu.url}/billing?redirect_to=http%3A%2F%2Fapp.example.test%2Fcredits")
    assert "&quot;" not in href.replace("&amp;", "")


async def test_insufficient_credits_page_is_replaceable(config: FocusConfig, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=0)
    headers = bearer(poor.session_jwt(azp=ORIGIN), NAV)

    def page(info: InsufficientCredits) -> str:
        return f"<p>need {info.required}, have {info.available}</p>"

    async with client_for(starlette_app(config, insufficient_credits_page=page)) as client:
        r = await client.get("/credits", headers=headers)
        assert r.status_code == 402 and r.text == "<p>need 5, have 0</p>"
        assert (await client.get("/credits", headers=bearer(poor.session_jwt(azp=ORIGIN)))).json()["required"] == 5
    template = "<h1>$action</h1><a href='$purchase_url'>buy $required</a>"
    async with client_for(starlette_app(config, insufficient_credits_page=template)) as client:
        r = await client.get("/credits-sync", headers=headers)
        assert r.text.startswith("<h1>&lt;script&gt;") and "buy 5" in r.text


# -- 403 for cross-origin cookie requests --------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"origin": "https://evil.example"},
    {"origin": "http://app.example.test.evil.example"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},  # every *.thefocus.ai app is same-site
    {"sec-fetch-site": "cross-site", "origin": ORIGIN},  # Sec-Fetch-Site wins
])
async def test_cross_origin_cookie_state_changes_are_403(headers: dict[str, str], make_app: AppFactory,
                                                        config: FocusConfig, user: EmulatedUser) -> None:
    async with client_for(make_app(config)) as client:
        client.cookies.set("focus_session", user.session_jwt(azp=ORIGIN))
        r = await client.post("/private", json={}, headers={**API, **headers})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        # A cross-site form POST that navigates gets a page.
        page = await client.post("/private", json={}, headers={**NAV, "sec-fetch-site": "cross-site", **headers})
        assert page.status_code == 403 and "text/html" in page.headers["content-type"]


async def test_same_origin_and_bearer_state_changes_pass(make_app: AppFactory, config: FocusConfig,
                                                        user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN)
    async with client_for(make_app(config)) as client:
        client.cookies.set("focus_session", token)
        assert (await client.post("/private", json={}, headers=SAME_ORIGIN_API)).status_code == 200
        assert (await client.post("/private", json={}, headers={**API, "origin": ORIGIN})).status_code == 200
        assert (await client.post("/private", json={}, headers=API)).status_code == 200  # not a browser
        client.cookies.clear()
        foreign_bearer = {**bearer(token), "origin": "https://evil.example", "sec-fetch-site": "cross-site"}
        assert (await client.post("/private", json={}, headers=foreign_bearer)).status_code == 200


async def test_cross_origin_cookie_reads_are_allowed(config: FocusConfig, user: EmulatedUser) -> None:
    async with client_for(starlette_app(config)) as client:
        client.cookies.set("focus_session", user.session_jwt(azp=ORIGIN))
        r = await client.get("/private", headers={**API, "sec-fetch-site": "cross-site"})
    assert r.status_code == 200


def test_require_credits_validates_at_decoration() -> None:
    from focus_middleware import require_credits

    with pytest.raises(ValueError):
        require_credits(-1)

    @require_credits(0)
    def free(request: Request) -> Response:
        return Response()

    assert free.__name__ == "free"
