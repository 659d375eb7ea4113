"""The library's own modules and what each imports, read with ``ast`` (nothing is imported).

Shared by the boundary and the circle tests, so both see the same graph: every module of
``focus_middleware``, ``flask_focus`` and ``django_focus``, every import statement in it,
function-level ones included (an import inside a function still ties the two modules
together, it only waits for the first call), each marked when it sits under ``if
TYPE_CHECKING:`` (never executed, so never a dependency at run time).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PACKAGE_DIRS: dict[str, Path] = {
    "focus_middleware": ROOT / "focus_middleware",
    "flask_focus": ROOT / "integrations" / "flask" / "flask_focus",
    "django_focus": ROOT / "integrations" / "django" / "django_focus",
}


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: Path

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def where(self, line: int) -> str:
        return f"{self.path.relative_to(ROOT)}:{line}"


@dataclass(frozen=True, slots=True)
class Import:
    importer: Module
    target: str
    """The module imported: ``a.b.c`` for ``from a.b import c`` when ``c`` is a module of
    ours, else ``a.b``; for a module outside the library, as written."""
    line: int
    type_checking: bool
    in_function: bool

    @property
    def where(self) -> str:
        return self.importer.where(self.line)


@cache
def modules() -> dict[str, Module]:
    """Every module of the three packages, by dotted name (migrations included: they are
    code Django imports)."""
    found: dict[str, Module] = {}
    for top, directory in PACKAGE_DIRS.items():
        for path in sorted(directory.rglob("*.py")):
            parts = path.relative_to(directory).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((top, *parts))
            found[name] = Module(name, path)
    return found


def core_module_names() -> list[str]:
    """The core: ``focus_middleware`` and its flat modules, found by listing the directory."""
    directory = PACKAGE_DIRS["focus_middleware"]
    return ["focus_middleware"] + sorted(
        f"focus_middleware.{path.stem}" for path in directory.glob("*.py") if path.stem != "__init__"
    )


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: Module, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    ours = modules()
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    source = _absolute(module, node)
    submodules = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in ours]
    yield from submodules
    if len(submodules) < len(node.names):
        yield source


def _walk(module: Module, body: list[ast.stmt], type_checking: bool, in_function: bool) -> Iterator[Import]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(module, node):
                yield Import(module, target, node.lineno, type_checking, in_function)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(module, node.body, True, in_function)
            yield from _walk(module, node.orelse, type_checking, in_function)
        else:
            nested = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, ()):
                    block = child.body if isinstance(child, ast.ExceptHandler | ast.match_case) else [child]
                    yield from _walk(module, block, type_checking, in_function or nested)


@cache
def tree(name: str) -> ast.Module:
    module = modules()[name]
    return ast.parse(module.path.read_text(), filename=str(module.path))


@cache
def imports(name: str) -> tuple[Import, ...]:
    """Every import statement of one module, in source order."""
    module = modules()[name]
    return tuple(_walk(module, tree(name).body, False, False))


def top(name: str) -> str:
    return name.split(".", 1)[0]


def within(name: str, prefix: str) -> bool:
    """Whether module ``name`` is ``prefix`` or below it."""
    return name == prefix or name.startswith(prefix + ".")
