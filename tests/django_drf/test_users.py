"""Focus accounts as Django users (FOCUS["link_users"]): one row per account, kept in
sync, request.user for Django's own tools (login_required, PermissionRequiredMixin, the
admin, request.auser()), with a custom AUTH_USER_MODEL (tests/django_drf/accounts)."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import AsyncClient, Client, override_settings
from rest_framework.test import APIClient

from focus_middleware.testing import EmulatedUser, FocusEmulator

from django_focus.checks import check_focus_settings
from django_focus.testing import focus_logout, force_focus_login
from django_focus.users.models import FocusLink

pytestmark = pytest.mark.django_db
ORIGIN = "http://app.example.test"


def signed_in(user: EmulatedUser, client: Any = None, **claims: Any) -> Any:
    """A browser carrying a session JWT with ``claims`` (Clerk adds email/name claims only
    when the instance's session token is customised to: Clerk's "Customize your session
    token" guide)."""
    client = client or Client()
    from focus_middleware.sessions import session_cookie_name

    from django_focus.conf import config_from_settings

    client.cookies[session_cookie_name(config_from_settings())] = user.session_jwt(azp=ORIGIN, **claims)
    return client


def members() -> Any:
    return get_user_model().objects.all()


def test_a_row_is_created_once_per_account_and_kept_in_sync(user: EmulatedUser) -> None:
    browser = signed_in(user, email="ann@example.test", name="Ann")
    assert browser.get("/dashboard").json() == {"user": f"focus:{user.clerk_id}", "email": "ann@example.test"}
    browser.get("/dashboard")
    [row] = members()
    assert (row.handle, row.email, row.name) == (f"focus:{user.clerk_id}", "ann@example.test", "Ann")
    assert not row.has_usable_password() and not row.is_staff
    assert FocusLink.objects.get(clerk_id=user.clerk_id).user == row

    signed_in(user, browser, email="ann@new.example", name="Ann B").get("/dashboard")
    [row] = members()
    assert (row.email, row.name) == ("ann@new.example", "Ann B")

    # A PAT carries no claims: the row keeps what the last session token said.
    pat = APIClient()
    force_focus_login(pat, user, pat=True)
    assert pat.get("/api/me").json()["user"] == f"focus:{user.clerk_id}"
    [row] = members()
    assert row.email == "ann@new.example" and members().count() == 1


def test_an_existing_row_is_never_adopted_by_email(emu: FocusEmulator) -> None:
    owner = get_user_model().objects.create_user("ann", email="ann@example.test")
    user = emu.create_user(credits=1)
    assert signed_in(user, email="ann@example.test").get("/dashboard").status_code == 200
    assert members().count() == 2
    assert FocusLink.objects.get(clerk_id=user.clerk_id).user != owner
    assert not FocusLink.objects.filter(user=owner).exists()


def test_a_row_holding_the_accounts_username_is_not_taken_over(user: EmulatedUser) -> None:
    squatter = get_user_model().objects.create_user(f"focus:{user.clerk_id}")
    browser = signed_in(user)
    response = browser.get("/dashboard")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not FocusLink.objects.exists() and members().get() == squatter
    assert APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {user.pat()}").status_code == 401


def test_login_required_works_with_a_focus_session_and_without_a_django_one(user: EmulatedUser) -> None:
    browser = Client()
    assert browser.get("/dashboard")["Location"].startswith("/login/")
    force_focus_login(browser, user)
    assert browser.get("/dashboard").status_code == 200
    assert "sessionid" not in browser.cookies  # no login(): nothing outlives the Focus session
    focus_logout(browser)
    assert browser.get("/dashboard").status_code == 302


def test_login_required_during_an_outage_is_a_503_not_a_sign_in_loop(user: EmulatedUser, emu: FocusEmulator) -> None:
    # Signed in, but Focus cannot be asked: sending the browser to sign in would only send
    # it back (or nowhere, the sign-in page being Focus's). The core's 503 instead, as
    # @focus_login_required answers; a browser without credentials still goes to sign in.
    browser = Client()
    force_focus_login(browser, user)
    emu.fail_next("GET /api/wallet", 503, times=10)
    page = browser.get("/dashboard", HTTP_ACCEPT="text/html", HTTP_SEC_FETCH_MODE="navigate")
    assert page.status_code == 503 and "Location" not in page and b"Temporarily unavailable" in page.content
    assert (page["Cache-Control"], page["Vary"], page["Retry-After"]) == ("no-store", "Cookie, Authorization", "5")
    api = browser.get("/dashboard", HTTP_ACCEPT="application/json")
    assert api.status_code == 503 and api.json()["error"] == "unavailable"
    assert members().count() == 0  # nothing linked from an account nobody could check
    assert Client().get("/dashboard")["Location"].startswith("/login/")


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_login_required_during_an_outage_is_a_503_under_asgi_too(user: EmulatedUser,
                                                                       emu: FocusEmulator) -> None:
    browser = signed_in(user, AsyncClient())
    emu.fail_next("GET /api/wallet", 503, times=10)
    response = await browser.get("/dashboard", headers={"accept": "application/json"})
    assert response.status_code == 503 and response.json()["error"] == "unavailable"


def test_permission_required_reads_the_linked_rows_permissions(user: EmulatedUser) -> None:
    browser = Client()
    force_focus_login(browser, user)
    assert browser.get("/reports").status_code == 403
    row = members().get()
    row.user_permissions.add(Permission.objects.get(codename="view_member"))
    assert browser.get("/reports").status_code == 200


def test_the_admin_refuses_a_focus_user_without_staff_rights(settings: Any, focus: dict[str, Any],
                                                             user: EmulatedUser) -> None:
    # django.contrib.admin's AdminSite.has_permission: is_active and is_staff.
    browser = Client()
    force_focus_login(browser, user)
    refused = browser.get("/admin/")
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    settings.FOCUS = {**focus, "staff": [user.clerk_id]}
    assert browser.get("/admin/").status_code == 200
    assert members().get().is_staff


def test_the_focus_staff_command_grants_and_revokes(user: EmulatedUser, emu: FocusEmulator) -> None:
    browser = Client()
    force_focus_login(browser, user)
    assert browser.get("/admin/").status_code == 302
    call_command("focus_staff", user.clerk_id)
    assert browser.get("/admin/").status_code == 200
    call_command("focus_staff", user.clerk_id, "--revoke")
    assert browser.get("/admin/").status_code == 302
    with pytest.raises(CommandError, match="no user is linked"):
        call_command("focus_staff", emu.create_user().clerk_id)


def test_focus_never_grants_staff_through_claims(user: EmulatedUser) -> None:
    browser = signed_in(user, is_staff=True, is_superuser=True)
    assert browser.get("/admin/").status_code == 302
    row = members().get()
    assert not row.is_staff and not row.is_superuser


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_request_auser_in_an_async_view(user: EmulatedUser) -> None:
    browser = signed_in(user, AsyncClient(), name="Ann")
    response = await browser.get("/adashboard")
    assert response.status_code == 200
    assert response.json() == {"user": f"focus:{user.clerk_id}", "name": "Ann"}
    assert (await AsyncClient().get("/adashboard")).status_code == 401


def test_with_linking_off_drf_gets_a_focus_user_and_no_row(settings: Any, focus: dict[str, Any],
                                                           user: EmulatedUser) -> None:
    settings.FOCUS = {**focus, "link_users": False}
    client = APIClient()
    force_focus_login(client, user, pat=True)
    assert client.get("/api/me").json()["user_type"] == "FocusUser"
    assert not members().exists() and not FocusLink.objects.exists()


def test_django_focus_itself_has_no_tables() -> None:
    # Linking's one table belongs to django_focus.users, an app a project adds only to link.
    assert list(apps.get_app_config("django_focus").get_models()) == []
    assert importlib.util.find_spec("django_focus.migrations") is None
    assert [m.__name__ for m in apps.get_app_config("focus_users").get_models()] == ["FocusLink"]


def test_checks_name_what_linking_is_missing(settings: Any) -> None:
    with override_settings(
        INSTALLED_APPS=[a for a in settings.INSTALLED_APPS if a != "django_focus.users"],
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"],
        MIDDLEWARE=[m.replace("django_focus.users.middleware.FocusAuthenticationMiddleware",
                              "django.contrib.auth.middleware.AuthenticationMiddleware") for m in settings.MIDDLEWARE],
    ):
        ids = {m.id for m in check_focus_settings()}
    assert {"django_focus.E007", "django_focus.E008", "django_focus.E009"} <= ids
    assert not {"django_focus.E007", "django_focus.E008", "django_focus.E009"} & {m.id for m in check_focus_settings()}
