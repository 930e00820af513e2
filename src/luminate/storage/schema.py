"""Table definitions for the three topologies: the embedded engine, one ClickHouse server, and a
replicated cluster (ReplicatedMergeTree local tables behind Distributed tables of the same
names the queries read). DDL may use storage niceties (codecs, LowCardinality, deduplication and
fsync settings) where the server supports them; the columns and their meaning never change, so
the query SQL in `compile.py` is the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from luminate.storage.compile import Layout, promoted_column
from luminate.storage.errors import StorageError
from luminate.storage.sql import Table, ident, quote


@dataclass(frozen=True)
class Capabilities:
    """What the connected engine supports, probed from its version at connect time."""

    version: tuple[int, ...]

    @property
    def modern(self) -> bool:
        # Codecs, LowCardinality without flags, MODIFY SETTING and non-replicated deduplication
        # are all there by 21.8; older servers (Debian's 18.16) get the plain schema.
        return self.version >= (21, 8)

    def string(self, low_cardinality: bool) -> str:
        return "LowCardinality(String)" if low_cardinality and self.modern else "String"

    def codec(self, spec: str) -> str:
        return f" CODEC({spec})" if self.modern else ""


OLDEST_SUPPORTED = (18, 16)


def check_supported(version: tuple[int, ...]) -> Capabilities:
    """Capabilities of a server version, or StorageError when it is too old for the SQL."""
    if version < OLDEST_SUPPORTED:
        shown = ".".join(map(str, version)) or "unknown"
        raise StorageError(
            f"ClickHouse {shown} is older than the oldest supported version "
            f"{'.'.join(map(str, OLDEST_SUPPORTED))}"
        )
    return Capabilities(version)


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.strip().strip('"').split("."):
        if not (piece.isascii() and piece.isdigit()):
            break
        parts.append(int(piece))
    return tuple(parts)


@dataclass(frozen=True)
class Topology:
    """Where the tables live: `database` (None: the engine's default) and `cluster` (None: one
    server). In a cluster, data sits in `<table>_local` and `<table>` is a Distributed table."""

    database: str | None = None
    cluster: str | None = None

    def name(self, table: str) -> str:
        return f"{ident(self.database)}.{table}" if self.database else table

    def on_cluster(self) -> str:
        return f" ON CLUSTER {ident(self.cluster)}" if self.cluster else ""

    def storage_table(self, table: Table) -> str:
        """The table that holds the rows (mutations go there)."""
        return f"{table.value}_local" if self.cluster else table.value


_SAMPLES_ORDER = (
    "PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC')) "
    "ORDER BY (tenant_id, metric_name, timestamp_ms)"
)
# The dimensions sorted by key, so equal sets hash equally whatever order a client sent them in.
_SERIES = "cityHash64(arraySort(dim_keys), arraySort((v, k) -> k, dim_values, dim_keys))"


def samples_columns(caps: Capabilities) -> str:
    # Plain String on purpose: LowCardinality halves insert throughput here (dictionary
    # encoding on every insert) and buys nothing for columns read through the primary key or
    # searched with indexOf. Promoted dimensions, which queries group and filter on, keep it.
    return (
        "tenant_id String, "
        "metric_name String, "
        f"timestamp_ms Int64{caps.codec('Delta, LZ4')}, "
        "value Float64, "
        "dim_keys Array(String), "
        "dim_values Array(String), "
        f"series_id UInt64 MATERIALIZED {_SERIES}"
    )


def _engine(topo: Topology, table: str, engine: str, args: str = "") -> str:
    if not topo.cluster:
        return f"{engine}({args})" if args else engine
    path = quote(f"/clickhouse/tables/{{shard}}/{topo.database}/{table}")
    extra = f", {args}" if args else ""
    return f"Replicated{engine}({path}, '{{replica}}'{extra})"


def _merge_settings(caps: Capabilities, topo: Topology, *, fsync: bool) -> str:
    settings = ["index_granularity = 8192"]
    if caps.modern:
        if not topo.cluster:
            # Replicated tables deduplicate by themselves; a plain one needs a window so that a
            # retried insert with the same token is dropped.
            settings.append("non_replicated_deduplication_window = 1000")
        flag = 1 if fsync else 0
        settings += [f"fsync_after_insert = {flag}", f"fsync_part_directory = {flag}"]
    return f"SETTINGS {', '.join(settings)}"


def create_samples(caps: Capabilities, topo: Topology, *, fsync: bool) -> list[str]:
    local = topo.storage_table(Table.SAMPLES)
    steps = [
        f"CREATE TABLE IF NOT EXISTS {topo.name(local)}{topo.on_cluster()} "
        f"({samples_columns(caps)}) ENGINE = {_engine(topo, local, 'MergeTree')} "
        f"{_SAMPLES_ORDER} {_merge_settings(caps, topo, fsync=fsync)}"
    ]
    if topo.cluster:
        # Sharded by series: a series lives on one shard, and a retried insert splits into the
        # same per-shard blocks, which replicated deduplication then drops.
        shard_key = (
            "cityHash64(tenant_id, metric_name, arraySort(dim_keys), "
            "arraySort((v, k) -> k, dim_values, dim_keys))"
        )
        steps.append(
            f"CREATE TABLE IF NOT EXISTS {topo.name(Table.SAMPLES.value)}{topo.on_cluster()} "
            f"AS {topo.name(local)} ENGINE = Distributed({ident(topo.cluster)}, "
            f"{ident(topo.database or 'default')}, {local}, {shard_key})"
        )
    return steps


def create_retention(caps: Capabilities, topo: Topology) -> list[str]:
    local = topo.storage_table(Table.RETENTION)
    steps = [
        f"CREATE TABLE IF NOT EXISTS {topo.name(local)}{topo.on_cluster()} "
        "(tenant_id String, metric_name String, days UInt32, updated_ms Int64) "
        f"ENGINE = {_engine(topo, local, 'ReplacingMergeTree', 'updated_ms')} "
        "ORDER BY (tenant_id, metric_name)"
    ]
    if topo.cluster:
        steps.append(
            f"CREATE TABLE IF NOT EXISTS {topo.name(Table.RETENTION.value)}{topo.on_cluster()} "
            f"AS {topo.name(local)} ENGINE = Distributed({ident(topo.cluster)}, "
            f"{ident(topo.database or 'default')}, {local}, cityHash64(tenant_id))"
        )
    return steps


def fsync_settings(caps: Capabilities, topo: Topology, *, fsync: bool) -> str | None:
    """Brings an existing table's fsync settings in line with configuration."""
    if not caps.modern:
        return None
    flag = 1 if fsync else 0
    return (
        f"ALTER TABLE {topo.name(topo.storage_table(Table.SAMPLES))}{topo.on_cluster()} "
        f"MODIFY SETTING fsync_after_insert = {flag}, fsync_part_directory = {flag}"
    )


