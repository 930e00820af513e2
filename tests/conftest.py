"""Test tiers: unit tests never reach an engine. A test that did not declare
`@pytest.mark.storage` gets an engine connector that fails loudly, so nothing reaches storage
by accident."""

from __future__ import annotations

import pytest

from luminate.storage import embedded

TEST_SECRET = "test-secret-0123456789-abcdefghijklmnop"

pytest_plugins = ["tests.clickhouse.fixtures"]


@pytest.fixture(autouse=True)
def _no_accidental_storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("storage") or request.node.get_closest_marker("e2e"):
        return

    def refuse(path: str) -> None:
        raise RuntimeError(
            f"test {request.node.nodeid} opened the storage engine ({path}) without "
            "@pytest.mark.storage"
        )

    monkeypatch.setattr(embedded, "_connect", refuse)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers follow folders: tests/contract talks to engines, tests/e2e to a served process."""
    for item in items:
        path = str(item.path)
        if "/tests/contract/" in path:
            item.add_marker(pytest.mark.storage)
        elif "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)
