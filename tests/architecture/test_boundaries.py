"""What must never import what (docs/architecture.md, "Import rules").

The core knows no framework: importing any core module must not load a web framework or
the emulator, or an app on Flask would pay for Starlette and a bug fixed in one adapter
could hide behind another. Adapters are glue over the core and do not lean on each other,
with two exceptions that are one framework on top of another: FastAPI is Starlette, so
``focus_middleware.fastapi`` builds on the ASGI adapter; Flask is a WSGI app, so Flask-Focus
builds on the WSGI adapter. django-focus stands on the core alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.architecture.import_graph import ROOT, Import, core_module_names, imports, modules, within

FORBIDDEN_IN_CORE = ("starlette", "werkzeug", "flask", "django", "fastapi", "focus_middleware.testing")

ADAPTERS = (
    "focus_middleware.asgi",
    "focus_middleware.wsgi",
    "focus_middleware.fastapi",
    "flask_focus",
    "django_focus",
)

# The adapters each adapter may build on (itself and the core are always allowed).
ADAPTER_MAY_USE: dict[str, frozenset[str]] = {
    "focus_middleware.asgi": frozenset(),
    "focus_middleware.wsgi": frozenset(),
    "focus_middleware.fastapi": frozenset({"focus_middleware.asgi"}),  # FastAPI is Starlette
    "flask_focus": frozenset({"focus_middleware.wsgi"}),  # Flask is a WSGI app
    "django_focus": frozenset(),
}

# Not the core: the adapters, and the tools built on the core (telemetry subscribes to the
# core's events; the core never asks for it).
NOT_CORE = (*ADAPTERS, "focus_middleware.cli", "focus_middleware.testing", "focus_middleware.telemetry")

# Runs in a fresh interpreter: imports each core module in turn and, for every forbidden
# module that gets loaded, records the stack of our own frames that asked for it, so the
# failure names the core module and the line that pulled it in.
_PROBE = textwrap.dedent(
    """
    import importlib, json, sys, traceback

    FORBIDDEN = {forbidden!r}
    MODULES = {modules!r}
    ROOT = {root!r}
    current = [None]
    found = []

    def forbidden(name):
        return next((f for f in FORBIDDEN if name == f or name.startswith(f + ".")), None)

    class Witness:
        def find_spec(self, name, path=None, target=None):
            family = forbidden(name)
            if family and not any(hit["family"] == family for hit in found):
                frames = [f"{{f.filename[len(ROOT) + 1:]}}:{{f.lineno}}"
                          for f in traceback.extract_stack()[:-1]
                          if f.filename.startswith(ROOT) and "/.venv" not in f.filename]
                found.append({{"module": current[0], "family": family, "loaded": name, "via": frames}})
            return None

    sys.meta_path.insert(0, Witness())
    already = sorted(name for name in sys.modules if forbidden(name))
    for name in MODULES:
        current[0] = name
        importlib.import_module(name)
    after = sorted(name for name in sys.modules if forbidden(name))
    print(json.dumps({{"already": already, "found": found, "after": after}}))
    """
)


def test_no_core_module_loads_a_framework_or_the_emulator() -> None:
    names = core_module_names()
    assert len(names) > 30, names  # the listing found the flat modules
    probe = _PROBE.format(forbidden=FORBIDDEN_IN_CORE, modules=names, root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"importing the core failed:\n{done.stdout}{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not report["already"], f"loaded before any core module was imported: {report['already']}"
    violations = [
        f"importing {hit['module']} loads {hit['loaded']}, via {' -> '.join(hit['via'])}" for hit in report["found"]
    ]
    assert not violations, "the core must import no framework and not the emulator:\n" + "\n".join(violations)
    assert not report["after"], f"loaded by importing the core: {report['after']}"


def _adapter_of(module: str) -> str | None:
    return next((adapter for adapter in ADAPTERS if within(module, adapter)), None)


def _run_time_imports() -> list[Import]:
    return [found for name in sorted(modules()) for found in imports(name) if not found.type_checking]


def test_adapters_do_not_import_each_other() -> None:
    violations = []
    for found in _run_time_imports():
        importer = _adapter_of(found.importer.name)
        target = _adapter_of(found.target)
        if importer is None or target is None or target == importer:
            continue
        if target not in ADAPTER_MAY_USE[importer]:
            violations.append(f"{found.where}: {found.importer.name} imports {found.target}")
    assert not violations, "an adapter imports another adapter:\n" + "\n".join(violations)


def test_django_focus_stands_on_the_core_alone() -> None:
    others = ("focus_middleware.asgi", "focus_middleware.wsgi", "focus_middleware.fastapi", "flask_focus",
              "starlette", "fastapi", "werkzeug", "flask")
    violations = [
        f"{found.where}: imports {found.target}"
        for found in _run_time_imports()
        if within(found.importer.name, "django_focus") and any(within(found.target, other) for other in others)
    ]
    assert not violations, "django-focus imports another framework's glue:\n" + "\n".join(violations)


@pytest.mark.parametrize("core_module", [name for name in core_module_names() if name != "focus_middleware"])
def test_the_core_imports_no_adapter_cli_or_emulator(core_module: str) -> None:
    # ``focus_middleware/__init__.py`` is left out: it is the public facade, naming adapter
    # classes (``from focus_middleware import FocusMiddleware``) that it imports on first use.
    violations = [
        f"{found.where}: imports {found.target}"
        for found in imports(core_module)
        if not found.type_checking and any(within(found.target, part) for part in NOT_CORE)
    ]
    assert not violations, f"{core_module} (core) imports outside the core:\n" + "\n".join(violations)
