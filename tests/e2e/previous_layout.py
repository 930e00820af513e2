"""A data directory in the previous storage layout, and the migration scenario run against it.

The previous layout's DDL and insert are frozen here exactly as that version of Luminate issued
them (time-sorted table, dimensions in two arrays, a promoted `customer_id` materialized from
them, inserts as JSONCompactColumns). Each step runs in a process of its own (the embedded
engine binds a process to one data directory):

    python -m tests.e2e.previous_layout write DIR     # the previous version's data directory
    python -m tests.e2e.previous_layout write-cut-short DIR  # ... with an insert a crash cut short
    python -m tests.e2e.previous_layout migrate DIR   # migrate in process, print answers as JSON
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.storage.compile import Layout, promoted_column
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.journal import JOURNAL_FILE, Journal
from luminate.storage.store import Storage
from tests.contract import oracle

PREVIOUS_DDL = [
    "CREATE TABLE IF NOT EXISTS samples (tenant_id String, metric_name String, timestamp_ms "
    "Int64 CODEC(Delta, LZ4), value Float64, dim_keys Array(String), dim_values "
    "Array(String), series_id UInt64 MATERIALIZED cityHash64(arraySort(dim_keys), "
    "arraySort((v, k) -> k, dim_values, dim_keys))) ENGINE = MergeTree PARTITION BY "
    "toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC')) ORDER BY (tenant_id, "
    "metric_name, timestamp_ms) SETTINGS index_granularity = 8192, "
    "non_replicated_deduplication_window = 1000, fsync_after_insert = 0, "
    "fsync_part_directory = 0",
    "ALTER TABLE samples ADD COLUMN `dim__customer_id` LowCardinality(String) MATERIALIZED "
    "arrayElement(dim_values, indexOf(dim_keys, 'customer_id'))",
    # The insert journal's column: which insert each row came in.
    "ALTER TABLE samples ADD COLUMN `batch_id` UInt64 DEFAULT 0",
]
PREVIOUS_INSERT = (
    "INSERT INTO samples (tenant_id, metric_name, timestamp_ms, value, dim_keys, dim_values, "
    "batch_id)"
)
# Points of an insert a crash cut short (begun in the journal, never done): never acknowledged,
# so a server starting on the directory removes them, from the previous layout's table.
CUT_SHORT_POINTS = 500
TENANTS = ("acme", "globex")
DAY_MS = 86_400_000
# Three whole UTC days before today, so the points span three partitions and stay within the
# default 7-day write window of the server that later serves them.
START_MS = (int(time.time() * 1000) // DAY_MS - 4) * DAY_MS
SPAN_MS = 3 * DAY_MS
WINDOW = TimeRange(START_MS, START_MS + SPAN_MS)


def points(tenant: str, metric: str = "api_latency", counter: bool = False) -> list[oracle.Point]:
    seed = TENANTS.index(tenant) * 10 + (1 if counter else 0)
    return oracle.generate(
        3_000, seed=seed, start_ms=START_MS, span_ms=SPAN_MS, metric=metric, counter=counter
    )


def all_points(tenant: str) -> list[oracle.Point]:
    return points(tenant) + points(tenant, "requests_total", counter=True)


def _insert(conn: Any, tenant: str, ps: list[oracle.Point], batch_id: int) -> None:
    body = msgspec.json.encode(
        [
            [tenant] * len(ps),
            [p.metric for p in ps],
            [p.ts for p in ps],
            [p.value for p in ps],
            [list(p.dims) for p in ps],
            [list(p.dims.values()) for p in ps],
            [batch_id] * len(ps),
        ]
    )
    inserter = conn.send_insert(PREVIOUS_INSERT, "JSONCompactColumns")
    inserter.append(body)
    inserter.finish()


def write(data_dir: str, cut_short: bool = False) -> None:
    import chdb

    conn = chdb.connect(data_dir)  # type: ignore[no-untyped-call]
    for sql in PREVIOUS_DDL:
        conn.query(sql, "CSV")
    journal = Journal(Path(data_dir) / JOURNAL_FILE, fsync=True)
    for tenant in TENANTS:
        ps = all_points(tenant)
        batch = journal.begin(len(ps))
        _insert(conn, tenant, ps, batch)
        journal.done(batch)
    if cut_short:
        extra = oracle.generate(
            CUT_SHORT_POINTS, seed=99, start_ms=START_MS, span_ms=SPAN_MS, metric="api_latency"
        )
        _insert(conn, TENANTS[0], extra, journal.begin(len(extra)))
    journal.close()
    conn.close()


def write_cut_short(data_dir: str) -> None:
    """The previous version's directory with one insert a crash cut short."""
    write(data_dir, cut_short=True)


