"""SIGTERM on a server with no shutdown hook (waitress, ``flask run``, uvicorn
``--lifespan off``, Django under ASGI): the handler the middleware installed drains the
kept settlement, then the process ends by the signal as it would have (issue 19, item 4).
Python runs signal handlers in the main thread only and ``signal.signal`` refuses other
threads (https://docs.python.org/3/library/signal.html#signals-and-threads)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

import pytest

from focus_middleware import shutdown
from focus_middleware.testing import EmulatedUser, FocusEmulator

ROOT = Path(__file__).resolve().parents[2]


def run_worker(emu: FocusEmulator, user: EmulatedUser, mode: str) -> tuple[subprocess.Popen[str], list[str]]:
    emu.fail_next("POST /api/jobs/complete", status=503)
    proc = subprocess.Popen([sys.executable, "-m", "tests.jobs.signal_worker", emu.url, user.pat(), mode], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    return proc, first


def test_sigterm_delivers_the_kept_settlement_then_ends_the_process(emu: FocusEmulator) -> None:
    user = emu.create_user(credits=20)
    proc, first = run_worker(emu, user, "default")
    try:
        assert first == ["200", "1", "False"]  # answered, kept, and SIGTERM is ours now
        assert emu.jobs(user, status="started")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM, err  # ended by the signal, as without us
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 2 and user.credits == 18


def test_a_handler_the_process_set_itself_is_left_alone(emu: FocusEmulator) -> None:
    user = emu.create_user(credits=20)
    proc, first = run_worker(emu, user, "own")
    try:
        assert first == ["200", "1", "False"]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "own handler" in out and proc.returncode == 3
    # Its own handler exited normally, so the atexit drain still delivered it.
    assert emu.jobs(user)[0]["status"] == "completed"


def test_ctrl_c_under_uvicorn_over_our_handler_drains_then_ends_as_without_us(emu: FocusEmulator) -> None:
    """uvicorn keeps the handler it found (ours, put in place at import as Django's middleware
    does), shuts down gracefully on SIGINT, puts it back and raises the signal again
    (uvicorn/server.py ``Server.capture_signals``) for the ``KeyboardInterrupt`` uvicorn
    expects (its ``run()`` catches it since 0.31; 0.30 lets it out). With the settlement slow
    to deliver, a drain left to a helper thread raised it into the interpreter's exit
    instead, as a traceback from ``threading``. The drain must finish first, and the process
    end as the same uvicorn ends without us (``handle_signals=False``)."""

    def interrupted(mode: str) -> tuple[int, str, EmulatedUser]:
        user = emu.create_user(credits=20)
        proc, first = run_worker(emu, user, mode)
        try:
            assert first[0] == "200" and first[1] == "1"
            assert proc.stdout is not None
            wait_until_answering(int(proc.stdout.readline()))
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        return proc.returncode, err, user

    emu.set_latency(1.0, "POST /api/jobs/complete")  # the drain outlasts uvicorn's own exit
    code_without_us, _, _ = interrupted("uvicorn-off")
    code, err, user = interrupted("uvicorn")
    assert code == code_without_us, err
    assert "Exception ignored" not in err and "threading" not in err, err
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and user.credits == 18


def wait_until_answering(port: int) -> None:
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"uvicorn did not answer on port {port}")


@pytest.mark.parametrize("mode", ["off", "thread"])
def test_not_installed_when_turned_off_or_off_the_main_thread(emu: FocusEmulator, mode: str) -> None:
    user = emu.create_user(credits=20)
    proc, first = run_worker(emu, user, mode)
    try:
        assert first == ["200", "1", "True"]  # SIGTERM still at its default
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM
    assert emu.jobs(user, status="started")  # nothing drained: the service's 24 h release is the backstop


def test_install_only_over_defaults_and_in_the_main_thread() -> None:
    before = {sig: signal.getsignal(sig) for sig in shutdown.SIGNALS}
    try:
        shutdown.uninstall_signal_handlers()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        got: list[list[int]] = []
        t = threading.Thread(target=lambda: got.append(shutdown.install_signal_handlers(1.0)))
        t.start()
        t.join()
        assert got == [[]] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # someone else's choice
        assert shutdown.install_signal_handlers(1.0) == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        shutdown.uninstall_signal_handlers()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        shutdown.uninstall_signal_handlers()
        for sig, handler in before.items():
            signal.signal(sig, handler)
