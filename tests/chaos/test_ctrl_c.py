"""Ctrl-C on every server of ``servers.py``: a terminal sends SIGINT to the whole foreground
process group (the server, its workers, a reloader), and each server then ends as it does
without Focus (exit status 0, measured with ``FOCUS_HANDLE_SIGNALS=false``), with nothing
of ours on its output.

Under uvicorn the middleware holds the SIGINT uvicorn raises again after its shutdown until
the exit drain (:mod:`focus_middleware.shutdown`); let through there, Python turned it into
a ``KeyboardInterrupt`` inside the exit hook, printed as a traceback at every Ctrl-C."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from focus_middleware.testing import FocusEmulator
from tests.chaos.harness import serving
from tests.chaos.servers import SERVERS, Server, require

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("name", list(SERVERS))
def test_ctrl_c_ends_the_server_quietly_as_without_focus(name: str, emu: FocusEmulator, tmp_path: Path) -> None:
    server: Server = SERVERS[name]
    require(server)
    with serving(server, emu, tmp_path) as running:  # answered a request: the middleware is built
        os.killpg(running.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        running.process.wait(30)
        output = running.log.read_text(errors="replace")
    assert running.process.returncode == 0, output
    # Nothing of ours: a server's own report of a request the signal cut (gunicorn's sync
    # worker exits mid-write when the signal lands as it answers) is the server's business.
    assert "focus_middleware" not in output and "Exception ignored" not in output, output
