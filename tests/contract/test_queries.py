"""Every query type and aggregation against the numpy oracle, on every backend."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from luminate.model.query import Aggregation, Query, QueryType, RateRow, TimeRange
from luminate.model.time import now_ms
from luminate.storage.store import Storage
from tests.contract import oracle

SPAN_MS = 3_600_000
START = now_ms() - SPAN_MS - 60_000
WINDOW = TimeRange(START, START + SPAN_MS)
GROUPINGS = [(), ("customer_id",), ("endpoint", "customer_id"), ("region",)]


@pytest.fixture
def loaded(storage: Storage, tenant: str) -> tuple[str, list[oracle.Point]]:
    points = oracle.generate(3000, seed=7, start_ms=START, span_ms=SPAN_MS)
    # A group with a single point and a metric with a single point.
    points.append(oracle.Point("api_latency", START + 10, 42.0, {"customer_id": "solo"}))
    points.append(oracle.Point("single", START + 20, 3.5, {"customer_id": "cust_0"}))
    storage.write([oracle.to_batch(tenant, points)])
    return tenant, points


def _aggregate(
    storage: Storage,
    tenant: str,
    agg: Aggregation,
    group_by: tuple[str, ...],
    filters: dict[str, str],
    interval_ms: int | None,
    metric: str = "api_latency",
    window: TimeRange = WINDOW,
) -> dict[tuple[tuple[str, ...], int], tuple[float, int]]:
    q = Query(
        QueryType.AGGREGATE,
        metric,
        window,
        filters=tuple(sorted(filters.items())),
        aggregation=agg,
        group_by=group_by,
        interval_ms=interval_ms,
        limit=100_000,
    )
    result = storage.query(tenant, q)
    assert not result.truncated
    return {(r.group, r.bucket or 0): (r.value, r.count) for r in result.rows}  # type: ignore[union-attr]


@pytest.mark.parametrize("agg", list(Aggregation), ids=str)
@pytest.mark.parametrize("group_by", GROUPINGS, ids=lambda g: "+".join(g) or "all")
def test_aggregate_matches_oracle(
    storage: Storage,
    loaded: tuple[str, list[oracle.Point]],
    agg: Aggregation,
    group_by: tuple[str, ...],
) -> None:
    tenant, points = loaded
    for filters, interval in [({}, None), ({"endpoint": "/api/e1"}, 600_000)]:
        got = _aggregate(storage, tenant, agg, group_by, filters, interval)
        selected = oracle.select(points, "api_latency", WINDOW.start_ms, WINDOW.end_ms, filters)
        want = oracle.aggregate(selected, agg.value, group_by, interval)
        assert set(got) == set(want)
        for key, (value, count) in got.items():
            exp_value, exp_count, sorted_values = want[key]
            assert count == exp_count, key
            if agg.value.startswith("p"):
                q = int(agg.value[1:]) / 100
                assert oracle.within_rank_error(sorted_values, q, value), (key, value)
            else:
                assert math.isclose(value, exp_value, rel_tol=1e-9, abs_tol=1e-6), (key, value)


@pytest.mark.parametrize("group_by", [(), ("customer_id",), ("endpoint",)], ids=str)
@pytest.mark.parametrize("interval_ms", [60_000, 300_000])
def test_rate_matches_oracle_with_counter_resets(
    storage: Storage, tenant: str, group_by: tuple[str, ...], interval_ms: int
) -> None:
    points = oracle.generate(
        2000, seed=11, start_ms=START, span_ms=SPAN_MS, metric="requests_total", counter=True
    )
    storage.write([oracle.to_batch(tenant, points)])
    q = Query(
        QueryType.RATE,
        "requests_total",
        WINDOW,
        group_by=group_by,
        interval_ms=interval_ms,
        limit=100_000,
    )
    rows = storage.query(tenant, q).rows
    rates = [r for r in rows if isinstance(r, RateRow)]
    assert len(rates) == len(rows), "a rate query answers rate rows"
    got = {(r.group, r.bucket): r.rate for r in rates}
    want = oracle.rate(points, group_by, interval_ms)
    assert set(got) == set(want)
    for key, value in got.items():
        assert math.isclose(value, want[key], rel_tol=1e-9, abs_tol=1e-9), key
    ordered = sorted(points, key=lambda p: (p.series, p.ts, p.value))
    resets = sum(1 for a, b in pairwise(ordered) if a.series == b.series and b.value < a.value)
    assert resets > 10, "the data must exercise counter resets"


def test_empty_range_and_unknown_metric_answer_nothing(
    storage: Storage, loaded: tuple[str, list[oracle.Point]]
) -> None:
    tenant, _ = loaded
    empty = TimeRange(START - 10 * SPAN_MS, START - 9 * SPAN_MS)
    for agg in Aggregation:
        assert _aggregate(storage, tenant, agg, (), {}, None, window=empty) == {}
        assert _aggregate(storage, tenant, agg, ("customer_id",), {}, None, metric="nope") == {}
    rate = Query(QueryType.RATE, "api_latency", empty, interval_ms=60_000)
    assert storage.query(tenant, rate).rows == []
    rng = Query(QueryType.RANGE, "api_latency", empty)
    assert storage.query(tenant, rng).rows == []


def test_single_point(storage: Storage, loaded: tuple[str, list[oracle.Point]]) -> None:
    tenant, _ = loaded
    for agg in Aggregation:
        got = _aggregate(storage, tenant, agg, (), {}, None, metric="single")
        expected = {"count": 1.0, "integral": 0.0}.get(agg.value, 3.5)
        assert got == {((), 0): (expected, 1)}, agg
    rate = Query(QueryType.RATE, "single", WINDOW, interval_ms=60_000)
    assert storage.query(tenant, rate).rows == []


def test_group_with_one_point(storage: Storage, loaded: tuple[str, list[oracle.Point]]) -> None:
    tenant, _ = loaded
    for agg in Aggregation:
        got = _aggregate(storage, tenant, agg, ("customer_id",), {}, None)
        expected = {"count": 1.0, "integral": 0.0}.get(agg.value, 42.0)
        assert got[(("solo",), 0)] == (expected, 1), agg


def test_range_returns_points_in_time_order_up_to_limit(
    storage: Storage, loaded: tuple[str, list[oracle.Point]]
) -> None:
    tenant, points = loaded
    filters = {"customer_id": "cust_2"}
    selected = oracle.select(points, "api_latency", WINDOW.start_ms, WINDOW.end_ms, filters)
    q = Query(
        QueryType.RANGE, "api_latency", WINDOW, filters=(("customer_id", "cust_2"),), limit=100_000
    )
    result = storage.query(tenant, q)
    assert not result.truncated
    assert [p.timestamp for p in result.rows] == sorted(p.ts for p in selected)  # type: ignore[union-attr]
    assert sorted((p.timestamp, p.value) for p in result.rows) == sorted(  # type: ignore[union-attr]
        (p.ts, p.value) for p in selected
    )
    assert all(p.dimensions["customer_id"] == "cust_2" for p in result.rows)  # type: ignore[union-attr]
    assert result.points_scanned >= len(selected)

    limited = storage.query(tenant, Query(QueryType.RANGE, "api_latency", WINDOW, limit=10))
    assert limited.truncated
    assert len(limited.rows) == 10
    first_ten = sorted(
        p.ts for p in oracle.select(points, "api_latency", WINDOW.start_ms, WINDOW.end_ms, {})
    )[:10]
    assert [p.timestamp for p in limited.rows] == first_ten  # type: ignore[union-attr]


def test_time_range_is_half_open(storage: Storage, tenant: str) -> None:
    points = [oracle.Point("edge", START + i * 1000, float(i), {"k": "v"}) for i in range(5)]
    storage.write([oracle.to_batch(tenant, points)])
    q = Query(
        QueryType.AGGREGATE,
        "edge",
        TimeRange(START + 1000, START + 3000),
        aggregation=Aggregation.SUM,
    )
    rows = storage.query(tenant, q).rows
    assert [(r.value, r.count) for r in rows] == [(3.0, 2)]  # type: ignore[union-attr]


def test_aggregate_limit_truncates_groups(
    storage: Storage, loaded: tuple[str, list[oracle.Point]]
) -> None:
    tenant, _ = loaded
    q = Query(
        QueryType.AGGREGATE,
        "api_latency",
        WINDOW,
        aggregation=Aggregation.COUNT,
        group_by=("customer_id",),
        limit=2,
    )
    result = storage.query(tenant, q)
    assert result.truncated
    assert [r.group for r in result.rows] == [("cust_0",), ("cust_1",)]  # type: ignore[union-attr]


# "customer_id" is a promoted dimension (a column of its own) where the backend promotes it,
# "k" never is (the arrays of the remaining dimensions): strings reach the engine both ways.
@pytest.mark.parametrize("key", ["k", "customer_id"])
def test_hostile_filter_values_are_data_not_sql(storage: Storage, tenant: str, key: str) -> None:
    nasty = ["it's", "a\\'b", "x' OR 1=1 --", "FROM samples", "\n\t\0", "ünïcødé ✓", "日本 🚀"]
    points = [oracle.Point("nasty", START + i, float(i), {key: v}) for i, v in enumerate(nasty)]
    storage.write([oracle.to_batch(tenant, points)])
    for i, value in enumerate(nasty):
        q = Query(QueryType.RANGE, "nasty", WINDOW, filters=((key, value),))
        rows = storage.query(tenant, q).rows
        assert [(p.value, p.dimensions[key]) for p in rows] == [(float(i), value)]  # type: ignore[union-attr]
