"""Built overlays, shared by the whole folder (built once per session), and mutation helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.deployment.manifests import (
    OVERLAYS,
    KubectlMissing,
    Manifest,
    build,
    generated_base_name,
)


@pytest.fixture(scope="session")
def builds() -> dict[str, list[Manifest]]:
    try:
        return {overlay: build(overlay) for overlay in OVERLAYS}
    except KubectlMissing as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def production(builds: dict[str, list[Manifest]]) -> list[Manifest]:
    return builds["production"]


def mutated(
    manifests: list[Manifest], kind: str, name: str, change: Callable[[dict[str, Any]], object]
) -> list[Manifest]:
    """A copy of the build with one object changed (by kind and name, hash suffixes ignored)."""
    out = []
    hits = 0
    for m in manifests:
        if m.kind == kind and generated_base_name(m.name) == name:
            changed = m.copy()
            change(changed.doc)
            out.append(changed)
            hits += 1
        else:
            out.append(m)
    assert hits == 1, f"{kind}/{name} not found exactly once"
    return out


def container(doc: dict[str, Any], index: int = 0) -> dict[str, Any]:
    spec = doc["spec"]["template"]["spec"]
    result: dict[str, Any] = spec["containers"][index]
    return result
