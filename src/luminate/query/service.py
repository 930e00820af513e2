"""The read path: queries, discovery and cardinality for one tenant, as model objects."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from luminate.limits.config import TenantLimits
from luminate.model.catalog import Cardinality, DimensionKey, DimensionValue, MetricSummary
from luminate.model.query import Query, QueryLimits, QueryResult, TimeRange
from luminate.query.budgets import within_budget
from luminate.storage.calls import StorageCalls
from luminate.storage.store import Storage

DISCOVERY_TIMEOUT_S = 30.0


@dataclass
class QueryService:
    storage: Storage
    calls: StorageCalls
    limits: QueryLimits

    def budget(self, t: TenantLimits) -> QueryLimits:
        """This tenant's query budgets (defaults and overrides) over the global rules: what a
        query is decoded under, whatever protocol it came in."""
        return replace(
            self.limits,
            max_limit=t.query_max_limit,
            default_limit=min(self.limits.default_limit, t.query_max_limit),
            max_timeout_s=t.query_max_timeout_seconds,
            default_timeout_s=min(self.limits.default_timeout_s, t.query_max_timeout_seconds),
            max_range_s=t.query_max_range_seconds,
            max_rows_scanned=t.query_max_rows_scanned,
        )

    async def query(self, tenant: str, q: Query) -> QueryResult:
        """Run `q` for `tenant`. A query past its time or rows budget is cancelled in the engine
        and raises UnprocessableQuery naming the budget."""
        return await within_budget(
            self.calls,
            partial(self.storage.query, tenant, q),
            timeout_s=q.timeout_s,
            max_rows_scanned=q.max_rows_scanned,
            narrow="add filters",
        )

    async def metrics(
        self, tenant: str, window: TimeRange | None, limit: int
    ) -> tuple[list[MetricSummary], bool]:
        return await self.calls.run(
            "discovery",
            partial(self.storage.metrics, tenant, window, limit),
            timeout_s=DISCOVERY_TIMEOUT_S,
        )

    async def dimension_keys(
        self, tenant: str, metric: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionKey], bool]:
        return await self.calls.run(
            "discovery",
            partial(self.storage.dimension_keys, tenant, metric, window, limit),
            timeout_s=DISCOVERY_TIMEOUT_S,
        )

    async def dimension_values(
        self, tenant: str, metric: str, key: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionValue], bool]:
        return await self.calls.run(
            "discovery",
            partial(self.storage.dimension_values, tenant, metric, key, window, limit),
            timeout_s=DISCOVERY_TIMEOUT_S,
        )

    async def cardinality(self, tenant: str, window: TimeRange | None, top: int) -> Cardinality:
        return await self.calls.run(
            "discovery",
            partial(self.storage.cardinality, tenant, window, top),
            timeout_s=DISCOVERY_TIMEOUT_S,
        )
