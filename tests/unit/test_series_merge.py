"""Series trackers merge across processes and restarts: hashes are the same in every process,
snapshots round-trip, a merge counts a series seen by several processes once and makes every
series either one saw known, and Bloom filters of different sizes fold together."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from luminate.limits import series, snapshot
from luminate.limits.bloom import Bloom, bits_for
from luminate.limits.series import TenantSeries, series_hashes

BIG = 10**12
WINDOW = 86_400.0


def points(n: int, offset: int = 0) -> tuple[list[str], list[int]]:
    names = ["m"] * n
    values = [[f"c{offset + i}", f"/e{(offset + i) % 7}"] for i in range(n)]
    return names, series_hashes(names, [["customer", "endpoint"]] * n, values)


_PROGRAM = """
import json
from luminate.limits.series import series_hashes
keys = [["a", "b"], ["b", "a"], []]
print(json.dumps(series_hashes(["m", "m", "n"], keys, [["1", "2"], ["2", "1"], []])))
"""


def test_hashes_are_the_same_in_every_process() -> None:
    # Python salts its own string hash per process; two interpreters with different salts
    # must still agree, or trackers could not be merged.
    runs = []
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", _PROGRAM],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        runs.append(json.loads(out.stdout))
    assert runs[0] == runs[1]
    assert runs[0][0] == runs[0][1]  # key order does not matter
    assert all(0 <= h < 2**63 for h in runs[0])


def test_values_cannot_be_shifted_between_keys() -> None:
    # Length-framed values: ("a\\x1f", "b") and ("a", "\\x1fb") are different series.
    a = series_hashes(["m"], [["x", "y"]], [["a\x1f", "b"]])
    b = series_hashes(["m"], [["x", "y"]], [["a", "\x1fb"]])
    assert a != b


def _merged(*trackers: TenantSeries) -> TenantSeries:
    out = TenantSeries(trackers[0].started)
    for t in trackers:
        out.merge(snapshot.decode(snapshot.encode(t.snapshot())))
    return out


def test_a_merge_counts_shared_series_once_and_knows_all_of_them() -> None:
    first, second = TenantSeries(0.0), TenantSeries(0.0)
    a_names, a_hashes = points(600)
    b_names, b_hashes = points(600, offset=400)  # 200 in common
    first.admit(a_names, a_hashes, BIG, 0)
    second.admit(b_names, b_hashes, BIG, 0)
    merged = _merged(first, second)
    assert abs(merged.estimate() - 1000) <= 20
    # At its limit, the merged tracker refuses new series but admits any either one saw.
    assert merged.admit(a_names + b_names, a_hashes + b_hashes, 1000, 0).refused == []
    new_names, new_hashes = points(10, offset=5_000)
    assert len(merged.admit(new_names, new_hashes, 1000, 0).refused) == 10


def test_merging_the_same_snapshot_twice_changes_nothing() -> None:
    tracker = TenantSeries(0.0)
    names, hashes = points(300)
    tracker.admit(names, hashes, BIG, 0)
    snap = tracker.snapshot()
    again = _merged(tracker, tracker, tracker)
    assert again.estimate() == tracker.estimate()
    assert snapshot.decode(snapshot.encode(snap)) == snap


def test_snapshots_carry_per_metric_counts() -> None:
    tracker = TenantSeries(0.0)
    names, hashes = points(50)
    tracker.admit(names, hashes, BIG, 1000)  # a per-metric limit: per-metric sketches kept
    assert _merged(tracker).metric_estimate("m") == 50


def test_only_changed_trackers_are_dirty() -> None:
    tracker = TenantSeries(0.0)
    assert not tracker.dirty
    names, hashes = points(5)
    tracker.admit(names, hashes, BIG, 0)
    assert tracker.dirty
    tracker.snapshot()
    assert not tracker.dirty
    tracker.admit(names, hashes, BIG, 0)  # nothing new
    assert not tracker.dirty


def test_exact_sets_and_bloom_filters_merge_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(series, "_EXACT_UNTIL", 100)
    big, small = TenantSeries(0.0), TenantSeries(0.0)
    big_names, big_hashes = points(500)
    small_names, small_hashes = points(50, offset=10_000)
    big.admit(big_names, big_hashes, BIG, 0)
    small.admit(small_names, small_hashes, BIG, 0)
    assert big._exact is None and small._exact is not None
    for merged in (_merged(big, small), _merged(small, big)):
        assert merged.admit(big_names + small_names, big_hashes + small_hashes, 1, 0).refused == []


def test_bloom_filters_of_different_sizes_fold_exactly() -> None:
    rng = np.random.default_rng(7)
    a_hashes = rng.integers(0, 2**63, 5_000, dtype=np.uint64)
    b_hashes = rng.integers(0, 2**63, 5_000, dtype=np.uint64)
    large, small = Bloom(bits_for(1_000_000)), Bloom(bits_for(10_000))
    large.add(a_hashes)
    small.add(b_hashes)
    merged = large.merged(small)
    assert merged.bits == small.bits
    assert merged.contains(a_hashes).all() and merged.contains(b_hashes).all()
    assert Bloom(small.bits).merged(large).contains(a_hashes).all()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not zstd",
        snapshot.encode(snapshot.Snapshot(2, 0.0, b"", {}, exact=b"")),
        snapshot.encode(snapshot.Snapshot(1, 0.0, b"", {}, exact=None, bloom=None)),
    ],
)
def test_unreadable_snapshots_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="snapshot"):
        snapshot.decode(data)


def test_a_corrupt_sketch_or_another_window_is_refused() -> None:
    tracker = TenantSeries(0.0)
    with pytest.raises(ValueError, match="unreadable sketch"):
        tracker.merge(snapshot.Snapshot(1, 0.0, b"\x01\x02", {}, exact=b""))
    other = TenantSeries(WINDOW).snapshot()
    with pytest.raises(ValueError, match="another window"):
        tracker.merge(other)
