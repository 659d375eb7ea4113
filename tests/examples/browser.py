"""A browser as far as the example apps and the emulator's pages can tell: an httpx client
that keeps cookies, follows redirects, sends the headers a browser sends (``Sec-Fetch-*``,
``Origin`` on form posts), and submits a page's forms by pressing their buttons."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

NAVIGATE = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate",
            "sec-fetch-dest": "document", "user-agent": "clip-studio-walk"}


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    """button id -> (name, value, formaction)"""


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.ids: dict[str, dict[str, str]] = {}
        self.text: dict[str, str] = {}
        self._open: Form | None = None
        self._capturing: list[tuple[str, int]] = []  # (id, depth)
        self._depth = 0
        self._buffers: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if tag == "form":
            self._open = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and a.get("name"):
            if a.get("type") not in ("submit", "button", "checkbox", "radio"):
                self._open.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self._open is not None and "id" in a:
            self._open.buttons[a["id"]] = (a.get("name"), a.get("value"), a.get("formaction"))
        if tag in ("input", "img", "meta", "link", "br"):
            return
        self._depth += 1
        if "id" in a:
            self._capturing.append((a["id"], self._depth))
            self._buffers[a["id"]] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None
        if tag in ("input", "img", "meta", "link", "br"):
            return
        while self._capturing and self._capturing[-1][1] >= self._depth:
            ident, _ = self._capturing.pop()
            self.text[ident] = " ".join("".join(self._buffers[ident]).split())
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        for ident, _ in self._capturing:
            self._buffers[ident].append(data)


class Page:
    """A response read as a page: its element ids, their text, its forms."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.url = str(response.url)
        parser = _Page()
        parser.feed(response.text)
        parser.close()
        self.forms = parser.forms
        self.ids = parser.ids
        self._text = parser.text

    @property
    def status(self) -> int:
        return self.response.status_code

    def has(self, ident: str) -> bool:
        return ident in self.ids

    def text(self, ident: str) -> str:
        if ident not in self._text:
            raise AssertionError(f"no #{ident} on {self.url} ({self.status}): {self.response.text[:2000]}")
        return self._text[ident]

    def number(self, ident: str) -> int:
        return int(self.text(ident))

    def attr(self, ident: str, name: str) -> str:
        return self.ids[ident][name]

    def form_with(self, button: str) -> Form:
        for form in self.forms:
            if button in form.buttons:
                return form
        raise AssertionError(f"no button #{button} on {self.url}: {self.response.text[:2000]}")

    def visited(self) -> list[str]:
        return [str(r.url) for r in self.response.history] + [self.url]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Browser:
    """Cookies kept across sites, redirects followed, forms submitted like a person would."""

    def __init__(self, **options: Any) -> None:
        self.client = httpx.Client(follow_redirects=True, timeout=15, headers=NAVIGATE, **options)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def open(self, url: str) -> Page:
        """Type ``url`` in the address bar."""
        return Page(self.client.get(url, headers={"sec-fetch-site": "none"}))

    def follow(self, page: Page, link: str) -> Page:
        """Click the link with id ``link``."""
        target = urljoin(page.url, page.attr(link, "href"))
        site = "same-origin" if origin_of(target) == origin_of(page.url) else "cross-site"
        return Page(self.client.get(target, headers={"sec-fetch-site": site}))

    def submit(self, page: Page, button: str, **values: str) -> Page:
        """Fill in ``values`` (by field name) and press the button with id ``button``."""
        form = page.form_with(button)
        name, value, formaction = form.buttons[button]
        data = {**form.fields, **values}
        if name:
            data[name] = value or ""
        target = urljoin(page.url, formaction or form.action or page.url)
        site = "same-origin" if origin_of(target) == origin_of(page.url) else "cross-site"
        headers = {"origin": origin_of(page.url), "sec-fetch-site": site}
        if form.method == "post":
            return Page(self.client.post(target, data=data, headers=headers))
        return Page(self.client.get(target, params=data, headers=headers))

    def stream(self, page: Page, button: str, **values: str) -> AbstractContextManager[httpx.Response]:
        """Press a form's button and get the response unread (``with`` it, iterate it)."""
        form = page.form_with(button)
        _, _, formaction = form.buttons[button]
        target = urljoin(page.url, formaction or form.action)
        return self.client.stream("POST", target, data={**form.fields, **values},
                                  headers={"origin": origin_of(page.url), "sec-fetch-site": "same-origin"})

    def cookie(self, name: str, domain: str) -> str | None:
        for c in self.client.cookies.jar:
            if c.name == name and c.domain in (domain, f"{domain}.local"):
                return c.value
        return None
