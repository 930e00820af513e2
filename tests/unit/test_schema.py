from __future__ import annotations

import pytest

from luminate.storage.clickhouse import parse_hosts
from luminate.storage.errors import StorageError
from luminate.storage.schema import (
    Capabilities,
    Promoted,
    Topology,
    add_promoted,
    base_migrations,
    check_supported,
    parse_version,
)
from luminate.storage.sql import check_tenant_scoped

OLD = Capabilities((18, 16, 1))
NEW = Capabilities((25, 8, 1))


def test_cluster_schema_is_replicated_local_tables_behind_distributed_ones() -> None:
    topo = Topology(database="luminate", cluster="luminate_cluster")
    steps = base_migrations(OLD, topo, fsync=True)
    assert steps[0] == "CREATE DATABASE IF NOT EXISTS `luminate` ON CLUSTER `luminate_cluster`"
    local, dist = steps[1], steps[2]
    assert "`luminate`.samples_local ON CLUSTER `luminate_cluster`" in local
    assert (
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/luminate/samples_local_by_lead', "
        "'{replica}')" in local
    )
    assert "Distributed(`luminate_cluster`, `luminate`, samples_local, cityHash64(" in dist
    assert all(" ON CLUSTER " in s for s in steps)
    assert not any("CODEC" in s or "LowCardinality" in s or "fsync" in s for s in steps)


def test_single_server_and_modern_niceties() -> None:
    steps = base_migrations(NEW, Topology(database="luminate"), fsync=False)
    assert "ENGINE = MergeTree " in steps[1]
    assert "timestamp_ms Int64 CODEC(T64, LZ4)" in steps[1]
    assert "tenant_id LowCardinality(String)" in steps[1]
    assert "ORDER BY (tenant_id, metric_name, lead_key, lead, timestamp_ms)" in steps[1]
    assert "non_replicated_deduplication_window" in steps[1]
    assert steps[-1].endswith("fsync_after_insert = 0, fsync_part_directory = 0")
    assert not any("ON CLUSTER" in s for s in steps)


def test_promoted_columns_are_added_to_every_table_and_to_the_dimension_arrays() -> None:
    topo = Topology(database="luminate", cluster="c")
    adding = [Promoted("customer_id"), Promoted("user_id", distinct=True)]
    steps = add_promoted(NEW, topo, adding, ["customer_id", "region", "user_id"])
    alter = steps[0]
    assert alter.startswith("ALTER TABLE `luminate`.samples_local ON CLUSTER `c` ADD COLUMN")
    assert "`dim__customer_id` LowCardinality(String) CODEC(ZSTD(1))" in alter
    assert "`dim__user_id` String CODEC(ZSTD(1))" in alter
    # dim_keys / dim_values keep meaning every dimension of a point, promoted or not.
    assert "['customer_id', 'region', 'user_id']" in alter
    assert "MODIFY COLUMN dim_values Array(String) ALIAS" in alter
    # The Distributed table is recreated from the local one, which now has the column.
    assert steps[1] == "DROP TABLE IF EXISTS `luminate`.samples ON CLUSTER `c`"
    assert steps[2].startswith("CREATE TABLE IF NOT EXISTS `luminate`.samples ON CLUSTER `c` AS")
    assert len(steps) == 3
    assert add_promoted(NEW, topo, [], ["region"]) == []
    assert "CODEC" not in add_promoted(OLD, topo, adding, ["customer_id"])[0]


def test_mutations_on_local_tables_are_tenant_checked() -> None:
    check_tenant_scoped(
        "ALTER TABLE `luminate`.samples_local ON CLUSTER `c` DELETE WHERE tenant_id = 'a' AND x",
        "a",
    )


@pytest.mark.parametrize(
    ("entries", "hosts"),
    [(["a:1", "b"], [("a", 1), ("b", 9000)]), ([" c-0.svc:9440 "], [("c-0.svc", 9440)])],
)
def test_parse_hosts(entries: list[str], hosts: list[tuple[str, int]]) -> None:
    assert parse_hosts(entries) == hosts


@pytest.mark.parametrize("bad", ["a:x", "a:0", "a:70000", ":9000"])
def test_parse_hosts_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_hosts([bad])


def test_server_versions() -> None:
    assert parse_version("18.16.1") == (18, 16, 1)
    assert parse_version("26.9.2.1") == (26, 9, 2, 1)
    assert not check_supported((18, 16, 1)).modern
    assert check_supported((25, 8)).modern
    with pytest.raises(StorageError, match=r"older than the oldest supported version 18\.16"):
        check_supported((1, 1, 54343))
    with pytest.raises(StorageError, match="unknown"):
        check_supported(())
