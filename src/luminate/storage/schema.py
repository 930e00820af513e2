"""Table definitions for the three topologies: the embedded engine, one ClickHouse server, and a
replicated cluster (ReplicatedMergeTree local tables behind Distributed tables of the same
names the queries read). DDL may use storage niceties (codecs, LowCardinality, deduplication and
fsync settings) where the server supports them; the columns and their meaning never change, so
the query SQL in `compile.py` is the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from luminate.storage.compile import promoted_column
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


# Rows sort by the value of their metric's lead dimension before time (see `Layout.equals`), so a
# query for one customer, host or pod reads that value's rows and skips the rest.
_SAMPLES_ORDER = (
    "PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC')) "
    "ORDER BY (tenant_id, metric_name, lead_key, lead, timestamp_ms)"
)
# The dimensions sorted by key, so equal sets hash equally whatever order a client sent them in
# (the same identity the previous layout stored, so series and tie-breaks do not change).
_SERIES = "cityHash64(arraySort({k}), arraySort((v, k) -> k, {v}, {k}))"
# Whether a table has the current layout: the previous one had no lead columns.
LAYOUT_MARKER = "lead_key"


@dataclass(frozen=True)
class Promoted:
    """A dimension key stored in its own column; `distinct` keys (nearly a value per point, such
    as user ids) are plain strings, where a dictionary per part would cost more than it saves."""

    key: str
    distinct: bool = False

    @property
    def column(self) -> str:
        return promoted_column(self.key)

    def type(self, caps: Capabilities) -> str:
        base = "String" if self.distinct else caps.string(low_cardinality=True)
        return f"{base}{caps.codec('ZSTD(1)')}"


def _all_dimensions(keys: list[str]) -> tuple[str, str]:
    """ALIAS expressions of `dim_keys` and `dim_values`: the promoted columns that hold a value,
    then the rest of the point's dimensions (`extra_keys`, `extra_values`)."""
    if not keys:
        return "extra_keys", "extra_values"
    names = ", ".join(quote(k) for k in keys)
    cols = ", ".join(f"toString({ident(promoted_column(k))})" for k in keys)
    return (
        f"arrayConcat(arrayFilter((k, v) -> v != '', [{names}], [{cols}]), extra_keys)",
        f"arrayConcat(arrayFilter(v -> v != '', [{cols}]), extra_values)",
    )


def samples_columns(caps: Capabilities, promoted: Sequence[Promoted] = ()) -> str:
    keys, values = _all_dimensions([p.key for p in promoted])
    zstd = caps.codec("ZSTD(1)")
    # Chosen by measurement on the embedded engine (docs/performance.md): dictionary-encoded
    # tenant and metric (every query filters on them row by row: comparing dictionary indices
    # halves the cost of a scan), LZ4 for the value and the timestamp, which aggregates read in
    # full, ZSTD for what is read little or compresses well.
    lc = caps.string(low_cardinality=True)
    cols = [
        f"tenant_id {lc}",
        f"metric_name {lc}",
        f"lead_key {lc}",
        f"lead String{zstd}",
        f"timestamp_ms Int64{caps.codec('T64, LZ4')}",
        f"value Float64{caps.codec('LZ4')}",
        *(f"{ident(p.column)} {p.type(caps)}" for p in promoted),
        f"extra_keys Array(String){zstd}",
        f"extra_values Array(String){zstd}",
        # 1 for rows copied from the previous layout, hidden until the copy is complete.
        "migrated UInt8 DEFAULT 0",
        f"dim_keys Array(String) ALIAS {keys}",
        f"dim_values Array(String) ALIAS {values}",
        # Spelled out: ClickHouse 18.16 cannot define an ALIAS through another one.
        f"series_id UInt64 ALIAS {_SERIES.format(k=keys, v=values)}",
    ]
    return ", ".join(cols)


def _engine(
    topo: Topology, table: str, engine: str, args: str = "", zk_name: str | None = None
) -> str:
    if not topo.cluster:
        return f"{engine}({args})" if args else engine
    path = quote(f"/clickhouse/tables/{{shard}}/{topo.database}/{zk_name or table}")
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


# The replicated samples table's name in ZooKeeper. Not its table name: a cluster migrating from
# the previous layout still holds that layout's table, renamed, under `samples_local`.
SAMPLES_ZK_NAME = "samples_local_by_lead"


def create_samples(
    caps: Capabilities, topo: Topology, *, fsync: bool, promoted: Sequence[Promoted] = ()
) -> list[str]:
    local = topo.storage_table(Table.SAMPLES)
    steps = [
        f"CREATE TABLE IF NOT EXISTS {topo.name(local)}{topo.on_cluster()} "
        f"({samples_columns(caps, promoted)}) "
        f"ENGINE = {_engine(topo, local, 'MergeTree', zk_name=SAMPLES_ZK_NAME)} "
        f"{_SAMPLES_ORDER} {_merge_settings(caps, topo, fsync=fsync)}"
    ]
    if topo.cluster:
        steps.append(_distributed(topo, Table.SAMPLES.value, local))
    return steps


# Luminate inserts into the shards' local tables itself; the key only places rows that someone
# inserts through the Distributed table, a metric's lead value on one shard.
_SHARDING_KEY = "cityHash64(tenant_id, metric_name, lead)"


