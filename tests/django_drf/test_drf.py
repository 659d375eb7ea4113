"""django-focus's DRF layer in a real DRF project, with DRF's APIClient and Django's test
client against the emulator: authentication, permissions, paid actions, OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.checks import Warning as CheckWarning
from rest_framework.test import APIClient

from focus_middleware.testing import EmulatedUser, FocusEmulator

from django_focus.checks import check_focus_settings
from django_focus.testing import force_focus_login

pytestmark = pytest.mark.django_db

NAV = {"HTTP_SEC_FETCH_MODE": "navigate", "HTTP_SEC_FETCH_SITE": "none", "HTTP_ACCEPT": "text/html"}
SAME_ORIGIN = {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ORIGIN": "http://app.example.test"}
CROSS_SITE = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": "https://evil.example"}


def api(pat_of: EmulatedUser | None = None) -> APIClient:
    client = APIClient(raise_request_exception=False)
    if pat_of is not None:
        force_focus_login(client, pat_of, pat=True)
    return client


# -- authentication -----------------------------------------------------------------------------


def test_anonymous_is_401_with_a_bearer_challenge() -> None:
    # DRF answers 401 (not 403) only when the first authenticator's authenticate_header()
    # gives a value: DRF's "Authentication" guide, "Unauthorized and Forbidden responses".
    response = api().get("/api/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] == "unauthorized" and body["signin_url"].startswith("http")


def test_a_forged_bearer_is_401_invalid_token() -> None:
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    response = client.get("/api/me")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_anonymous_runs_a_view_that_allows_anyone() -> None:
    response = api().get("/api/open")
    assert response.status_code == 200 and response.json() == {"authenticated": False}


def test_a_pat_gives_request_user_and_request_auth(user: EmulatedUser) -> None:
    response = api(user).get("/api/me")
    assert response.status_code == 200
    assert response.json() == {"user": f"focus:{user.clerk_id}", "user_type": "Member", "clerk_id": user.clerk_id,
                               "credits": 10}


def test_a_session_jwt_bearer_and_cookie_give_the_user(user: EmulatedUser) -> None:
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.session_jwt(azp='http://app.example.test')}")
    assert client.get("/api/me").json()["clerk_id"] == user.clerk_id
    browser = APIClient()
    force_focus_login(browser, user)  # the app's session cookie, as after sign-in
    assert browser.get("/api/me").json()["user"] == f"focus:{user.clerk_id}"


def test_a_cross_site_cookie_post_is_refused(user: EmulatedUser) -> None:
    # DRF's views are csrf_exempt (APIView.as_view); the library's same-origin rule stands.
    browser = APIClient()
    force_focus_login(browser, user)
    refused = browser.post("/api/me", {}, format="json", **CROSS_SITE)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert browser.post("/api/me", {}, format="json", **SAME_ORIGIN).status_code == 200


def test_the_browsable_api_sends_an_anonymous_browser_to_sign_in_and_shows_a_signed_in_one(user: EmulatedUser) -> None:
    browser = APIClient()
    response = browser.get("/api/me", **NAV)
    assert response.status_code == 303 and "/signin?" in response["Location"]
    force_focus_login(browser, user)
    page = browser.get("/api/me", **NAV)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert user.clerk_id in page.content.decode()


def test_without_the_middleware_authentication_resolves_itself(settings: Any, user: EmulatedUser) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "django_focus.middleware.FocusMiddleware"]
    assert api(user).get("/api/me").json()["clerk_id"] == user.clerk_id
    warnings = [m for m in check_focus_settings() if isinstance(m, CheckWarning) and m.id == "django_focus.W003"]
    assert len(warnings) == 1 and "Renders.render" in warnings[0].msg and "PaidSummary.get" in warnings[0].msg


def test_with_the_middleware_no_paid_view_warning() -> None:
    assert not [m for m in check_focus_settings() if m.id == "django_focus.W003"]


# -- permissions --------------------------------------------------------------------------------


def test_has_credits_refuses_with_the_402_body(emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=2)
    response = api(poor).get("/api/costly")
    assert response.status_code == 402
    body = response.json()
    assert body["error"] == "insufficient_credits"
    assert (body["required"], body["available"], body["action"]) == (5, 2, "costly report")
    assert body["purchase_url"].startswith(emu.url)
    assert api(emu.create_user(credits=5)).get("/api/costly").status_code == 200
    assert api().get("/api/costly").status_code == 401


def test_has_credits_or_is_admin_user(settings: Any, focus: dict[str, Any], emu: FocusEmulator) -> None:
    poor, rich, boss = emu.create_user(credits=2), emu.create_user(credits=10), emu.create_user(credits=0)
    settings.FOCUS = {**focus, "staff": [boss.clerk_id]}
    assert api(poor).get("/api/costly-or-staff").status_code == 402
    assert api(rich).get("/api/costly-or-staff").status_code == 200
    assert api(boss).get("/api/costly-or-staff").status_code == 200  # staff, whatever the balance
    assert api().get("/api/costly-or-staff").status_code == 401


def test_not_has_credits_is_a_plain_403(emu: FocusEmulator) -> None:
    from rest_framework.permissions import IsAdminUser
    from rest_framework.test import APIRequestFactory

    from django_focus.drf import HasCredits
    from tests.django_drf.views import Costly

    view = Costly.as_view(permission_classes=[~HasCredits(100) & IsAdminUser])
    factory = APIRequestFactory()
    request = factory.get("/x", HTTP_AUTHORIZATION=f"Bearer {emu.create_user(credits=10).pat()}")
    response = view(request)
    assert response.status_code == 403  # IsAdminUser refused, not the inverted HasCredits


# -- paid actions -------------------------------------------------------------------------------


def test_a_paid_viewset_action_is_charged_its_actual_cost(emu: FocusEmulator, user: EmulatedUser) -> None:
    response = api(user).post("/api/renders/render/", {"frames": 3}, format="json")
    assert response.status_code == 201
    [job] = emu.jobs(user, status="completed")
    assert job["actual_cost"] == 3 and job["cost_estimate"] == 5 and job["metadata"]["frames"] == 3
    assert response.json()["job"] == job["id"]
    assert user.credits == 7


def test_a_paid_action_that_raises_is_refunded(emu: FocusEmulator, user: EmulatedUser) -> None:
    response = api(user).post("/api/renders/render/", {"frames": 3, "fail": True}, format="json")
    assert response.status_code == 500
    [job] = emu.jobs(user)
    assert job["status"] == "failed"
    assert user.credits == 10


def test_invalid_input_never_reserves(emu: FocusEmulator, user: EmulatedUser) -> None:
    response = api(user).post("/api/renders/render/", {"frames": 0}, format="json")
    assert response.status_code == 400 and "frames" in response.json()
    assert emu.jobs(user) == []


def test_a_paid_action_without_enough_credits_is_402_and_never_runs(emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=1)
    response = api(poor).post("/api/renders/render/", {"frames": 1}, format="json")
    assert response.status_code == 402 and response.json()["required"] == 5
    assert emu.jobs(poor) == []


def test_a_cross_site_cookie_call_to_a_paid_view_is_refused_every_method(emu: FocusEmulator, user: EmulatedUser) -> None:
    browser = APIClient()
    force_focus_login(browser, user)
    assert browser.get("/api/summary", **CROSS_SITE).status_code == 403
    assert browser.post("/api/renders/render/", {"frames": 1}, format="json", **CROSS_SITE).status_code == 403
    assert emu.jobs(user) == []
    assert browser.get("/api/summary", **SAME_ORIGIN).status_code == 200
    assert [j["status"] for j in emu.jobs(user)] == ["completed"]


def test_a_paid_view_refuses_to_run_without_the_middleware(settings: Any, emu: FocusEmulator, user: EmulatedUser) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "django_focus.middleware.FocusMiddleware"]
    assert api(user).get("/api/summary").status_code == 500  # ImproperlyConfigured: nothing would settle it
    assert emu.jobs(user) == []


# -- OpenAPI ------------------------------------------------------------------------------------


def test_the_openapi_schema_declares_the_scheme_and_the_refusals(user: EmulatedUser) -> None:
    response = api(user).get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["components"]["securitySchemes"]["FocusBearer"]["scheme"] == "bearer"
    me = schema["paths"]["/api/me"]["get"]
    assert {"FocusBearer": []} in me["security"]
    assert {"401", "503"} <= set(me["responses"]) and "402" not in me["responses"]
    assert "402" in schema["paths"]["/api/costly"]["get"]["responses"]
    render = schema["paths"]["/api/renders/render/"]["post"]["responses"]
    assert {"401", "402", "403"} <= set(render)
    assert render["402"]["content"]["application/json"]["schema"]["$ref"].endswith("/FocusInsufficientCredits")
    assert "FocusInsufficientCredits" in schema["components"]["schemas"]
    assert "402" not in schema["paths"]["/api/open"]["get"]["responses"]


def test_an_exception_answered_2xx_by_the_exception_handler_is_still_refunded(emu: FocusEmulator, user: EmulatedUser) -> None:
    response = api(user).post("/api/soft", {}, format="json")
    assert response.status_code == 200 and response.json() == {"soft": True}
    [job] = emu.jobs(user)
    assert job["status"] == "failed"
    assert user.credits == 10

