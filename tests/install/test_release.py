"""The three distributions as a release would ship them: built by ``python -m build``,
accepted by ``twine check``, each carrying what it needs at run time (templates, static
files, ``py.typed``, its licence), with one version each, read from the package itself, and
the integrations requiring a compatible range of the core.

Core metadata: https://packaging.python.org/en/latest/specifications/core-metadata/ ;
``twine check``: https://twine.readthedocs.io/en/stable/#twine-check.
"""

from __future__ import annotations

import email
import importlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .harness import DISTRIBUTIONS, Built

PACKAGES = {"focus-middleware": "focus_middleware", "flask-focus": "flask_focus", "django-focus": "django_focus"}

# What each wheel must carry besides Python modules, as globs inside the wheel.
REQUIRED_FILES = {
    "focus-middleware": [
        "focus_middleware/py.typed",
        "focus_middleware/templates/insufficient_credits.html",
        "focus_middleware/templates/token_too_large.html",
        "focus_middleware/static/refresh.js",
        "focus_middleware/static/preserve.js",
        "focus_middleware/templates/*",
    ],
    "flask-focus": ["flask_focus/py.typed"],
    "django-focus": ["django_focus/py.typed", "django_focus/templates/django_focus/insufficient_credits.html"],
}


def metadata_of(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(zf.read(name))


def names_in(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


@pytest.mark.parametrize("dist", list(DISTRIBUTIONS))
def test_each_wheel_carries_what_it_needs(built: Built, dist: str) -> None:
    names = names_in(built.wheels[dist])
    for pattern in REQUIRED_FILES[dist]:
        if pattern.endswith("*"):
            assert any(n.startswith(pattern[:-1]) and not n.endswith("/") for n in names), pattern
        else:
            assert pattern in names, pattern
    assert any(n.endswith("LICENSE") and ".dist-info/" in n for n in names)
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)


@pytest.mark.parametrize("dist", list(DISTRIBUTIONS))
def test_one_version_read_from_the_package(built: Built, dist: str) -> None:
    version = metadata_of(built.wheels[dist])["Version"]
    assert version == importlib.import_module(PACKAGES[dist]).__version__


@pytest.mark.parametrize("dist", ["flask-focus", "django-focus"])
def test_the_integrations_require_a_compatible_core(built: Built, dist: str) -> None:
    core = importlib.import_module("focus_middleware").__version__
    major, minor = (int(p) for p in core.split(".")[:2])
    requires = metadata_of(built.wheels[dist]).get_all("Requires-Dist") or []
    [pin] = [r for r in requires if r.lower().startswith("focus-middleware")]
    assert f">={major}.{minor}" in pin and f"<{major}.{minor + 1}" in pin, pin


def test_twine_accepts_the_wheels_and_sdists(built: Built, tmp_path: Path) -> None:
    for source in DISTRIBUTIONS.values():
        subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(source)],
                       check=True, capture_output=True, text=True, timeout=300)
    sdists = sorted(str(p) for p in tmp_path.glob("*.tar.gz"))
    assert len(sdists) == 3
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, built.wheels.values()), *sdists],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 6, done.stdout
