"""What a tenant has stored, as discovery and administration report it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSummary:
    name: str
    points: int
    series: int
    first_ms: int
    last_ms: int


@dataclass(frozen=True)
class DimensionKey:
    key: str
    points: int
    values: int


@dataclass(frozen=True)
class DimensionValue:
    value: str
    points: int


@dataclass(frozen=True)
class Cardinality:
    """Distinct series of the tenant, and the metrics and keys with the most of them."""

    series: int
    metrics: list[tuple[str, int]]
    keys: list[tuple[str, int]]


@dataclass(frozen=True)
class RetentionPolicy:
    """How many days of a tenant's points are kept: of one metric, or (metric None) of every
    metric without a policy of its own."""

    tenant: str
    metric: str | None
    days: int
