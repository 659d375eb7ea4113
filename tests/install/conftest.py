"""Session fixtures of the install harness: the wheels are built once per session, and one
fresh venv is made per distinct install line (the blocks that share a line share it)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

import pytest

from .harness import Built, FreshVenv, build_wheels, make_venv


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    if importlib.util.find_spec("build") is None:
        message = "the install harness needs `build` (the root pyproject's test extra)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return build_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def fresh_venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], FreshVenv]:
    made: dict[str, FreshVenv] = {}

    def venv_for(line: str) -> FreshVenv:
        if line not in made:
            made[line] = make_venv(tmp_path_factory.mktemp("venv") / "venv", line, built)
        return made[line]

    return venv_for
