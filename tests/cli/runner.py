"""The ``focus`` CLI as a user runs it (a subprocess, its output read as it comes), and the
person at the browser who approves or denies on the emulator's device page."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO

import httpx

from focus_middleware.testing import EmulatedUser, FocusEmulator

REPO = Path(__file__).resolve().parents[2]
FAIL_KEYRING = "keyring.backends.fail.Keyring"
NULL_KEYRING = "keyring.backends.null.Keyring"
SECURE_KEYRING = "tests.cli.fake_keyring.SecureTestKeyring"
PLAINTEXT_KEYRING = "tests.cli.fake_keyring.PlaintextTestKeyring"
# What the parent environment may hold that would change the CLI's behaviour.
DROPPED_ENV = ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "CI", "SSH_CONNECTION", "SSH_TTY", "XDG_CONFIG_HOME")


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    """Runs ``python -m focus_middleware.cli`` with ``env``; every output is kept so a
    test can check, at the end, that no token leaked anywhere."""

    env: dict[str, str]
    tmp: Path
    runs: list[tuple[tuple[str, ...], Result]] = field(default_factory=list)
    lives: list[tuple[tuple[str, ...], Live]] = field(default_factory=list)

    @property
    def config_dir(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "focus"

    @property
    def credentials_file(self) -> Path:
        return self.config_dir / "credentials.json"

    @property
    def keyring_file(self) -> Path:
        return self.tmp / "keyring.json"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "focus_middleware.cli", *args]

    def run(self, *args: str, timeout: float = 30, **env: str) -> Result:
        done = subprocess.run(
            self.command(*args), env={**self.env, **env}, cwd=self.tmp,
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        self.runs.append((args, result))
        return result

    def start(self, *args: str, **env: str) -> Live:
        process = subprocess.Popen(
            self.command(*args), env={**self.env, **env}, cwd=self.tmp, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        live = Live(process)
        self.lives.append((args, live))
        return live

    def assert_never_printed(self, secret: str, except_for: str = "print-token") -> None:
        """No run (``print-token`` aside) wrote ``secret`` to stdout or stderr."""
        seen = [(args, r.out + r.err) for args, r in self.runs]
        seen += [(args, live.text()) for args, live in self.lives]
        assert seen, "nothing was run"
        for args, text in seen:
            if except_for not in args:
                assert secret not in text, f"`focus {' '.join(args)}` printed the token"


class Live:
    """A running CLI: its stdout read line by line as it comes (a thread feeds a queue)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._err: list[str] = []
        self.result: Result | None = None
        assert process.stdout is not None and process.stderr is not None
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(process.stderr,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def _drain(self, stream: IO[str]) -> None:
        self._err.append(stream.read())

    def expect(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern``; its match."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.lines)}") from None
            if line is None:
                raise AssertionError(f"exited before {pattern!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def finish(self, timeout: float = 20) -> Result:
        code = self.process.wait(timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        deadline = time.monotonic() + 5
        while not self._err and time.monotonic() < deadline:
            time.sleep(0.01)
        self.result = Result(code, "".join(self.lines), "".join(self._err))
        return self.result

    def text(self) -> str:
        if self.result is not None:
            return self.result.out + self.result.err
        return "".join(self.lines) + "".join(self._err)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


# -- the person at the browser ---------------------------------------------------------------


class _Forms(HTMLParser):
    """The device page's decision form: its action, hidden fields and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, tuple[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "post":
            self.action = a["action"]
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and "id" in a:
            self.buttons[a["id"]] = (a.get("name", ""), a.get("value", ""))


class DevicePage:
    """A browser signed in to the emulator (its sign-in cookie in a cookie jar) that opens
    the URL the CLI printed and presses Approve or Deny, as a person would."""

    def __init__(self, emu: FocusEmulator, user: EmulatedUser) -> None:
        self.emu = emu
        self.client = httpx.Client(base_url=emu.url, timeout=10)
        host = httpx.URL(emu.url).host
        self.client.cookies.set("focus_emulator_signin", user.signin_cookie(), domain=host)

    def decide(self, url: str, approve: bool = True) -> None:
        page = self.client.get(url)
        assert page.status_code == 200 and 'id="code"' in page.text, page.text
        form = _Forms()
        form.feed(page.text)
        name, value = form.buttons["approve" if approve else "deny"]
        done = self.client.post(form.action, data={**form.fields, name: value}, headers={"Origin": self.emu.url})
        assert done.status_code == 200, done.text
        assert ('id="approved"' if approve else 'id="denied"') in done.text

    def close(self) -> None:
        self.client.close()
