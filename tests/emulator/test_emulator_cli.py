"""The ``focus emulator`` command, run as a user would (``focus demo``: tests/examples)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from focus_middleware.cli import build_parser, exposure_warning, main
from focus_middleware.testing import FocusEmulator


def launch(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "focus_middleware.cli", *args, "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=10)
    return process.returncode, out


def test_emulator_serves_the_given_database(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    server = launch(tmp_path, "emulator", "--db", str(db))
    assert server.stdout is not None
    banner = server.stdout.readline()
    try:
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        assert httpx.get(url + "/.well-known/jwks.json").status_code == 200
    finally:
        code, _ = interrupt(server)
    assert code == 0 and db.exists()
    assert not (tmp_path / ".focus-emulator").exists()


def test_the_database_env_var_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOCUS_EMULATOR_DB", str(tmp_path / "from-env.db"))
    assert build_parser().parse_args(["emulator"]).db is None  # resolved at run time
    server = launch(tmp_path, "emulator")
    assert server.stdout is not None
    assert "from-env.db" in server.stdout.readline()
    interrupt(server)


def test_a_taken_port_exits_1(focus_emulator: FocusEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    port = focus_emulator.url.rsplit(":", 1)[1]
    assert main(["emulator", "--port", port, "--db", ":memory:"]) == 1
    assert "focus emulator:" in capsys.readouterr().err


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit):
        main([])


def test_emulator_flags_reach_the_server(tmp_path: Path) -> None:
    server = launch(
        tmp_path, "emulator", "--db", ":memory:",
        "--allow-origin", "https://video.focus.test", "--session-cookie-domain", "focus.test",
    )
    assert server.stdout is not None and server.stderr is not None
    banner = server.stdout.readline()
    try:
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        assert "/signin" in server.stdout.readline()  # where the pages are
        answer = httpx.get(url + "/api/wallet", headers={"Origin": "https://video.focus.test"})
        assert answer.headers["access-control-allow-origin"] == "https://video.focus.test"
        doc = httpx.get(url + "/api/openapi.json").json()
        assert "/api/device/start" in doc["paths"]
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    assert server.returncode == 0
    assert "WARNING" not in err  # loopback: nothing to warn about


def test_a_bad_allowed_origin_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--port", "0", "--db", ":memory:", "--allow-origin", "not an origin"]) == 2
    assert "not an http(s) origin" in capsys.readouterr().err


def test_loopback_is_the_default_and_anything_else_is_warned_about_loudly() -> None:
    args = build_parser().parse_args(["emulator"])
    assert (args.host, args.port, args.allow_origin, args.session_cookie_domain) == (
        "127.0.0.1", 8787, None, None
    )
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert exposure_warning(host) is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "emulator.example"):
        warning = exposure_warning(host)
        assert warning is not None and host in warning
        assert warning.count("WARNING") >= 3 and "sign in as any user" in warning
