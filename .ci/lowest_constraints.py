"""Print a pip constraints file pinning each direct runtime dependency of the three
distributions to the lowest version its bounds allow, for the running Python.

Why: a `>=` bound is a promise to users that nothing below it is needed and everything above
it works; only an install of exactly that version checks the first half. `.ci/lowest` installs
the workspace under these pins and runs the suites, so a bound set too low fails CI.

What counts as direct: what a user's `pip install` of a distribution (with the extras people
install) asks for by name. The test tools, the examples and the typing extra are not users'
dependencies, so they are not pinned. A requirement with no lower bound (the integrations'
`focus-middleware`, which is the workspace itself) is not pinned either.

Usage: python .ci/lowest_constraints.py [REPO_ROOT] > constraints.txt
       python .ci/lowest_constraints.py --test-tools [REPO_ROOT]   (the tools the suites need,
       one requirement a line, with the root `test` extra's own bounds; installed unpinned)
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# (pyproject path relative to the repository, extras a user installs)
DISTRIBUTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pyproject.toml", ("fastapi", "emulator", "redis", "otel")),
    ("integrations/flask/pyproject.toml", ("async",)),
    ("integrations/django/pyproject.toml", ("drf",)),
)

# What the suites `.ci/lowest` runs import or load as pytest plugins, by their names in the
# root `test` or `examples` extra (which hold their bounds, so there is one place to raise
# them). DRF and drf-spectacular come pinned with django-focus[drf]. Schemathesis is left out:
# it needs a newer anyio than the core's lowest (4.32 asks anyio>=4.5), so its two test files
# are not run here (see .ci/lowest).
TEST_TOOLS = ("pytest", "pytest-timeout", "pytest-asyncio", "trio", "pytest-django", "python-multipart")

WORKSPACE = {canonicalize_name(n) for n in ("focus-middleware", "flask-focus", "django-focus")}


def lowest(requirement: Requirement) -> Version | None:
    """The smallest version a requirement's specifiers admit, read from its lower bounds
    (`>=`, `==`, `~=`); None when it has none. A `>` bound has no smallest version to pin, so
    it is refused rather than guessed."""
    bounds: list[Version] = []
    for spec in requirement.specifier:
        if spec.operator in (">=", "==", "~=", "==="):
            bounds.append(Version(spec.version))
        elif spec.operator == ">":
            raise SystemExit(f"{requirement}: a '>' bound has no lowest version; write '>=' instead")
    return max(bounds) if bounds else None


def direct_requirements(root: Path) -> list[Requirement]:
    """Each distribution's `dependencies` and the named extras whose markers hold here."""
    found: list[Requirement] = []
    for relative, extras in DISTRIBUTIONS:
        project = tomllib.loads((root / relative).read_text(encoding="utf-8"))["project"]
        lines = list(project.get("dependencies", []))
        optional = project.get("optional-dependencies", {})
        for extra in extras:
            if extra not in optional:
                raise SystemExit(f"{relative}: no extra {extra!r} (update .ci/lowest_constraints.py)")
            lines.extend(optional[extra])
        for line in lines:
            requirement = Requirement(line)
            # The running interpreter's markers (Python 3.11's Django line, not 3.12's).
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                found.append(requirement)
    return found


def constraints(root: Path) -> dict[str, tuple[Version, list[str]]]:
    """Name -> (pin, the requirements it came from). Where one name is required several times
    (flask and flask[async], fastapi in two places), the pin is the highest of the lower
    bounds: the lowest version that satisfies all of them, and it must satisfy every
    specifier, or the bounds contradict each other."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    by_name: dict[str, list[Requirement]] = {}
    for requirement in direct_requirements(root):
        key = canonicalize_name(requirement.name)
        if key in WORKSPACE:
            continue
        by_name.setdefault(key, []).append(requirement)
    for name, requirements in sorted(by_name.items()):
        candidates = [v for v in (lowest(r) for r in requirements) if v is not None]
        if not candidates:
            continue
        pin = max(candidates)
        for requirement in requirements:
            if not requirement.specifier.contains(pin, prereleases=True):
                raise SystemExit(f"{name}: lowest bound {pin} contradicts {requirement}")
        pins[name] = (pin, [str(r) for r in requirements])
    return pins


def test_tools(root: Path) -> list[str]:
    """The root `test` (else `examples`) extra's lines for TEST_TOOLS; a name missing there is
    an error, so a renamed tool is noticed here rather than as an import error in the run."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    by_name: dict[str, str] = {}
    for extra in ("examples", "test"):   # test last: its line wins
        for line in project["optional-dependencies"][extra]:
            by_name[canonicalize_name(Requirement(line).name)] = line
    missing = [name for name in TEST_TOOLS if canonicalize_name(name) not in by_name]
    if missing:
        raise SystemExit(f"pyproject.toml: the test and examples extras have no {', '.join(missing)}")
    return [by_name[canonicalize_name(name)] for name in TEST_TOOLS]


def main() -> None:
    arguments = sys.argv[1:]
    tools = "--test-tools" in arguments
    arguments = [a for a in arguments if a != "--test-tools"]
    root = Path(arguments[0]) if arguments else Path(__file__).resolve().parent.parent
    if tools:
        print("\n".join(test_tools(root)))
        return
    python = ".".join(map(str, sys.version_info[:2]))
    print(f"# Generated by .ci/lowest_constraints.py for Python {python}: each direct dependency at")
    print("# its lowest declared version (from the pyproject.toml files; do not edit by hand).")
    for name, (pin, sources) in constraints(root).items():
        print(f"{name}=={pin}   # {'; '.join(sources)}")


if __name__ == "__main__":
    main()
