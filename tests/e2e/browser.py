"""The browser side of the end-to-end walk: Debian's chromium driven by Playwright, a
console collector that tells expected noise from errors, and numbered screenshots.

Chromium is the system's (``/usr/bin/chromium``, installed by ``.ci/run``); Playwright's own
browser downloads (``playwright install``) are never used. In CI a missing chromium is a
failure, not a skip: a skipped browser test there would pass without testing anything.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Response

CHROMIUM = os.environ.get("FOCUS_E2E_CHROMIUM", "/usr/bin/chromium")
# Headless, and kept off the network: no sync, no component or field-trial downloads,
# no QUIC probes; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    """Skip with ``reason`` on a developer's machine; fail in CI."""
    if IN_CI:
        pytest.fail(f"tests/e2e cannot run in CI: {reason}. .ci/run installs chromium with apt-get "
                    "and `pip install -e .[test]` brings playwright.", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


# -- the console ---------------------------------------------------------------------------------

# Chromium reports every HTTP error response it loads as a console error with this text and
# the resource's URL as the location; nothing a page does can keep it out of the console.
_FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")


@dataclass
class Problem:
    kind: str  # "console" or "pageerror"
    text: str
    url: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text} (at {self.url or '?'})"


@dataclass
class Console:
    """Collects console errors and uncaught page errors; ``unexpected()`` is what remains
    after the noise the walk has declared, each declaration naming one exact URL and status.

    - ``expect(url, status)``: the walk is about to load ``url`` knowing it answers
      ``status`` (the 402 page is a 402 response: Chromium logs the document's own status).
    - ``tolerate(url, status, why)``: a URL that may answer ``status`` on any page, with the
      reason; reported by ``tolerated()`` so the test output shows it.
    """

    problems: list[Problem] = field(default_factory=list)
    _expected: list[tuple[str, int]] = field(default_factory=list)
    _tolerated: dict[tuple[str, int], str] = field(default_factory=dict)
    _seen_tolerated: dict[tuple[str, int], int] = field(default_factory=dict)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(Problem("console", message.text, message.location.get("url", "")))

    def _on_page_error(self, error: Any) -> None:
        self.problems.append(Problem("pageerror", str(error), ""))

    def expect(self, url: str, status: int) -> None:
        self._expected.append((url, status))

    def tolerate(self, url: str, status: int, why: str) -> None:
        self._tolerated[(url, status)] = why

    def unexpected(self) -> list[Problem]:
        expected = list(self._expected)
        left: list[Problem] = []
        for problem in self.problems:
            match = _FAILED_LOAD.match(problem.text) if problem.kind == "console" else None
            key = (problem.url, int(match.group(1))) if match else None
            if key is not None and key in expected:
                expected.remove(key)  # one declared load, one message
            elif key is not None and key in self._tolerated:
                self._seen_tolerated[key] = self._seen_tolerated.get(key, 0) + 1
            else:
                left.append(problem)
        return left

    def tolerated(self) -> list[str]:
        return [f"{n} x {status} {url}: {self._tolerated[(url, status)]}"
                for (url, status), n in self._seen_tolerated.items()]


# -- screenshots ---------------------------------------------------------------------------------


class Steps:
    """``steps.shot("account")`` saves ``NN-account.png`` (NN counting up) in the walk's
    artifact folder, emptied when the walk starts."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


# -- what the browser fetched ------------------------------------------------------------------


@dataclass
class Traffic:
    """Every document the page received, as (method, status, URL), to say which way a
    navigation went (through the emulator's sign-in, and whether it showed a form there).
    Scripts, fetches and images are left out."""

    seen: list[tuple[str, int, str]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.seen.append((response.request.method, response.status, response.url))

    def mark(self) -> int:
        return len(self.seen)

    def since(self, mark: int) -> list[tuple[str, int, str]]:
        return self.seen[mark:]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
