"""The query model: frozen values decoded once at the edge, compiled by storage into SQL."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class QueryType(StrEnum):
    RANGE = "range"
    AGGREGATE = "aggregate"
    RATE = "rate"


class Aggregation(StrEnum):
    AVG = "avg"
    SUM = "sum"
    COUNT = "count"
    MIN = "min"
    MAX = "max"
    P50 = "p50"
    P95 = "p95"
    P99 = "p99"
    INTEGRAL = "integral"


@dataclass(frozen=True)
class TimeRange:
    """Half-open `[start_ms, end_ms)` in epoch milliseconds."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Query:
    type: QueryType
    metric: str
    time_range: TimeRange
    filters: tuple[tuple[str, str], ...] = ()
    aggregation: Aggregation | None = None
    group_by: tuple[str, ...] = ()
    interval_ms: int | None = None
    limit: int = 1000
    timeout_s: float = 10.0
    max_rows_scanned: int = 0  # the tenant's budget of stored points read; 0: none


@dataclass(frozen=True)
class QueryLimits:
    """The rules a query is decoded under: defaults and the tenant's query budgets."""

    default_limit: int
    max_limit: int
    default_timeout_s: float
    max_timeout_s: float
    max_buckets: int
    max_range_s: int = 0  # 0: no limit
    max_rows_scanned: int = 0  # 0: no limit


@dataclass(frozen=True)
class RangePoint:
    timestamp: int
    value: float
    dimensions: dict[str, str]


@dataclass(frozen=True)
class AggregateRow:
    group: tuple[str, ...]
    bucket: int | None
    value: float
    count: int


@dataclass(frozen=True)
class RateRow:
    group: tuple[str, ...]
    bucket: int
    rate: float


@dataclass(frozen=True)
class QueryResult:
    rows: list[RangePoint] | list[AggregateRow] | list[RateRow]
    points_scanned: int
    truncated: bool
