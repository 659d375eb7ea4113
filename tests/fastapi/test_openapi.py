"""FastAPI's OpenAPI document tells the truth about Focus routes (``focus_openapi``).

Two halves: the document declares, per route, the security and the refusals its
dependencies can produce and nothing more; and every refusal the app really sends (to
an API client and to a browser navigation, against the emulator) is one the document
declares, status, media type, headers and body, as Schemathesis's conformance checks
judge it. OpenAPI's optional security is the empty requirement ``{}`` among the
alternatives (OpenAPI 3.1, "Security Requirement Object": "To make security optional,
an empty security requirement ({}) can be included in the array").
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from focus_middleware import FocusAccount, FocusConfig, FocusMiddleware, paid, require_account, require_credits
from focus_middleware.fastapi import (
    SCHEME_NAME,
    FocusJob,
    PaidJob,
    RequireCredits,
    current_account,
    focus_openapi,
    optional_account,
)
from focus_middleware.testing import FocusEmulator
from tests.helpers import ORIGIN
from tests.paid.conftest import API, NAV, bearer, client_for

CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
REQUIRED: list[dict[str, list[str]]] = [{SCHEME_NAME: []}]
OPTIONAL: list[dict[str, list[str]]] = [{SCHEME_NAME: []}, {}]
CROSS_SITE_POST = {"accept": "application/json", "sec-fetch-mode": "cors", "sec-fetch-site": "cross-site",
                   "origin": "https://evil.example"}
CROSS_SITE_FORM = {"accept": "text/html", "sec-fetch-mode": "navigate", "sec-fetch-site": "cross-site",
                   "origin": "https://evil.example"}


def make_app(config: FocusConfig | None = None) -> FastAPI:
    app = FastAPI()
    if config is not None:
        app.add_middleware(FocusMiddleware, config=config)

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/maybe")
    async def maybe(account: FocusAccount | None = Depends(optional_account)) -> dict[str, Any]:
        return {"signed_in": account is not None}

    @app.get("/me")
    @app.post("/me")
    async def me(account: FocusAccount = Depends(current_account)) -> dict[str, Any]:
        return {"credits": account.credits}

    @app.get("/both")
    async def both(maybe: FocusAccount | None = Depends(optional_account),
                   account: FocusAccount = Depends(current_account)) -> dict[str, Any]:
        return {}

    @app.get("/export")
    @app.post("/export")
    async def export(account: FocusAccount = Depends(RequireCredits(5))) -> dict[str, Any]:
        return {}

    @app.post("/free")
    async def free(account: FocusAccount = Depends(RequireCredits(0))) -> dict[str, Any]:
        return {}

    @app.post("/render")
    async def render(job: FocusJob = Depends(PaidJob(action="render", cost_estimate=5))) -> dict[str, Any]:
        return {"job_id": job.job_id}

    @app.get("/stream")
    async def stream(job: FocusJob = Depends(PaidJob(action="stream", cost_estimate=5))) -> dict[str, Any]:
        return {}

    @app.get("/page", response_class=HTMLResponse,
             responses={401: {"description": "Sign in first (the app's own words)."}})
    async def page(account: FocusAccount = Depends(current_account)) -> str:
        return "<p>hello</p>"

    @app.get("/guarded")
    @require_account
    async def guarded(request: Request) -> dict[str, Any]:
        return {}

    @app.post("/decorated-paid")
    @paid(action="decorated", cost_estimate=5)
    async def decorated_paid() -> dict[str, Any]:  # no Request: the decorator adds one
        return {}

    @app.get("/stacked")
    @require_account
    @require_credits(3)
    async def stacked(request: Request) -> dict[str, Any]:
        return {}

    @app.get("/hidden", include_in_schema=False)
    async def hidden(account: FocusAccount = Depends(current_account)) -> dict[str, Any]:
        return {}

    admin = APIRouter(dependencies=[Depends(current_account)])

    @admin.get("/users")
    async def users() -> list[str]:
        return []

    app.include_router(admin, prefix="/admin")
    return focus_openapi(app)


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = doc["paths"][path][method.lower()]
    return found


def statuses(doc: dict[str, Any], method: str, path: str) -> set[str]:
    return set(operation(doc, method, path)["responses"])


# -- the document --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "security", "refusals"), [
    ("GET", "/public", None, set()),
    ("GET", "/maybe", OPTIONAL, set()),  # optional_account never refuses
    ("GET", "/me", REQUIRED, {"303", "401", "503"}),  # a GET is no state change: no 403
    ("POST", "/me", REQUIRED, {"303", "401", "403", "503"}),
    ("GET", "/both", REQUIRED, {"303", "401", "503"}),  # one required dependency makes it required
    ("GET", "/export", REQUIRED, {"303", "401", "402", "503"}),
    ("POST", "/export", REQUIRED, {"303", "401", "402", "403", "503"}),
    ("POST", "/free", REQUIRED, {"303", "401", "403", "503"}),  # RequireCredits(0) never says 402
    ("POST", "/render", REQUIRED, {"303", "401", "402", "403", "503"}),
    ("GET", "/stream", REQUIRED, {"303", "401", "402", "403", "503"}),  # paid: same-origin for every method
    ("GET", "/admin/users", REQUIRED, {"303", "401", "503"}),  # the router's dependency counts
    ("GET", "/guarded", REQUIRED, {"303", "401", "503"}),  # the decorators too
    ("POST", "/decorated-paid", REQUIRED, {"303", "401", "402", "403", "503"}),
    ("GET", "/stacked", REQUIRED, {"303", "401", "402", "503"}),  # the inner guard's 402 is not lost
])
def test_each_route_declares_its_security_and_refusals(method: str, path: str, security: list[Any] | None,
                                                       refusals: set[str]) -> None:
    doc = make_app().openapi()
    op = operation(doc, method, path)
    assert op.get("security") == security
    assert statuses(doc, method, path) - {"200", "422"} == refusals


def test_the_refusals_bodies_and_headers() -> None:
    doc = make_app().openapi()
    responses = operation(doc, "POST", "/render")["responses"]
    for status, schema in [("401", "FocusUnauthorized"), ("402", "FocusInsufficientCredits"),
                           ("403", "FocusForbidden"), ("503", "FocusUnavailable")]:
        content = responses[status]["content"]
        assert content["application/json"] == {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        assert content["text/html"] == {"schema": {"type": "string"}}  # the page a navigation gets
    assert "content" not in responses["303"] and responses["303"]["headers"]["Location"]["required"]
    assert responses["401"]["headers"]["WWW-Authenticate"]["required"]
    assert responses["503"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    schemas = doc["components"]["schemas"]
    assert schemas["FocusUnauthorized"]["required"] == ["error", "signin_url"]
    assert schemas["FocusInsufficientCredits"]["required"] == ["error", "required", "available", "action",
                                                               "purchase_url"]
    assert schemas["FocusForbidden"]["properties"]["error"]["enum"] == ["forbidden"]
    assert schemas["FocusUnavailable"]["required"] == ["error", "message"]
    scheme = doc["components"]["securitySchemes"][SCHEME_NAME]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and "PAT" in scheme["bearerFormat"]


def test_what_the_app_declares_itself_is_kept() -> None:
    doc = make_app().openapi()
    unauthorized = operation(doc, "GET", "/page")["responses"]["401"]
    assert unauthorized["description"] == "Sign in first (the app's own words)."
    assert set(unauthorized["content"]) == {"application/json", "text/html"}
    assert "/hidden" not in doc["paths"]


def test_the_document_is_completed_once_and_stays_so() -> None:
    app = make_app()
    first = copy.deepcopy(app.openapi())
    assert app.openapi() == first  # FastAPI's cached document is not completed twice
    focus_openapi(app)
    assert app.openapi() == first

    @app.get("/later")
    async def later(account: FocusAccount = Depends(current_account)) -> dict[str, Any]:
        return {}

    app.openapi_schema = None  # as FastAPI does when routes change
    assert statuses(app.openapi(), "GET", "/later") >= {"401", "503"}


def test_an_app_with_only_optional_routes_still_defines_the_scheme() -> None:
    app = FastAPI()

    @app.get("/")
    async def home(account: FocusAccount | None = Depends(optional_account)) -> dict[str, Any]:
        return {}

    plain = app.openapi()
    assert "security" not in operation(plain, "GET", "/")  # without the helper: no claim at all
    app.openapi_schema = None
    doc = focus_openapi(app).openapi()
    assert operation(doc, "GET", "/")["security"] == OPTIONAL
    assert doc["components"]["securitySchemes"][SCHEME_NAME]["scheme"] == "bearer"


def test_routes_without_focus_are_untouched() -> None:
    app = FastAPI()

    @app.get("/")
    async def home() -> dict[str, Any]:
        return {}

    plain = copy.deepcopy(app.openapi())
    app.openapi_schema = None
    assert focus_openapi(app).openapi() == plain


# -- the app's real answers, judged by the document ------------------------------------------------------


Judge = Callable[[str, str, httpx.Response], None]


@pytest.fixture
def judge() -> Judge:
    """Schemathesis's conformance checks on a real response, against the document."""
    schema = schemathesis.openapi.from_dict(make_app().openapi())

    def check(method: str, path: str, response: httpx.Response) -> None:
        case = schema[path][method].Case()
        case.validate_response(response, checks=CHECKS)

    return check


