"""Series cardinality per tenant: how many distinct series are active (a HyperLogLog estimate)
and whether a point would create a new one (a membership set that turns into a Bloom filter as it
grows, so a tenant at a million series costs about a megabyte, not a hundred).

A series is a metric name plus its dimension set (order of keys does not matter), hashed the same
way in every process. So trackers merge: the union of HyperLogLog sketches is the sketch of the
union of their series, and membership sets and Bloom filters merge too. Processes sharing one
storage exchange snapshots that way, and a restarted process restores its tenants from them
(`limits/series_sync.py`). Windows (LUMINATE_CARDINALITY_WINDOW_SECONDS) are aligned to the
epoch, so every process agrees on the window a tenant is in; see docs/limits.md."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import datasketches
import msgspec
import numpy as np
import xxhash

from luminate.limits.bloom import U64, Bloom, bits_for
from luminate.limits.snapshot import VERSION, Snapshot

_TENANT_LG_K = 14  # 16,384 registers: about 0.8% relative error
_METRIC_LG_K = 10  # 1,024 registers: about 3%; one per metric of a tenant
_EXACT_UNTIL = 16_384  # series hashes kept exactly before switching to a Bloom filter
_MAX_METRIC_SKETCHES = 10_000  # per tenant; beyond it per-metric limits use the tenant count

_pack = msgspec.msgpack.Encoder().encode
Picker = Callable[[Sequence[str]], tuple[str, ...]]


def _picker(order: list[int]) -> Picker:
    """A function giving a point's values in sorted-key order, as a tuple."""
    if not order:
        return lambda values: ()
    if len(order) == 1:
        first = order[0]
        return lambda values: (values[first],)
    getter: Picker = operator.itemgetter(*order)  # a tuple for two or more
    return getter


def series_hashes(
    names: Sequence[str], keys: Sequence[Sequence[str]], values: Sequence[Sequence[str]]
) -> list[int]:
    """One 63-bit hash per point, equal for equal series whatever the dimension order, and equal
    in every process (Python's own `hash` of a string is salted per process).

    Points of one write nearly always list their keys in the same few orders, so the name and
    sorted keys are hashed once per (name, key order) into a seed, and each point hashes only its
    values in sorted-key order. msgpack frames every string with its length, so no choice of
    values makes two different series encode alike."""
    digest = xxhash.xxh3_64_intdigest
    if names and names.count(names[0]) == len(names) and list(keys).count(keys[0]) == len(keys):
        # The usual write: one metric, one list of keys; one seed, one tight loop.
        seed, pick = _seed(names[0], tuple(keys[0]))
        if _is_sorted(keys[0]):
            # Values already in sorted-key order (the JSON decoder sorts shared keys): msgpack
            # frames a list and a tuple alike, so no picking is needed.
            return [digest(packed, seed) >> 1 for packed in map(_pack, values)]
        return [digest(_pack(pick(v)), seed) >> 1 for v in values]
    seeds: dict[tuple[str, tuple[str, ...]], tuple[int, Picker]] = {}
    out = []
    for n, k, v in zip(names, keys, values, strict=True):
        key = (n, tuple(k))
        found = seeds.get(key)
        if found is None:
            found = seeds[key] = _seed(*key)
        # 63 bits: the sketches take signed 64-bit integers.
        out.append(digest(_pack(found[1](v)), found[0]) >> 1)
    return out


def _is_sorted(keys: Sequence[str]) -> bool:
    return all(a < b for a, b in pairwise(keys))


