"""Issue 25's "Done when" in Chromium: the walk visits the emulator's index and the device
flow, and no address bar ever shows ``token=`` (the device page used to leave
``/device?user_code=…&token=eyJ…`` there after sign-in).

A newcomer opens the emulator's index (``/``, the URL ``focus demo`` prints), runs
``focus login --no-browser`` (the real CLI, a subprocess) and opens the URL it prints while
signed out of Focus: sign-in, then the device page with the CLI's code, approve; the CLI
logs in. Back on the index they are signed in; from its Devices link they type a second
device code (started with ``POST /api/device/start``, as any device-flow client does) and
approve it too, then sign out from the index.

Every URL the main frame commits is recorded (``page.on("framenavigated")``, Playwright's
Page "framenavigated" event), and so is every document the browser fetched, redirects
included (``page.on("response")``): none carries ``token=`` or a JWT. Screenshots go to
test-artifacts/e2e/emulator/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Frame, Page, expect

from focus_middleware.clock import SystemClock
from focus_middleware.testing import FocusEmulator
from tests.cli.runner import DROPPED_ENV, FAIL_KEYRING, REPO, Cli

from .browser import ARTIFACTS, Console, Steps, Traffic

CODE_LINE = r"^  Code:  ([B-Z]{4}-[B-Z]{4})$"  # as tests/cli/test_login.py reads the CLI
URL_LINE = r"^  Open:  (\S+)$"
_TOKENISH = re.compile(r"token=|eyJ[\w-]+\.", re.IGNORECASE)


class AddressBar:
    """Every URL the page's main frame committed to, in order."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen: list[str] = []
        page.on("framenavigated", self._on_navigated)

    def _on_navigated(self, frame: Frame) -> None:
        if frame == self.page.main_frame:
            self.seen.append(frame.url)

    def check(self) -> None:
        """Now and for every URL so far: no token in the address bar."""
        assert "token=" not in self.page.url, self.page.url
        leaked = [url for url in self.seen if _TOKENISH.search(url)]
        assert not leaked, leaked


@pytest.fixture
def emulator() -> Iterator[FocusEmulator]:
    """On ``localhost`` on the system's clock (the CLI polls in real time), asking for a
    poll a second, as tests/cli's emulator does."""
    with FocusEmulator(db=":memory:", clock=SystemClock(), host="localhost", device_interval=1) as emu:
        yield emu
        emu.check_books()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """The ``focus`` CLI with a private config and home, no keyring, no display (as
    tests/cli/conftest.py sets it up), so ``focus login`` only prints its URL."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FOCUS_", "PYTHON_KEYRING", "KEYRING_")) and k not in DROPPED_ENV}
    (tmp_path / "home").mkdir()
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               PYTHON_KEYRING_BACKEND=FAIL_KEYRING,
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               PYTHONUNBUFFERED="1")
    runner = Cli(env, tmp_path)
    yield runner
    for _, live in runner.lives:
        live.kill()


def test_the_emulator_index_and_device_flow_leave_no_token_in_the_address_bar(
        page: Page, emulator: FocusEmulator, cli: Cli, console: Console, traffic: Traffic) -> None:
    emu = emulator
    user = emu.create_user(credits=10, email="newcomer@example.test", name="Nia Newcomer")
    bar = AddressBar(page)
    steps = Steps(page, ARTIFACTS / "emulator")
    console.tolerate(f"{emu.url}/favicon.ico", 404, "Chromium's own favicon request")

    # 1. The index, signed out: links to everything a newcomer needs.
    page.goto(f"{emu.url}/")
    expect(page.locator("#signed-out")).to_be_visible()
    for href in ("/signin", "/billing", "/device", "/api/docs"):
        expect(page.locator(f'a[href="{href}"]').first).to_be_visible()
    expect(page.locator("#wallets")).to_contain_text(user.clerk_id)
    steps.shot("index-signed-out")
    bar.check()

    # 2. focus login --no-browser prints a device link; the signed-out browser opens it,
    # is sent to sign in, and comes back to the device page with the CLI's code.
    live = cli.start("login", "--base-url", emu.url, "--no-browser")
    code = live.expect(CODE_LINE).group(1)
    link = live.expect(URL_LINE).group(1)
    assert link.startswith(f"{emu.url}/device?"), link
    page.goto(link)
    assert page.url.startswith(f"{emu.url}/signin?"), page.url
    steps.shot("device-link-asks-to-sign-in")
    bar.check()
    with page.expect_navigation(url=re.compile(r"/device\?")):
        page.locator(f"#user-{user.clerk_id}").click()
    expect(page.locator("#code")).to_have_text(code)
    expect(page.locator("#approve")).to_be_visible()
    steps.shot("device-confirm")
    bar.check()  # the address bar the old emulator left with &token=eyJ…
    page.locator("#approve").click()
    expect(page.locator("#approved")).to_be_visible()
    steps.shot("device-approved")
    bar.check()
    done = live.finish()
    assert done.code == 0, done
    assert f"Logged in to {emu.url} as {user.clerk_id}" in done.out, done.out

    # 3. The index again: signed in; its Devices link takes a typed code.
    page.goto(f"{emu.url}/")
    expect(page.locator("#signed-in-as")).to_contain_text("Nia Newcomer")
    steps.shot("index-signed-in")
    bar.check()
    with httpx.Client(base_url=emu.url) as device:
        started = device.post("/api/device/start").json()
        page.locator("#nav-device").click()
        expect(page.locator("#user_code")).to_be_visible()
        page.locator("#user_code").fill(started["user_code"])
        with page.expect_navigation():
            page.locator("#continue").click()
        expect(page.locator("#code")).to_have_text(started["user_code"])
        steps.shot("device-typed-code")
        bar.check()
        page.locator("#approve").click()
        expect(page.locator("#approved")).to_be_visible()
        bar.check()
        polled = device.get("/api/device/poll", params={"device_code": started["device_code"]})
        assert polled.status_code == 200, polled.text

    # 4. Sign out from the index.
    page.goto(f"{emu.url}/")
    page.locator("#sign-out-link").click()
    with page.expect_navigation():
        page.locator("#sign-out").click()
    expect(page.locator("#signed-out")).to_be_visible()
    page.goto(f"{emu.url}/")
    expect(page.locator("#signed-out")).to_be_visible()
    steps.shot("index-signed-out-again")

    bar.check()
    assert len(bar.seen) >= 10, bar.seen  # the walk went where it says
    assert any("/device?user_code=" in url for url in bar.seen), bar.seen
    fetched = [url for _, _, url in traffic.seen]
    assert not [url for url in fetched if _TOKENISH.search(url)], fetched  # redirects included
    problems = console.unexpected()
    assert not problems, "console errors:\n" + "\n".join(map(str, problems))
