"""Loopback ClickHouse clusters for tests: two session-wide ones, started on first use and always
stopped, and one of its own for a test that breaks it.

Registered for the whole suite in tests/conftest.py, so every tier shares one of each. A test
that requests any of them, directly or through another fixture, is marked `clickhouse`, so
`pytest -m "not clickhouse"` runs everything that needs no ClickHouse server; a test that starts
a cluster in any other way without that marker fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clickhouse.harness import Cluster, Topology, missing_dependencies

CLICKHOUSE_FIXTURES = frozenset(
    {"clickhouse_single", "clickhouse_cluster", "clickhouse_own_cluster"}
)


def _start(base_dir: Path, topology: Topology, zk_nodes: int) -> Iterator[Cluster]:
    missing = missing_dependencies()
    if missing:
        # tests/conftest's CI check turns this skip into a failure: the test command installs them.
        pytest.skip(
            f"the ClickHouse test cluster needs {', '.join(missing)}, not installed here; "
            "scripts/setup-tools.sh (as root) installs them"
        )
    cluster = Cluster.start(base_dir, topology, zk_nodes)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def clickhouse_single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One ClickHouse server (cluster luminate_cluster of one shard, one replica), one ZooKeeper."""
    yield from _start(tmp_path_factory.mktemp("clickhouse-single"), "single", zk_nodes=1)


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """luminate_cluster as in production: 2 shards x 2 replicas over a 3-node ZooKeeper ensemble."""
    yield from _start(tmp_path_factory.mktemp("clickhouse-2x2"), "2x2", zk_nodes=3)


@pytest.fixture
def clickhouse_own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh 2x2 cluster for one test, which may kill its nodes and stop its ZooKeeper."""
    yield from _start(tmp_path / "cluster", "2x2", zk_nodes=3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if CLICKHOUSE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.clickhouse)


@pytest.fixture(autouse=True)
def _no_unmarked_cluster(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that would start a cluster without the marker fails, naming itself: otherwise
    `-m "not clickhouse"` would still start servers."""
    if request.node.get_closest_marker("clickhouse"):
        return

    def refuse(*args: object, **kwargs: object) -> Cluster:
        raise RuntimeError(
            f"test {request.node.nodeid} starts a ClickHouse cluster without the clickhouse "
            f"marker; request one of {sorted(CLICKHOUSE_FIXTURES)} or mark it"
        )

    monkeypatch.setattr(Cluster, "start", refuse)