def add_promoted(
    caps: Capabilities,
    topo: Topology,
    layout: Layout,
    existing: set[str],
    existing_local: set[str] | None = None,
) -> list[str]:
    """Statements adding each promoted dimension not yet a column; old parts compute it on
    read. (18.16 has no `ADD COLUMN IF NOT EXISTS`, so the caller passes the existing columns of
    `samples` and, in a cluster, of `samples_local`.) A Distributed table cannot be altered ON
    CLUSTER on 18.16, and it holds no data, so it is recreated from the local table instead."""
    lc = caps.string(low_cardinality=True)
    local = topo.storage_table(Table.SAMPLES)
    have_local = existing if existing_local is None else existing_local
    steps = [
        f"ALTER TABLE {topo.name(local)}{topo.on_cluster()} ADD COLUMN "
        f"{ident(promoted_column(key))} {lc} "
        f"MATERIALIZED arrayElement(dim_values, indexOf(dim_keys, {quote(key)}))"
        for key in sorted(layout.promoted)
        if promoted_column(key) not in have_local
    ]
    stale = any(promoted_column(key) not in existing for key in layout.promoted)
    if topo.cluster and stale:
        steps.append(f"DROP TABLE IF EXISTS {topo.name(Table.SAMPLES.value)}{topo.on_cluster()}")
        steps.append(create_samples(caps, topo, fsync=False)[1])
    return steps


def add_batch_column(topo: Topology, column: str) -> str:
    """The column naming the insert each row came in (journaled embedded stores only): a
    constant per insert, which compresses to almost nothing."""
    return (
        f"ALTER TABLE {topo.name(Table.SAMPLES.value)} ADD COLUMN {ident(column)} UInt64 DEFAULT 0"
    )


def existing_columns(topo: Topology, table: str = Table.SAMPLES.value) -> str:
    database = quote(topo.database) if topo.database else "currentDatabase()"
    return f"SELECT name FROM system.columns WHERE database = {database} AND table = {quote(table)}"


def base_migrations(caps: Capabilities, topo: Topology, *, fsync: bool) -> list[str]:
    """Statements that create or align the tables; all idempotent. Promoted columns follow,
    from `add_promoted`, once the existing columns are known."""
    steps: list[str] = []
    if topo.database:
        steps.append(f"CREATE DATABASE IF NOT EXISTS {ident(topo.database)}{topo.on_cluster()}")
    steps += create_samples(caps, topo, fsync=fsync)
    steps += create_retention(caps, topo)
    modify = fsync_settings(caps, topo, fsync=fsync)
    if modify:
        steps.append(modify)
    return steps
