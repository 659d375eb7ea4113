"""Every README block runs as written in a fresh venv holding only its section's install
line (issue 25): the wheels built from this checkout, their dependencies from the index,
and no warning printed on the way, the build's included."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pathlib import Path

from .harness import README, Built, FreshVenv, QuickStart, install_arguments, printed_warnings, quickstarts

BLOCKS = quickstarts(README.read_text())


def test_the_readme_has_quickstarts() -> None:
    assert len(BLOCKS) >= 5


SAMPLE = """## One
`pip install one` then:

```python
print(1)
```

### Two

```python
print(2)
```
`pip install "focus-middleware[emulator]"` and `pip install Flask_Focus httpx2`:

```python
print(3)
```
"""


def test_a_block_takes_the_last_install_line_of_its_own_section() -> None:
    one, two, three = quickstarts(SAMPLE)
    assert (one.section, one.install, one.code) == ("One", "pip install one", "print(1)\n")
    assert (two.section, two.install) == ("Two", None)  # not the previous section's line
    assert (three.section, three.install) == ("Two", "pip install Flask_Focus httpx2")


def test_an_install_line_installs_the_local_wheels_with_their_extras() -> None:
    wheels = {name: Path(f"/w/{name}.whl") for name in ("focus-middleware", "flask-focus", "django-focus")}
    built = Built(wheels, "")
    assert install_arguments('pip install "focus-middleware[fastapi,emulator]" Flask_Focus httpx2', built) == [
        "--find-links", "/w", "/w/focus-middleware.whl[fastapi,emulator]", "/w/flask-focus.whl", "httpx2"]


@pytest.mark.timeout(900)
def test_the_wheels_build_without_a_deprecation_banner(built: Built) -> None:
    # setuptools' own words for a deprecated setting (project.license as a table, say):
    # "... is deprecated" in a banner of asterisks, on every build and editable install.
    assert set(built.wheels) == {"focus-middleware", "flask-focus", "django-focus"}
    assert "deprecated" not in built.output.lower(), built.output


@pytest.mark.timeout(900)
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{b.number}" for b in BLOCKS])
def test_quickstart_runs_in_a_fresh_venv(block: QuickStart, fresh_venv: Callable[[str], FreshVenv]) -> None:
    assert block.install, f"README {block.name} names no `pip install ...` line before it in its section"
    done = fresh_venv(block.install).run_block(block.code)
    assert done.returncode == 0, f"README {block.name} failed after `{block.install}`:\n{done.stdout}{done.stderr}"
    assert not printed_warnings(done.stderr), f"README {block.name} printed warnings:\n{done.stderr}"
