"""Every Python block of the README runs, so the guide cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int) -> None:
    code = compile(BLOCKS[index], f"README.md block {index + 1}", "exec")
    exec(code, {"__name__": f"readme_block_{index + 1}"})  # noqa: S102 - our own documentation
