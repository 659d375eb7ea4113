"""A newcomer's first hour, replayed: build the three distributions as wheels, install a
README quick start's own ``pip install`` line into a fresh virtualenv, run its block there.

The checkout's editable installs hide what a wheel forgets (a template left out of
package-data, an extra that does not pull what the block imports); only a fresh venv with
the built wheels shows it. Kept free of pytest so the release checks can drive it too.

Rules the README follows for this harness: every ```python block belongs to the section
(``##``/``###`` heading) it stands in, and that section names, before the block, the
install line a reader types, as a code span ``pip install ...``; the last such line before
a block is the block's. Distribution names in the line are replaced by the wheels built
here (extras kept); every other requirement comes from the package index.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Each distribution of the workspace: its name as pip spells it, and its source folder.
DISTRIBUTIONS: dict[str, Path] = {
    "focus-middleware": ROOT,
    "flask-focus": ROOT / "integrations" / "flask",
    "django-focus": ROOT / "integrations" / "django",
}

# Left out of the copy a wheel is built from: a stale build/lib (setuptools copies into it
# and packs whatever it holds, deleted modules included), caches, virtualenvs.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".mypy_cache",
    ".pytest_cache", ".hypothesis", "test-artifacts", ".focus-emulator",
)

_HEADING = re.compile(r"^(#{2,3}) (.+)$", re.M)
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
_INSTALL = re.compile(r"`(pip install [^`\n]+)`")
# A line of output that is a warning as Python prints one ("file:line: SomeWarning: ...").
_WARNING = re.compile(r"\b\w*Warning\b")


@dataclass(frozen=True)
class QuickStart:
    """One ```python block of the README and the install line its section gives it."""

    number: int  # 1-based, among the README's python blocks
    section: str
    code: str
    install: str | None  # "pip install ...", as the README prints it; None when not named

    @property
    def name(self) -> str:
        return f"block {self.number} ({self.section})"


def quickstarts(text: str) -> list[QuickStart]:
    """Every python block of ``text`` with its section's install line."""
    found: list[QuickStart] = []
    headings = [(m.start(), m.group(2).strip()) for m in _HEADING.finditer(text)]
    for number, block in enumerate(_BLOCK.finditer(text), start=1):
        start, section = 0, "(top)"
        for position, title in headings:
            if position < block.start():
                start, section = position, title
        installs = _INSTALL.findall(text, start, block.start())
        found.append(QuickStart(number, section, block.group(1), installs[-1] if installs else None))
    return found


@dataclass(frozen=True)
class Built:
    """The wheels of one build, by distribution name, and what the build printed."""

    wheels: dict[str, Path]
    output: str

    @property
    def folder(self) -> Path:
        return next(iter(self.wheels.values())).parent


def build_wheels(outdir: Path) -> Built:
    """``python -m build --wheel`` for each distribution, each from a clean copy of its
    source (see ``_NOT_SOURCE``)."""
    outdir.mkdir(parents=True, exist_ok=True)
    wheels: dict[str, Path] = {}
    output: list[str] = []
    with tempfile.TemporaryDirectory(prefix="focus-wheel-src-") as scratch:
        for name, source in DISTRIBUTIONS.items():
            copy = Path(scratch) / name
            shutil.copytree(source, copy, ignore=_NOT_SOURCE)
            before = set(outdir.glob("*.whl"))
            done = subprocess.run(
                [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(copy)],
                capture_output=True, text=True, timeout=600, env=_clean_env(),
            )
            output.append(done.stdout + done.stderr)
            if done.returncode != 0:
                raise RuntimeError(f"building the {name} wheel failed:\n{done.stdout}{done.stderr}")
            [wheel] = set(outdir.glob("*.whl")) - before
            wheels[name] = wheel
    return Built(wheels, "\n".join(output))


def install_arguments(line: str, built: Built) -> list[str]:
    """The arguments of a README install line for pip, with each workspace distribution
    (any spelling pip accepts: case, ``_``/``-``) replaced by its wheel, extras kept."""
    words = shlex.split(line)
    if words[:2] != ["pip", "install"] or len(words) < 3:
        raise ValueError(f"not a pip install line: {line!r}")
    arguments: list[str] = []
    for word in words[2:]:
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?", word)
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""
        if match and name in built.wheels:
            arguments.append(f"{built.wheels[name]}{match.group(2) or ''}")
        else:
            arguments.append(word)
    # A distribution that requires another of the workspace finds it among the wheels.
    return ["--find-links", str(built.folder), *arguments]


@dataclass(frozen=True)
class FreshVenv:
    """A virtualenv made with ``python -m venv`` and one install line installed in it."""

    path: Path
    line: str

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def run_block(self, code: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run ``code`` as a reader's script, in a folder of its own (never the checkout,
        whose sources would shadow the installed wheels), DeprecationWarning as errors."""
        with tempfile.TemporaryDirectory(prefix="focus-quickstart-") as folder:
            script = Path(folder) / "quickstart.py"
            script.write_text(code)
            return subprocess.run(
                [str(self.python), "-W", "error::DeprecationWarning", str(script)],
                cwd=folder, capture_output=True, text=True, timeout=timeout, env=_clean_env(),
            )


def make_venv(path: Path, line: str, built: Built) -> FreshVenv:
    """A fresh venv at ``path`` with ``line`` installed: the workspace's wheels from
    ``built``, everything else from the package index (pip's cache reused)."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300, env=_clean_env())
    venv = FreshVenv(path, line)
    done = subprocess.run(
        [str(venv.python), "-m", "pip", "install", "--quiet", *install_arguments(line, built)],
        capture_output=True, text=True, timeout=900, env=_clean_env(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"`{line}` failed in a fresh venv:\n{done.stdout}{done.stderr}")
    return venv


def printed_warnings(stderr: str) -> list[str]:
    """The lines of ``stderr`` that print a warning (DeprecationWarning and Starlette's
    StarletteDeprecationWarning, which is a UserWarning, alike)."""
    return [line for line in stderr.splitlines() if _WARNING.search(line)]


def _clean_env() -> dict[str, str]:
    """This process's environment without what would leak the checkout or its venv into a
    newcomer's (PYTHONPATH, VIRTUAL_ENV, FOCUS_* settings); pip's own settings are kept."""
    return {
        key: value for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONWARNINGS", "PYTHONSTARTUP"}
        and not key.startswith("FOCUS_")
    }
