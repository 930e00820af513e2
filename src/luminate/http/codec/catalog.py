"""Discovery and cardinality answers."""

from __future__ import annotations

import msgspec

from luminate.model.catalog import Cardinality, DimensionKey, DimensionValue, MetricSummary


class _Out(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, rename="camel"):
    pass


class MetricOut(_Out):
    name: str
    points: int
    series: int
    first_timestamp: int
    last_timestamp: int


class MetricList(_Out):
    metrics: list[MetricOut]
    truncated: bool


class DimensionOut(_Out):
    key: str
    points: int
    distinct_values: int


class DimensionList(_Out):
    metric_name: str
    dimensions: list[DimensionOut]
    truncated: bool


class ValueOut(_Out):
    value: str
    points: int


class DimensionValueList(_Out):
    """Most frequent first."""

    metric_name: str
    key: str
    values: list[ValueOut]
    truncated: bool


class TopMetric(_Out):
    name: str
    estimated_series: int


class TopKey(_Out):
    key: str
    estimated_distinct_values: int


class SeriesLimits(_Out):
    """The tenant's series limits and its current estimate."""

    max_series: int
    max_series_per_metric: int
    estimated_active_series: int


class CardinalityOut(_Out):
    estimated_series: int
    top_metrics: list[TopMetric]
    top_dimension_keys: list[TopKey]
    limits: SeriesLimits | None = None


def metric_list(rows: list[MetricSummary], truncated: bool) -> MetricList:
    return MetricList(
        [MetricOut(m.name, m.points, m.series, m.first_ms, m.last_ms) for m in rows], truncated
    )


def dimension_list(metric: str, rows: list[DimensionKey], truncated: bool) -> DimensionList:
    return DimensionList(metric, [DimensionOut(d.key, d.points, d.values) for d in rows], truncated)


def value_list(
    metric: str, key: str, rows: list[DimensionValue], truncated: bool
) -> DimensionValueList:
    return DimensionValueList(metric, key, [ValueOut(v.value, v.points) for v in rows], truncated)


def cardinality(c: Cardinality, limits: SeriesLimits | None) -> CardinalityOut:
    return CardinalityOut(
        c.series,
        [TopMetric(n, s) for n, s in c.metrics],
        [TopKey(k, s) for k, s in c.keys],
        limits,
    )
