"""Series cardinality per tenant: how many distinct series are active (a HyperLogLog estimate)
and whether a point would create a new one (a membership set that turns into a Bloom filter as it
grows, so a tenant at a million series costs about a megabyte, not a hundred).

A series is a metric name plus its dimension set (order of keys does not matter). State lives in
this process only and restarts each window (LUMINATE_CARDINALITY_WINDOW_SECONDS), like a daily
series limit: see docs/limits.md for how that composes with replicas."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import datasketches
import numpy as np
import numpy.typing as npt

_TENANT_LG_K = 14  # 16,384 registers: about 0.8% relative error
_METRIC_LG_K = 10  # 1,024 registers: about 3%; one per metric of a tenant
_EXACT_UNTIL = 16_384  # series hashes kept exactly before switching to a Bloom filter
_BLOOM_BITS_PER_ITEM = 10  # about 1% false positives with 7 probes
_BLOOM_PROBES = 7
_MAX_METRIC_SKETCHES = 10_000  # per tenant; beyond it per-metric limits use the tenant count
# A Bloom filter is sized for the tenant's limit, up to this many series (25 MB); past it the
# false-positive rate rises, which only lets a few more new series through.
_BLOOM_MAX_CAPACITY = 20_000_000

U64 = npt.NDArray[np.uint64]


def series_hashes(
    names: Sequence[str], keys: Sequence[Sequence[str]], values: Sequence[Sequence[str]]
) -> list[int]:
    """One 64-bit hash per point, equal for equal series whatever the dimension order.

    Points of one write nearly always list their keys in the same few orders, so the sorting
    is done once per distinct key order and each point only picks its values in sorted order."""
    orders: dict[tuple[str, ...], tuple[tuple[str, ...], Callable[[Sequence[str]], Any]]] = {}
    out = []
    for n, k, v in zip(names, keys, values, strict=True):
        if not k:
            out.append(hash(n))
            continue
        kt = tuple(k)
        order = orders.get(kt)
        if order is None:
            perm = sorted(range(len(kt)), key=kt.__getitem__)
            order = orders[kt] = (tuple(kt[i] for i in perm), operator.itemgetter(*perm))
        out.append(hash((n, order[0], order[1](v))))
    return out


class _Bloom:
    def __init__(self, capacity: int) -> None:
        bits = max(1 << 16, 1 << math.ceil(math.log2(capacity * _BLOOM_BITS_PER_ITEM)))
        self._mask = np.uint64(bits - 1)
        self._bytes = np.zeros(bits // 8, dtype=np.uint8)
        self._probes = np.arange(_BLOOM_PROBES, dtype=np.uint64)

    def _positions(self, hashes: U64) -> U64:
        h1 = hashes & np.uint64(0xFFFFFFFF)
        h2 = (hashes >> np.uint64(32)) | np.uint64(1)
        positions: U64 = (h1[:, None] + self._probes[None, :] * h2[:, None]) & self._mask
        return positions

    def contains(self, hashes: U64) -> npt.NDArray[np.bool_]:
        pos = self._positions(hashes)
        hit = (self._bytes[pos >> np.uint64(3)] >> (pos & np.uint64(7)).astype(np.uint8)) & 1
        result: npt.NDArray[np.bool_] = hit.all(axis=1)
        return result

    def add(self, hashes: U64) -> None:
        pos = np.sort(self._positions(hashes).ravel())
        byte = (pos >> np.uint64(3)).astype(np.intp)
        bit = np.uint8(1) << (pos & np.uint64(7)).astype(np.uint8)
        # Several bits may fall in one byte: OR them per byte first (sorted, so runs are
        # contiguous), then apply each byte once.
        starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        self._bytes[byte[starts]] |= np.bitwise_or.reduceat(bit, starts)


@dataclass
class Admission:
    """Indices of points refused, each with the limit that refused it."""

    refused: list[tuple[int, str]]
    estimate: int


class TenantSeries:
    """One tenant's series within the current window."""

    def __init__(self, started: float) -> None:
        self.started = started
        self._exact: set[int] | None = set()
        self._bloom: _Bloom | None = None
        self._bloom_capacity = 0
        self._sketch = datasketches.hll_sketch(_TENANT_LG_K, datasketches.HLL_8)
        self._metrics: dict[str, datasketches.hll_sketch] = {}

    def estimate(self) -> int:
        return _count(self._sketch)

    def metric_estimate(self, name: str) -> int:
        sketch = self._metrics.get(name)
        return _count(sketch) if sketch is not None else 0

    def admit(
        self, names: Sequence[str], hashes: list[int], max_series: int, max_per_metric: int
    ) -> Admission:
        """Record the series of these points; refuse points that would create a series past a
        limit. Points of series already seen are always admitted."""
        fresh = self._fresh(hashes)
        if not fresh:
            return Admission([], self.estimate())
        estimate: float = self._sketch.get_estimate()
        if not max_per_metric and estimate + len(fresh) < max_series:
            # Far enough below the limit that this batch cannot reach it: no decision per point
            # (and no per-metric counts, which only a per-metric limit needs).
            seen = [hashes[i] for i in fresh]
            for _ in map(self._sketch.update, seen):
                pass
            self._remember(seen, max_series)
            return Admission([], self.estimate())
        refused: list[tuple[int, str]] = []
        new_hashes: list[int] = []
        batch_new: set[int] = set()
        for i in fresh:
            h = hashes[i]
            if h in batch_new:
                continue
            if round(estimate) >= max_series:
                refused.append((i, "max_series"))
                continue
            name = names[i]
            sketch = self._metric_sketch(name)
            if max_per_metric and sketch is not None and _count(sketch) >= max_per_metric:
                refused.append((i, "max_series_per_metric"))
                continue
            if sketch is not None:
                sketch.update(h)
            self._sketch.update(h)
            estimate = self._sketch.get_estimate()
            batch_new.add(h)
            new_hashes.append(h)
        if new_hashes:
            self._remember(new_hashes, max_series)
        return Admission(refused, round(estimate))

    def _metric_sketch(self, name: str) -> datasketches.hll_sketch | None:
        sketch = self._metrics.get(name)
        if sketch is None and len(self._metrics) < _MAX_METRIC_SKETCHES:
            sketch = self._metrics[name] = datasketches.hll_sketch(_METRIC_LG_K, datasketches.HLL_8)
        return sketch

    def _fresh(self, hashes: list[int]) -> list[int]:
        """Positions of points whose series this tracker has not seen (before this batch)."""
        if self._exact is not None:
            exact = self._exact
            return [i for i, h in enumerate(hashes) if h not in exact]
        assert self._bloom is not None
        fresh: list[int] = np.flatnonzero(~self._bloom.contains(_u64(hashes))).tolist()
        return fresh

    def _remember(self, hashes: list[int], max_series: int) -> None:
        if self._exact is not None:
            self._exact.update(hashes)
            if len(self._exact) <= _EXACT_UNTIL:
                return
            # Sized for the tenant's limit (never below what is already held).
            self._bloom_capacity = min(max(max_series, 2 * len(self._exact)), _BLOOM_MAX_CAPACITY)
            self._bloom = _Bloom(self._bloom_capacity)
            self._bloom.add(_u64(list(self._exact)))
            self._exact = None
            return
        assert self._bloom is not None
        self._bloom.add(_u64(hashes))


