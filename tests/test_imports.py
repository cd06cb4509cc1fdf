"""The layers, read from the source with ast: no import cycle between the project's modules (function-local
imports included), and the warehouse plumbing imports nothing from the assets above it."""

from __future__ import annotations

import ast

from pipelines.settings import PROJECT_ROOT

PACKAGES = ("assets", "pipelines", "bench")
# Below the assets: the warehouse package, the config, the settings and the vocabulary.
PLUMBING_OUTSIDE_THE_WAREHOUSE = ("pipelines.config", "pipelines.settings", "pipelines.vocabulary")
# The glue above the assets, which no asset may import.
GLUE = ("pipelines.definitions", "pipelines.automation", "pipelines.cli")


def project_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
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
    assert len(graph) > 60  # the walk found the modules, in the stage folders too
    assert "assets.contacts.merge" in graph and "pipelines.warehouse.render" in graph
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_warehouse_plumbing_imports_no_asset():
    graph = project_imports()
    plumbing = [m for m in graph if m.startswith("pipelines.warehouse")] + list(
        PLUMBING_OUTSIDE_THE_WAREHOUSE
    )
    assert len(plumbing) > 8
    assert {module: sorted(d for d in graph[module] if d.startswith("assets")) for module in plumbing} == {
        module: [] for module in plumbing
    }


def test_no_asset_imports_the_glue_above_it():
    graph = project_imports()
    assets = [m for m in graph if m.startswith("assets")]
    assert {m: sorted(graph[m] & set(GLUE)) for m in assets} == {m: [] for m in assets}


# Which other stages each stage may import (ARCHITECTURE.md): later stages read earlier ones' plain logic,
# never the other way round, except erasure, which regenerates exports.
STAGE_IMPORTS = {
    "ingest": {"validation"},
    "validation": {"ingest"},
    "erasure": {"ingest", "validation", "exports"},
    "contacts": {"erasure"},
    "audience": set(),
    "metrics": set(),
    "exports": {"audience"},
}


def test_each_stage_imports_only_the_stages_it_may():
    graph = project_imports()
    found = {stage: set() for stage in STAGE_IMPORTS}
    for module, imported in graph.items():
        parts = module.split(".")
        if parts[0] != "assets" or len(parts) < 3:
            continue
        found[parts[1]] |= {name.split(".")[1] for name in imported if name.startswith("assets.")} - {
            parts[1]
        }
    assert found == STAGE_IMPORTS
