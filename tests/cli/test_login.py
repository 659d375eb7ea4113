"""``focus login`` end to end: the real CLI in a subprocess, a real emulator, and a person
approving or denying on the emulator's device page over HTTP."""

from __future__ import annotations

import http.server
import json
import os
import pty
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from focus_middleware.credentials_store import storage_keys
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .runner import (
    FAIL_KEYRING,
    NULL_KEYRING,
    PLAINTEXT_KEYRING,
    SECURE_KEYRING,
    Cli,
    DevicePage,
    Live,
)

CODE_LINE = r"^  Code:  ([B-Z]{4}-[B-Z]{4})$"
URL_LINE = r"^  Open:  (\S+)$"


def start_login(cli: Cli, emulator: FocusEmulator, *args: str, **env: str) -> tuple[Live, str, str]:
    live = cli.start("login", "--base-url", emulator.url, *args, **env)
    code = live.expect(CODE_LINE).group(1)
    url = live.expect(URL_LINE).group(1)
    return live, code, url


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- approve ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [FAIL_KEYRING, NULL_KEYRING, PLAINTEXT_KEYRING])
def test_approved_login_stores_the_token_in_a_private_file_without_a_secure_keyring(
    cli: Cli, emulator: FocusEmulator, person: EmulatedUser, browser: DevicePage, backend: str
) -> None:
    cli.env["PYTHON_KEYRING_BACKEND"] = backend
    live, code, url = start_login(cli, emulator)
    assert url == f"{emulator.url}/device?user_code={code}"
    live.expect(r"not opening one here: no display")
    live.expect(r"^Waiting for approval in the browser \(\d+:\d\d left\)")
    browser.decide(url, approve=True)
    done = live.finish()
    assert done.code == 0, done
    assert f"Logged in to {emulator.url} as {person.clerk_id} (10 credits)." in done.out
    assert f"Token stored in {cli.credentials_file} (readable only by you)." in done.out
    assert "poll less often" not in done.out  # the interval was respected: no slow_down
    assert done.err == ""

    assert mode(cli.credentials_file) == 0o600 and mode(cli.config_dir) == 0o700
    assert [p.name for p in cli.config_dir.iterdir() if p.name.endswith(".tmp")] == []
    stored = json.loads(cli.credentials_file.read_text())
    token = stored["credentials"][storage_keys(emulator.url)[0]]["token"]  # localhost: one key per port
    assert not cli.keyring_file.exists()  # nothing went to an insecure keyring

    whoami = cli.run("whoami", "--json", "--base-url", emulator.url)
    assert whoami.code == 0, whoami
    me = json.loads(whoami.out)
    assert (me["clerk_id"], me["credits"], me["token_source"]) == (person.clerk_id, 10, "file")
    printed = cli.run("print-token", "--base-url", emulator.url)
    assert (printed.code, printed.out) == (0, token + "\n")
    cli.assert_never_printed(token)


def test_a_secure_keyring_is_used_and_no_file_is_written(
    cli: Cli, emulator: FocusEmulator, person: EmulatedUser, browser: DevicePage
) -> None:
    cli.env["PYTHON_KEYRING_BACKEND"] = SECURE_KEYRING
    live, _, url = start_login(cli, emulator)
    browser.decide(url)
    done = live.finish()
    assert done.code == 0, done
    assert "Token stored in the system keyring (tests.cli.fake_keyring.SecureTestKeyring)." in done.out
    assert not cli.credentials_file.exists()
    entries = json.loads(cli.keyring_file.read_text())
    token = entries[f"focus-middleware|{storage_keys(emulator.url)[0]}"]

    me = json.loads(cli.run("whoami", "--json", "--base-url", emulator.url).out)
    assert (me["clerk_id"], me["token_source"]) == (person.clerk_id, "keyring")
    assert cli.run("print-token", "--base-url", emulator.url).out.strip() == token

    out = cli.run("logout", "--base-url", emulator.url)
    assert out.code == 0 and "removed the token from the system keyring" in out.out
    assert json.loads(cli.keyring_file.read_text()) == {}
    after = cli.run("whoami", "--base-url", emulator.url)
    assert after.code == 3
    assert one_line(after.err).startswith("focus whoami: not logged in")
    cli.assert_never_printed(token)


