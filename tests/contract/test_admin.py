"""Deletion and retention on every backend."""

from __future__ import annotations

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.model.time import now_ms
from luminate.storage.store import Storage
from tests.contract import oracle

DAY = 86_400_000
NOW = now_ms()


def _count(storage: Storage, tenant: str, metric: str) -> int:
    q = Query(QueryType.AGGREGATE, metric, TimeRange(0, NOW + DAY), aggregation=Aggregation.COUNT)
    rows = storage.query(tenant, q).rows
    return int(rows[0].value) if rows else 0  # type: ignore[union-attr]


def test_delete_before_removes_only_older_points_of_one_metric(
    storage: Storage, tenant: str, other_tenant: str
) -> None:
    pts = [
        oracle.Point(m, NOW - i * DAY // 2, 1.0, {"k": "v"}) for m in ("a", "b") for i in range(6)
    ]
    storage.write([oracle.to_batch(tenant, pts), oracle.to_batch(other_tenant, pts)])
    storage.delete_before(tenant, "a", NOW - DAY)
    assert _count(storage, tenant, "a") == 3  # ages 0, 0.5 and exactly 1 day are kept
    assert _count(storage, tenant, "b") == 6
    assert _count(storage, other_tenant, "a") == 6


def test_retention_policies_and_enforcement(
    storage: Storage, tenant: str, other_tenant: str
) -> None:
    pts = [oracle.Point(m, NOW - i * DAY, 1.0, {"k": "v"}) for m in ("a", "b") for i in range(6)]
    storage.write([oracle.to_batch(tenant, pts), oracle.to_batch(other_tenant, pts)])
    storage.set_retention(tenant, None, 3)
    storage.set_retention(tenant, "b", 5)
    storage.set_retention(tenant, "b", 4)  # the latest policy wins
    policies = storage.retention_policies(tenant)
    assert [(p.metric, p.days) for p in policies] == [(None, 3), ("b", 4)]
    assert storage.retention_policies(other_tenant) == []
    assert tenant in storage.tenants_with_retention()

    storage.delete_before(tenant, None, NOW - 3 * DAY, exclude=["b"])
    storage.delete_before(tenant, "b", NOW - 4 * DAY)
    assert _count(storage, tenant, "a") == 4  # ages 0..3 days kept (3 days is not older)
    assert _count(storage, tenant, "b") == 5
    assert _count(storage, other_tenant, "a") == 6
