"""The CLI's parts in process: the polling schedule on a fake clock, the browser decision,
the exit code and line for every kind of failure, and the output helpers."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from focus_middleware.cli.browser import headless_reason
from focus_middleware.cli.exits import (
    ERROR,
    INSUFFICIENT_CREDITS,
    INTERRUPTED,
    NOT_LOGGED_IN,
    UNAVAILABLE,
    CLIError,
    classify,
    remember_secret,
    report,
)
from focus_middleware.cli.login import MAX_FAILED_POLLS, poll_scale, wait_for_token
from focus_middleware.cli.output import cell, table
from focus_middleware.cli.progress import LineProgress, SpinnerProgress, time_left
from focus_middleware.credentials_store import NoCredentialsError
from focus_middleware.errors import (
    FocusAPIError,
    InsufficientCreditsError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from focus_middleware.models import DevicePoll, DevicePollStatus, DeviceStart


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """A progress display that only notes when it was asked to wait until, and what it said."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.waits: list[float] = []
        self.notes: list[str] = []

    def wait(self, until: float, deadline: float) -> None:
        self.waits.append(round(until - self.clock.now, 3))
        self.clock.now = max(self.clock.now, until)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def close(self) -> None:
        pass


def poller(*answers: DevicePoll | Exception) -> tuple[list[str], object]:
    asked: list[str] = []
    queue = list(answers)

    def poll(device_code: str) -> DevicePoll:
        asked.append(device_code)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return asked, poll


def p(status: DevicePollStatus, token: str | None = None) -> DevicePoll:
    return DevicePoll(status, token)


STARTED = DeviceStart("dev-code", "BCDF-GHJK", "http://f/device", expires_in=60, interval=5)


def test_polls_every_interval_and_slow_down_adds_5_seconds_for_good() -> None:
    clock = FakeTime()
    shown = Recorder(clock)
    asked, poll = poller(p("pending"), p("slow_down"), p("pending"), p("slow_down"), p("approved", "fcs_tok"))
    token = wait_for_token(poll, STARTED, shown, clock=clock)  # type: ignore[arg-type]
    assert token == "fcs_tok" and asked == ["dev-code"] * 5
    assert shown.waits == [5, 5, 10, 10, 15]
    assert shown.notes == [
        "Focus asked to poll less often: every 10 s from now on",
        "Focus asked to poll less often: every 15 s from now on",
    ]


def test_the_scale_shortens_waits_but_not_the_reported_interval() -> None:
    clock = FakeTime()
    shown = Recorder(clock)
    _, poll = poller(p("slow_down"), p("approved", "fcs_tok"))
    wait_for_token(poll, STARTED, shown, scale=0.1, clock=clock)  # type: ignore[arg-type]
    assert shown.waits == [0.5, 1.0] and "every 10 s" in shown.notes[0]


def test_the_local_deadline_ends_a_login_the_service_never_expires() -> None:
    clock = FakeTime()
    shown = Recorder(clock)
    _, poll = poller(*[p("pending")] * 100)
    with pytest.raises(CLIError) as raised:
        wait_for_token(poll, STARTED, shown, clock=clock)  # type: ignore[arg-type]
    assert raised.value.code == NOT_LOGGED_IN and "expired" in str(raised.value)
    assert sum(shown.waits) == 60 and len(shown.waits) == 12  # the last wait stops at the deadline


@pytest.mark.parametrize(
    ("status", "words"),
    [("access_denied", "denied"), ("expired_token", "expired"), ("invalid_grant", "already redeemed")],
)
def test_final_answers_exit_3(status: DevicePollStatus, words: str) -> None:
    clock = FakeTime()
    _, poll = poller(p(status))
    with pytest.raises(CLIError, match=words) as raised:
        wait_for_token(poll, STARTED, Recorder(clock), clock=clock)  # type: ignore[arg-type]
    assert raised.value.code == NOT_LOGGED_IN


def test_a_few_failed_polls_are_waited_out_and_many_are_not() -> None:
    clock = FakeTime()
    shown = Recorder(clock)
    down = UnavailableError("GET /api/device/poll: failed (ConnectError)")
    _, poll = poller(down, RateLimitedError(retry_after=30), p("approved", "fcs_tok"))
    assert wait_for_token(poll, STARTED, shown, clock=clock) == "fcs_tok"  # type: ignore[arg-type]
    assert shown.waits == [5, 5, 30] and len(shown.notes) == 2
    _, poll = poller(*[down] * MAX_FAILED_POLLS)
    with pytest.raises(UnavailableError):
        wait_for_token(poll, STARTED, Recorder(FakeTime()), clock=FakeTime())  # type: ignore[arg-type]


def test_poll_scale_is_for_tests_and_checked() -> None:
    assert poll_scale({}) == 1.0 and poll_scale({"FOCUS_CLI_POLL_SCALE": "0.25"}) == 0.25
    for bad in ("0", "2", "-1", "fast"):
        with pytest.raises(CLIError):
            poll_scale({"FOCUS_CLI_POLL_SCALE": bad})


