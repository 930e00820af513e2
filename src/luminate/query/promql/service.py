"""The Prometheus API's read path for one tenant: PromQL evaluated over series read from
storage, and discovery of labels and series, under the tenant's query budgets."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from luminate.limits.config import source
from luminate.model.errors import ErrorCode, UnprocessableQuery
from luminate.model.promql import Evaluation, Labels, Selector, SeriesMatch, SeriesSamples
from luminate.query.budgets import within_budget
from luminate.query.promql.engine import Evaluator
from luminate.query.promql.values import Value
from luminate.storage.calls import StorageCalls
from luminate.storage.promql import SeriesReads

DISCOVERY_TIMEOUT_S = 30.0
# Series x steps one query may hold in memory (8 bytes each, twice): about 400 MB at most.
MAX_CELLS = 25_000_000


@dataclass
class PromQLService:
    reads: SeriesReads
    calls: StorageCalls

    async def evaluate(self, tenant: str, ev: Evaluation) -> Value:
        """`ev` for `tenant`; over a budget raises UnprocessableQuery naming it."""
        return await within_budget(
            self.calls,
            partial(self._evaluate, tenant, ev),
            timeout_s=ev.timeout_s,
            max_rows_scanned=ev.max_rows_scanned,
            narrow="the selectors",
        )

    def _evaluate(self, tenant: str, ev: Evaluation) -> Value:
        max_series = max(1, min(ev.max_series, MAX_CELLS // ev.steps))

        def fetch(selector: Selector, start_ms: int, end_ms: int) -> list[SeriesSamples]:
            series, _ = self.reads.samples(
                tenant,
                selector.matchers,
                start_ms,
                end_ms,
                max_series=max_series,
                timeout_s=ev.timeout_s,
                max_rows_scanned=ev.max_rows_scanned,
            )
            if len(series) > max_series:
                raise UnprocessableQuery(
                    f"a selector matches more than {max_series} series, the most one query "
                    f"may read at {ev.steps} steps (the query budget "
                    f"{source('query_max_limit')}, and at most {MAX_CELLS} series x steps); "
                    "narrow the selector or the steps",
                    code=ErrorCode.TOO_MANY_SERIES,
                    details={"limit": max_series},
                )
            return series

        return Evaluator(ev, fetch).run()

    async def label_names(self, tenant: str, match: SeriesMatch) -> list[str]:
        return await self.calls.run(
            "discovery",
            partial(self.reads.label_names, tenant, match),
            timeout_s=DISCOVERY_TIMEOUT_S,
        )

    async def label_values(self, tenant: str, name: str, match: SeriesMatch) -> list[str]:
        return await self.calls.run(
            "discovery",
            partial(self.reads.label_values, tenant, name, match),
            timeout_s=DISCOVERY_TIMEOUT_S,
        )

    async def series(self, tenant: str, match: SeriesMatch) -> list[Labels]:
        return await self.calls.run(
            "discovery", partial(self.reads.series, tenant, match), timeout_s=DISCOVERY_TIMEOUT_S
        )
