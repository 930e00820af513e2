"""The dashboard generator in deployments/grafana/generate.py, loaded as a module."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.monitoring.artefacts import REPO

GENERATOR = REPO / "deployments" / "grafana" / "generate.py"


def generator() -> ModuleType:
    name = "luminate_dashboards"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def panel_queries() -> list[tuple[str, str, str, bool]]:
    """(dashboard file, panel title, expression, core) for every panel query."""
    gen = generator()
    return [
        (f"deployments/grafana/dashboards/{board.uid}.json", panel.title, query.expr, panel.core)
        for board in gen.BOARDS
        for panel in board.panels()
        for query in panel.queries
    ]
