"""``focus demo``, run as a person runs it (``make demo`` runs exactly this command): the
emulator on localhost, the example app on 127.0.0.1, a seeded user, the URL to open, and
Ctrl-C stopping both. No token is ever printed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from focus_middleware.cli import build_parser
from focus_middleware.cli.demo import DEMO_APP, DEMO_CLERK_ID, DEMO_CREDITS, DEMO_EMAIL, FRAMEWORKS, free_port
from focus_middleware.testing import FocusEmulator

from .browser import Browser

ROOT = Path(__file__).resolve().parents[2]


def launch(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "focus_middleware.cli", "demo", "--port", "0", "--app-port", "0",
         "--db", str(tmp_path / "emulator.db"), *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FOCUS_")},
             "CLIP_STUDIO_STEP_SECONDS": "0.01"},
    )


def banner(demo: subprocess.Popen[str]) -> tuple[dict[str, str], list[str]]:
    """The demo's ``key: value`` lines, read up to ``stop:``, and every line seen."""
    assert demo.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("stop:"):
        line = demo.stdout.readline()
        if not line:
            _, err = demo.communicate(timeout=10)
            raise AssertionError(f"the demo ended early: {''.join(lines)}{err}")
        lines.append(line)
    keys = dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith(" "))
    return {k.strip(): v.strip() for k, v in keys.items()}, lines


