"""Imports run one way: edge (http, cli, app) -> services -> storage -> model. A module may import
its own layer or a lower one; `observability` and `settings` sit just above the model, and the
model imports nothing of Luminate's but itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("model", ("luminate.model",)),
    ("foundation", ("luminate.settings", "luminate.observability")),
    ("storage", ("luminate.storage",)),
    (
        "services",
        (
            "luminate.auth",
            "luminate.limits",
            "luminate.ingest",
            "luminate.query",
            "luminate.admin",
            "luminate.health",
            "luminate.backup",
        ),
    ),
    (
        "edge",
        (
            "luminate.http",
            "luminate.cli",
            "luminate.app",
            "luminate.server",
            "luminate.ui",
            "luminate.loadtest",
            "luminate.client",
        ),
    ),
]
# The package root only carries the version; every layer may read it.
ROOT = {"luminate", "luminate.__main__"}


def layer_of(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `luminate` import in the file, deferred ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("luminate")]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("luminate")
        ):
            out.append((node.lineno, str(node.module)))
    return out


def violations(graph: dict[str, list[tuple[int, str]]]) -> list[str]:
    found = []
    for module, imports in sorted(graph.items()):
        if module in ROOT:
            continue
        mine = layer_of(module)
        if mine is None:
            found.append(f"{module}: belongs to no layer (add it to LAYERS)")
            continue
        for line, target in imports:
            if target in ROOT:
                continue
            theirs = layer_of(target)
            if theirs is None:
                found.append(f"{module}:{line} imports {target}, which belongs to no layer")
            elif theirs > mine:
                found.append(
                    f"{module}:{line} imports {target}: {LAYERS[mine][0]} may not import "
                    f"{LAYERS[theirs][0]}"
                )
            elif mine == 1 and theirs == 1 and target.split(".")[1] != module.split(".")[1]:
                found.append(f"{module}:{line} imports {target}: {LAYERS[1][0]} modules are leaves")
    return found


def source_graph() -> dict[str, list[tuple[int, str]]]:
    return {module_name(p): imports_of(p) for p in (SRC / "luminate").rglob("*.py")}


def test_imports_run_one_way() -> None:
    graph = source_graph()
    assert len(graph) > 50
    assert violations(graph) == []


@pytest.mark.parametrize(
    ("module", "target", "expected"),
    [
        ("luminate.model.points", "luminate.storage.store", "model may not import storage"),
        ("luminate.storage.reads", "luminate.query.service", "storage may not import services"),
        ("luminate.ingest.service", "luminate.http.errors", "services may not import edge"),
        ("luminate.observability.metrics", "luminate.settings", "modules are leaves"),
        ("luminate.query.service", "luminate.nowhere", "belongs to no layer"),
    ],
)
def test_a_wrong_way_import_is_named(module: str, target: str, expected: str) -> None:
    graph = source_graph()
    graph[module] = [*graph.get(module, []), (7, target)]
    found = violations(graph)
    assert found == [next(f for f in found if f.startswith(f"{module}:7 imports {target}"))]
    assert expected in found[0]


def test_a_module_outside_every_layer_is_named() -> None:
    graph = {**source_graph(), "luminate.nowhere": []}
    assert violations(graph) == ["luminate.nowhere: belongs to no layer (add it to LAYERS)"]