QUERIES: dict[str, Query] = {
    "avg_by_customer": Query(
        QueryType.AGGREGATE,
        "api_latency",
        WINDOW,
        aggregation=Aggregation.AVG,
        group_by=("customer_id",),
    ),
    "p95_one_customer_by_endpoint": Query(
        QueryType.AGGREGATE,
        "api_latency",
        WINDOW,
        filters=(("customer_id", "cust_1"),),
        aggregation=Aggregation.P95,
        group_by=("endpoint",),
    ),
    "count_per_hour_region": Query(
        QueryType.AGGREGATE,
        "api_latency",
        WINDOW,
        filters=(("region", "r1"),),
        aggregation=Aggregation.COUNT,
        interval_ms=3_600_000,
    ),
    "integral_by_endpoint": Query(
        QueryType.AGGREGATE,
        "api_latency",
        WINDOW,
        aggregation=Aggregation.INTEGRAL,
        group_by=("endpoint",),
    ),
    "rate_per_day": Query(
        QueryType.RATE, "requests_total", WINDOW, interval_ms=DAY_MS, group_by=("customer_id",)
    ),
    "range_one_customer": Query(
        QueryType.RANGE,
        "api_latency",
        WINDOW,
        filters=(("customer_id", "cust_2"), ("endpoint", "/api/e1")),
        limit=10_000,
    ),
}


def answers(storage: Storage) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tenant in TENANTS:
        for name, q in QUERIES.items():
            out[f"{tenant}/{name}"] = msgspec.to_builtins(storage.query(tenant, q).rows)
        metrics, _ = storage.metrics(tenant, None, 100)
        keys, _ = storage.dimension_keys(tenant, "api_latency", None, 100)
        values, _ = storage.dimension_values(tenant, "api_latency", "endpoint", None, 100)
        out[f"{tenant}/discovery"] = msgspec.to_builtins([metrics, keys, values])
        out[f"{tenant}/cardinality"] = msgspec.to_builtins(storage.cardinality(tenant, None, 10))
    return out


def _partial_copy(data_dir: str) -> None:
    """What an interrupted copy leaves: some rows of the first day copied, marked migrated."""
    import chdb

    day = time.strftime("%Y%m%d", time.gmtime(START_MS / 1000))
    conn = chdb.connect(data_dir)  # type: ignore[no-untyped-call]
    conn.query(
        "INSERT INTO samples (tenant_id, metric_name, lead_key, lead, timestamp_ms, value, "
        f"{promoted_column('customer_id')}, extra_keys, extra_values, migrated) "
        "SELECT tenant_id, metric_name, '', '', timestamp_ms, value, dim__customer_id, "
        "dim_keys, dim_values, 1 FROM samples_legacy WHERE "
        f"toYYYYMMDD(toDateTime(intDiv(timestamp_ms, 1000), 'UTC')) = {day} LIMIT 100",
        "CSV",
    )


def migrate(data_dir: str) -> dict[str, Any]:
    engine = EmbeddedEngine(data_dir)
    try:
        storage = Storage(engine, Layout(), fsync=False)
        storage.migrate()
        result: dict[str, Any] = {"migrating": storage.migrating}
        result["during"] = answers(storage)
        _partial_copy(data_dir)
        result["during_partial"] = answers(storage)
        copied = storage.copy_previous_layout()
        result["copied"] = copied
        result["migrating_after"] = storage.migrating
        result["after"] = answers(storage)
        # A second migration finds nothing left to do.
        storage.migrate()
        result["second_copy"] = storage.copy_previous_layout()
        result["promoted"] = sorted(storage.layout.promoted)
        return result
    finally:
        engine.close()


COMMANDS: dict[str, Callable[[str], object]] = {
    "write": write,
    "write-cut-short": write_cut_short,
    "migrate": migrate,
}

if __name__ == "__main__":
    outcome = COMMANDS[sys.argv[1]](sys.argv[2])
    if outcome is not None:
        sys.stdout.buffer.write(msgspec.json.encode(outcome))