def _count(sketch: datasketches.hll_sketch) -> int:
    estimate: float = sketch.get_estimate()
    return round(estimate)


def _u64(hashes: list[int]) -> U64:
    return np.array(hashes, dtype=np.int64).view(np.uint64)


class SeriesLimiter:
    """Every tenant's `TenantSeries`, each restarted when its window ends."""

    def __init__(self, window_s: float, on_drop: Callable[[str], None] | None = None) -> None:
        self.window_s = window_s
        # Told the tenant of every tracker dropped, so per-tenant gauges lose its label.
        self._on_drop = on_drop
        self._tenants: dict[str, TenantSeries] = {}
        self._swept = 0.0

    def tenant(self, tenant: str, now: float) -> TenantSeries:
        current = self.peek(tenant, now)
        if current is None:
            self._sweep(now)
            current = self._tenants[tenant] = TenantSeries(now)
        return current

    def peek(self, tenant: str, now: float) -> TenantSeries | None:
        current = self._tenants.get(tenant)
        if current is None or now - current.started >= self.window_s:
            return None
        return current

    def _sweep(self, now: float) -> None:
        """Drops trackers whose window ended (tenants that stopped writing), at most once per
        window, so their sketches and filters do not stay in memory for good."""
        if now - self._swept < self.window_s:
            return
        self._swept = now
        for name in [n for n, t in self._tenants.items() if now - t.started >= self.window_s]:
            del self._tenants[name]
            if self._on_drop is not None:
                self._on_drop(name)

    def __len__(self) -> int:
        return len(self._tenants)
