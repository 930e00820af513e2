"""Session-wide loopback ClickHouse clusters, started on first use and always stopped.

Registered for the whole suite in tests/conftest.py, so every tier shares one of each."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.clickhouse.harness import Cluster, Topology, missing_dependencies


def _start(factory: pytest.TempPathFactory, topology: Topology, zk_nodes: int) -> Iterator[Cluster]:
    missing = missing_dependencies()
    if missing and os.geteuid() != 0:
        pytest.skip(
            f"the ClickHouse test cluster needs {', '.join(missing)}; as root, "
            "scripts/clickhouse-cluster.sh install (or run the tests as root) installs them"
        )
    cluster = Cluster.start(
        factory.mktemp(f"clickhouse-{topology}"), topology, zk_nodes, install=bool(missing)
    )
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def clickhouse_single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One ClickHouse server (cluster luminate_cluster of one shard, one replica), one ZooKeeper."""
    yield from _start(tmp_path_factory, "single", zk_nodes=1)


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """luminate_cluster as in production: 2 shards x 2 replicas over a 3-node ZooKeeper ensemble."""
    yield from _start(tmp_path_factory, "2x2", zk_nodes=3)
