"""The ``focus emulator`` and ``focus demo`` commands, run as a user would."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from focus_middleware.cli import build_parser, main
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


def test_demo_prints_what_to_open_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    demo = launch(tmp_path, "demo")
    assert demo.stdout is not None
    lines = dict(demo.stdout.readline().split(":", 1) for _ in range(6))
    try:
        url, pat = lines["Focus emulator"].strip(), lines["PAT"].strip()
        assert url.startswith("http://localhost:")
        assert lines["user (clerk id)"].strip().startswith("user_2demo")
        assert "Ctrl-C" in lines["stop"]
        wallet = httpx.get(url + "/api/wallet?app=demo", headers={"Authorization": f"Bearer {pat}"})
        assert wallet.status_code == 200
        assert wallet.json()["account"]["credits"] == 120  # 100 seeded + 20 starter
    finally:
        code, out = interrupt(demo)
    assert code == 0 and "stopping" in out
    assert (tmp_path / ".focus-emulator" / "emulator.db").exists()


def test_demo_reuses_its_user_across_runs(tmp_path: Path) -> None:
    ids = []
    for _ in range(2):
        demo = launch(tmp_path, "demo")
        assert demo.stdout is not None
        lines = dict(demo.stdout.readline().split(":", 1) for _ in range(6))
        interrupt(demo)
        ids.append(lines["user (clerk id)"])
    assert ids[0] == ids[1]


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