@pytest.mark.anyio
async def test_every_refusal_sent_is_declared(config: FocusConfig, emu: FocusEmulator, judge: Judge) -> None:
    app = make_app(config)
    poor = emu.create_user(credits=2)
    rich = emu.create_user(credits=50)
    async with client_for(app) as client:
        sent: list[tuple[str, str, httpx.Response]] = []

        async def send(method: str, path: str, headers: dict[str, str], status: int, media: str | None) -> None:
            response = await client.request(method, path, headers=headers)
            assert response.status_code == status, (method, path, response.text)
            if media is not None:
                assert response.headers["content-type"].startswith(media)
            sent.append((method, path, response))

        await send("GET", "/me", API, 401, "application/json")
        await send("GET", "/me", bearer("focus_pat_" + "y" * 40), 401, "application/json")
        await send("GET", "/me", NAV, 303, None)
        await send("POST", "/render", NAV, 303, None)
        await send("GET", "/export", bearer(poor.pat()), 402, "application/json")
        await send("GET", "/export", bearer(poor.pat(), NAV), 402, "text/html")
        await send("POST", "/render", bearer(poor.pat()), 402, "application/json")  # the reservation's 402
        await send("POST", "/decorated-paid", bearer(poor.pat()), 402, "application/json")
        await send("GET", "/stacked", bearer(poor.pat(), NAV), 402, "text/html")
        await send("GET", "/guarded", API, 401, "application/json")
        client.cookies.set("__session", rich.session_jwt(azp=ORIGIN))
        await send("POST", "/me", CROSS_SITE_POST, 403, "application/json")
        await send("POST", "/render", CROSS_SITE_FORM, 403, "text/html")
        client.cookies.clear()
        await send("GET", "/maybe", bearer("focus_pat_" + "y" * 40), 200, "application/json")
        emu.fail_next("GET /api/wallet", status=503)
        await send("GET", "/me", bearer(emu.create_user().pat()), 503, "application/json")
        emu.fail_next("GET /api/wallet", status=503)
        await send("GET", "/export", bearer(emu.create_user().pat(), NAV), 503, "text/html")
    for method, path, response in sent:
        judge(method, path, response)


@pytest.mark.anyio
async def test_the_judge_refuses_what_is_not_declared(config: FocusConfig, emu: FocusEmulator, judge: Judge) -> None:
    poor = emu.create_user(credits=2)
    async with client_for(make_app(config)) as client:
        insufficient = await client.post("/export", headers=bearer(poor.pat()))
        unauthorized = await client.get("/me", headers=API)
    assert insufficient.status_code == 402 and unauthorized.status_code == 401
    with pytest.raises(BaseExceptionGroup) as wrong:
        judge("GET", "/me", insufficient)  # /me has no credits to ask for: no 402 declared
    assert "Undocumented status code" in str(wrong.value.exceptions[0])
    with pytest.raises(BaseExceptionGroup) as wrong:
        judge("GET", "/maybe", unauthorized)  # optional_account declares no refusal
    assert "Undocumented status code" in str(wrong.value.exceptions[0])
