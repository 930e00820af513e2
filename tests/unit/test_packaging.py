"""Packaging tells the truth: every third-party module the package imports at run time is a
declared dependency (a missing one only shows on a clean install). An optional feature's modules
may import what its extra declares (`luminate[loadtest]`), and nothing else may."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "luminate"


def imported_top_level_modules() -> dict[tuple[str, str], None]:
    """(third-party top-level module, file importing it), in file order."""
    found: dict[tuple[str, str], None] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        # Imports under `if TYPE_CHECKING:` are for the type checker only, never run.
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
            for stmt in node.body
            for inner in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "luminate" and top not in sys.stdlib_module_names:
                    found[(top, str(path.relative_to(ROOT)))] = None
    return found


# Package directories of optional features, and the extra that declares what they import.
EXTRAS = {"src/luminate/loadtest/": "loadtest", "src/luminate/client/": "client"}


def declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    if extra is not None:
        deps += project["optional-dependencies"][extra]
    return {normalize(re.split(r"[\[=<>!~ ]", d, maxsplit=1)[0]) for d in deps}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def undeclared(imported: dict[tuple[str, str], None], deps: set[str]) -> list[str]:
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in imported:
        owners = {normalize(d) for d in distributions.get(module, [])}
        extra = next((e for prefix, e in EXTRAS.items() if where.startswith(prefix)), None)
        allowed = deps | (declared(extra) if extra else set())
        if not owners & allowed:
            missing.append(f"{module} (imported by {where}; distribution {sorted(owners)})")
    return missing


def test_every_imported_module_is_a_declared_dependency() -> None:
    imported = imported_top_level_modules()
    assert {"numpy", "msgspec", "chdb", "h11", "matplotlib"} <= {m for m, _ in imported}
    assert undeclared(imported, declared()) == []


def test_the_check_names_an_undeclared_import() -> None:
    missing = undeclared(imported_top_level_modules(), declared() - {"numpy"})
    assert missing and all(m.startswith("numpy (imported by src/luminate/") for m in missing)
