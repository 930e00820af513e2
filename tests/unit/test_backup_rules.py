"""The rules of backups that need no server: manifests, retention, partition sums, the
statements for current servers, scratch table definitions, bucket names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from luminate.backup import builtin
from luminate.backup.catalog import Entry
from luminate.backup.definitions import DefinitionError, scratch_create
from luminate.backup.errors import ManifestError
from luminate.backup.fingerprint import PartSum, by_partition, differences, schema_differences
from luminate.backup.manifest import (
    Column,
    Manifest,
    PartitionSum,
    Status,
    Strategy,
    decode,
    new_id,
    started,
)
from luminate.backup.objects import Location, parse_bucket
from luminate.backup.retention import expired


def manifest(
    backup_id: str = "20260101T000000Z-abcdef", status: Status = Status.COMPLETE
) -> Manifest:
    return Manifest(
        id=backup_id,
        status=status,
        backend="embedded",
        strategy=Strategy.ENGINE,
        luminate_version="0",
        server_version="26.9",
        database="default",
        schema_version="x",
        tables=[],
        partitions=[PartitionSum("samples", 0, "20260101", 3, 99)],
        started_at="",
        finished_at="",
        size_bytes=1,
        rows=3,
    )


def test_a_manifest_round_trips_and_a_newer_format_is_refused_by_name() -> None:
    m = manifest()
    assert decode(m.encode(), "here") == m
    newer = m.encode().replace(b'"format": 1', b'"format": 2')
    with pytest.raises(ManifestError, match="manifest format 2, newer than the 1"):
        decode(newer, "here")
    with pytest.raises(ManifestError, match="not a readable manifest"):
        decode(m.encode()[:40], "here")
    with pytest.raises(ManifestError, match="not a valid manifest"):
        decode(b'{"format": 1, "id": 3}', "here")


def test_backup_ids_sort_by_start_time() -> None:
    a = new_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    b = new_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert a < b
    assert started(a) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert started("not-an-id") is None


def entry(day: int, status: Status | None) -> Entry:
    moment = datetime(2026, 1, day, 2, tzinfo=UTC)
    backup_id = f"{moment:%Y%m%dT%H%M%SZ}-{day:06x}"
    return Entry(backup_id, moment, manifest(backup_id, status) if status else None)


def test_retention_keeps_the_newest_complete_backup_whatever_the_clock() -> None:
    backups = [entry(1, Status.COMPLETE), entry(5, Status.COMPLETE), entry(9, Status.FAILED)]
    now = datetime(2026, 1, 20, tzinfo=UTC)
    assert [e.id for e in expired(backups, now, 15)] == [backups[0].id]
    assert [e.id for e in expired(backups, now + timedelta(days=3650), 10)] == [
        backups[0].id,
        backups[2].id,
    ]
    assert expired(backups, datetime(2025, 1, 1, tzinfo=UTC), 10) == []
    # Without any complete backup, nothing is protected.
    failed = [entry(1, Status.FAILED)]
    assert expired(failed, now, 10) == failed


def test_an_incomplete_backup_is_pruned_after_a_day_not_before() -> None:
    fresh = entry(19, None)
    now = datetime(2026, 1, 19, 12, tzinfo=UTC)
    assert expired([fresh], now, 30) == []
    assert expired([fresh], now + timedelta(days=1), 30) == [fresh]


def test_partition_sums_add_parts_and_wrap_at_64_bits() -> None:
    top = (1 << 64) - 1
    sums = [PartSum("a", "p1", 2, top), PartSum("b", "p1", 1, 2), PartSum("c", "p2", 5, 7)]
    assert by_partition("t", 1, sums) == [
        PartitionSum("t", 1, "p1", 3, 1),
        PartitionSum("t", 1, "p2", 5, 7),
    ]


def test_differences_name_each_partition_that_differs() -> None:
    want = [PartitionSum("t", 0, "p1", 3, 1), PartitionSum("t", 0, "p2", 5, 7)]
    assert differences(want, list(want)) == []
    found = [PartitionSum("t", 0, "p1", 3, 2), PartitionSum("t", 2, "p3", 1, 1)]
    problems = differences(want, found)
    assert problems == [
        "t partition p1: manifest 3 rows / checksum 0000000000000001, "
        "restored 3 rows / checksum 0000000000000002",
        "t partition p2: missing (5 rows in the manifest)",
        "t partition p3 on shard 2: 1 rows restored that the manifest does not list",
    ]


def test_schema_differences_name_the_column() -> None:
    old = [Column("a", "String"), Column("b", "Float64")]
    new = [Column("a", "String"), Column("b", "Float32"), Column("c", "String", "MATERIALIZED")]
    assert schema_differences(old, new, "t") == [
        "t.b is Float64 in the backup, Float32 here",
        "t.c (String) exists here but not in the backup",
    ]


def test_scratch_tables_are_plain_copies_outside_replication() -> None:
    create = (
        "CREATE TABLE luminate.retention_policies_local (tenant_id String, days UInt32, "
        "updated_ms Int64) ENGINE = ReplicatedReplacingMergeTree("
        "'/clickhouse/tables/{shard}/luminate/retention_policies_local', '{replica}', "
        "updated_ms) ORDER BY tenant_id"
    )
    assert scratch_create(create, "scratch", "c") == (
        "CREATE TABLE `scratch`.`retention_policies_local` ON CLUSTER `c` (tenant_id String, "
        "days UInt32, updated_ms Int64) ENGINE = ReplacingMergeTree(updated_ms) "
        "ORDER BY tenant_id"
    )
    plain = "CREATE TABLE default.samples (a Int64) ENGINE = MergeTree ORDER BY a"
    assert (
        scratch_create(plain, "s")
        == "CREATE TABLE `s`.`samples` (a Int64) ENGINE = MergeTree ORDER BY a"
    )
    with pytest.raises(DefinitionError):
        scratch_create("DROP TABLE x", "s")


def _target(cluster: str | None) -> builtin.Target:
    def refuse(sql: str) -> list[list[object]]:
        raise AssertionError(sql)

    return builtin.Target("luminate", ["samples_local"], cluster, refuse, lambda sql: None)


def test_statements_for_current_servers_cover_the_cluster_once() -> None:
    dest = "S3('https://b.s3.eu-west-1.amazonaws.com/p/id/engine/')"
    assert builtin.backup_sql(_target("c"), dest, "op", 5) == (
        "BACKUP TABLE `luminate`.`samples_local` ON CLUSTER `c` TO "
        "S3('https://b.s3.eu-west-1.amazonaws.com/p/id/engine/') SETTINGS id = 'op', "
        "backup_restore_s3_retry_attempts = 5, backup_restore_s3_retry_max_backoff_ms = 2000 ASYNC"
    )
    assert builtin.restore_sql(
        _target("c"), "luminate", dest, "op", 5, {"allow_different_table_def": 1}
    ) == (
        "RESTORE TABLE `luminate`.`samples_local` AS `luminate`.`samples_local` ON CLUSTER `c` "
        "FROM S3('https://b.s3.eu-west-1.amazonaws.com/p/id/engine/') SETTINGS id = 'op', "
        "backup_restore_s3_retry_attempts = 5, backup_restore_s3_retry_max_backoff_ms = 2000, "
        "allow_different_table_def = 1 ASYNC"
    )
    assert builtin.merges_sql(_target("c"), start=False) == [
        "SYSTEM STOP MERGES ON CLUSTER `c` `luminate`.`samples_local`"
    ]


def test_a_cluster_shard_is_summed_through_cluster_and_its_shard_number() -> None:
    seen: list[str] = []

    def record(sql: str) -> list[list[object]]:
        seen.append(sql)
        return []

    target = builtin.Target("luminate", [], "c", record, lambda s: None)
    select = builtin.shard_select(target, 2)
    select("SELECT name FROM system.parts WHERE database = 'luminate' AND active")
    select("SELECT _part, count() FROM `luminate`.`samples_local` GROUP BY _part")
    assert seen == [
        "SELECT name FROM cluster('c', system.parts) WHERE _shard_num = 2 AND "
        "database = 'luminate' AND active",
        "SELECT _part, count() FROM cluster('c', 'luminate', 'samples_local') "
        "WHERE _shard_num = 2 GROUP BY _part",
    ]


def test_the_engine_index_names_the_captured_parts_per_shard() -> None:
    index = (
        b"<config><contents>"
        b"<file><name>data/default/samples/20260101_1_1_0/count.txt</name></file>"
        b"<file><name>data/default/samples/20260101_1_1_0/a.bin</name></file>"
        b"<file><name>shards/2/replicas/1/data/lum/samples_local/20260102_3_3_0/a.bin</name></file>"
        b"<file><name>metadata/default/samples.sql</name></file>"
        b"</contents></config>"
    )
    assert builtin.captured_parts(index) == {
        (0, "default", "samples"): {"20260101_1_1_0"},
        (2, "lum", "samples_local"): {"20260102_3_3_0"},
    }
    with pytest.raises(ManifestError):
        builtin.captured_parts(b"<config")


def test_bucket_settings_and_engine_urls() -> None:
    assert parse_bucket("s3://luminate-backups") == ("luminate-backups", "")
    assert parse_bucket("s3://b/some/prefix/") == ("b", "some/prefix")
    with pytest.raises(ValueError, match="empty"):
        parse_bucket(" s3:// ")
    aws = Location("b", "p", "", "eu-west-1")
    assert aws.url(aws.key("id", "engine")) == "https://b.s3.eu-west-1.amazonaws.com/p/id/engine"
    local = Location("b", "", "http://127.0.0.1:9000/", "us-east-1")
    assert local.url(local.key("id")) == "http://127.0.0.1:9000/b/id"