def _distributed(topo: Topology, table: str, local: str, key: str = _SHARDING_KEY) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {topo.name(table)}{topo.on_cluster()} "
        f"AS {topo.name(local)} ENGINE = Distributed({ident(topo.cluster or '')}, "
        f"{ident(topo.database or 'default')}, {local}, {key})"
    )


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
    adding: Sequence[Promoted],
    promoted_after: Sequence[str],
) -> list[str]:
    """Statements giving each of `adding` its own column (new points only: a key is promoted
    before any point carrying it is written, so it is never also in the arrays), and pointing
    `dim_keys`/`dim_values` at the columns `promoted_after` (every promoted key, sorted). A
    Distributed table cannot be altered ON CLUSTER on 18.16, and it holds no data, so it is
    recreated from the local table instead."""
    if not adding:
        return []
    local = topo.storage_table(Table.SAMPLES)
    keys, values = _all_dimensions(list(promoted_after))
    actions = [
        *(f"ADD COLUMN {ident(p.column)} {p.type(caps)}" for p in adding),
        f"MODIFY COLUMN dim_keys Array(String) ALIAS {keys}",
        f"MODIFY COLUMN dim_values Array(String) ALIAS {values}",
        f"MODIFY COLUMN series_id UInt64 ALIAS {_SERIES.format(k=keys, v=values)}",
    ]
    steps = [f"ALTER TABLE {topo.name(local)}{topo.on_cluster()} {', '.join(actions)}"]
    if topo.cluster:
        steps.append(f"DROP TABLE IF EXISTS {topo.name(Table.SAMPLES.value)}{topo.on_cluster()}")
        steps.append(_distributed(topo, Table.SAMPLES.value, local))
    return steps


def retire_previous_layout(topo: Topology) -> list[str]:
    """Statements renaming a table of the previous layout out of the way (to `samples_legacy`),
    so the current layout's table takes its name; its rows are then copied over
    (`storage/legacy.py`). Renaming is instant and loses nothing."""
    local = topo.storage_table(Table.SAMPLES)
    legacy_local = topo.storage_table(Table.LEGACY)
    steps = [f"RENAME TABLE {topo.name(local)} TO {topo.name(legacy_local)}{topo.on_cluster()}"]
    if topo.cluster:
        steps.append(f"DROP TABLE IF EXISTS {topo.name(Table.SAMPLES.value)}{topo.on_cluster()}")
        # The previous table has no lead column; nothing is inserted through this one.
        steps.append(_distributed(topo, Table.LEGACY.value, legacy_local, "rand()"))
    return steps


def drop_previous_layout(topo: Topology) -> list[str]:
    steps = [f"DROP TABLE IF EXISTS {topo.name(Table.LEGACY.value)}{topo.on_cluster()}"]
    if topo.cluster:
        steps.append(
            f"DROP TABLE IF EXISTS {topo.name(topo.storage_table(Table.LEGACY))}{topo.on_cluster()}"
        )
    return steps


# The batch column's codec. Rows are sorted by lead dimension, so the batch ids of neighbouring
# rows differ: LZ4 keeps 1.2 bytes/point of them, ZSTD(1) 0.5 (docs/performance.md).
BATCH_CODEC = "ZSTD(1)"


def add_batch_column(caps: Capabilities, topo: Topology, column: str) -> str:
    """The column naming the insert each row came in (journaled embedded stores only)."""
    return (
        f"ALTER TABLE {topo.name(Table.SAMPLES.value)} ADD COLUMN {ident(column)} UInt64 "
        f"DEFAULT 0{caps.codec(BATCH_CODEC)}"
    )


def compress_batch_column(caps: Capabilities, topo: Topology, column: str) -> list[str]:
    """For a batch column added without its codec: parts written or merged from now on use it."""
    if not caps.modern:
        return []
    return [
        f"ALTER TABLE {topo.name(Table.SAMPLES.value)} MODIFY COLUMN {ident(column)} UInt64 "
        f"DEFAULT 0{caps.codec(BATCH_CODEC)}"
    ]


def existing_columns(
    topo: Topology, table: str = Table.SAMPLES.value, fields: Sequence[str] = ("name",)
) -> str:
    """Rows of `fields` of `system.columns` (name, type, compression_codec...), one per column
    of `table`."""
    database = quote(topo.database) if topo.database else "currentDatabase()"
    return (
        f"SELECT {', '.join(fields)} FROM system.columns "
        f"WHERE database = {database} AND table = {quote(table)}"
    )


def create_database(topo: Topology) -> list[str]:
    if not topo.database:
        return []
    return [f"CREATE DATABASE IF NOT EXISTS {ident(topo.database)}{topo.on_cluster()}"]


def base_migrations(
    caps: Capabilities, topo: Topology, *, fsync: bool, promoted: Sequence[Promoted] = ()
) -> list[str]:
    """Statements that create or align the tables; all idempotent. Promoted columns of an
    existing table follow, from `add_promoted`, once the existing columns are known."""
    steps = create_database(topo)
    steps += create_samples(caps, topo, fsync=fsync, promoted=promoted)
    steps += create_retention(caps, topo)
    modify = fsync_settings(caps, topo, fsync=fsync)
    if modify:
        steps.append(modify)
    return steps
