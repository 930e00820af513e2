"""An independent oracle: the same generated points, aggregated with numpy and plain Python."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from luminate.model.points import TenantPoints


@dataclass(frozen=True)
class Point:
    metric: str
    ts: int
    value: float
    dims: dict[str, str]

    @property
    def series(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.dims.items()))


def generate(
    n: int,
    *,
    seed: int,
    start_ms: int,
    span_ms: int,
    metric: str = "api_latency",
    customers: int = 5,
    endpoints: int = 3,
    counter: bool = False,
) -> list[Point]:
    """Random points over [start_ms, start_ms + span_ms). With `counter`, each series is a
    monotonic counter with occasional resets to a small value."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, customers, n)
    endp = rng.integers(0, endpoints, n)
    ts = np.sort(start_ms + rng.integers(0, span_ms, n))
    values = rng.lognormal(3.0, 1.0, n)
    points = []
    totals: dict[tuple[int, int], float] = defaultdict(float)
    for i in range(n):
        dims = {"customer_id": f"cust_{cust[i]}", "endpoint": f"/api/e{endp[i]}"}
        if i % 7 == 0:
            dims["region"] = f"r{i % 3}"
        value = float(values[i])
        if counter:
            key = (int(cust[i]), int(endp[i]))
            if rng.random() < 0.05:
                totals[key] = float(rng.integers(0, 5))  # counter restart
            else:
                totals[key] += value
            value = totals[key]
        points.append(Point(metric, int(ts[i]), value, dims))
    return points


def to_batch(tenant: str, points: Iterable[Point]) -> TenantPoints:
    batch = TenantPoints(tenant)
    for p in points:
        keys = sorted(p.dims)
        batch.names.append(p.metric)
        batch.timestamps.append(p.ts)
        batch.values.append(p.value)
        batch.keys.append(keys)
        batch.dim_values.append([p.dims[k] for k in keys])
    return batch


def select(
    points: Iterable[Point], metric: str, start: int, end: int, filters: dict[str, str]
) -> list[Point]:
    return [
        p
        for p in points
        if p.metric == metric
        and start <= p.ts < end
        and all(p.dims.get(k) == v for k, v in filters.items())
    ]


def group_key(p: Point, group_by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p.dims.get(k, "") for k in group_by)


def bucket_of(ts: int, interval_ms: int | None) -> int:
    return (ts // interval_ms) * interval_ms if interval_ms else 0


def aggregate(
    points: list[Point], agg: str, group_by: tuple[str, ...], interval_ms: int | None
) -> dict[tuple[tuple[str, ...], int], tuple[float, int, np.ndarray]]:
    """(group, bucket) -> (value, count, sorted values) computed with numpy."""
    groups: dict[tuple[tuple[str, ...], int], list[Point]] = defaultdict(list)
    for p in points:
        groups[(group_key(p, group_by), bucket_of(p.ts, interval_ms))].append(p)
    out = {}
    for key, members in groups.items():
        vals = np.array([p.value for p in members], dtype=np.float64)
        value = integral(members) if agg == "integral" else float(_NUMPY[agg](vals))
        out[key] = (value, len(vals), np.sort(vals))
    return out


_NUMPY: dict[str, Callable[[np.ndarray], float]] = {
    "avg": np.mean,
    "sum": np.sum,
    "count": len,
    "min": np.min,
    "max": np.max,
    "p50": lambda v: np.quantile(v, 0.5),
    "p95": lambda v: np.quantile(v, 0.95),
    "p99": lambda v: np.quantile(v, 0.99),
}


def integral(points: list[Point]) -> float:
    """Sum over series of trapezoids between consecutive points (value x seconds)."""
    by_series: dict[tuple[tuple[str, str], ...], list[Point]] = defaultdict(list)
    for p in points:
        by_series[p.series].append(p)
    total = 0.0
    for members in by_series.values():
        members.sort(key=lambda p: (p.ts, p.value))
        # Differences in integer milliseconds first: epoch seconds as floats lose precision.
        t = np.array([p.ts for p in members], dtype=np.int64)
        v = np.array([p.value for p in members], dtype=np.float64)
        if len(t) > 1:
            total += float(np.sum(np.diff(t) / 1000.0 * (v[:-1] + v[1:]) / 2.0))
    return total


def rate(
    points: list[Point], group_by: tuple[str, ...], interval_ms: int
) -> dict[tuple[tuple[str, ...], int], float]:
    """Per (group, bucket): increase per second, resets counted as a restart from zero, each
    increase attributed to the bucket of the later sample."""
    by_series: dict[tuple[tuple[str, str], ...], list[Point]] = defaultdict(list)
    for p in points:
        by_series[p.series].append(p)
    out: dict[tuple[tuple[str, ...], int], float] = defaultdict(float)
    for members in by_series.values():
        members.sort(key=lambda p: (p.ts, p.value))
        for a, b in pairwise(members):
            delta = b.value - a.value if b.value >= a.value else b.value
            out[(group_key(b, group_by), bucket_of(b.ts, interval_ms))] += delta
    return {k: v / (interval_ms / 1000.0) for k, v in out.items()}


def within_rank_error(sorted_values: np.ndarray, q: float, got: float, tol: float = 0.01) -> bool:
    """True when `got` lies between the (q - tol) and (q + tol) quantiles of the data."""
    lo = float(np.quantile(sorted_values, max(0.0, q - tol), method="lower"))
    hi = float(np.quantile(sorted_values, min(1.0, q + tol), method="higher"))
    return lo <= got <= hi
