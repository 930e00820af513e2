"""Guarantees every engine gives: idempotent migrations, retried inserts that do not duplicate,
timeouts that cancel in the engine, and failures translated at the storage boundary."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.model.time import now_ms
from luminate.storage import columns, schema
from luminate.storage.compile import Layout
from luminate.storage.embedded import BACKGROUND_POOL_SIZE, EmbeddedEngine
from luminate.storage.engine import Column
from luminate.storage.errors import StorageError, StorageTimeout
from luminate.storage.journal import JOURNAL_FILE, Journal
from luminate.storage.sql import Statement, SystemStatement, Table
from luminate.storage.store import Storage
from luminate.storage.writes import BATCH_COLUMN
from tests.contract import oracle

NOW = now_ms()
WINDOW = TimeRange(NOW - 3_600_000, NOW + 1)


def _columns(storage: Storage) -> list[str]:
    rows = storage.engine.select(
        SystemStatement(
            "SELECT name FROM system.columns WHERE database = currentDatabase() "
            "AND table = 'samples' ORDER BY name"
        )
    ).rows
    return [str(r[0]) for r in rows]


def test_migrate_is_idempotent(storage: Storage) -> None:
    before = _columns(storage)
    second = storage.migrate()
    assert _columns(storage) == before
    assert not any("ADD COLUMN" in s for s in second), "a second run adds nothing"
    for key in storage.layout.promoted:
        assert f"dim__{key}" in before


def test_a_retried_insert_does_not_duplicate_but_a_new_one_stores(
    storage: Storage, tenant: str
) -> None:
    if not storage.engine.idempotent_inserts:
        pytest.skip(
            f"{storage.backend} {storage.caps.version}: no insert deduplication, so "
            "Storage.write never retries an insert on this engine"
        )
    points = oracle.generate(500, seed=3, start_ms=NOW - 600_000, span_ms=600_000)
    batch = oracle.to_batch(tenant, points)
    insert = columns.build([batch], [columns.groups(batch)], storage.layout.promoted, {})
    names, data = insert.names, insert.data
    storage.engine.insert(Table.SAMPLES, names, data, f"{tenant}-1")
    storage.engine.insert(Table.SAMPLES, names, data, f"{tenant}-1")  # a retry of that insert
    q = Query(QueryType.AGGREGATE, "api_latency", WINDOW, aggregation=Aggregation.COUNT)
    assert storage.query(tenant, q).rows[0].value == 500  # type: ignore[union-attr]
    # The same points written again as new inserts are stored again, except where the engine
    # deduplicates by content (replicated tables on servers without tokens; documented).
    storage.engine.insert(Table.SAMPLES, names, data, f"{tenant}-2")
    storage.engine.insert(Table.SAMPLES, names, data, f"{tenant}-3")
    expected = 500 if storage.engine.content_dedup else 1500
    assert storage.query(tenant, q).rows[0].value == expected  # type: ignore[union-attr]


def test_query_timeout_is_enforced_and_cancelled_in_the_engine(
    storage: Storage, tenant: str
) -> None:
    if storage.engine.min_timeout_s >= 1:
        pytest.skip(
            f"{storage.backend} {storage.caps.version} enforces whole-second timeouts; "
            "this fixture's queries finish sooner"
        )
    rows = 300_000
    points = oracle.generate(
        rows, seed=5, start_ms=NOW - 3_000_000, span_ms=3_000_000, customers=1000, endpoints=50
    )
    storage.write([oracle.to_batch(tenant, points)])
    q = Query(
        QueryType.AGGREGATE,
        "api_latency",
        WINDOW,
        aggregation=Aggregation.INTEGRAL,
        group_by=("customer_id", "endpoint"),
        limit=100_000,
        timeout_s=0.001,
    )
    with pytest.raises(StorageTimeout):
        storage.query(tenant, q)
    # Nothing of it keeps running in the engine.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        running = storage.engine.select(
            SystemStatement(
                "SELECT count() FROM system.processes WHERE query LIKE '%arraySum%' "
                "AND query NOT LIKE '%system.processes%'"
            )
        ).rows[0][0]
        if int(str(running)) == 0:
            break
        time.sleep(0.05)
    assert int(str(running)) == 0
    # With a sane timeout the same query answers and scans every point.
    ok = storage.query(
        tenant,
        Query(
            QueryType.AGGREGATE, "api_latency", WINDOW, aggregation=Aggregation.COUNT, timeout_s=30
        ),
    )
    assert ok.rows[0].value == rows  # type: ignore[union-attr]
    assert ok.points_scanned >= rows


def test_engine_errors_are_translated(storage: Storage) -> None:
    with pytest.raises(StorageError) as info:
        storage.engine.select(
            Statement("SELECT no_such_column FROM samples WHERE tenant_id = 't'", "t")
        )
    assert type(info.value).__module__.startswith("luminate.")


def test_the_embedded_engine_has_threads_for_merges_and_mutations(
    embedded_engine: EmbeddedEngine,
) -> None:
    """chDB's own pool of 2 makes a deletion over a few parts wait up to a second for a slot."""
    rows = embedded_engine.select(
        SystemStatement(
            "SELECT value FROM system.server_settings WHERE name = 'background_pool_size'"
        )
    ).rows
    assert int(str(rows[0][0])) == BACKGROUND_POOL_SIZE >= 4


def _batch_codec(engine: EmbeddedEngine) -> str:
    rows = engine.select(
        SystemStatement(
            schema.existing_columns(schema.Topology(), fields=("name", "compression_codec"))
        )
    ).rows
    return {str(r[0]): str(r[1]) for r in rows}[BATCH_COLUMN]


def test_the_insert_journals_column_is_compressed_and_an_uncompressed_one_is_converted(
    embedded_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """Rows sorted by lead dimension interleave inserts, so their batch ids need ZSTD."""
    journal = Journal(tmp_path / JOURNAL_FILE, fsync=False)
    storage = Storage(embedded_engine, Layout(), fsync=False, journal=journal)
    storage.migrate()
    assert _batch_codec(embedded_engine) == f"CODEC({schema.BATCH_CODEC})"
    # As a store that gained the column before it had a codec.
    embedded_engine.execute(
        SystemStatement(f"ALTER TABLE samples MODIFY COLUMN {BATCH_COLUMN} REMOVE CODEC")
    )
    assert _batch_codec(embedded_engine) == ""
    ran = storage.migrate()
    assert any("MODIFY COLUMN" in s and BATCH_COLUMN in s for s in ran)
    assert _batch_codec(embedded_engine) == f"CODEC({schema.BATCH_CODEC})"
    assert not any(BATCH_COLUMN in s for s in storage.migrate()), "converted once"


def test_a_string_that_is_not_unicode_text_is_a_translated_error_and_stores_nothing(
    storage: Storage, tenant: str
) -> None:
    """Validation keeps such strings out (JSON and protobuf decoders refuse them); should one
    reach an engine anyway, it fails at the storage boundary like any engine error."""
    names = ["tenant_id", "metric_name", "lead_key", "lead", "timestamp_ms", "value"]
    data: list[Column] = [
        [tenant] * 2,
        ["bad_text"] * 2,
        [""] * 2,
        ["ok", "lone \ud800"],
        [NOW, NOW],
        [1.0, 2.0],
    ]
    with pytest.raises(StorageError) as info:
        storage.engine.insert(Table.SAMPLES, names, data, "surrogate-test")
    assert type(info.value).__module__.startswith("luminate.")
    count = Query(QueryType.AGGREGATE, "bad_text", WINDOW, aggregation=Aggregation.COUNT)
    assert storage.query(tenant, count).rows == []
