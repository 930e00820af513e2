"""The storage contract suite runs unchanged against every backend listed in BACKENDS.

A backend fixture yields a migrated `Storage`; the embedded ones run over the session's engine
(`tests/support/engine.py`). Tests isolate themselves by tenant (a fresh id per
test), which is also the tenancy guarantee under test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from luminate.storage.clickhouse import ClickHouseEngine, parse_hosts
from luminate.storage.compile import Layout
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.schema import Topology
from luminate.storage.store import Storage
from tests.clickhouse.harness import Cluster

PROMOTED = frozenset({"customer_id", "endpoint"})


def _embedded(engine: EmbeddedEngine, layout: Layout) -> Storage:
    storage = Storage(engine, layout, fsync=False)
    storage.migrate()
    return storage


# The server backends request their clusters by name at run time, so they carry the marker here.
BACKENDS = [
    "embedded",
    "embedded-promoted",
    pytest.param("clickhouse", marks=pytest.mark.clickhouse),
    pytest.param("cluster", marks=pytest.mark.clickhouse),
]


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, embedded_engine: EmbeddedEngine) -> Storage:
    """Every backend, with dimensions read from arrays and (promoted) from their own columns."""
    if request.param == "embedded":
        return _embedded(embedded_engine, Layout())
    if request.param == "embedded-promoted":
        return _embedded(embedded_engine, Layout(PROMOTED))
    if request.param in ("clickhouse", "cluster"):
        st = request.getfixturevalue(f"{request.param}_storage")
        assert isinstance(st, Storage)
        return st
    raise AssertionError(request.param)


def _server_storage(cluster: Cluster, topology: Topology) -> Iterator[Storage]:
    engine = ClickHouseEngine(
        parse_hosts(cluster.hosts),
        database=topology.database or "default",
        user=cluster.user,
        password=cluster.password,
        cluster=topology.cluster,
    )
    storage = Storage(engine, Layout(PROMOTED), fsync=False, topology=topology)
    storage.migrate()
    yield storage
    engine.close()


@pytest.fixture(scope="session")
def clickhouse_storage(clickhouse_single: Cluster) -> Iterator[Storage]:
    """One ClickHouse server (Debian's 18.16), plain MergeTree tables."""
    yield from _server_storage(clickhouse_single, Topology(database="luminate_contract"))


@pytest.fixture(scope="session")
def cluster_storage(clickhouse_cluster: Cluster) -> Iterator[Storage]:
    """The 2 shards x 2 replicas cluster: replicated local tables behind Distributed ones."""
    yield from _server_storage(
        clickhouse_cluster,
        Topology(database="luminate_contract", cluster=clickhouse_cluster.cluster_name),
    )


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_tenant() -> str:
    return f"o-{uuid.uuid4().hex[:12]}"
