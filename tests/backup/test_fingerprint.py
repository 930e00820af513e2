"""Partition sums on the real engine while its background merges run: summing every active part
must not fail, or miscount, when a merge finishes between listing the parts and reading them
(the restored copy a backup is verified against merges as soon as it is restored)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from luminate.backup.fingerprint import (
    PartSum,
    Select,
    active_parts_sql,
    by_partition,
    columns,
    part_sums,
    stored,
)
from luminate.storage.embedded import EmbeddedEngine
from luminate.storage.sql import SystemStatement

DATABASE = "default"


@pytest.fixture
def table(embedded_engine: EmbeddedEngine) -> Iterator[str]:
    """Three parts in each of two partitions, merges stopped until a test merges them."""
    name = f"fingerprint_{uuid.uuid4().hex[:8]}"
    run = embedded_engine.execute
    run(
        SystemStatement(
            f"CREATE TABLE {name} (day UInt32, k String, v Float64) "
            "ENGINE = MergeTree PARTITION BY day ORDER BY k"
        )
    )
    run(SystemStatement(f"SYSTEM STOP MERGES {name}"))
    for i in range(3):
        for day in (20261203, 20261204):
            rows = ", ".join(f"({day}, 'k{i}-{j}', {i * 10 + j}.5)" for j in range(4))
            run(SystemStatement(f"INSERT INTO {name} VALUES {rows}"))
    yield name
    run(SystemStatement(f"DROP TABLE IF EXISTS {name}"))


def _select(engine: EmbeddedEngine) -> Select:
    def select(sql: str) -> list[list[Any]]:
        return engine.select(SystemStatement(sql)).rows

    return select


def test_a_merge_between_listing_and_reading_is_summed_like_the_parts_it_replaced(
    embedded_engine: EmbeddedEngine, table: str
) -> None:
    select = _select(embedded_engine)
    cols = stored(columns(select, DATABASE, table))
    before = by_partition(table, 0, part_sums(select, DATABASE, table, cols))
    assert len(select(active_parts_sql(DATABASE, table))) == 6

    def merging_after_the_listing(sql: str) -> list[list[Any]]:
        rows = select(sql)
        if sql == active_parts_sql(DATABASE, table):
            embedded_engine.execute(SystemStatement(f"SYSTEM START MERGES {table}"))
            embedded_engine.execute(SystemStatement(f"OPTIMIZE TABLE {table} FINAL"))
        return rows

    sums = part_sums(merging_after_the_listing, DATABASE, table, cols)
    assert len(select(active_parts_sql(DATABASE, table))) == 2  # the merge did happen
    assert by_partition(table, 0, sums) == before
    assert {s.partition for s in sums} == {"20261203", "20261204"}
    assert [p.rows for p in before] == [12, 12]


def test_named_parts_that_merged_away_before_reading_are_refused_by_name(
    embedded_engine: EmbeddedEngine, table: str
) -> None:
    select = _select(embedded_engine)
    cols = stored(columns(select, DATABASE, table))
    named = [str(r[0]) for r in select(active_parts_sql(DATABASE, table))]
    embedded_engine.execute(SystemStatement(f"SYSTEM START MERGES {table}"))
    embedded_engine.execute(SystemStatement(f"OPTIMIZE TABLE {table} FINAL"))
    with pytest.raises(LookupError, match="no longer active") as err:
        part_sums(select, DATABASE, table, cols, named)
    assert named[0] in str(err.value)


def test_sums_of_named_parts_are_theirs_alone(embedded_engine: EmbeddedEngine, table: str) -> None:
    select = _select(embedded_engine)
    cols = stored(columns(select, DATABASE, table))
    listed = select(active_parts_sql(DATABASE, table))
    first = str(listed[0][0])
    (only,) = part_sums(select, DATABASE, table, cols, [first])
    assert only == PartSum(first, str(listed[0][1]), 4, only.checksum)
    assert only.checksum != 0
