"""Two tenants' data for the isolation tests: overlapping metric names, dimension keys and values
(so a leak would show), plus what only one of them has, and old points for retention."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_S = 30.0
MINUTE_MS = 60_000
DAY_MS = 86_400_000
STEP_MS = 20_000
STEPS = 12
SHARED = "http_requests"


@dataclass(frozen=True)
class Point:
    name: str
    timestamp: int
    value: float
    dimensions: dict[str, str]

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "timestamp": self.timestamp,
            "value": self.value,
            "dimensions": self.dimensions,
        }

    def series(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.name, tuple(sorted(self.dimensions.items()))


@dataclass(frozen=True)
class Series:
    name: str
    dimensions: dict[str, str]
    start: float
    step: float


@dataclass
class TenantData:
    """One tenant's points and the view every endpoint must give of them."""

    tenant: str
    points: list[Point] = field(default_factory=list)

    def of(self, name: str) -> list[Point]:
        return [p for p in self.points if p.name == name]

    def names(self) -> list[str]:
        return sorted({p.name for p in self.points})

    def metrics_view(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names():
            pts = self.of(name)
            out.append(
                {
                    "name": name,
                    "points": len(pts),
                    "series": len({p.series() for p in pts}),
                    "firstTimestamp": min(p.timestamp for p in pts),
                    "lastTimestamp": max(p.timestamp for p in pts),
                }
            )
        return out

    def dimensions_view(self, name: str) -> list[dict[str, Any]]:
        points: Counter[str] = Counter()
        values: dict[str, set[str]] = defaultdict(set)
        for p in self.of(name):
            for k, v in p.dimensions.items():
                points[k] += 1
                values[k].add(v)
        return [
            {"key": k, "points": points[k], "distinctValues": len(values[k])}
            for k in sorted(points)
        ]

    def values_view(self, name: str, key: str) -> list[dict[str, Any]]:
        counts = Counter(p.dimensions[key] for p in self.of(name) if key in p.dimensions)
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"value": v, "points": n} for v, n in ordered]

    def keys(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for p in self.points:
            for k, v in p.dimensions.items():
                out[k].add(v)
        return out

    def range_view(self, name: str) -> list[dict[str, Any]]:
        pts = sorted(self.of(name), key=lambda p: (p.timestamp, p.value))
        return [
            {"timestamp": p.timestamp, "value": p.value, "dimensions": p.dimensions} for p in pts
        ]

    def sum_by(self, name: str, key: str) -> dict[str | None, tuple[float, int]]:
        acc: dict[str | None, list[float]] = defaultdict(list)
        for p in self.of(name):
            acc[p.dimensions.get(key)].append(p.value)
        return {k: (sum(v), len(v)) for k, v in acc.items()}

    def rate_by(self, name: str, key: str, interval_ms: int) -> dict[tuple[str | None, int], float]:
        """Per-second increase per (group, bucket), a decrease counting as a counter reset."""
        by_series: dict[Any, list[Point]] = defaultdict(list)
        for p in self.of(name):
            by_series[p.series()].append(p)
        out: dict[tuple[str | None, int], float] = defaultdict(float)
        for pts in by_series.values():
            pts.sort(key=lambda p: p.timestamp)
            for a, b in itertools.pairwise(pts):
                inc = b.value - a.value if b.value >= a.value else b.value
                bucket = b.timestamp // interval_ms * interval_ms
                out[(b.dimensions.get(key), bucket)] += inc / (interval_ms / 1000)
        return dict(out)


def build(tenant: str, base_ms: int, series: list[Series], old: list[Series]) -> TenantData:
    """Counter-like series sampled every STEP_MS from `base_ms`, plus one point two days old per
    series in `old`. Timestamps are unique within the tenant."""
    data = TenantData(tenant)
    for s_index, s in enumerate(series):
        for i in range(STEPS):
            data.points.append(
                Point(s.name, base_ms + i * STEP_MS + s_index, s.start + i * s.step, s.dimensions)
            )
    for s_index, s in enumerate(old):
        data.points.append(Point(s.name, base_ms - 2 * DAY_MS + s_index, s.start, s.dimensions))
    return data


def a_series() -> list[Series]:
    return [
        Series(SHARED, {"region": "eu", "host": "a-web-1", "a_only_key": "a-secret-1"}, 0.0, 5.0),
        Series(SHARED, {"region": "us", "host": "a-web-2"}, 100.0, 3.0),
        Series(SHARED, {"region": "eu", "host": "a-web-3", "a_only_key": "a-secret-2"}, 7.0, 1.0),
        Series("a_only_metric", {"region": "eu", "host": "a-web-1"}, 1.0, 0.5),
    ]


def b_series() -> list[Series]:
    return [
        Series(SHARED, {"region": "eu", "host": "b-web-1"}, 1000.0, 50.0),
        Series(
            SHARED, {"region": "ap", "host": "b-web-2", "b_only_key": "b-secret-1"}, 5000.0, 7.0
        ),
        Series("b_only_metric", {"region": "ap", "b_only_key": "b-secret-2"}, 3.0, 2.0),
    ]


@dataclass
class World:
    base_ms: int
    a: TenantData
    b: TenantData

    def pick(self, who: str) -> tuple[TenantData, TenantData]:
        return (self.a, self.b) if who == "A" else (self.b, self.a)

    @property
    def window(self) -> tuple[int, int]:
        return self.base_ms - 3 * DAY_MS, self.base_ms + STEPS * STEP_MS + MINUTE_MS