# -- the browser ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "platform", "reason"),
    [
        ({"DISPLAY": ":0"}, "linux", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({}, "linux", "no display"),
        ({}, "freebsd14", "no display"),
        ({}, "darwin", None),
        ({}, "win32", None),
        ({"DISPLAY": ":0", "CI": "true"}, "linux", "CI"),
        ({"CI": "1"}, "darwin", "CI"),
        ({"DISPLAY": ":0", "CI": "false"}, "linux", None),
        ({"DISPLAY": ":0", "SSH_CONNECTION": "a 1 b 22"}, "linux", "an SSH session"),
        ({"SSH_TTY": "/dev/pts/3"}, "darwin", "an SSH session"),
    ],
)
def test_headless_sessions_get_no_browser(env: dict[str, str], platform: str, reason: str | None) -> None:
    assert headless_reason(env, platform) == reason


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (NoCredentialsError("http://f"), NOT_LOGGED_IN),
        (UnauthorizedError(), NOT_LOGGED_IN),
        (InsufficientCreditsError(required=5, available=2, purchase_url="http://f/billing"), INSUFFICIENT_CREDITS),
        (UnavailableError("GET /api/wallet: timed out (ReadTimeout)"), UNAVAILABLE),
        (RateLimitedError(retry_after=3), UNAVAILABLE),
        (FocusAPIError(500, {"error": "boom"}), ERROR),
        (PermissionError("denied"), ERROR),
        (KeyboardInterrupt(), INTERRUPTED),
        (CLIError("said", 3), 3),
        (RuntimeError("surprise"), ERROR),
    ],
)
def test_every_failure_has_its_exit_code(exc: BaseException, code: int) -> None:
    assert classify(exc)[0] == code


def test_insufficient_credits_says_where_to_buy() -> None:
    _, line = classify(InsufficientCreditsError(required=5, available=2, purchase_url="http://f/billing"))
    assert line == "insufficient credits (required 5, available 2); buy more at http://f/billing"


def test_the_line_is_one_line_and_scrubbed_of_secrets() -> None:
    remember_secret("fcs_secret_value_123")
    err = io.StringIO()
    code = report("jobs", RuntimeError("bad\nthing with fcs_secret_value_123 inside"), err)
    assert code == ERROR
    assert err.getvalue() == (
        "focus jobs: unexpected error: RuntimeError: bad thing with [redacted] inside"
        " (FOCUS_DEBUG=1 shows the traceback)\n"
    )


# -- output ------------------------------------------------------------------------------------


def test_cells_are_printable_and_short() -> None:
    assert cell(None) == "-" and cell(True) == "yes" and cell(False) == "no"
    assert cell("a\x1b[2Jb\x07") == "a?[2Jb?"
    assert cell("x" * 60) == "x" * 47 + "…"
    assert cell(datetime(2025, 10, 28, 12, 0, tzinfo=UTC)) == "2025-10-28 12:00:00Z"


def test_table_aligns_columns() -> None:
    out = io.StringIO()
    table(["ID", "STATUS"], [("job_1", "started"), ("j2", None)], out)
    assert out.getvalue() == "ID     STATUS\njob_1  started\nj2     -\n"


def test_time_left_counts_down_in_minutes_and_seconds() -> None:
    assert [time_left(s) for s in (900, 61, 59.2, 0.1, 0, -3)] == ["15:00", "1:01", "1:00", "0:01", "0:00", "0:00"]


def test_plain_lines_remind_once_a_minute() -> None:
    clock = FakeTime()
    out = io.StringIO()
    shown = LineProgress(out, clock, clock.sleep)
    deadline = clock.now + 180
    for _ in range(30):
        shown.wait(clock.now + 5, deadline)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Waiting for approval in the browser (3:00 left)..."
    assert lines[1:] == ["Still waiting for approval (2:00 left)...", "Still waiting for approval (1:00 left)..."]


def test_the_spinner_redraws_one_line_and_falls_back_to_ascii() -> None:
    clock = FakeTime()

    class Ascii(io.StringIO):
        encoding = "ascii"

    out = Ascii()
    shown = SpinnerProgress(out, clock, clock.sleep)
    shown.wait(clock.now + 0.35, clock.now + 100)
    shown.close()
    text = out.getvalue()
    assert "\n" not in text and text.count("\r\x1b[K") == 6 and text.endswith("\r\x1b[K")
    assert "| Waiting for approval in the browser... 1:40 left" in text


def test_only_http_urls_are_handed_to_a_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    from focus_middleware.cli import login

    opened: list[str] = []

    def fake_open(url: str) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr(login, "open_browser", fake_open)
    monkeypatch.setattr(login, "headless_reason", lambda: None)
    assert login._offer_browser("http://f/device?user_code=X", no_browser=False).startswith("Opened")
    assert "not http(s)" in login._offer_browser("file:///etc/passwd", no_browser=False)
    assert "--no-browser" in login._offer_browser("http://f/device", no_browser=True)
    assert opened == ["http://f/device?user_code=X"]


def test_the_prompt_prints_what_the_service_sent_as_text() -> None:
    from focus_middleware.cli.login import _prompt

    shown = _prompt(DeviceStart("d", "BCDF-GHJK\x1b[2J", "http://f/device\x07"), "http://f")
    assert "\x1b" not in shown and "\x07" not in shown
    assert "  Code:  BCDF-GHJK?[2J" in shown and "  Open:  http://f/device?" in shown
