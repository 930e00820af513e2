"""Test tiers: unit tests never reach an engine. A test that did not declare
`@pytest.mark.storage` (or use a ClickHouse server fixture) gets engine connectors that fail
loudly, the embedded engine's and the ClickHouse driver's, so nothing reaches storage by
accident."""

from __future__ import annotations

import pytest

from luminate.storage import clickhouse, embedded

pytest_plugins = ["tests.clickhouse.fixtures", "tests.support.engine"]


@pytest.fixture(autouse=True)
def _no_accidental_storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("storage") or request.node.get_closest_marker("e2e"):
        return
    if {"clickhouse_single", "clickhouse_cluster"} & set(request.fixturenames):
        return

    def refuse(what: object) -> None:
        raise RuntimeError(
            f"test {request.node.nodeid} opened a storage engine ({what}) without "
            "@pytest.mark.storage"
        )

    def refuse_server(**options: object) -> None:
        refuse(f"ClickHouse server {options.get('host')}:{options.get('port')}")

    monkeypatch.setattr(embedded, "_connect", refuse)
    monkeypatch.setattr(clickhouse, "_new_client", refuse_server)


# Folders whose tests run storage in the test process: the contract suite, the app served
# in process, and the services.
STORAGE_TIERS = ("/tests/contract/", "/tests/app/", "/tests/services/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers follow folders: tests/contract, tests/app and tests/services talk to the engine in
    this process, tests/e2e to a served process."""
    for item in items:
        path = str(item.path)
        if any(tier in path for tier in STORAGE_TIERS):
            item.add_marker(pytest.mark.storage)
        elif "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)
