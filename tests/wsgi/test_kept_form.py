"""A form is never lost to an expired session token (issue 24), on the plain WSGI path:
FocusWSGIMiddleware with the guards of ``focus_middleware.wsgi`` on Werkzeug views and on a
bare WSGI application, driven by Werkzeug's test Client against the real emulator on the
fake clock. The guard reads the form through Werkzeug's parser (``Request.form`` and
``Request.files``, see werkzeug/wrappers/request.py), the same one the view would use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.preserve import KEEP_LIMIT, no_form_keeping
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.wsgi import FocusWSGIMiddleware, paid, require_account
from focus_middleware.wsgi.preserve import OPT_OUT_KEY
from tests.helpers import ORIGIN
from tests.preserve.common import TYPED, assert_interstitial, assert_not_kept_page, cross_site_post, form_post, kept

from .conftest import BufferedClient

FORM_POST = form_post(ORIGIN)


@paid(action="render", cost_estimate=5)
def render(request: Request) -> Response:
    return Response(f"rendered {request.form.get('title')}")


@require_account
def guarded(request: Request) -> Response:
    return Response("guarded")


@no_form_keeping
@require_account
def private(request: Request) -> Response:
    return Response("private")


def unkept(request: Request) -> Any:
    """A dispatcher that turns keeping off for one request before the guard runs."""
    request.environ[OPT_OUT_KEY] = False
    return render(request)


@paid(action="raw", cost_estimate=1)
def raw_paid(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    yield b"raw paid"


VIEWS: dict[str, Callable[[Request], Any]] = {"render": render, "guarded": guarded, "private": private,
                                              "unkept": unkept}
URLS = Map([Rule(f"/{name}", endpoint=name, methods=["POST"]) for name in VIEWS])


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    if environ.get("PATH_INFO") == "/raw-paid":
        return raw_paid(environ, start_response)
    try:
        endpoint, args = URLS.bind_to_environ(environ).match()
        response: Any = VIEWS[endpoint](Request(environ), **args)
    except HTTPException as error:
        response = error
    return response(environ, start_response)


@pytest.fixture
def user(emu: FocusEmulator) -> EmulatedUser:
    return emu.create_user(credits=10)


@pytest.fixture
def middleware(config: FocusConfig) -> Iterator[FocusWSGIMiddleware]:
    wrapped = FocusWSGIMiddleware(app, config=config)
    yield wrapped
    wrapped.close()


@pytest.fixture
def expired(middleware: FocusWSGIMiddleware, user: EmulatedUser, clock: FakeClock) -> Client:
    client = BufferedClient(middleware)
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN), domain="127.0.0.1")
    clock.advance(600)  # the token in the app's cookie is past its exp; the cookie is not
    return client


def post(client: Client, path: str, headers: dict[str, str] = FORM_POST, **kwargs: Any) -> Any:
    kwargs.setdefault("data", TYPED)
    return client.post(path, headers=headers, base_url=ORIGIN, **kwargs)


@pytest.mark.parametrize("path", ["/render", "/guarded"])
def test_a_same_origin_form_post_gets_the_keeping_page(expired: Client, emu: FocusEmulator, user: EmulatedUser,
                                                       path: str) -> None:
    r = post(expired, f"{path}?x=1")
    # Fields in it, CSRF tokens and the password not (assert_interstitial checks both).
    data = assert_interstitial(r.status_code, r.get_data(as_text=True), f"{ORIGIN}{path}?x=1", origin=ORIGIN)
    assert r.headers["cache-control"] == "no-store"
    assert "focus_state=" in r.headers["set-cookie"]  # the sign-in is bound to this browser
    nonce = parse_qs(urlsplit(parse_qs(urlsplit(data["signin"]).query)["redirect_to"][0]).query)["focus_state"][0]
    assert nonce in r.headers["set-cookie"]
    assert emu.jobs(user) == []  # nothing reserved, nothing charged


def test_a_bare_wsgi_view_keeps_the_form_too(expired: Client, emu: FocusEmulator, user: EmulatedUser) -> None:
    r = post(expired, "/raw-paid")
    assert_interstitial(r.status_code, r.get_data(as_text=True), f"{ORIGIN}/raw-paid", origin=ORIGIN)
    assert emu.jobs(user) == []


def test_multipart_without_files_is_kept(expired: Client) -> None:
    r = post(expired, "/render", data={"title": "t", "password": "hunter2", "clip": (BytesIO(b""), "")},
             content_type="multipart/form-data")
    assert r.status_code == 200 and kept(r.get_data(as_text=True))["fields"] == [["title", "t"]]


def test_a_cross_site_post_gets_the_plain_redirect(expired: Client) -> None:
    r = post(expired, "/render", headers=cross_site_post(ORIGIN))
    body = r.get_data(as_text=True)
    assert r.status_code == 303 and "/signin?" in r.headers["location"]
    assert "focus-kept-form" not in body and "My" not in body


def test_an_oversize_body_gets_the_message_page(expired: Client, emu: FocusEmulator, user: EmulatedUser) -> None:
    r = post(expired, "/render", data={**TYPED, "notes": "x" * (KEEP_LIMIT + 1)})
    assert_not_kept_page(r.status_code, r.get_data(as_text=True))
    assert "focus_state=" in r.headers["set-cookie"]
    assert "redirect_to=http%3A%2F%2F127.0.0.1%3A8000%2Fstudio%3Ftab%3D1" in r.get_data(as_text=True)
    assert emu.jobs(user) == []


def test_a_file_gets_the_message_page(expired: Client) -> None:
    r = post(expired, "/render", data={"title": "t", "clip": (BytesIO(b"\x00data"), "clip.mp4")},
             content_type="multipart/form-data")
    assert_not_kept_page(r.status_code, r.get_data(as_text=True))
    assert "holds a file" in r.get_data(as_text=True)


def test_the_environ_flag_turns_it_off(expired: Client) -> None:
    r = post(expired, "/unkept")
    assert r.status_code == 303 and "focus-kept-form" not in r.get_data(as_text=True)
    assert "redirect_to=http%3A%2F%2F127.0.0.1%3A8000%2Funkept%3Ffocus_state" in r.headers["location"]


def test_no_form_keeping_turns_it_off(expired: Client) -> None:
    r = post(expired, "/private")
    assert r.status_code == 303 and "focus-kept-form" not in r.get_data(as_text=True)
    assert "%2Fprivate%3Ffocus_state" in r.headers["location"]


def test_a_script_post_gets_401_as_before(expired: Client) -> None:
    r = post(expired, "/render", headers={"accept": "application/json"})
    assert r.status_code == 401 and "focus-kept-form" not in r.get_data(as_text=True)


def test_a_live_session_runs_the_form(middleware: FocusWSGIMiddleware, user: EmulatedUser,
                                      emu: FocusEmulator) -> None:
    client = BufferedClient(middleware)
    client.set_cookie("focus_session", user.session_jwt(azp=ORIGIN), domain="127.0.0.1")
    r = post(client, "/render", data={"title": "fresh"})
    assert r.status_code == 200 and r.get_data(as_text=True) == "rendered fresh"
    assert [j["status"] for j in emu.jobs(user)] == ["completed"]


def test_the_script_is_served(middleware: FocusWSGIMiddleware) -> None:
    r = BufferedClient(middleware).get("/_focus/preserve.js", base_url=ORIGIN)
    assert r.status_code == 200 and "focus:kept-form" in r.get_data(as_text=True)
