"""django-focus's README examples for DRF and for linked users, each run as written in a
fresh interpreter (they configure Django's settings, which is once per process)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
README = ROOT / "integrations" / "django" / "README.md"


def example(name: str) -> str:
    found = re.search(rf"<!-- runnable: {name} -->\n```python\n(.*?)\n```", README.read_text(), re.S)
    assert found is not None, f"the README has no runnable {name} example"
    return found.group(1)


@pytest.mark.parametrize("name", ["drf", "users"])
def test_the_readme_example_runs(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", example(name)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stderr[-4000:]
