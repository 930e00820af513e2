"""Reading a tenant's points: compiled queries and discovery, rows turned into model values.

Drivers hand rows over loosely typed (the embedded engine's JSON output quotes 64-bit integers);
each value is converted to its model type here, and a value of the wrong kind is a StorageError,
never a silent wrong answer."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import msgspec

from luminate.model.catalog import Cardinality, DimensionKey, DimensionValue, MetricSummary
from luminate.model.query import (
    AggregateRow,
    Query,
    QueryResult,
    QueryType,
    RangePoint,
    RateRow,
    TimeRange,
)
from luminate.storage.compile import (
    Layout,
    compile_cardinality,
    compile_dimension_keys,
    compile_dimension_values,
    compile_metrics,
    compile_query,
)
from luminate.storage.engine import Engine, SelectResult
from luminate.storage.errors import StorageError, StorageTimeout
from luminate.storage.sql import Statement

log = logging.getLogger("luminate.storage")

_RangeRows = list[tuple[int, float, list[str], list[str]]]


def as_int(value: object) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str | float):
        try:
            return int(value)
        except ValueError:
            pass
    raise StorageError(f"engine returned {value!r} where an integer was expected")


def as_float(value: object) -> float:
    """A number; NaN where the engine answered null, which is how its JSON output spells a
    non-finite result (a sum of huge values overflowing to infinity)."""
    if value is None:
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise StorageError(f"engine returned {value!r} where a number was expected")


class Reads:
    def __init__(self, engine: Engine, layout: Callable[[], Layout]) -> None:
        self._engine = engine
        self._current = layout

    @property
    def _layout(self) -> Layout:
        return self._current()

    def select(self, stmt: Statement) -> SelectResult:
        try:
            return self._engine.select(stmt)
        except StorageTimeout:
            raise
        except StorageError:
            log.error("statement failed", extra={"sql": stmt.sql[:500]})
            raise

    def query(self, tenant: str, q: Query) -> QueryResult:
        result = self.select(compile_query(tenant, q, self._layout))
        rows = result.rows
        truncated = len(rows) > q.limit
        rows = rows[: q.limit]
        n = len(q.group_by)
        if q.type is QueryType.RANGE:
            try:
                typed = msgspec.convert(rows, _RangeRows, strict=False)
            except msgspec.ValidationError as exc:
                raise StorageError(f"engine returned malformed range rows: {exc}") from None
            points = [RangePoint(ts, v, dict(zip(k, d, strict=True))) for ts, v, k, d in typed]
            return QueryResult(points, result.rows_read, truncated)
        if q.type is QueryType.RATE:
            rates = [
                RateRow(tuple(str(g) for g in r[:n]), as_int(r[n]), as_float(r[n + 1]))
                for r in rows
            ]
            return QueryResult(rates, result.rows_read, truncated)
        aggs = [
            AggregateRow(
                tuple(str(g) for g in r[:n]),
                as_int(r[n]) if q.interval_ms else None,
                as_float(r[n + 1]),
                count,
            )
            for r in rows
            if (count := as_int(r[n + 2])) > 0
        ]
        # The engine may answer a count from part metadata; never report fewer points scanned
        # than were aggregated.
        scanned = max(result.rows_read, sum(a.count for a in aggs))
        return QueryResult(aggs, scanned, truncated)

    def metrics(
        self, tenant: str, window: TimeRange | None, limit: int
    ) -> tuple[list[MetricSummary], bool]:
        rows = self.select(compile_metrics(tenant, window, limit)).rows
        out = [
            MetricSummary(str(r[0]), as_int(r[1]), as_int(r[2]), as_int(r[3]), as_int(r[4]))
            for r in rows
        ]
        return out[:limit], len(out) > limit

    def dimension_keys(
        self, tenant: str, metric: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionKey], bool]:
        rows = self.select(compile_dimension_keys(tenant, metric, window, limit)).rows
        out = [DimensionKey(str(r[0]), as_int(r[1]), as_int(r[2])) for r in rows]
        return out[:limit], len(out) > limit

    def dimension_values(
        self, tenant: str, metric: str, key: str, window: TimeRange | None, limit: int
    ) -> tuple[list[DimensionValue], bool]:
        stmt = compile_dimension_values(tenant, metric, key, window, limit, self._layout)
        out = [DimensionValue(str(r[0]), as_int(r[1])) for r in self.select(stmt).rows]
        return out[:limit], len(out) > limit

    def cardinality(self, tenant: str, window: TimeRange | None, top: int) -> Cardinality:
        total, metrics, keys = (
            self.select(s).rows for s in compile_cardinality(tenant, window, top)
        )
        return Cardinality(
            series=as_int(total[0][0]) if total else 0,
            metrics=[(str(r[0]), as_int(r[1])) for r in metrics],
            keys=[(str(r[0]), as_int(r[1])) for r in keys],
        )
