"""Showing that ``focus login`` is waiting, and for how much longer.

On a terminal a spinner line redrawn in place counts down to the code's expiry, so a
person sees at a glance that the command is alive and how long they have. Anywhere else
(a pipe, a log file, CI) redrawing would leave a mess of carriage returns, so plain lines
are written instead: one when waiting starts, one per event, and a reminder a minute.

Both sleep in small steps between polls rather than one long sleep, so Ctrl-C is felt at
once; the poll timing itself is decided by the caller (``until``), never by the display.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Protocol, TextIO

CLEAR_LINE = "\r\x1b[K"
REMINDER_EVERY = 60.0


def time_left(seconds: float) -> str:
    """``m:ss`` (rounded up: "0:00" only once it is really over)."""
    whole = max(0, math.ceil(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


class Progress(Protocol):
    def wait(self, until: float, deadline: float) -> None:
        """Sleep until ``until`` (a monotonic time), showing the time left to ``deadline``."""

    def note(self, text: str) -> None:
        """Say something that happened (a slow-down, a retry), on its own line."""

    def close(self) -> None:
        """Leave the terminal tidy: the cursor at the start of an empty line."""


class LineProgress:
    """Plain lines, for output that is not a terminal."""

    def __init__(
        self,
        out: TextIO,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.out = out
        self.clock = clock
        self.sleep = sleep
        self._last_line: float | None = None

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def wait(self, until: float, deadline: float) -> None:
        now = self.clock()
        if self._last_line is None:
            self._line(f"Waiting for approval in the browser ({time_left(deadline - now)} left)...")
            self._last_line = now
        elif now - self._last_line >= REMINDER_EVERY:
            self._line(f"Still waiting for approval ({time_left(deadline - now)} left)...")
            self._last_line = now
        while (now := self.clock()) < until:
            self.sleep(min(0.25, until - now))

    def note(self, text: str) -> None:
        self._line(text)

    def close(self) -> None:
        self.out.flush()


class SpinnerProgress:
    """A spinner and a countdown redrawn in place, for a terminal."""

    UNICODE_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    ASCII_FRAMES = "|/-\\"
    STEP = 0.1

    def __init__(
        self,
        out: TextIO,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.out = out
        self.clock = clock
        self.sleep = sleep
        self.frames = self.UNICODE_FRAMES if self._can_encode(out, self.UNICODE_FRAMES) else self.ASCII_FRAMES
        self._tick = 0
        self._drawn = False

    @staticmethod
    def _can_encode(out: TextIO, text: str) -> bool:
        try:
            text.encode(getattr(out, "encoding", None) or "ascii")
        except (UnicodeEncodeError, LookupError):
            return False
        return True

    def _draw(self, left: float) -> None:
        frame = self.frames[self._tick % len(self.frames)]
        self._tick += 1
        self.out.write(f"{CLEAR_LINE}{frame} Waiting for approval in the browser... {time_left(left)} left (Ctrl-C to cancel)")
        self.out.flush()
        self._drawn = True

    def wait(self, until: float, deadline: float) -> None:
        while (now := self.clock()) < until:
            self._draw(deadline - now)
            self.sleep(min(self.STEP, until - now))
        self._draw(deadline - self.clock())

    def note(self, text: str) -> None:
        self.out.write(f"{CLEAR_LINE}{text}\n")
        self.out.flush()
        self._drawn = False

    def close(self) -> None:
        if self._drawn:
            self.out.write(CLEAR_LINE)
            self.out.flush()
            self._drawn = False


def progress_for(out: TextIO, environ: Mapping[str, str] | None = None) -> Progress:
    """The spinner on a terminal that understands "clear line", plain lines elsewhere."""
    env = os.environ if environ is None else environ
    isatty = getattr(out, "isatty", None)
    terminal = callable(isatty) and isatty() and env.get("TERM", "") != "dumb"
    return SpinnerProgress(out) if terminal else LineProgress(out)
