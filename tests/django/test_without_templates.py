"""A project without TEMPLATES (the README's own Django settings have none): every refusal
page still renders, falling back to the core's built-in pages, and never a 500; a project
template of the 402 page's name still wins where an engine finds it.

Written the way a Django project tests its views: pytest-django's ``client`` (``Client``,
Django's WSGI handler), ``async_client`` (``AsyncClient``, its ASGI handler) and
``settings`` fixtures, against the real emulator.

Django behaviour relied on (Django 5.2 source):
- ``django.template.loader.get_template`` asks each engine of ``TEMPLATES`` in order and
  raises ``TemplateDoesNotExist`` when none finds the name, also when there is no engine.
- The Jinja2 backend with ``APP_DIRS`` looks in each app's ``jinja2/`` folder, never in
  ``templates/``, so it cannot find django_focus's own page.
- ``{% include %}`` of a missing template raises ``TemplateDoesNotExist`` while rendering
  (the silent variant was removed in Django 2.1); the test client re-raises a view's
  exception (``raise_request_exception``).
- pytest-django's ``settings`` fixture sends ``setting_changed``, and Django's test signals
  reset the template engines when ``TEMPLATES`` changes.
- Settings are configured once per process (``settings.configure``), so the README's own
  project runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.template import TemplateDoesNotExist
from django.test import AsyncClient, Client

from django_focus.testing import force_focus_login
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, CROSS_SITE, NAV
from .settings import HERE

# A browser loading the page from its address bar, or submitting the app's own form.
ADDRESS_BAR = {**NAV, "sec-fetch-dest": "document"}
FORM_POST = {**NAV, "sec-fetch-site": "same-origin", "origin": "http://app.example.test"}
JINJA2_ONLY = [{"BACKEND": "django.template.backends.jinja2.Jinja2", "DIRS": [], "APP_DIRS": True}]


@pytest.fixture(autouse=True)
def no_templates(settings: Any) -> None:
    settings.TEMPLATES = []


@pytest.fixture
def poor(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=2)


def assert_core_402_page(response: Any, emu: FocusEmulator, path: str, *, required: int, action: str) -> None:
    page = response.content.decode()
    assert response.status_code == 402, page
    assert response["Content-Type"] == "text/html; charset=utf-8" and response["Cache-Control"] == "no-store"
    assert f'<span id="action">{action}</span>' in page
    assert f'<strong id="required">{required}</strong>' in page and '<strong id="available">2</strong>' in page
    assert f'href="{emu.url}/billing?redirect_to=http%3A%2F%2Fapp.example.test{path.replace("/", "%2F")}%3Ffocus_billed%3D1"' in page


# -- sync views, Client ----------------------------------------------------------------------------


def test_a_navigation_to_a_credits_gated_view_gets_the_402_page(client: Client, emu: FocusEmulator,
                                                                poor: EmulatedUser) -> None:
    force_focus_login(client, poor)
    r = client.get("/credits", headers=ADDRESS_BAR)
    assert_core_402_page(r, emu, "/credits", required=5, action="credits")
    r = client.get("/cbv/credits", headers=ADDRESS_BAR)
    assert_core_402_page(r, emu, "/cbv/credits", required=3, action="Export")


def test_a_navigation_to_a_paid_view_with_too_few_credits_gets_the_402_page(client: Client, emu: FocusEmulator,
                                                                            poor: EmulatedUser) -> None:
    force_focus_login(client, poor)
    assert_core_402_page(client.get("/render", headers=ADDRESS_BAR), emu, "/render", required=5, action="render")
    assert_core_402_page(client.post("/render", headers=FORM_POST), emu, "/render", required=5, action="render")
    assert_core_402_page(client.post("/cbv/paid", headers=FORM_POST), emu, "/cbv/paid", required=3, action="export")
    assert emu.jobs(poor) == [] and poor.credits == 2


def test_an_api_client_still_gets_402_json(client: Client, emu: FocusEmulator, poor: EmulatedUser) -> None:
    force_focus_login(client, poor, pat=True)
    for path, required, action in [("/credits", 5, "credits"), ("/api/render", 5, "render")]:
        r = client.post(path, headers=API) if path == "/api/render" else client.get(path, headers=API)
        assert r.status_code == 402 and r["Content-Type"] == "application/json"
        assert json.loads(r.content) == {
            "error": "insufficient_credits", "required": required, "available": 2, "action": action,
            "purchase_url": f"{emu.url}/billing?redirect_to=http%3A%2F%2Fapp.example.test{path.replace('/', '%2F')}%3Ffocus_billed%3D1"}


def test_the_other_refusal_pages_need_no_templates_either(client: Client, emu: FocusEmulator,
                                                          user: EmulatedUser) -> None:
    force_focus_login(client, user)
    emu.fail_next("GET /api/wallet", 503)
    down = client.get("/private", headers=ADDRESS_BAR)
    assert down.status_code == 503 and down["Content-Type"] == "text/html; charset=utf-8" and down["Retry-After"]
    cross = client.post("/render", headers={**ADDRESS_BAR, **CROSS_SITE, "sec-fetch-mode": "navigate"})
    assert cross.status_code == 403 and cross["Content-Type"] == "text/html; charset=utf-8"
    assert emu.jobs(user) == [] and user.credits == 10


# -- which page: the project's template, else the core's --------------------------------------------


def test_a_project_template_still_replaces_the_page(client: Client, emu: FocusEmulator, poor: EmulatedUser,
                                                    settings: Any) -> None:
    settings.TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
                           "DIRS": [HERE / "override_templates"]}]
    force_focus_login(client, poor)
    for path, required, action in [("/cbv/credits", 3, "Export"), ("/render", 5, "render")]:
        r = client.get(path, headers=ADDRESS_BAR)
        assert r.status_code == 402
        assert r.content.decode().startswith(f'<h1 id="ours">Top up to {action}</h1><p>2 of {required}</p>')


@pytest.mark.parametrize("templates", [
    pytest.param([{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [HERE / "templates"]}],
                 id="django-engine-without-app-dirs"),
    pytest.param(JINJA2_ONLY, id="jinja2-engine-only"),
])
def test_an_engine_that_finds_no_such_template_falls_back(client: Client, emu: FocusEmulator, poor: EmulatedUser,
                                                          settings: Any, templates: list[dict[str, Any]]) -> None:
    settings.TEMPLATES = templates
    force_focus_login(client, poor)
    assert_core_402_page(client.get("/render", headers=ADDRESS_BAR), emu, "/render", required=5, action="render")


def test_a_project_template_that_breaks_is_the_projects_error(client: Client, poor: EmulatedUser,
                                                              settings: Any) -> None:
    """Only a missing page falls back: a page that exists and fails raises as any of the
    project's templates would, instead of hiding the bug behind the built-in page."""
    settings.TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
                           "DIRS": [HERE / "raising_templates"]}]
    force_focus_login(client, poor)
    with pytest.raises(TemplateDoesNotExist, match="a_part_nobody_wrote"):
        client.get("/credits", headers=ADDRESS_BAR)


