"""A browser, as far as the emulator's pages can tell: cookies kept, redirects seen one by
one, forms submitted by pressing their buttons (hidden fields and CSRF token included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from focus_middleware.testing import FocusEmulator


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, value)
    inputs: set[str] = field(default_factory=set)  # ids of typed inputs


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._open)
        elif self._open is not None and tag == "input":
            if a.get("type") == "hidden":
                self._open.fields[a["name"]] = a.get("value", "")
            elif "id" in a:
                self._open.inputs.add(a["id"])
                if a.get("value"):
                    self._open.fields[a["name"]] = a["value"]
        elif self._open is not None and tag == "button" and "id" in a:
            self._open.buttons[a["id"]] = (a.get("name", ""), a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


class Browser:
    """An httpx client that keeps cookies, does not follow redirects by itself, and
    submits the emulator's forms the way a person clicking a button would."""

    def __init__(self, emulator: FocusEmulator, **client: Any) -> None:
        self.url = emulator.url
        self.client = httpx.Client(base_url=emulator.url, timeout=10, **client)

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(path, params=params)

    def follow(self, response: httpx.Response) -> httpx.Response:
        """Follow one redirect, if it stays on the emulator."""
        location = response.headers["location"]
        assert location.startswith(self.url), location
        return self.client.get(location)

    @staticmethod
    def forms(page: httpx.Response) -> list[Form]:
        parser = _FormParser()
        parser.feed(page.text)
        return parser.forms

    def click(
        self, page: httpx.Response, button: str, headers: dict[str, str] | None = None, **typed: str
    ) -> httpx.Response:
        """Press ``#button`` on ``page`` after typing ``typed`` into its form's inputs."""
        (form,) = [f for f in self.forms(page) if button in f.buttons]
        assert set(typed) <= {name for name in form.inputs}, (typed, form.inputs)
        data = {**form.fields, **typed}
        name, value = form.buttons[button]
        if name:
            data[name] = value
        if form.method == "get":
            return self.client.get(form.action, params=data)
        origin = {"Origin": self.url, **(headers or {})}
        return self.client.post(form.action, data=data, headers=origin)

    def sign_in(self, redirect_to: str, email: str, name: str = "") -> httpx.Response:
        page = self.get("/signin", redirect_to=redirect_to)
        assert page.status_code == 200, page.text
        return self.click(page, "sign-in", email=email, name=name)

    def close(self) -> None:
        self.client.close()


def token_from(location: str) -> str:
    """The ``token`` a sign-in redirect put in the query of ``location``."""
    (token,) = parse_qs(urlsplit(location).query)["token"]
    return token


def verified(emu: FocusEmulator, token: str) -> dict[str, Any]:
    """The claims of ``token``, verified as an app would against the served JWKS."""
    key = jwt.PyJWKClient(emu.jwks_url, cache_keys=False).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key=key, algorithms=["RS256"], issuer=emu.issuer, options={"verify_aud": False}
    )
    return claims
