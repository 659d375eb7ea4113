"""CORS with credentials for allow-listed origins on /api/*: echoed, never ``*``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from focus_middleware.testing import EmulatedUser, FocusEmulator

if TYPE_CHECKING:
    from conftest import Api

APP = "http://127.0.0.1:8000"


def cors(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_an_allowed_origin_is_echoed_with_credentials(api: Api, focus_user: EmulatedUser) -> None:
    for origin in (APP, "http://localhost:3000", "http://[::1]:5173"):
        answer = api.client.get("/api/wallet", headers={"Origin": origin, **api.auth(focus_user.pat())})
        assert answer.status_code == 200
        assert cors(answer) == {
            "access-control-allow-origin": origin,
            "access-control-allow-credentials": "true",
        }
        assert "Origin" in answer.headers["vary"]


def test_other_origins_get_no_cors_headers(api: Api, focus_user: EmulatedUser) -> None:
    for origin in ("http://evil.example", "null", "https://127.0.0.1.evil.example", "*"):
        answer = api.client.get("/api/wallet", headers={"Origin": origin, **api.auth(focus_user.pat())})
        assert answer.status_code == 200 and cors(answer) == {}
        assert "Origin" in answer.headers["vary"]


def test_errors_and_injected_faults_carry_cors_too(api: Api, focus_emulator: FocusEmulator) -> None:
    unauthorized = api.client.get("/api/sessionToken", headers={"Origin": APP})
    assert unauthorized.status_code == 401
    assert cors(unauthorized)["access-control-allow-origin"] == APP
    focus_emulator.fail_next("GET /api/wallet", 503)
    faulted = api.client.get("/api/wallet", headers={"Origin": APP})
    assert faulted.status_code == 503 and cors(faulted)["access-control-allow-origin"] == APP


def test_preflight_for_an_allowed_origin(api: Api, focus_emulator: FocusEmulator) -> None:
    preflight = api.client.options(
        "/api/jobs",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    headers = cors(preflight)
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-credentials"] == "true"
    assert {"GET", "POST"} <= {m.strip() for m in headers["access-control-allow-methods"].split(",")}
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "Origin" in preflight.headers["vary"]
    assert focus_emulator.calls("POST /api/jobs") == 0  # a preflight is not a call


def test_preflight_for_another_origin_allows_nothing(api: Api) -> None:
    preflight = api.client.options(
        "/api/wallet", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert cors(preflight) == {}


def test_configured_origins_and_pages_outside_api(focus_user: EmulatedUser) -> None:
    with FocusEmulator(allowed_origins=["https://video.thefocus.ai"]) as emu:
        answer = httpx.get(emu.url + "/api/sessionToken", headers={"Origin": "https://video.thefocus.ai"})
        assert cors(answer)["access-control-allow-origin"] == "https://video.thefocus.ai"
        page = httpx.get(emu.url + "/signin", headers={"Origin": APP})
        assert cors(page) == {}  # pages are not for scripts on other origins


def test_a_signed_in_browser_fetches_its_token_cross_origin(focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> None:
    cookie = f"focus_emulator_signin={focus_user.signin_cookie()}"
    answer = httpx.get(focus_emulator.url + "/api/sessionToken", headers={"Origin": APP, "Cookie": cookie})
    assert answer.status_code == 200 and answer.json()["token"]
    assert cors(answer)["access-control-allow-credentials"] == "true"
