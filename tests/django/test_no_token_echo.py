"""Django's Client: a ``?token=`` never reaches the 401's ``signin_url``, the 402's
``purchase_url`` or a ``Location``; a raw control character in a return trip's query is a
400, not the 500 Django answers a ``Location`` with a line feed (``HttpResponseBase``
refuses it: django/http/response.py, ``_convert_to_charset`` raises ``BadHeaderError``).
The other adapters: tests/no_echo/test_no_token_echo.py."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.django.conftest import API, NAV
from tests.django.settings import ORIGIN

NONCE = "n0nce-for-this-trip-0123456789"


def everything(r: object) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())  # type: ignore[attr-defined]
    cookies = "\n".join(str(c) for c in r.cookies.values())  # type: ignore[attr-defined]
    return f"{headers}\n{cookies}\n{r.content.decode('latin-1')}"  # type: ignore[attr-defined]


def redirect_to(url: str) -> str:
    return parse_qs(urlsplit(url).query)["redirect_to"][0]


@pytest.fixture
def secret(emu: FocusEmulator) -> str:
    return emu.create_user(credits=0).session_jwt(azp=ORIGIN)


def test_the_401_never_echoes_the_token(secret: str) -> None:
    r = Client().get("/private", QUERY_STRING=f"token={secret}&q=1", headers=API)
    assert r.status_code == 401
    assert secret not in everything(r)
    assert redirect_to(json.loads(r.content)["signin_url"]) == f"{ORIGIN}/private?q=1"


def test_the_402_never_echoes_the_token(secret: str, emu: FocusEmulator) -> None:
    poor = emu.create_user(credits=1)
    r = Client().get("/credits", QUERY_STRING=f"token={secret}", headers={**API, "authorization": f"Bearer {poor.pat()}"})
    assert r.status_code == 402
    assert secret not in everything(r)
    assert redirect_to(json.loads(r.content)["purchase_url"]) == f"{ORIGIN}/credits?focus_billed=1"


def test_the_sign_in_redirect_never_carries_the_token(secret: str) -> None:
    r = Client().get("/private", QUERY_STRING=f"token={secret}", headers=NAV)
    assert r.status_code == 303 and secret not in everything(r)


@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x7f", "\x01"], ids=["lf", "cr", "nul", "del", "soh"])
def test_a_return_trip_with_a_raw_control_character_is_a_400(user: EmulatedUser, char: str) -> None:
    token = user.session_jwt(azp=ORIGIN)
    client = Client()
    client.cookies["focus_state"] = NONCE
    r = client.get("/private", QUERY_STRING=f"focus_state={NONCE}&x=1{char}2&token={token}", headers=NAV)
    assert r.status_code == 400
    assert "location" not in r.headers and token not in everything(r)


def test_a_return_trip_with_escaped_control_characters_redirects_cleanly(user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN)
    client = Client()
    client.cookies["focus_state"] = NONCE
    r = client.get("/private", QUERY_STRING=f"x=%0A%00%7F&focus_state={NONCE}&token={token}", headers=NAV)
    assert r.status_code == 303
    assert r.headers["location"] == f"{ORIGIN}/private?x=%0A%00%7F"
    assert r.cookies["focus_session"].value == token