# -- async views, AsyncClient -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_views_under_the_async_client(async_client: AsyncClient, emu: FocusEmulator,
                                                  poor: EmulatedUser) -> None:
    force_focus_login(async_client, poor)
    r = await async_client.get("/acredits", headers=ADDRESS_BAR)
    assert r.status_code == 402 and '<strong id="available">2</strong>' in r.content.decode()
    assert_core_402_page(await async_client.post("/arender", headers=FORM_POST), emu, "/arender",
                         required=5, action="render")
    assert_core_402_page(await async_client.post("/cbv/apaid", headers=FORM_POST), emu, "/cbv/apaid",
                         required=3, action="export")
    api = await async_client.get("/acredits", headers=API)
    assert api.status_code == 402 and json.loads(api.content)["available"] == 2
    assert emu.jobs(poor) == []


# -- manage.py check ---------------------------------------------------------------------------------


def test_manage_py_check_is_clean_without_templates() -> None:
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    assert out.getvalue().strip() == "System check identified no issues (0 silenced)." and err.getvalue() == ""


# -- the README's own project, as issue 18 reported it -------------------------------------------------

README_PROJECT = """
import io, json
import django
from django.conf import settings
from focus_middleware.testing import FocusEmulator

with FocusEmulator() as focus:
    focus.create_app("clip-studio", starter_credits=0)
    poor = focus.create_user(credits=2)
    settings.configure(  # the README's Django quick start: no TEMPLATES
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django_focus"],
        MIDDLEWARE=["django_focus.middleware.FocusMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        FOCUS={"api_url": focus.url, "issuer": focus.issuer, "app": "clip-studio",
               "public_origin": "http://testserver"},
    )
    django.setup()

    from django.core.management import call_command
    from django.http import HttpRequest, JsonResponse
    from django.test import Client
    from django.urls import path
    from django_focus.decorators import paid, require_credits
    from django_focus.testing import force_focus_login

    @require_credits(5, action="export")
    def export(request: HttpRequest) -> JsonResponse:
        return JsonResponse({})

    @paid(action="render", cost_estimate=5)
    def render(request: HttpRequest) -> JsonResponse:
        return JsonResponse({})

    urlpatterns = [path("export", export), path("render", render)]

    out, err = io.StringIO(), io.StringIO()
    call_command("check", stdout=out, stderr=err)
    client = Client(raise_request_exception=False)
    force_focus_login(client, poor)
    nav = {"accept": "text/html", "sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin"}
    answers = {p: client.get(p, headers=nav) for p in ("/export", "/render")}
    print(json.dumps({"check": out.getvalue() + err.getvalue(), "jobs": focus.jobs(poor),
                      "answers": {p: [r.status_code, r["Content-Type"], r.content.decode()] for p, r in answers.items()}}))
"""


def test_the_readme_project_without_templates() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", README_PROJECT], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["check"].strip() == "System check identified no issues (0 silenced)."
    for path, action in [("/export", "export"), ("/render", "render")]:
        status, content_type, page = result["answers"][path]
        assert (status, content_type) == (402, "text/html; charset=utf-8"), page
        assert f'<span id="action">{action}</span>' in page
        assert '<strong id="required">5</strong>' in page and '<strong id="available">2</strong>' in page
        assert 'href="' in page and "/billing?redirect_to=http%3A%2F%2Ftestserver" + path.replace("/", "%2F") in page
    assert result["jobs"] == []
