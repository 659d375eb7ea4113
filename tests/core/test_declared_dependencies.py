"""Every third-party module the package imports is a declared requirement of its distribution.

A module that arrives only through another package's requirements (``anyio`` through httpx
and starlette) works until that package changes its own. The check reads each module's
imports (ignoring those under ``TYPE_CHECKING`` and those guarded by ``except ImportError``,
which are optional by construction) and compares their distributions with the installed
metadata's ``Requires-Dist`` (https://packaging.python.org/en/latest/specifications/core-metadata/#requires-dist-multiple-use).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import focus_middleware

PACKAGE = Path(focus_middleware.__file__).parent

# Modules that need an extra: the extra that must declare what they import.
EXTRA_OF = {
    "fastapi": "fastapi",
    "cache_redis.py": "redis",
    "jinja.py": "jinja",
    "telemetry": "otel",
    "testing": "emulator",
}

# Loaded only by pytest itself, through the pytest11 entry point.
PROVIDED = {Path("testing/pytest_plugin.py"): {"pytest"}}


def _requirements() -> dict[str | None, set[str]]:
    """Declared distributions by extra (None: the base requirements)."""
    out: dict[str | None, set[str]] = {}
    for line in metadata.requires("focus-middleware") or []:
        name = re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", line)
        out.setdefault(extra.group(1) if extra else None, set()).add(_canonical(name))
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Under ``if TYPE_CHECKING`` or inside a ``try`` that catches ImportError."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test):
            return True
        if isinstance(parent, ast.Try) and node in parent.body:
            caught = " ".join(ast.unparse(h.type) for h in parent.handlers if h.type is not None)
            if "ImportError" in caught or "ModuleNotFoundError" in caught:
                return True
        node = parent
    return False


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if not _guarded(node, parents):
            found.update(name.split(".")[0] for name in names)
    return {n for n in found if n not in sys.stdlib_module_names and n != "focus_middleware"}


def test_every_imported_distribution_is_declared() -> None:
    declared = _requirements()
    base = declared.get(None, set())
    providers = metadata.packages_distributions()
    undeclared: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        extra = EXTRA_OF.get(relative.parts[0])
        allowed = base | declared.get(extra, set()) if extra else base
        # An extra may itself name another extra of ours ("focus-middleware[emulator]").
        for module in _imports(path) - PROVIDED.get(relative, set()):
            dists = {_canonical(d) for d in providers.get(module, [])}
            if not dists & allowed:
                undeclared.append(f"{relative}: imports {module} ({', '.join(sorted(dists)) or 'not installed'})")
    assert not undeclared, "undeclared dependencies:\n" + "\n".join(undeclared)


def test_anyio_is_a_declared_requirement() -> None:
    assert "anyio" in _requirements().get(None, set())
