"""Table definitions. DDL may use storage niceties (codecs, LowCardinality, deduplication and fsync
settings) where the engine supports them; the columns and their meaning never change, so the
query SQL in `compile.py` is the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from luminate.storage.compile import Layout, promoted_column
from luminate.storage.sql import Table, ident, quote


@dataclass(frozen=True)
class Capabilities:
    """What the connected engine supports, probed from its version at connect time."""

    version: tuple[int, ...]

    @property
    def modern(self) -> bool:
        # 20.x brought codecs, LowCardinality by default, non-replicated deduplication (21.x);
        # we treat >= 21.8 as the first "current" server, older ones get the plain schema.
        return self.version >= (21, 8)

    def string(self, low_cardinality: bool) -> str:
        return "LowCardinality(String)" if low_cardinality and self.modern else "String"

    def codec(self, spec: str) -> str:
        return f" CODEC({spec})" if self.modern else ""


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.strip().strip('"').split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


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
        # Series identity: the dimensions sorted by key, so equal sets hash equally whatever
        # order a client sent them in.
        "series_id UInt64 MATERIALIZED "
        "cityHash64(arraySort(dim_keys), arraySort((v, k) -> k, dim_values, dim_keys))"
    )


def create_samples(caps: Capabilities, *, fsync: bool) -> str:
    settings = ["index_granularity = 8192"]
    if caps.modern:
        # A retried insert of the same block is dropped, so retries never duplicate points.
        settings.append("non_replicated_deduplication_window = 1000")
        flag = 1 if fsync else 0
        settings += [f"fsync_after_insert = {flag}", f"fsync_part_directory = {flag}"]
    return (
        f"CREATE TABLE IF NOT EXISTS {Table.SAMPLES.value} ({samples_columns(caps)}) "
        "ENGINE = MergeTree "
        "PARTITION BY toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC')) "
        "ORDER BY (tenant_id, metric_name, timestamp_ms) "
        f"SETTINGS {', '.join(settings)}"
    )


def fsync_settings(caps: Capabilities, *, fsync: bool) -> str | None:
    """Brings an existing table's fsync settings in line with configuration."""
    if not caps.modern:
        return None
    flag = 1 if fsync else 0
    return (
        f"ALTER TABLE {Table.SAMPLES.value} MODIFY SETTING "
        f"fsync_after_insert = {flag}, fsync_part_directory = {flag}"
    )


def add_promoted(caps: Capabilities, layout: Layout, existing: set[str]) -> list[str]:
    """One ALTER per promoted dimension not yet a column; old parts compute it on read.
    (18.16 has no `ADD COLUMN IF NOT EXISTS`, so the caller passes the existing columns.)"""
    lc = caps.string(low_cardinality=True)
    return [
        f"ALTER TABLE {Table.SAMPLES.value} ADD COLUMN "
        f"{ident(promoted_column(key))} {lc} "
        f"MATERIALIZED arrayElement(dim_values, indexOf(dim_keys, {quote(key)}))"
        for key in sorted(layout.promoted)
        if promoted_column(key) not in existing
    ]


EXISTING_COLUMNS = (
    "SELECT name FROM system.columns "
    f"WHERE database = currentDatabase() AND table = '{Table.SAMPLES.value}'"
)


def create_retention(caps: Capabilities) -> str:
    lc = caps.string(low_cardinality=True)
    return (
        f"CREATE TABLE IF NOT EXISTS {Table.RETENTION.value} "
        f"(tenant_id {lc}, metric_name String, days UInt32, updated_ms Int64) "
        "ENGINE = ReplacingMergeTree(updated_ms) ORDER BY (tenant_id, metric_name)"
    )


def base_migrations(caps: Capabilities, *, fsync: bool) -> list[str]:
    """Statements that create or align the tables; all idempotent. Promoted columns follow,
    from `add_promoted`, once the existing columns are known."""
    steps = [create_samples(caps, fsync=fsync), create_retention(caps)]
    modify = fsync_settings(caps, fsync=fsync)
    if modify:
        steps.append(modify)
    return steps
