"""Every Python block of the README runs, so the guide cannot drift from the code.

A block runs in this process, as a script of its own; a block that configures Django
(``settings.configure(...)``: Django's settings are once per process, and this test
session may hold another project's) runs in a fresh interpreter, as ``python -c``.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from focus_middleware.config import FocusConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int) -> None:
    block = BLOCKS[index]
    if "settings.configure(" in block:
        done = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"README.md block {index + 1} failed:\n{done.stdout}{done.stderr}"
        return
    code = compile(block, f"README.md block {index + 1}", "exec")
    exec(code, {"__name__": f"readme_block_{index + 1}"})  # noqa: S102 - our own documentation


def test_the_configuration_reference_names_every_setting() -> None:
    table = TEXT.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [f.name for f in dataclasses.fields(FocusConfig) if f"`{f.name}`" not in table]
    assert not missing, f"settings missing from the README's configuration table: {missing}"
