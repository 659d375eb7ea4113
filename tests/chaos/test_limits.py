"""Each row of the per-server table (``servers.py``: what a server cannot tell), proven on
that server: if one of these starts failing, the server (or the library) learned to tell,
and the row, with the README's copy of the table, must go."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.chaos.conftest import START
from tests.chaos.harness import Clients, serving, wait_until
from tests.chaos.servers import GRACE, OUTLIVED_GRACE, SERVERS, require

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("name", [n for n, s in SERVERS.items() if OUTLIVED_GRACE in s.cannot_tell])
def test_work_outliving_the_graceful_timeout_is_killed_with_its_job_reserved(
        name: str, emu: FocusEmulator, user: EmulatedUser, tmp_path: Path) -> None:
    """SIGTERM while a paid view runs longer than the server's grace (gunicorn's
    ``--graceful-timeout``, Granian's ``--workers-kill-timeout``): the server SIGKILLs the
    worker, the job stays ``started``, and Focus's release is the backstop (servers.py:
    ``GUNICORN_CANNOT_TELL``, ``GRANIAN_CANNOT_TELL``)."""
    server = SERVERS[name]
    require(server)
    with serving(server, emu, tmp_path) as running:
        c = Clients(running.url, user.pat())
        sent = c.new(OUTLIVED_GRACE, "/render", sleep=GRACE + 3)
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(c.get, sent, GRACE + 10)
            assert wait_until(lambda: len(emu.jobs(user, status="started")) == 1, 10, "the job reserved")
            running.sigterm()
            future.result()
        assert running.exited_in is not None and running.exited_in < GRACE + 2
    assert not sent.received
    [job] = emu.jobs(user)
    assert job["status"] == "started" and user.credits == START - 5
    assert emu.release_stale_jobs(0) == 1  # what Focus does after 24 h
    assert user.credits == START
    emu.check_books()
