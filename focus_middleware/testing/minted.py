"""Every credential the emulator mints in this process, when a test run asks for it.

Why: a test suite proves that no token reaches a log line or a span only if it knows which
tokens exist. tests/conftest.py turns :data:`recording` on for the whole run and checks
every captured record against :data:`SEEN` at the end. Off (the default) it costs one
check per minted token.
"""

from __future__ import annotations

recording = False
SEEN: set[str] = set()


def record(token: str) -> str:
    """``token``, remembered when recording (session JWTs, PATs, cookie and device secrets)."""
    if recording:
        SEEN.add(token)
    return token


__all__ = ["SEEN", "record", "recording"]
