"""The read path: queries, discovery and cardinality for one tenant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from luminate.errors import ErrorCode, UnprocessableQuery
from luminate.limits.config import TenantLimits, source
from luminate.query.model import AggregateRow, Query, QueryType, RangePoint, RateRow, TimeRange
from luminate.query.request import QueryLimits, decode_query
from luminate.storage.calls import StorageCalls
from luminate.storage.errors import StorageBudgetExceeded, StorageTimeout
from luminate.storage.store import Storage
from luminate.timestamps import now_ms

DISCOVERY_TIMEOUT_S = 30.0


@dataclass
class QueryService:
    storage: Storage
    calls: StorageCalls
    limits: QueryLimits

    def budget(self, t: TenantLimits) -> QueryLimits:
        """This tenant's query budgets (defaults and overrides) over the global rules."""
        return replace(
            self.limits,
            max_limit=t.query_max_limit,
            default_limit=min(self.limits.default_limit, t.query_max_limit),
            max_timeout_s=t.query_max_timeout_seconds,
            default_timeout_s=min(self.limits.default_timeout_s, t.query_max_timeout_seconds),
            max_range_s=t.query_max_range_seconds,
            max_rows_scanned=t.query_max_rows_scanned,
        )

    async def query(self, tenant: str, body: bytes, limits: TenantLimits) -> dict[str, Any]:
        q = decode_query(body, self.budget(limits), now_ms())
        try:
            result = await self.calls.run(
                "query", self.storage.query, tenant, q, timeout_s=q.timeout_s
            )
        except StorageBudgetExceeded:
            raise UnprocessableQuery(
                f"query would read more than {q.max_rows_scanned} stored points, the query "
                f"budget ({source('query_max_rows_scanned')}); narrow the time range or add "
                "filters",
                code=ErrorCode.TOO_MANY_ROWS_SCANNED,
                details={"budget": "query_max_rows_scanned", "limit": q.max_rows_scanned},
            ) from None
        except StorageTimeout:
            raise UnprocessableQuery(
                f"query ran past its time budget of {q.timeout_s:g} s and was cancelled "
                f"(the query's timeout, at most {source('query_max_timeout_seconds')}); "
                "narrow the time range or add filters",
                code=ErrorCode.QUERY_TIMEOUT,
                details={"budget": "query_max_timeout_seconds", "limit": q.timeout_s},
            ) from None
        return {
            "queryType": q.type.value,
            "results": [_encode_row(q, row) for row in result.rows],
            "pointsScanned": result.points_scanned,
            "truncated": result.truncated,
        }

    async def metrics(self, tenant: str, window: TimeRange | None, limit: int) -> dict[str, Any]:
        rows, truncated = await self.calls.run(
            "discovery",
            self.storage.metrics,
            tenant,
            window,
            limit,
            timeout_s=DISCOVERY_TIMEOUT_S,
        )
        return {
            "metrics": [
                {
                    "name": m.name,
                    "points": m.points,
                    "series": m.series,
                    "firstTimestamp": m.first_ms,
                    "lastTimestamp": m.last_ms,
                }
                for m in rows
            ],
            "truncated": truncated,
        }

    async def dimension_keys(
        self, tenant: str, metric: str, window: TimeRange | None, limit: int
    ) -> dict[str, Any]:
        rows, truncated = await self.calls.run(
            "discovery",
            self.storage.dimension_keys,
            tenant,
            metric,
            window,
            limit,
            timeout_s=DISCOVERY_TIMEOUT_S,
        )
        return {
            "metricName": metric,
            "dimensions": [
                {"key": d.key, "points": d.points, "distinctValues": d.values} for d in rows
            ],
            "truncated": truncated,
        }

    async def dimension_values(
        self, tenant: str, metric: str, key: str, window: TimeRange | None, limit: int
    ) -> dict[str, Any]:
        rows, truncated = await self.calls.run(
            "discovery",
            self.storage.dimension_values,
            tenant,
            metric,
            key,
            window,
            limit,
            timeout_s=DISCOVERY_TIMEOUT_S,
        )
        return {
            "metricName": metric,
            "key": key,
            "values": [{"value": v.value, "points": v.points} for v in rows],
            "truncated": truncated,
        }

    async def cardinality(self, tenant: str, window: TimeRange | None, top: int) -> dict[str, Any]:
        c = await self.calls.run(
            "discovery",
            self.storage.cardinality,
            tenant,
            window,
            top,
            timeout_s=DISCOVERY_TIMEOUT_S,
        )
        return {
            "estimatedSeries": c.series,
            "topMetrics": [{"name": n, "estimatedSeries": s} for n, s in c.metrics],
            "topDimensionKeys": [{"key": k, "estimatedDistinctValues": s} for k, s in c.keys],
        }


def _encode_row(q: Query, row: RangePoint | AggregateRow | RateRow) -> dict[str, Any]:
    if isinstance(row, RangePoint):
        return {"timestamp": row.timestamp, "value": row.value, "dimensions": row.dimensions}
    key = {k: (v or None) for k, v in zip(q.group_by, row.group, strict=True)}
    if isinstance(row, RateRow):
        out: dict[str, Any] = {"timestamp": row.bucket, "rate": row.rate}
        if q.group_by:
            out["groupKey"] = key
        return out
    agg: dict[str, Any] = {"groupKey": key, "value": row.value, "count": row.count}
    if q.type is QueryType.AGGREGATE and q.interval_ms:
        agg["timestamp"] = row.bucket
    return agg
