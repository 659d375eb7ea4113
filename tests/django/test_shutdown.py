"""A Django process that exits with a settlement Focus did not take yet: Django has no
shutdown hook, so the core's atexit drain delivers it."""

from __future__ import annotations

from pathlib import Path

from focus_middleware.testing import FocusEmulator

from .test_cache import run_worker


def test_a_kept_settlement_is_delivered_when_the_process_exits(emu: FocusEmulator, tmp_path: Path) -> None:
    user = emu.create_user(credits=10)
    emu.fail_next("POST /api/jobs/complete", 503)  # once: the request's own attempt
    [answer] = run_worker(emu, tmp_path, [["POST", "/api/render?cost=4", user.pat()]])
    assert answer["status"] == 200
    [job] = emu.jobs(user)
    assert job["status"] == "completed" and job["actual_cost"] == 4 and user.credits == 6
    assert emu.calls("POST /api/jobs/complete") == 2
