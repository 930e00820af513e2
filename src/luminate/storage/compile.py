"""Compile the query model, discovery and administration into ClickHouse SQL statements.

One dialect for every engine: the statements below run unchanged on ClickHouse 18.16, on the
embedded engine and on current servers (no Map, no window functions, no DateTime64, no
toStartOfInterval). What may differ between deployments is the `Layout` (which dimensions have
their own column), never the engine version.

Every table exposes `dim_keys` / `dim_values` (all of a point's dimensions) and `series_id`, so a
statement that reads a dimension from the arrays is correct whatever the layout; a promoted
dimension is only faster to read from its own column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from luminate.model.query import Aggregation, Query, QueryType, TimeRange
from luminate.storage.sql import Statement, Table, ident, quote, scan, tenant_predicate

_AGGREGATES = {
    Aggregation.AVG: "avg(value)",
    Aggregation.SUM: "sum(value)",
    Aggregation.COUNT: "toFloat64(count())",
    Aggregation.MIN: "min(value)",
    Aggregation.MAX: "max(value)",
    Aggregation.P50: "quantileExact(0.5)(value)",
    Aggregation.P95: "quantileExact(0.95)(value)",
    Aggregation.P99: "quantileExact(0.99)(value)",
}

# Consecutive (timestamp_ms, value) pairs of one series, sorted by time.
_POINTS = "arraySort(groupArray((timestamp_ms, value)))"
_PAIRS = "arraySlice(pts, 1, length(pts) - 1), arraySlice(pts, 2)"
_T = "tupleElement({}, 1)"
_V = "tupleElement({}, 2)"


def promoted_column(key: str) -> str:
    """Column name of a promoted dimension key."""
    return f"dim__{key}"


@dataclass(frozen=True)
class Layout:
    """Physical layout choices that shape SQL: which dimension keys have their own column. Any
    `Layout` gives correct SQL (an older one, missing keys promoted since, reads those keys from
    the arrays); the current one gives the fastest."""

    promoted: frozenset[str] = frozenset()

    def dimension(self, key: str) -> str:
        """SQL expression for the value of dimension `key` ('' where the point lacks it)."""
        if key in self.promoted:
            return ident(promoted_column(key))
        return f"arrayElement(dim_values, indexOf(dim_keys, {quote(key)}))"

    def has_dimension(self, key: str) -> str:
        if key in self.promoted:
            return f"{ident(promoted_column(key))} != ''"
        return f"has(dim_keys, {quote(key)})"

    def equals(self, key: str, value: str) -> str:
        """`dimension(key) = value`, plus what lets the primary key skip to the rows: every
        row is sorted by the value of its metric's lead dimension (`lead_key`, `lead`), so where
        `key` is the lead, only rows with `lead = value` can match."""
        v = quote(value)
        return f"{self.dimension(key)} = {v} AND (lead_key != {quote(key)} OR lead = {v})"


def _window(time_range: TimeRange | None) -> list[str]:
    if time_range is None:
        return []
    return [f"timestamp_ms >= {time_range.start_ms}", f"timestamp_ms < {time_range.end_ms}"]


def _conditions(q: Query, layout: Layout) -> list[str]:
    conds = [f"metric_name = {quote(q.metric)}", *_window(q.time_range)]
    conds += [layout.equals(k, v) for k, v in q.filters]
    return conds


def compile_query(tenant: str, q: Query, layout: Layout) -> Statement:
    """Statement for `q`; results come back in the column order documented per query type."""
    settings: dict[str, int | float | str] = {"max_execution_time": q.timeout_s}
    if q.max_rows_scanned:
        settings["max_rows_to_read"] = q.max_rows_scanned
    where = scan(Table.SAMPLES, tenant, _conditions(q, layout))
    if q.type is QueryType.RANGE:
        sql = (
            f"SELECT timestamp_ms, value, dim_keys, dim_values {where} "
            f"ORDER BY timestamp_ms, series_id LIMIT {q.limit + 1}"
        )
        return Statement(sql, tenant, settings)
    groups = [f"{layout.dimension(k)} AS g{i}" for i, k in enumerate(q.group_by)]
    names = [f"g{i}" for i in range(len(q.group_by))]
    if q.type is QueryType.RATE:
        return Statement(_rate_sql(q, where, groups, names), tenant, settings)
    # Every aggregate row is (g0.., bucket, value, count); bucket is 0 without an interval.
    # Grouping by the constant bucket also makes an empty range answer no row at all.
    interval = q.interval_ms
    bucket = f"intDiv(timestamp_ms, {interval}) * {interval}" if interval else "0"
    groups.append(f"{bucket} AS bucket")
    names.append("bucket")
    keys = ", ".join(names)
    assert q.aggregation is not None
    if q.aggregation is Aggregation.INTEGRAL:
        # Trapezoids between consecutive points of each series, in value x seconds.
        area = (
            f"arraySum(arrayMap((a, b) -> ({_T.format('b')} - {_T.format('a')}) * "
            f"({_V.format('a')} + {_V.format('b')}) / 2000, {_PAIRS}))"
        )
        sql = (
            f"SELECT {keys}, sum(area) AS v, sum(n) AS c FROM ("
            f"SELECT {', '.join(groups)}, {_POINTS} AS pts, count() AS n, {area} AS area "
            f"{where} GROUP BY {keys}, series_id) "
            f"GROUP BY {keys} ORDER BY {keys} LIMIT {q.limit + 1}"
        )
        return Statement(sql, tenant, settings)
    sql = (
        f"SELECT {', '.join(groups)}, {_AGGREGATES[q.aggregation]} AS v, count() AS c {where} "
        f"GROUP BY {keys} ORDER BY {keys} LIMIT {q.limit + 1}"
    )
    return Statement(sql, tenant, settings)


def _rate_sql(q: Query, where: str, groups: list[str], names: list[str]) -> str:
    interval = q.interval_ms
    assert interval is not None
    # Per series, each increase is attributed to the bucket of its later sample; a decrease
    # means the counter restarted from zero, so the increase is the new value (as Prometheus).
    delta = (
        f"arrayMap((a, b) -> (intDiv({_T.format('b')}, {interval}) * {interval}, "
        f"if({_V.format('b')} >= {_V.format('a')}, {_V.format('b')} - {_V.format('a')}, "
        f"{_V.format('b')})), {_PAIRS})"
    )
    inner_select = ", ".join([*groups, f"{_POINTS} AS pts", f"{delta} AS deltas"])
    inner_group = ", ".join([*names, "series_id"])
    keys = ", ".join([*names, "bucket"])
    return (
        f"SELECT {', '.join([*names, _T.format('d') + ' AS bucket'])}, "
        f"sum({_V.format('d')}) / {interval / 1000!r} AS rate "
        f"FROM (SELECT {inner_select} {where} GROUP BY {inner_group}) "
        f"ARRAY JOIN deltas AS d GROUP BY {keys} ORDER BY {keys} LIMIT {q.limit + 1}"
    )


# -- discovery: what a tenant has stored ------------------------------------------------------


def _scope(tenant: str, metric: str | None, window: TimeRange | None) -> str:
    conds = [] if metric is None else [f"metric_name = {quote(metric)}"]
    return scan(Table.SAMPLES, tenant, conds + _window(window))


def compile_metrics(tenant: str, window: TimeRange | None, limit: int) -> Statement:
    """Rows (name, points, series, first_ms, last_ms), one more than `limit` if truncated."""
    return Statement(
        "SELECT metric_name, count(), uniq(series_id), min(timestamp_ms), max(timestamp_ms) "
        f"{_scope(tenant, None, window)} "
        f"GROUP BY metric_name ORDER BY metric_name LIMIT {limit + 1}",
        tenant,
    )


def compile_dimension_keys(
    tenant: str, metric: str, window: TimeRange | None, limit: int
) -> Statement:
    """Rows (key, points, distinct values), one more than `limit` if truncated."""
    return Statement(
        "SELECT k, count(), uniq(v) FROM (SELECT dim_keys, dim_values "
        f"{_scope(tenant, metric, window)}) "
        f"ARRAY JOIN dim_keys AS k, dim_values AS v GROUP BY k ORDER BY k LIMIT {limit + 1}",
        tenant,
    )


def compile_dimension_values(
    tenant: str, metric: str, key: str, window: TimeRange | None, limit: int, layout: Layout
) -> Statement:
    """Rows (value, points), most frequent first, one more than `limit` if truncated."""
    return Statement(
        f"SELECT {layout.dimension(key)} AS v, count() AS c "
        f"{_scope(tenant, metric, window)} AND {layout.has_dimension(key)} "
        f"GROUP BY v ORDER BY c DESC, v LIMIT {limit + 1}",
        tenant,
    )


def compile_cardinality(
    tenant: str, window: TimeRange | None, top: int
) -> tuple[Statement, Statement, Statement]:
    """Three statements: total series (one row, one column); (metric, series) and (key,
    distinct values) rows, most first, at most `top` each."""
    scope = _scope(tenant, None, window)
    total = Statement(f"SELECT uniq(metric_name, series_id) {scope}", tenant)
    metrics = Statement(
        f"SELECT metric_name, uniq(series_id) AS s {scope} "
        f"GROUP BY metric_name ORDER BY s DESC, metric_name LIMIT {top}",
        tenant,
    )
    keys = Statement(
        f"SELECT k, uniq(v) AS s FROM (SELECT dim_keys, dim_values {scope}) "
        f"ARRAY JOIN dim_keys AS k, dim_values AS v GROUP BY k ORDER BY s DESC, k LIMIT {top}",
        tenant,
    )
    return total, metrics, keys


# -- administration -----------------------------------------------------------------------------


def compile_retention_policies(tenant: str) -> Statement:
    """Rows (metric name or '', days): the latest policy per metric ('' is tenant-wide)."""
    return Statement(
        f"SELECT metric_name, argMax(days, updated_ms) {scan(Table.RETENTION, tenant)} "
        "GROUP BY metric_name ORDER BY metric_name",
        tenant,
    )


def compile_delete_before(
    tenant: str,
    table: str,
    on_cluster: str,
    metric: str | None,
    before_ms: int,
    exclude: Sequence[str] = (),
) -> Statement:
    """The mutation deleting the tenant's points older than `before_ms` from `table` (the
    table holding the rows), of one metric or of all but `exclude`."""
    conds = [f"timestamp_ms < {before_ms}"]
    if metric is not None:
        conds.insert(0, f"metric_name = {quote(metric)}")
    if exclude:
        conds.append(f"metric_name NOT IN ({', '.join(quote(m) for m in exclude)})")
    where = " AND ".join([tenant_predicate(tenant), *conds])
    return Statement(f"ALTER TABLE {table}{on_cluster} DELETE WHERE {where}", tenant)
