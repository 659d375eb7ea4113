"""The emulator's pages a newcomer meets (issue 25): an index at ``/`` (the URL the demo
prints), a sign-in page that names the app, and flows that never leave a session token in
the address bar (every Location and every final URL is checked, redirects followed)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from emulator_browser import Browser

from focus_middleware.testing import FocusEmulator

APP = "http://127.0.0.1:8000"


class AddressBar:
    """Every URL a browser showed or was sent to: each response's own URL and Location."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def hook(self, response: httpx.Response) -> None:
        self.seen.append(str(response.url))
        if "location" in response.headers:
            self.seen.append(response.headers["location"])

    def tokens(self) -> list[str]:
        return [url for url in self.seen if "token=" in url or "eyJ" in url]


@pytest.fixture
def bar() -> AddressBar:
    return AddressBar()


@pytest.fixture
def browser(fake_emulator: FocusEmulator, bar: AddressBar) -> Iterator[Browser]:
    b = Browser(fake_emulator, follow_redirects=True, event_hooks={"response": [bar.hook]})
    yield b
    b.close()


def test_the_index_shows_who_is_signed_in_wallets_jobs_and_links(
        fake_emulator: FocusEmulator, browser: Browser) -> None:
    fake_emulator.create_app("clip-studio", starter_credits=0)
    user = fake_emulator.create_user(credits=12, name="<Ada>", email="ada@example.test")
    with httpx.Client(base_url=fake_emulator.url, headers={"authorization": f"Bearer {user.pat()}"}) as api:
        job = api.post("/api/jobs", json={"app": "clip-studio", "action": "render<x>", "cost_estimate": 5})
        assert job.status_code == 200, job.text
    signed_out = browser.get("/")
    assert signed_out.status_code == 200 and signed_out.headers["content-type"].startswith("text/html")
    text = signed_out.text
    assert 'id="signed-out"' in text
    for href in ('href="/signin"', 'href="/billing"', 'href="/device"', 'href="/api/docs"'):
        assert href in text, href
    assert "&lt;Ada&gt;" in text and "<Ada>" not in text  # everything escaped
    assert user.clerk_id in text and ">12<" not in text and ">7<" in text  # 5 reserved of 12
    assert "render&lt;x&gt;" in text and "started" in text
    page = browser.get("/signin")
    signed_in = browser.click(page, f"user-{user.clerk_id}")
    assert signed_in.status_code == 200
    assert 'id="signed-in-as"' in browser.get("/").text


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"redirect_to": f"{APP}/studio"}, "127.0.0.1:8000"),
        ({"redirect_to": f"{APP}/studio", "app": "Clip Studio"}, "Clip Studio"),
        ({"redirect_to": f"{APP}/", "app": "<script>x</script>"}, "&lt;script&gt;x&lt;/script&gt;"),
    ],
)
def test_the_signin_page_names_the_app(browser: Browser, query: dict[str, str], name: str) -> None:
    page = browser.get("/signin", **query)
    assert page.status_code == 200
    assert f'Sign in to continue to <strong id="app-name">{name}</strong>' in page.text
    assert "<script>" not in page.text
    assert "--accent" in page.text  # the example apps' calm style, not the browser's default


def test_the_app_name_comes_from_a_subdomain_on_focus_s_domain() -> None:
    from focus_middleware.testing.pages import app_display_name

    assert app_display_name("https://video.thefocus.ai", None) == "video"
    assert app_display_name("http://127.0.0.1:8000", None) == "127.0.0.1:8000"
    assert app_display_name("http://localhost:8000", None) == "localhost:8000"
    assert app_display_name("https://www.example.com", None) == "www.example.com"
    assert app_display_name(None, None) is None


def test_the_device_flow_leaves_no_token_in_the_address_bar(
        fake_emulator: FocusEmulator, browser: Browser, bar: AddressBar) -> None:
    with httpx.Client(base_url=fake_emulator.url) as cli:
        started = cli.post("/api/device/start").json()
        # A signed-out browser opens the CLI's link: sign-in, then back to the device page.
        first = browser.client.get(started["verification_uri_complete"])
        assert first.url.path == "/signin"
        confirm = browser.click(first, "sign-in", email="device@example.test", name="Dev")
        assert confirm.url.path == "/device" and 'id="approve"' in confirm.text
        done = browser.click(confirm, "approve")
        assert 'id="approved"' in done.text
        assert cli.get("/api/device/poll", params={"device_code": started["device_code"]}).status_code == 200
    assert len(bar.seen) >= 4 and not bar.tokens(), bar.seen


def test_billing_and_the_index_leave_no_token_in_the_address_bar(
        fake_emulator: FocusEmulator, browser: Browser, bar: AddressBar) -> None:
    first = browser.get("/billing")
    assert first.url.path == "/signin"
    billing = browser.click(first, "sign-in", email="buyer@example.test")
    assert billing.url.path == "/billing"
    bought = browser.click(billing, "buy-10")
    assert bought.status_code == 200
    assert browser.get("/").status_code == 200
    assert not bar.tokens(), bar.seen


def test_an_app_still_gets_its_token_on_the_return_trip(fake_emulator: FocusEmulator) -> None:
    # The contract's return trip (the app's middleware removes it with a 303 of its own).
    browser = Browser(fake_emulator)
    back = browser.sign_in(f"{APP}/studio", email="app@example.test")
    assert back.status_code == 303 and back.headers["location"].startswith(f"{APP}/studio?token=")
    browser.close()
