"""Functions of range vectors (`rate(x[5m])`, `avg_over_time(x[1h])`, ...), evaluated per series
over the window `[t - range, t]` of each step, with Prometheus 2.x semantics: both window ends
included, rate and increase extrapolated towards the window's ends and corrected for counter
resets, exactly as Prometheus' `extrapolatedRate` does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from luminate.model.promql import SeriesSamples
from luminate.query.promql.values import Floats, Ints, Mask, Vector, drop_name


def quantile(q: float, values: Floats) -> float:
    """Prometheus' quantile: linear interpolation between the closest ranks."""
    if np.isnan(q):
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    ordered = np.sort(values)
    rank = q * (len(ordered) - 1)
    lower = int(np.floor(rank))
    upper = min(lower + 1, len(ordered) - 1)
    weight = rank - lower
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)


def _stdvar(values: Floats) -> float:
    return float(np.var(values))


SIMPLE: dict[str, Callable[[Floats], float]] = {
    "min_over_time": lambda v: float(np.nan if np.isnan(v).all() else np.nanmin(v)),
    "max_over_time": lambda v: float(np.nan if np.isnan(v).all() else np.nanmax(v)),
    "stddev_over_time": lambda v: float(np.sqrt(_stdvar(v))),
    "stdvar_over_time": _stdvar,
    "last_over_time": lambda v: float(v[-1]),
    "present_over_time": lambda v: 1.0,
    "count_over_time": lambda v: float(len(v)),
    "sum_over_time": lambda v: float(np.sum(v)),
    "avg_over_time": lambda v: float(np.mean(v)),
    "changes": lambda v: float(np.count_nonzero(v[1:] != v[:-1])),
    "resets": lambda v: float(np.count_nonzero(v[1:] < v[:-1])),
}
EXTRAPOLATED = {"rate": (True, True), "increase": (True, False), "delta": (False, False)}
INSTANT = {"irate", "idelta"}
NAMES = {*SIMPLE, *EXTRAPOLATED, *INSTANT, "quantile_over_time"}


def evaluate(
    func: str,
    series: list[SeriesSamples],
    ends: Ints,
    range_ms: int,
    param: Floats | None = None,
) -> Vector:
    """`func` of every series at every step; `ends` are the window ends (step times minus the
    selector's offset). Series without a value at any step are left out."""
    steps = len(ends)
    labels, rows, present = [], [], []
    for s in series:
        ts = np.asarray(s.timestamps, dtype=np.int64)
        vs = np.asarray(s.values, dtype=np.float64)
        lo = np.searchsorted(ts, ends - range_ms, side="left")
        hi = np.searchsorted(ts, ends, side="right")
        if func in EXTRAPOLATED:
            counter, per_second = EXTRAPOLATED[func]
            out, ok = _extrapolated(ts, vs, lo, hi, ends, range_ms, counter, per_second)
        elif func in INSTANT:
            out, ok = _instant(ts, vs, lo, hi, func == "irate")
        else:
            out = np.zeros(steps)
            ok = hi > lo
            for j in np.nonzero(ok)[0]:
                window = vs[lo[j] : hi[j]]
                if func == "quantile_over_time":
                    assert param is not None
                    out[j] = quantile(float(param[j]), window)
                else:
                    out[j] = SIMPLE[func](window)
        if ok.any():
            labels.append(s.labels if func == "last_over_time" else drop_name(s.labels))
            rows.append(out)
            present.append(ok)
    if not labels:
        return Vector.empty(steps)
    return Vector(labels, np.array(rows), np.array(present))


def _extrapolated(
    ts: Ints,
    vs: Floats,
    lo: Ints,
    hi: Ints,
    ends: Ints,
    range_ms: int,
    counter: bool,
    per_second: bool,
) -> tuple[Floats, Mask]:
    ok = (hi - lo) >= 2
    out = np.zeros(len(ends))
    if not ok.any():
        return out, ok
    first_i = np.where(ok, lo, 0)
    last_i = np.where(ok, hi - 1, 0)
    first_v, last_v = vs[first_i], vs[last_i]
    result = last_v - first_v
    if counter:
        # A drop means the counter restarted from zero: add back the value before the drop.
        drops = np.zeros(len(vs))
        drops[1:] = np.where(vs[1:] < vs[:-1], vs[:-1], 0.0)
        before = np.concatenate(([0.0], np.cumsum(drops)))
        # Drops at samples lo+1 .. hi-1 lie inside the window.
        result = result + (before[np.where(ok, hi, 0)] - before[np.where(ok, lo + 1, 0)])
    first_t = ts[first_i].astype(np.float64)
    last_t = ts[last_i].astype(np.float64)
    to_start = (first_t - (ends - range_ms)) / 1000
    to_end = (ends - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    with np.errstate(divide="ignore", invalid="ignore"):
        average = sampled / np.maximum(hi - lo - 1, 1)
        if counter:
            to_zero = np.where((result > 0) & (first_v >= 0), sampled * (first_v / result), np.inf)
            to_start = np.minimum(to_start, to_zero)
        threshold = average * 1.1
        interval = sampled.copy()
        interval += np.where(to_start < threshold, to_start, average / 2)
        interval += np.where(to_end < threshold, to_end, average / 2)
        result = result * (interval / sampled)
    if per_second:
        result = result / (range_ms / 1000)
    return np.where(ok, result, 0.0), ok


def _instant(ts: Ints, vs: Floats, lo: Ints, hi: Ints, rate: bool) -> tuple[Floats, Mask]:
    """irate / idelta from the last two samples of the window (Prometheus' instantValue)."""
    ok = (hi - lo) >= 2
    last_i = np.where(ok, hi - 1, 1)
    prev_i = last_i - 1
    last, prev = vs[last_i], vs[prev_i]
    dt = (ts[last_i] - ts[prev_i]).astype(np.float64) / 1000
    if rate:
        delta = np.where(last < prev, last, last - prev)
        ok = ok & (dt > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = delta / dt
    else:
        result = last - prev
    return np.where(ok, result, 0.0), ok
