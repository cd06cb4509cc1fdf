"""The layers, read from the source with ast: no import cycle between the project's modules (function-local
imports included), and the warehouse plumbing imports nothing from the assets above it."""

from __future__ import annotations

import ast

from pipelines.settings import PROJECT_ROOT

PACKAGES = ("assets", "pipelines", "bench")
# Below the assets: connecting, the schema, the catalog, versions, config and settings.
PLUMBING = (
    "pipelines.warehouse",
    "pipelines.versioning",
    "pipelines.catalog",
    "pipelines.config",
    "pipelines.settings",
)


def project_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).glob("*.py")):
            module = package if path.stem == "__init__" else f"{package}.{path.stem}"
            imported = set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                    else []
                )
                names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                imported |= {name for name in names if name.split(".")[0] in PACKAGES and name != module}
            graph[module] = imported
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_between_modules():
    graph = project_imports()
    assert len(graph) > 40  # the walk found the modules
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_warehouse_plumbing_imports_no_asset():
    graph = project_imports()
    assert {module: sorted(d for d in graph[module] if d.startswith("assets")) for module in PLUMBING} == {
        module: [] for module in PLUMBING
    }
