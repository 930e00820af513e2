"""Series limits: the HyperLogLog estimate against an exact count, membership across the switch
to a Bloom filter, and refusals that only ever hit new series."""

from __future__ import annotations

import random
import time

import msgspec
import pytest
import xxhash

from luminate.limits import series
from luminate.limits.series import SeriesLimiter, TenantSeries, series_hashes

BIG = 10**12


def points(n: int, metric: str = "m", offset: int = 0) -> tuple[list[str], list[int]]:
    names = [metric] * n
    keys = [["customer", "endpoint"]] * n
    values = [[f"c{offset + i}", f"/e{(offset + i) % 7}"] for i in range(n)]
    return names, series_hashes(names, keys, values)


def test_series_identity_ignores_dimension_order_and_separates_metrics() -> None:
    a = series_hashes(["m"], [["x", "y"]], [["1", "2"]])
    b = series_hashes(["m"], [["y", "x"]], [["2", "1"]])
    c = series_hashes(["n"], [["x", "y"]], [["1", "2"]])
    d = series_hashes(["m"], [["x", "y"]], [["2", "1"]])
    assert a == b
    assert a != c
    assert a != d


def _reference_hash(name: str, dims: dict[str, str]) -> int:
    """The documented identity, spelled out: the metric and sorted keys seed a hash of the
    values in sorted-key order (msgpack-framed), kept to 63 bits."""
    keys = sorted(dims)
    seed = xxhash.xxh3_64_intdigest(msgspec.msgpack.encode((name, keys)))
    return xxhash.xxh3_64_intdigest(msgspec.msgpack.encode([dims[k] for k in keys]), seed) >> 1


@pytest.mark.parametrize(
    "points",
    [
        [("m", {"a": "1", "b": "2"}), ("m", {"a": "3", "b": "4"})],  # one metric, sorted keys
        [("m", {"b": "1", "a": "2"}), ("m", {"b": "3", "a": "4"})],  # one metric, unsorted
        [("m", {"a": "1"}), ("n", {"b": "2", "a": "3"}), ("m", {})],  # mixed
        [("m", {"k": "é\u0000"}), ("m", {"k": "x" * 300})],
    ],
)
@pytest.mark.parametrize("as_tuples", [False, True])
def test_every_path_hashes_the_documented_identity(
    points: list[tuple[str, dict[str, str]]], as_tuples: bool
) -> None:
    names = [n for n, _ in points]
    keys = [list(d) for _, d in points]
    values: list[list[str]] | list[tuple[str, ...]] = [list(d.values()) for _, d in points]
    if as_tuples:
        values = [tuple(v) for v in values]
    assert series_hashes(names, keys, values) == [_reference_hash(n, d) for n, d in points]


