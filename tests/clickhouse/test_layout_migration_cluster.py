"""A 2x2 cluster whose tables are in the previous storage layout (time-sorted, dimensions in two
arrays) migrates to the current one with `Storage.migrate` and `copy_previous_layout`, as
`luminate migrate` runs them: answers are complete while the copy runs and identical after it,
and the previous tables are gone on every server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from luminate.storage.clickhouse import ClickHouseEngine, parse_hosts
from luminate.storage.compile import Layout
from luminate.storage.engine import Column
from luminate.storage.schema import Topology
from luminate.storage.sql import SystemStatement, Table
from luminate.storage.store import Storage
from tests.clickhouse.harness import Cluster
from tests.e2e import previous_layout as prev
from tests.e2e.test_layout_migration import _check_against_oracle, _close

pytestmark = pytest.mark.clickhouse

_SERIES = "cityHash64(arraySort(dim_keys), arraySort((v, k) -> k, dim_values, dim_keys))"


def previous_ddl(db: str, cluster: str) -> list[str]:
    """The previous version's cluster tables, as it created them on ClickHouse 18.16."""
    return [
        f"CREATE DATABASE IF NOT EXISTS `{db}` ON CLUSTER `{cluster}`",
        f"CREATE TABLE IF NOT EXISTS `{db}`.samples_local ON CLUSTER `{cluster}` "
        "(tenant_id String, metric_name String, timestamp_ms Int64, value Float64, "
        f"dim_keys Array(String), dim_values Array(String), series_id UInt64 MATERIALIZED "
        f"{_SERIES}) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{db}/"
        "samples_local', '{replica}') PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ms, "
        "1000), 'UTC')) ORDER BY (tenant_id, metric_name, timestamp_ms) "
        "SETTINGS index_granularity = 8192",
        f"CREATE TABLE IF NOT EXISTS `{db}`.samples ON CLUSTER `{cluster}` AS "
        f"`{db}`.samples_local ENGINE = Distributed(`{cluster}`, `{db}`, samples_local, "
        "cityHash64(tenant_id, metric_name, arraySort(dim_keys), "
        "arraySort((v, k) -> k, dim_values, dim_keys)))",
    ]


@pytest.fixture
def previous_cluster(clickhouse_cluster: Cluster) -> Iterator[Storage]:
    """A database of its own on the shared cluster, written in the previous layout."""
    db = f"luminate_prev_{uuid.uuid4().hex[:8]}"
    cluster = clickhouse_cluster.cluster_name
    hosts = parse_hosts(clickhouse_cluster.hosts)
    user, password = clickhouse_cluster.user, clickhouse_cluster.password
    setup = ClickHouseEngine(
        hosts, database="default", cluster=cluster, user=user, password=password
    )
    try:
        for sql in previous_ddl(db, cluster):
            setup.execute(SystemStatement(sql))
    finally:
        setup.close()
    engine = ClickHouseEngine(hosts, database=db, cluster=cluster, user=user, password=password)
    columns = ("tenant_id", "metric_name", "timestamp_ms", "value", "dim_keys", "dim_values")
    for tenant in prev.TENANTS:
        ps = prev.all_points(tenant)
        # Several inserts, so both shards hold rows of every tenant.
        for i in range(0, len(ps), 1000):
            chunk = ps[i : i + 1000]
            data: list[Column] = [
                [tenant] * len(chunk),
                [p.metric for p in chunk],
                [p.ts for p in chunk],
                [p.value for p in chunk],
                [list(p.dims) for p in chunk],
                [list(p.dims.values()) for p in chunk],
            ]
            engine.insert(Table.SAMPLES, columns, data, f"{db}-{tenant}-{i}")
    storage = Storage(
        engine, Layout(), fsync=False, topology=Topology(database=db, cluster=cluster)
    )
    yield storage
    try:
        engine.execute(SystemStatement(f"DROP DATABASE IF EXISTS `{db}` ON CLUSTER `{cluster}`"))
    finally:
        engine.close()


def _tables(storage: Storage) -> list[list[str]]:
    """Each server's tables in the test's database."""
    db = storage.topology.database
    sql = SystemStatement(f"SELECT name FROM system.tables WHERE database = '{db}' ORDER BY name")
    return [
        [str(r[0]) for r in storage.engine.select_on(replica, sql, 30.0).rows]
        for shard in storage.engine.shards()
        for replica in shard
    ]


def test_a_previous_layout_cluster_migrates_and_answers_identically(
    previous_cluster: Storage,
) -> None:
    storage = previous_cluster
    storage.migrate()
    assert storage.migrating
    during = prev.answers(storage)
    _check_against_oracle(during)

    copied = storage.copy_previous_layout()
    total = sum(len(prev.all_points(t)) for t in prev.TENANTS)
    assert copied == total
    assert not storage.migrating
    after = prev.answers(storage)
    diff = [k for k in during if not _close(during[k], after[k])]
    assert diff == [], f"answers differ after the copy: {diff}"
    # Every key of the previous rows got its own column; the previous tables are gone everywhere.
    assert sorted(storage.layout.promoted) == ["customer_id", "endpoint", "region"]
    for names in _tables(storage):
        assert not any("legacy" in n for n in names), names
        assert {"samples", "samples_local"} <= set(names)
    # A second run finds nothing to do.
    storage.migrate()
    assert storage.copy_previous_layout() == 0