def _seed(name: str, keys: tuple[str, ...]) -> tuple[int, Picker]:
    """The hash of a metric and its sorted keys, and how to pick a point's values in that
    order."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return xxhash.xxh3_64_intdigest(_pack((name, [keys[i] for i in order]))), _picker(order)


@dataclass
class Admission:
    """Indices of points refused, each with the limit that refused it."""

    refused: list[tuple[int, str]]
    estimate: int


class TenantSeries:
    """One tenant's series within one window. `dirty` says whether it admitted series since its
    last snapshot."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.dirty = False
        self._exact: set[int] | None = set()
        self._bloom: Bloom | None = None
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
        self._compact(max_series)
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

    def snapshot(self) -> Snapshot:
        """A copy of the state that `merge` takes (encode it off the event loop)."""
        self.dirty = False
        exact = None if self._exact is None else _u64(list(self._exact)).tobytes()
        return Snapshot(
            version=VERSION,
            window_start=self.started,
            hll=self._sketch.serialize_compact(),
            metrics={name: sk.serialize_compact() for name, sk in self._metrics.items()},
            exact=exact,
            bloom=self._bloom.to_bytes() if self._bloom is not None else None,
        )

    def merge(self, other: Snapshot) -> None:
        """Add what `other` has seen: afterwards this tracker counts and knows the series of
        both. Merging is idempotent, so the same snapshot may arrive twice. Raises ValueError
        for a snapshot of another window or one the sketch library cannot read."""
        if other.window_start != self.started:
            raise ValueError("series snapshot of another window")
        try:
            self._sketch = _union(self._sketch, other.hll, _TENANT_LG_K)
            for name, data in other.metrics.items():
                mine = self._metric_sketch(name)
                if mine is not None:
                    self._metrics[name] = _union(mine, data, _METRIC_LG_K)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise ValueError(f"unreadable sketch in a series snapshot: {exc}") from None
        if other.exact is not None:
            hashes = np.frombuffer(other.exact, dtype="<u8")
            if self._exact is not None:
                self._exact.update(hashes.astype(np.int64).tolist())
            else:
                assert self._bloom is not None
                self._bloom.add(hashes.astype(np.uint64))
        elif other.bloom is not None:
            theirs = Bloom.from_bytes(other.bloom)
            if self._bloom is not None:
                self._bloom = self._bloom.merged(theirs)
            else:
                assert self._exact is not None
                theirs.add(_u64(list(self._exact)))
                self._bloom, self._exact = theirs, None

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
        self.dirty = True
        if self._exact is not None:
            self._exact.update(hashes)
            self._compact(max_series)
            return
        assert self._bloom is not None
        self._bloom.add(_u64(hashes))

    def _compact(self, max_series: int) -> None:
        """Past `_EXACT_UNTIL` series, switch the exact set to a Bloom filter sized by the
        tenant's limit alone, so every process sizes a tenant's filter alike."""
        if self._exact is None or len(self._exact) <= _EXACT_UNTIL:
            return
        self._bloom = Bloom(bits_for(max(max_series, 2 * _EXACT_UNTIL)))
        self._bloom.add(_u64(list(self._exact)))
        self._exact = None


def _union(mine: datasketches.hll_sketch, theirs: bytes, lg_k: int) -> datasketches.hll_sketch:
    union = datasketches.hll_union(lg_k)
    union.update(mine)
    union.update(datasketches.hll_sketch.deserialize(theirs))
    return union.get_result(datasketches.HLL_8)


def _count(sketch: datasketches.hll_sketch) -> int:
    estimate: float = sketch.get_estimate()
    return round(estimate)


def _u64(hashes: list[int]) -> U64:
    return np.array(hashes, dtype=np.uint64)


def window_start(now: float, window_s: float) -> float:
    """The start of the window `now` (epoch seconds) falls in; windows are aligned to the epoch
    so that every process puts a moment in the same window."""
    return math.floor(now / window_s) * window_s


class SeriesLimiter:
    """Every tenant's `TenantSeries` for the current window. Times are epoch seconds."""

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
            current = self._tenants[tenant] = TenantSeries(window_start(now, self.window_s))
        return current

    def peek(self, tenant: str, now: float) -> TenantSeries | None:
        current = self._tenants.get(tenant)
        if current is None or current.started != window_start(now, self.window_s):
            return None
        return current

    def tracked(self, now: float) -> dict[str, TenantSeries]:
        """The trackers of the current window, by tenant."""
        start = window_start(now, self.window_s)
        return {name: t for name, t in self._tenants.items() if t.started == start}

    def _sweep(self, now: float) -> None:
        """Drops trackers whose window ended (tenants that stopped writing), at most once per
        window, so their sketches and filters do not stay in memory for good."""
        if now - self._swept < self.window_s:
            return
        self._swept = now
        start = window_start(now, self.window_s)
        for name in [n for n, t in self._tenants.items() if t.started != start]:
            del self._tenants[name]
            if self._on_drop is not None:
                self._on_drop(name)

    def __len__(self) -> int:
        return len(self._tenants)