@pytest.mark.parametrize("n", [1_000, 50_000, 200_000])
def test_the_estimate_is_within_two_percent_of_the_exact_count(n: int) -> None:
    rng = random.Random(n)
    tracker = TenantSeries(0.0)
    exact: set[int] = set()
    for _ in range(n // 1000):
        # Batches mix new series with repeats of earlier ones, as real writes do.
        offsets = [rng.randrange(n) for _ in range(1000)]
        names = ["m"] * 1000
        hashes = series_hashes(names, [["c"]] * 1000, [[str(o)] for o in offsets])
        exact.update(hashes)
        tracker.admit(names, hashes, BIG, 0)
    assert abs(tracker.estimate() - len(exact)) <= 0.02 * len(exact)


def test_new_series_past_the_limit_are_refused_and_known_ones_admitted() -> None:
    tracker = TenantSeries(0.0)
    names, hashes = points(100)
    assert tracker.admit(names, hashes, 100, 0).refused == []
    more_names, more_hashes = points(10, offset=100)
    admission = tracker.admit(names + more_names, hashes + more_hashes, 100, 0)
    assert admission.refused == [(100 + i, "max_series") for i in range(10)]
    assert admission.estimate == 100


def test_repeats_of_a_new_series_in_one_batch_count_once() -> None:
    tracker = TenantSeries(0.0)
    names, hashes = points(1)
    admission = tracker.admit(names * 5, hashes * 5, 1, 0)
    assert admission.refused == []
    assert tracker.estimate() == 1


def test_per_metric_limits_refuse_only_that_metric() -> None:
    tracker = TenantSeries(0.0)
    a_names, a_hashes = points(5, "a")
    b_names, b_hashes = points(5, "b")
    admission = tracker.admit(a_names + b_names, a_hashes + b_hashes, BIG, 3)
    assert admission.refused == [
        (3, "max_series_per_metric"),
        (4, "max_series_per_metric"),
        (8, "max_series_per_metric"),
        (9, "max_series_per_metric"),
    ]
    assert tracker.metric_estimate("a") == 3
    assert tracker.metric_estimate("b") == 3


def test_known_series_stay_admitted_after_the_switch_to_a_bloom_filter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(series, "_EXACT_UNTIL", 1_000)
    tracker = TenantSeries(0.0)
    names, hashes = points(5_000)
    assert tracker.admit(names, hashes, BIG, 0).refused == []
    assert tracker._exact is None, "the tracker switched to a Bloom filter"
    # With the tenant far past a limit of 10, every known series is still admitted; new ones
    # are refused, except the few a Bloom filter mistakes for known ones (about 1%).
    assert tracker.admit(names, hashes, 10, 0).refused == []
    new_names, new_hashes = points(2_000, offset=5_000)
    refused = tracker.admit(new_names, new_hashes, 10, 0).refused
    assert len(refused) >= 0.95 * 2_000


def test_each_window_starts_a_new_count() -> None:
    limiter = SeriesLimiter(window_s=60)
    first = limiter.tenant("acme", 0.0)
    names, hashes = points(10)
    first.admit(names, hashes, BIG, 0)
    assert limiter.tenant("acme", 59.0) is first
    assert limiter.peek("acme", 61.0) is None
    second = limiter.tenant("acme", 61.0)
    assert second is not first
    assert second.estimate() == 0
    assert limiter.peek("other", 1.0) is None


def test_trackers_of_tenants_that_stopped_writing_are_dropped() -> None:
    limiter = SeriesLimiter(window_s=60)
    limiter.tenant("gone", 0.0)
    limiter.tenant("steady", 30.0)
    assert len(limiter) == 2
    # The first tracker of the next window sweeps the ones whose window ended.
    limiter.tenant("steady", 70.0)
    assert len(limiter) == 1
    assert limiter.peek("gone", 70.0) is None
    assert limiter.peek("steady", 70.0) is not None


def test_dropping_a_tracker_tells_who_was_dropped() -> None:
    dropped: list[str] = []
    limiter = SeriesLimiter(window_s=60, on_drop=dropped.append)
    limiter.tenant("gone", 0.0)
    limiter.tenant("steady", 30.0)
    assert dropped == []
    # Windows are aligned to the epoch: at 70 s both trackers of the window [0, 60) ended.
    limiter.tenant("new", 70.0)
    assert sorted(dropped) == ["gone", "steady"]


def test_per_tenant_gauges_lose_the_label_of_a_dropped_tracker() -> None:
    from luminate.limits.config import LimitsTable, TenantLimits
    from luminate.limits.limiter import Limiter
    from luminate.model.points import TenantPoints
    from luminate.observability.metrics import Metrics
    from luminate.settings import load_settings

    metrics = Metrics(backend="embedded")
    table = LimitsTable(TenantLimits.from_settings(load_settings({})))
    window_s = 0.05
    limiter = Limiter(table, metrics, window_s)
    limits = limiter.limits("a", None)

    def admit(tenant: str) -> None:
        batch = TenantPoints(tenant, ["m"], [0], [1.0], [["k"]], [[tenant]])
        limiter.admit_series(batch, limits)

    def labelled(name: str) -> set[str]:
        return {
            s.labels["tenant_id"]
            for family in metrics.registry.collect()
            for s in family.samples
            if s.name == name
        }

    admit("a")
    assert labelled("luminate_tenant_active_series") == {"a"}
    assert labelled("luminate_tenant_series_limit") == {"a"}
    time.sleep(2 * window_s)  # a's window ends; the next new tracker sweeps it
    admit("b")
    assert labelled("luminate_tenant_active_series") == {"b"}
    assert labelled("luminate_tenant_series_limit") == {"b"}


def test_windows_are_aligned_to_the_epoch() -> None:
    # Every process puts a moment in the same window, whenever it first saw the tenant.
    limiter = SeriesLimiter(window_s=60)
    assert limiter.tenant("acme", 59.0).started == 0.0
    assert limiter.tenant("acme", 60.0).started == 60.0
    assert limiter.tenant("acme", 1_000_000.5).started == 999_960.0