def test_logout_removes_the_file_entry_and_keeps_other_base_urls(
    cli: Cli, emulator: FocusEmulator, browser: DevicePage
) -> None:
    live, _, url = start_login(cli, emulator)
    browser.decide(url)
    assert live.finish().code == 0
    other = "http://example.test:9"  # another service's token, stored by an earlier login
    data = json.loads(cli.credentials_file.read_text())
    data["credentials"][other] = {"token": "fcs_other"}
    cli.credentials_file.write_text(json.dumps(data))

    out = cli.run("logout", "--base-url", emulator.url)
    assert out.code == 0 and str(cli.credentials_file) in out.out
    assert list(json.loads(cli.credentials_file.read_text())["credentials"]) == [other]
    assert mode(cli.credentials_file) == 0o600  # rewritten the same way
    again = cli.run("logout", "--base-url", emulator.url)
    assert again.code == 0 and "No stored token" in again.out
    assert cli.run("print-token", "--base-url", emulator.url).code == 3


# -- refusals, expiry, slow_down, Ctrl-C ------------------------------------------------------


def test_a_denied_login_exits_3_and_stores_nothing(
    cli: Cli, emulator: FocusEmulator, browser: DevicePage
) -> None:
    live, _, url = start_login(cli, emulator)
    browser.decide(url, approve=False)
    done = live.finish()
    assert done.code == 3
    assert one_line(done.err) == "focus login: the login was denied in the browser; nothing was stored"
    assert not cli.config_dir.exists()


def test_an_unapproved_code_expires_with_exit_3(cli: Cli) -> None:
    with FocusEmulator(device_interval=1, device_expires_in=2) as emulator:
        started = time.monotonic()
        live, code, _ = start_login(cli, emulator)
        done = live.finish()
    assert done.code == 3
    assert one_line(done.err) == f"focus login: the code {code} expired before it was approved; run `focus login` again"
    assert 1.5 < time.monotonic() - started < 8
    assert not cli.config_dir.exists()


def test_slow_down_adds_5_seconds_to_the_interval_for_good(
    cli: Cli, emulator: FocusEmulator, browser: DevicePage
) -> None:
    # Polls 10x faster than asked (the test hook): the emulator answers slow_down, and
    # the CLI's interval grows 1 -> 6 -> 11 s, never back.
    live, _, url = start_login(cli, emulator, FOCUS_CLI_POLL_SCALE="0.1")
    live.expect(r"^Focus asked to poll less often: every 6 s from now on$", timeout=5)
    live.expect(r"^Focus asked to poll less often: every 11 s from now on$", timeout=5)
    browser.decide(url)
    done = live.finish()
    assert done.code == 0, done
    intervals = [int(n) for n in re.findall(r"every (\d+) s from now on", done.out)]
    assert intervals == list(range(6, 6 + 5 * len(intervals), 5))


def test_a_bad_poll_scale_is_a_usage_error(cli: Cli, emulator: FocusEmulator) -> None:
    done = cli.run("login", "--base-url", emulator.url, FOCUS_CLI_POLL_SCALE="10")
    assert done.code == 2 and "FOCUS_CLI_POLL_SCALE" in one_line(done.err)


def test_ctrl_c_while_waiting_exits_130_with_one_line(cli: Cli, emulator: FocusEmulator) -> None:
    live, _, _ = start_login(cli, emulator)
    live.expect(r"^Waiting for approval")
    live.process.send_signal(signal.SIGINT)
    done = live.finish()
    assert done.code == 130
    assert one_line(done.err) == "focus login: interrupted"
    assert "Traceback" not in done.out
    assert not cli.config_dir.exists()


def test_focus_unreachable_exits_5_naming_the_url_and_what_to_start(cli: Cli) -> None:
    done = cli.run("login", "--base-url", "http://127.0.0.1:9")
    assert done.code == 5
    assert one_line(done.err) == (
        "focus login: could not connect to Focus at http://127.0.0.1:9 (POST /api/device/start: failed"
        " (ConnectError)): is it running? For the local emulator run `focus emulator` (or `focus demo`);"
        " for another service set FOCUS_API_URL or --base-url")