def interrupt(demo: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group (the demo, the app's
    server and the emulator alike), which must end it without a traceback."""
    os.killpg(demo.pid, signal.SIGINT)
    out, err = demo.communicate(timeout=20)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    return demo.returncode, out, err


def serving(url: str) -> bool:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def test_the_demo_serves_the_app_and_the_emulator_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    demo = launch(tmp_path)
    try:
        info, lines = banner(demo)
        app, emulator = info["open"], info["emulator"].split()[0]
        assert app.startswith("http://127.0.0.1:") and app.endswith("/")
        assert emulator.startswith("http://localhost:")
        assert DEMO_EMAIL in info["sign in"] and f"{DEMO_CREDITS} credits" in info["sign in"]
        assert info["CLI"].startswith(f"focus login --base-url {emulator}")
        assert "Ctrl-C" in info["stop"]
        with Browser() as browser:
            home = browser.open(app)
            assert home.status == 200 and "Clip Studio" in home.response.text
            signin = browser.follow(home, "sign-in")
            assert signin.url.startswith(f"{emulator}/signin?")
            studio = browser.submit(signin, f"user-{DEMO_CLERK_ID}")  # "Continue as Demo User"
            assert studio.url == f"{app}studio" and studio.number("credits") == DEMO_CREDITS
            result = browser.submit(studio, "render")
            assert result.status == 200 and result.number("charged") == 3
    finally:
        code, out, err = interrupt(demo)
    assert code == 0, err
    assert "stopping" in out
    assert not serving(app) and not serving(emulator)
    printed = "".join(lines) + out + err
    assert "eyJ" not in printed and "focus_pat_" not in printed  # no session token, no PAT
    assert (tmp_path / "emulator.db").exists()


def test_each_run_starts_the_demo_user_at_the_same_balance(tmp_path: Path) -> None:
    for run in range(2):
        demo = launch(tmp_path)
        banner(demo)
        assert interrupt(demo)[0] == 0
        with FocusEmulator(db=tmp_path / "emulator.db") as emulator:
            user = emulator.find_user(DEMO_CLERK_ID)
            assert user is not None and user.email == DEMO_EMAIL
            assert emulator.find_user(email=DEMO_EMAIL) == user
            assert user.credits == DEMO_CREDITS  # the starter grant counted in, and spending undone
            emulator.set_credits(user, 1)  # the last run spent nearly everything


@pytest.mark.parametrize("framework", ["flask", "django"])
def test_the_other_frameworks(tmp_path: Path, framework: str) -> None:
    demo = launch(tmp_path, "--framework", framework)
    try:
        info, _ = banner(demo)
        with Browser() as browser:
            home = browser.open(info["open"])
        assert home.status == 200 and home.has("sign-in")
        assert f"on {framework.capitalize()}" in "".join(_)
    finally:
        code, _, err = interrupt(demo)
    assert code == 0, err
    assert not serving(info["open"])


def test_options_and_defaults() -> None:
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.framework, args.app_port) == ("localhost", 8787, "fastapi", 8000)
    assert build_parser().parse_args(["demo", "--framework", "starlette"]).framework == "starlette"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--framework", "rails"])
    assert DEMO_APP == "clip-studio"


def test_a_taken_app_port_is_said_plainly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = subprocess.run(
            [sys.executable, "-m", "focus_middleware.cli", "demo", "--port", "0", "--app-port", str(port),
             "--db", ":memory:"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert demo.returncode == 1
    assert f"port {port}" in demo.stderr and "--app-port" in demo.stderr


def time_wait_ports() -> set[int]:
    """Local ports with a connection in TIME-WAIT (Linux: state 06 of /proc/net/tcp{,6})."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "06":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_a_demo_starts_again_at_once_on_the_same_ports(tmp_path: Path) -> None:
    # `make demo`, Ctrl-C, `make demo` (issue 25): the first demo's connections linger in
    # TIME-WAIT on its ports, which uvicorn, Werkzeug and Django's servers all bind past
    # (SO_REUSEADDR); the demo's own free-port check must do the same.
    app_port, emulator_port = free_port(), free_port()
    ports = ("--port", str(emulator_port), "--app-port", str(app_port))
    demo = launch(tmp_path, *ports)
    with Browser() as browser:  # keep-alive connections the servers close as they stop
        try:
            info, _ = banner(demo)
            assert browser.open(info["open"]).status == 200
            assert browser.open(f"{info['emulator'].split()[0]}/signin").status == 200
        finally:
            code, _, err = interrupt(demo)
        assert code == 0, err
    # The precondition the test is about (else it proves nothing): a TIME-WAIT on a port.
    assert time_wait_ports() & {app_port, emulator_port}
    again = launch(tmp_path, *ports)
    try:
        info, _ = banner(again)
        assert info["open"] == f"http://127.0.0.1:{app_port}/"
        with Browser() as browser:
            assert browser.open(info["open"]).status == 200
    finally:
        code, _, err = interrupt(again)
    assert code == 0, err


def listening(host: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("which", ["--app-port", "--port"])
def test_a_port_clash_names_the_port_and_the_option_that_changes_it(tmp_path: Path, which: str) -> None:
    with listening("127.0.0.1") as taken:  # the emulator's "localhost" binds 127.0.0.1
        port = taken.getsockname()[1]
        host = "127.0.0.1" if which == "--app-port" else "localhost"
        demo = launch(tmp_path, which, str(port))
        _, err = demo.communicate(timeout=60)
    assert demo.returncode == 1
    assert err.strip() == (f"focus demo: port {port} on {host} is taken (is another demo or emulator still "
                           f"running?); choose another with {which}")
    assert "Errno" not in err and "Traceback" not in err


def test_an_emulator_port_clash_names_the_port_and_the_option(tmp_path: Path) -> None:
    with listening("127.0.0.1") as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "focus_middleware.cli", "emulator", "--port", str(port),
             "--db", str(tmp_path / "emulator.db")],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("FOCUS_")},
        )
    assert done.returncode == 1
    assert done.stderr.strip() == (f"focus emulator: port {port} on 127.0.0.1 is taken (is another demo or "
                                   "emulator still running?); choose another with --port")


def test_every_framework_is_offered_by_the_banner(tmp_path: Path) -> None:
    demo = launch(tmp_path)
    try:
        info, _ = banner(demo)
    finally:
        interrupt(demo)
    assert info["also"] == f"focus demo --framework {'|'.join(FRAMEWORKS)}"
