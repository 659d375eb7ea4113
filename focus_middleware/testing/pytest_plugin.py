"""Pytest fixtures for testing against a local Focus emulator.

Registered through the ``pytest11`` entry point, so it is loaded in every test session of
every project that installs focus-middleware: it imports nothing heavy at module level
(the emulator, and uvicorn with it, is imported inside the fixtures).

- ``focus_emulator``: a fresh in-memory emulator per test; its books are audited at
  teardown, so a test that makes the ledger lose or invent a credit fails.
- ``focus_user``: a user with 100 credits on it.
- ``focus_emulator_session``: one emulator for the whole session, for suites that create
  their own users and only need speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from focus_middleware.testing.emulator import EmulatedUser, FocusEmulator


def _running_emulator() -> Iterator[FocusEmulator]:
    from focus_middleware.testing.emulator import FocusEmulator

    with FocusEmulator() as emulator:
        yield emulator
        emulator.check_books()


@pytest.fixture
def focus_emulator() -> Iterator[FocusEmulator]:
    """A fresh, running, in-memory Focus emulator."""
    yield from _running_emulator()


@pytest.fixture
def focus_user(focus_emulator: FocusEmulator) -> EmulatedUser:
    """A user of ``focus_emulator`` with 100 credits."""
    return focus_emulator.create_user(credits=100)


@pytest.fixture(scope="session")
def focus_emulator_session() -> Iterator[FocusEmulator]:
    """One running, in-memory Focus emulator shared by the whole test session."""
    yield from _running_emulator()