class _NotFocus(http.server.BaseHTTPRequestHandler):
    """An app that is not Focus (the easy mistake: the app's URL for Focus's): 404."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail":"Not Found"}')

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


def test_an_app_url_instead_of_focus_says_so_and_exits_2(cli: Cli) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFocus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        done = cli.run("login", "--base-url", url)
    finally:
        server.shutdown()
        server.server_close()
    assert done.code == 2
    assert one_line(done.err) == (
        f"focus login: {url} does not look like a Focus service (POST /api/device/start: not found (404)):"
        " did you give the app's URL? --base-url (or FOCUS_API_URL) is Focus's, e.g. the emulator's"
        " http://localhost:8787")
    assert not cli.config_dir.exists()


# -- the terminal and the browser ---------------------------------------------------------------


def _read_pty(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return
        if not chunk:
            return
        into.append(chunk)


def _wait_for(chunks: list[bytes], pattern: bytes, timeout: float = 15) -> re.Match[bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, b"".join(chunks))
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{pattern!r} not in {b''.join(chunks)!r}")


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    primary, secondary = pty.openpty()
    yield primary, secondary
    for fd in (primary, secondary):
        try:
            os.close(fd)
        except OSError:
            pass


def test_on_a_terminal_a_countdown_is_redrawn_in_place(
    cli: Cli, emulator: FocusEmulator, browser: DevicePage, terminal: tuple[int, int]
) -> None:
    primary, secondary = terminal
    process = subprocess.Popen(
        cli.command("login", "--base-url", emulator.url), env={**cli.env, "TERM": "xterm"},
        cwd=cli.tmp, stdin=secondary, stdout=secondary, stderr=subprocess.PIPE,
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_pty, args=(primary, chunks), daemon=True)
    reader.start()
    try:
        url = _wait_for(chunks, rb"Open:  (\S+)").group(1).decode()
        _wait_for(chunks, rb"(\r\x1b\[K[^\r ]+ Waiting for approval in the browser\.\.\. \d+:\d\d left[^\r]*){3}")
        browser.decide(url)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(5)
    os.close(secondary)
    reader.join(5)
    screen = b"".join(chunks).decode()
    assert "(Ctrl-C to cancel)" in screen
    assert re.search(r"\x1b\[KLogged in to ", screen)  # the spinner line was cleared first
    assert process.stderr is not None and process.stderr.read() == b""


def _fake_browser(tmp: Path) -> tuple[Path, Path]:
    opened = tmp / "opened.txt"
    script = tmp / "fake-browser"
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(opened)!r}, 'a').write(sys.argv[1] + '\\n')\n")
    script.chmod(0o755)
    return script, opened


def test_the_browser_is_opened_on_the_approval_url_where_there_is_a_display(
    cli: Cli, emulator: FocusEmulator, browser: DevicePage
) -> None:
    script, opened = _fake_browser(cli.tmp)
    live, _, url = start_login(cli, emulator, DISPLAY=":0", BROWSER=str(script))
    live.expect(r"^Opened your browser")
    assert opened.read_text().split() == [url]
    browser.decide(url, approve=False)
    assert live.finish().code == 3


@pytest.mark.parametrize(
    ("flag", "env", "why"),
    [
        ("--no-browser", {}, r"\(--no-browser\)"),
        (None, {"CI": "true"}, "not opening one here: CI"),
        (None, {"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"}, "not opening one here: an SSH session"),
    ],
)
def test_no_browser_when_told_or_headless(
    cli: Cli, emulator: FocusEmulator, flag: str | None, env: dict[str, str], why: str
) -> None:
    script, opened = _fake_browser(cli.tmp)
    live, _, _ = start_login(cli, emulator, *([flag] if flag else []), DISPLAY=":0", BROWSER=str(script), **env)
    live.expect(why)
    live.process.send_signal(signal.SIGINT)
    assert live.finish().code == 130
    assert not opened.exists()
