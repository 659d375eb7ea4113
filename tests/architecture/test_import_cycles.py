"""No import circles, and every import at the top of its module (issue 21).

A circle between modules means neither can be understood, tested or moved without the
other, and Python resolves it by import order: a name read during the circle is missing or
half-built depending on which module some caller happened to import first. An import put
at the bottom of a module, or inside a function, to dodge such a circle hides it rather
than removing it, so imports inside functions count here too; only those under ``if
TYPE_CHECKING:`` (never executed) are left out.

A package's ``__init__`` importing its own submodules, to re-export their names, is not a
circle. A submodule importing a name from its own package's ``__init__`` while that
``__init__`` imports the submodule is.
"""

from __future__ import annotations

import ast
from collections import defaultdict

import pytest

from tests.architecture.import_graph import Import, imports, modules, tree


def _graph() -> dict[str, dict[str, list[Import]]]:
    """Module → module it imports → the statements that do it (run-time imports of ours)."""
    ours = modules()
    graph: dict[str, dict[str, list[Import]]] = {name: defaultdict(list) for name in ours}
    for name in ours:
        for found in imports(name):
            if found.type_checking or found.target not in ours or found.target == name:
                continue
            graph[name][found.target].append(found)
    return graph


def _circles(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _describe(component: list[str], graph: dict[str, dict[str, list[Import]]]) -> str:
    members = set(component)
    edges = [
        f"    {importer} -> {target} ({', '.join(found.where + (' in a function' if found.in_function else '') for found in statements)})"
        for importer in component
        for target, statements in sorted(graph[importer].items())
        if target in members
    ]
    return "circle of " + ", ".join(component) + ":\n" + "\n".join(edges)


def test_the_circle_finder_finds_circles() -> None:
    graph: dict[str, dict[str, list[Import]]] = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert _circles(graph) == [["a", "b", "c"]]


def test_no_import_circles() -> None:
    graph = _graph()
    circles = _circles(graph)
    assert not circles, "\n".join(_describe(component, graph) for component in circles)


def _imports_after_definitions(name: str) -> list[str]:
    late: list[str] = []
    defined = None
    for node in tree(name).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined = defined or node
        elif defined is not None:
            late.extend(
                f"{modules()[name].where(found.lineno)} comes after {defined.name} (line {defined.lineno})"
                for found in ast.walk(node)
                if isinstance(found, ast.Import | ast.ImportFrom)
            )
    return late


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_come_before_definitions(name: str) -> None:
    late = _imports_after_definitions(name)
    assert not late, "an import at the bottom of a module (move it to the top):\n" + "\n".join(late)
