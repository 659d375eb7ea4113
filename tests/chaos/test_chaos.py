"""Money on real servers (issue 19): every server of ``servers.py``, as a subprocess, under a
mix of paid requests, clients that leave, Focus slow and failing, and deploys (SIGTERM).

After each test the books must equal what the clients received (``harness.books_problems``):
one completed job per whole answer, every other job failed with its refund, none left
``started``, and no leaver charged unless the server's row of ``CANNOT_TELL`` says it
cannot know (each such row has its own test in ``test_limits.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.chaos.conftest import START
from tests.chaos.harness import Clients, Running, Sent, books_problems, serving, wait_until
from tests.chaos.servers import GRACE, LEFT_BEFORE_ANSWER, OUTLIVED_GRACE, SERVERS, Server, require

pytestmark = pytest.mark.timeout(60)


def report(running: Running, problems: list[str]) -> str:
    exited = "killed after the bound" if running.exited_in is None else f"exited {running.exited_in:.1f}s after SIGTERM"
    return (f"{running.server.name} ({exited}):\n  " + "\n  ".join(problems)
            + f"\n--- server log (tail) ---\n{running.log_tail()}")


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest) -> Server:
    chosen = SERVERS[request.param]
    require(chosen)
    return chosen


def test_a_mix_of_paid_requests_balances(server: Server, emu: FocusEmulator, user: EmulatedUser,
                                         tmp_path: Path) -> None:
    """Focus down for a reservation (503, nothing reserved); then at once successful,
    raising, streamed and file answers, a client that times out while the work runs and one
    that leaves mid-stream, with Focus slow to reserve and failing a settlement once
    (retried). Then a deploy with nothing in flight."""
    emu.set_latency(0.15, "POST /api/jobs")
    emu.fail_next("POST /api/jobs/complete", 503)
    with serving(server, emu, tmp_path) as running:
        c = Clients(running.url, user.pat())
        emu.fail_next("POST /api/jobs", 503, times=3)  # the first try and both retries
        refused = c.get(c.new("focus-down", "/render"))
        assert refused.status == 503 and not emu.jobs(user), refused
        calls: list[Callable[[], Sent]] = []
        for cost in (1, 2, 3, 4):
            calls.append(partial(c.get, c.new("ok", "/render", cost=cost)))
        calls.append(partial(c.get, c.new("raise", "/boom")))
        calls.append(partial(c.leave_before_answer, c.new(LEFT_BEFORE_ANSWER, "/render", sleep=1.0), after=0.4))
        calls.append(partial(c.get, c.new("stream", "/stream", chunks=5, slow=0.02, cost=2)))
        calls.append(partial(c.leave_mid_stream, c.new("left-mid-stream", "/stream", chunks=40, slow=0.05)))
        for _ in range(3):  # a client closes as soon as it has read the last byte: a race to lose
            calls.append(partial(c.get, c.new("file", "/file")))
        c.run(calls)
        wait_until(lambda: not emu.jobs(user, status="started"), 3, "settled")
        running.sigterm()
    problems = books_problems(emu, user, c, START, server.cannot_tell)
    by = {s.scenario: s for s in c.sent}
    missing = [f"{s.ref} (status={s.status} error={s.error})" for s in c.sent
               if s.scenario in ("ok", "stream", "file") and not s.received]
    if missing:
        problems.append(f"answers that should have arrived did not: {missing}")
    assert by["raise"].status == 500, by["raise"]
    assert not problems, report(running, problems)


def test_a_deploy_mid_load_leaves_nothing_reserved(server: Server, emu: FocusEmulator, user: EmulatedUser,
                                                   tmp_path: Path) -> None:
    """SIGTERM while paid work runs, Focus slow to settle: some work finishes within the
    server's grace (charged if its client got it), some outlives it (refunded), settlements
    still on their way are awaited, and nothing stays ``started``."""
    long = GRACE + 3
    emu.set_latency(0.3, "POST /api/jobs/complete")  # settlements still in flight at the exit
    emu.set_latency(0.3, "POST /api/jobs/fail")
    with serving(server, emu, tmp_path) as running:
        c = Clients(running.url, user.pat())
        sent = [c.new("in-flight-short", "/render", sleep=0.5, cost=2),
                c.new(OUTLIVED_GRACE, "/render", sleep=long, cost=3),
                c.new(OUTLIVED_GRACE, "/render", sleep=long, cost=3),
                c.new(OUTLIVED_GRACE, "/stream", chunks=20, slow=0.25)]
        with ThreadPoolExecutor(len(sent)) as pool:
            futures = [pool.submit(c.get, s, long + 10) for s in sent]
            expected = min(len(sent), server.inflight)
            wait_until(lambda: len(emu.jobs(user, status="started")) >= expected, 10, "the work reserved")
            running.sigterm()
            for future in futures:
                future.result()
    wait_until(lambda: not emu.jobs(user, status="started"), 3, "settled")
    problems = books_problems(emu, user, c, START, server.cannot_tell)
    assert not problems, report(running, problems)


def test_settlements_kept_while_focus_was_down_survive_a_deploy(server: Server, emu: FocusEmulator,
                                                                 user: EmulatedUser, tmp_path: Path) -> None:
    """Focus fails every settlement; three answers go out and their settlements are kept.
    Focus comes back, then the server is stopped: the kept settlements must be delivered on
    the way out (lifespan, the shutdown hook, or the library's own SIGTERM handler)."""
    emu.fail_next("POST /api/jobs/complete", 503, times=1000)
    with serving(server, emu, tmp_path) as running:
        c = Clients(running.url, user.pat())
        c.run([partial(c.get, c.new("ok", "/render", cost=cost)) for cost in (1, 2, 3)])
        tried = wait_until(lambda: emu.calls("POST /api/jobs/complete") >= 9, 10, "each settlement tried 3 times")
        wait_until(lambda: False, 0.5, "the last retry given up")
        emu.clear_faults()
        running.sigterm()
    problems = books_problems(emu, user, c, START, server.cannot_tell)
    if not tried:
        problems.append(f"settlement attempts seen: {emu.calls('POST /api/jobs/complete')} (expected 9)")
    assert all(s.received for s in c.sent), c.sent
    assert not problems, report(running, problems)
