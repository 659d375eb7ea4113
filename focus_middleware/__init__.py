"""focus-middleware: the Focus account platform for Python web apps."""

from __future__ import annotations

from focus_middleware.clock import Clock, FakeClock, SystemClock

__all__ = ["Clock", "FakeClock", "SystemClock"]
__version__ = "0.1.0"
