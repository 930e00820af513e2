"""What a tenant has stored, read straight from storage (below every service)."""

from __future__ import annotations

from luminate.model.query import AggregateRow, Aggregation, Query, QueryType, TimeRange
from luminate.model.time import now_ms
from luminate.storage.store import Storage

DAY_MS = 86_400_000


def stored_count(storage: Storage, tenant: str, metric: str) -> int:
    """Points of `metric` the tenant has stored, any time up to a day ahead."""
    q = Query(
        QueryType.AGGREGATE,
        metric,
        TimeRange(0, now_ms() + DAY_MS),
        aggregation=Aggregation.COUNT,
    )
    rows = storage.query(tenant, q).rows
    return sum(int(r.value) for r in rows if isinstance(r, AggregateRow))
