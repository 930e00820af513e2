"""The layout chosen from the data: dimension keys get their own columns by themselves, keys past
the column cap are kept in the arrays, and either way every query answers the same."""

from __future__ import annotations

import uuid

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.model.time import now_ms
from luminate.storage.store import Storage
from tests.contract import oracle

NOW = now_ms()
WINDOW = TimeRange(NOW - 3_600_000, NOW + 1)


def _points(key: str) -> list[oracle.Point]:
    points = oracle.generate(600, seed=11, start_ms=NOW - 1_800_000, span_ms=1_800_000)
    for i, p in enumerate(points):
        p.dims[key] = f"v{i % 4}"
    return points


def _answers(storage: Storage, tenant: str, key: str) -> list[object]:
    by_key = Query(
        QueryType.AGGREGATE, "api_latency", WINDOW, aggregation=Aggregation.SUM, group_by=(key,)
    )
    one = Query(
        QueryType.AGGREGATE,
        "api_latency",
        WINDOW,
        filters=((key, "v2"),),
        aggregation=Aggregation.COUNT,
    )
    values, _ = storage.dimension_values(tenant, "api_latency", key, None, 10)
    return [storage.query(tenant, by_key).rows, storage.query(tenant, one).rows, values]


def test_a_new_key_gets_its_own_column_and_answers_match_the_oracle(
    storage: Storage, tenant: str
) -> None:
    key = f"k_{uuid.uuid4().hex[:8]}"
    points = _points(key)
    storage.write([oracle.to_batch(tenant, points)])
    assert key in storage.layout.promoted
    by_key, one, values = _answers(storage, tenant, key)
    want = oracle.aggregate(points, "sum", (key,), None)
    assert len(by_key) == len(want)  # type: ignore[arg-type]
    assert one[0].count == sum(1 for p in points if p.dims[key] == "v2")  # type: ignore[index]
    assert sorted(v.value for v in values) == ["v0", "v1", "v2", "v3"]  # type: ignore[attr-defined]


def test_keys_past_the_column_cap_stay_in_the_arrays_and_answer_the_same(
    storage: Storage, tenant: str
) -> None:
    capped = Storage(
        storage.engine,
        storage.layout,
        fsync=False,
        topology=storage.topology,
        max_promoted=0,
    )
    capped.verify_schema()
    key = f"k_{uuid.uuid4().hex[:8]}"
    capped.write([oracle.to_batch(tenant, _points(key))])
    capped.promotions.load()
    assert key not in capped.layout.promoted
    # The same points under another tenant with the key in its own column answer alike.
    other = f"{tenant}-col"
    storage.write([oracle.to_batch(other, _points(key))])
    assert key in storage.layout.promoted
    got = _answers(capped, tenant, key)
    assert got == _answers(storage, other, key)
    assert got[1][0].count == 150  # type: ignore[index]
