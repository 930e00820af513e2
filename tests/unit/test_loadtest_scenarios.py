"""The load test's bodies are requests the service accepts whole (checked with the service's
own validators), realistic in shape, and every write batch of a run is named by
(tenant, timestamp) across workers, which the recount relies on."""

from __future__ import annotations

import time

import msgspec

from luminate.http.codec.query import decode_query
from luminate.http.codec.write import WriteDecoder
from luminate.ingest.validate import PointValidator
from luminate.loadtest.scenarios import (
    CUSTOMERS,
    METRICS,
    RUN_DIMENSION,
    QueryScenario,
    WriteScenario,
)
from luminate.model.query import QueryLimits

TENANTS = ["t-0", "t-1", "t-2"]
DAY_MS = 24 * 3600 * 1000


def test_write_batches_are_accepted_whole_and_look_like_an_agents_flush() -> None:
    now = time.time_ns() // 1_000_000
    validator = WriteDecoder(
        PointValidator(max_age_ms=7 * DAY_MS, max_future_ms=3600_000, max_points=100_000)
    )
    scenario = WriteScenario(TENANTS, 300, "run1", worker=0, workers=1, seed=7)
    batch = scenario.next_batch(now)
    checked = validator.decode(batch.body, batch.tenant, now)
    assert checked.rejected_count == 0
    assert len(checked.points.names) == batch.points == 300
    assert set(checked.points.names) == set(METRICS)
    assert set(checked.points.timestamps) == {batch.timestamp_ms}
    assert abs(batch.timestamp_ms - now) < 1000
    points = msgspec.json.decode(batch.body)["metrics"]
    assert all(p["dimensions"][RUN_DIMENSION] == "run1" for p in points)
    users = {p["dimensions"]["user_id"] for p in points}
    customers = {p["dimensions"]["customer_id"] for p in points}
    assert len(users) > 290  # high cardinality: nearly every point its own series
    assert 100 < len(customers) <= CUSTOMERS


def test_batches_of_a_run_are_named_by_tenant_and_timestamp_across_workers() -> None:
    workers = 3
    scenarios = [WriteScenario(TENANTS, 10, "r", w, workers, seed=1) for w in range(workers)]
    now = time.time_ns() // 1_000_000
    names = []
    for step in range(200):  # far more batches per millisecond than a real run sends
        for s in scenarios:
            b = s.next_batch(now + step // 50)
            names.append((b.tenant, b.timestamp_ms))
    assert len(names) == len(set(names))
    assert {t for t, _ in names} == set(TENANTS)


def test_queries_decode_into_the_query_model_and_mix_the_kinds() -> None:
    limits = QueryLimits(
        default_limit=1000,
        max_limit=100_000,
        default_timeout_s=10,
        max_timeout_s=60,
        max_buckets=10_000,
    )
    scenario = QueryScenario(TENANTS, worker=0, seed=3)
    kinds = set()
    tenants = set()
    for _ in range(16):
        tenant, body = scenario.next_query()
        tenants.add(tenant)
        decode_query(body, limits, time.time_ns() // 1_000_000)  # raises on anything invalid
        kinds.add(msgspec.json.decode(body)["queryType"])
    assert kinds == {"aggregate", "range", "rate"}
    assert tenants == set(TENANTS)
