"""Fixtures for the CLI's tests: a CLI runner with its own environment (a private
``XDG_CONFIG_HOME`` and ``HOME``, the fail keyring unless a test picks another, no display,
no CI, no SSH), a real-clock emulator, a person and their browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator

from .runner import DROPPED_ENV, FAIL_KEYRING, REPO, Cli, DevicePage


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("FOCUS_", "PYTHON_KEYRING", "KEYRING_")) and k not in DROPPED_ENV
    }
    (tmp_path / "home").mkdir()
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHON_KEYRING_BACKEND=FAIL_KEYRING,
        FOCUS_TEST_KEYRING=str(tmp_path / "keyring.json"),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        PYTHONUNBUFFERED="1",
    )
    runner = Cli(env, tmp_path)
    yield runner
    for _, live in runner.lives:
        live.kill()


@pytest.fixture
def emulator() -> Iterator[FocusEmulator]:
    """A real-clock emulator whose device codes ask for a poll a second."""
    with FocusEmulator(device_interval=1) as emu:
        yield emu


@pytest.fixture
def person(emulator: FocusEmulator) -> EmulatedUser:
    return emulator.create_user(credits=10)


@pytest.fixture
def browser(emulator: FocusEmulator, person: EmulatedUser) -> Iterator[DevicePage]:
    page = DevicePage(emulator, person)
    yield page
    page.close()
