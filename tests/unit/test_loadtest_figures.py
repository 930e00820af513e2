"""How workers' reports become the figures thresholds read: warm-up seconds are left out, 429s
are counted apart from errors, latencies are those of 2xx answers, and an interrupted run is
measured over the time it ran."""

from __future__ import annotations

from collections import Counter

import pytest

from luminate.loadtest.figures import Figures
from luminate.loadtest.summary import threshold_figures
from luminate.loadtest.tally import NO_ANSWER, Report, Tally


def tally(ok_ms: list[int], **statuses: int) -> Tally:
    counts: Counter[int] = Counter({200: len(ok_ms)})
    for name, n in statuses.items():
        counts[int(name.removeprefix("s"))] += n
    return Tally(statuses=counts, latencies_us=[ms * 1000 for ms in ok_ms], points=10 * len(ok_ms))


def report(worker: int, tallies: dict[tuple[int, str], Tally]) -> Report:
    return Report(worker, tallies, cpu_s=0.1, wall_s=1.0)


def test_warm_up_is_excluded_and_429s_are_not_errors() -> None:
    figures = Figures(warmup_s=2, duration_s=2, horizon_s=1)
    # Seconds 0 and 1 are warm-up: slow, failing, and not to be counted.
    figures.add(report(0, {(0, "write"): tally([5000] * 4, s500=4), (1, "write"): tally([5000])}))
    figures.add(report(0, {(2, "write"): tally(list(range(1, 51)), s429=25, s503=5)}))
    figures.add(report(1, {(3, "write"): tally(list(range(51, 101)), s0=5, s429=5)}))
    figures.close_all()
    got = threshold_figures(figures, ["write"])
    assert got["write.rps"] == (100 + 25 + 5 + 5 + 5) / 2
    assert got["write.pps"] == 10 * 100 / 2
    assert got["write.errors"] == pytest.approx(10 / 140)  # the 503s and the unanswered
    assert got["write.rate_limited"] == pytest.approx(30 / 140)
    assert got["write.p50"] == pytest.approx(0.050, rel=0.01)
    assert got["write.p99"] == pytest.approx(0.099, rel=0.01)
    assert got["write.max"] == pytest.approx(0.100, rel=0.01)  # not the 5 s of the warm-up
    assert got["errors"] == got["write.errors"]
    assert figures.measured["write"].statuses[NO_ANSWER] == 5


def test_a_second_closes_only_once_nothing_started_in_it_can_still_change() -> None:
    figures = Figures(warmup_s=0, duration_s=10, horizon_s=3)
    figures.add(report(0, {(0, "query"): tally([10, 20])}))
    figures.close_before(3.5)
    assert (0, "query") not in figures.complete
    figures.add(report(0, {(0, "query"): tally([30])}))  # a late answer
    figures.close_before(4.0)
    closed = figures.complete[(0, "query")]
    assert closed.tally.requests == 3 and closed.p50_ms == 20


def test_an_interrupted_run_is_measured_over_the_time_it_ran() -> None:
    figures = Figures(warmup_s=1, duration_s=60, horizon_s=1)
    figures.add(report(0, {(1, "write"): tally([10] * 20), (2, "write"): tally([10] * 20)}))
    figures.stopped_at(3.0)
    figures.close_all()
    assert figures.interrupted_after_s == 3.0
    assert threshold_figures(figures, ["write"])["write.rps"] == 20.0


def test_nothing_measured_leaves_latencies_undefined() -> None:
    figures = Figures(warmup_s=0, duration_s=1, horizon_s=1)
    figures.add(report(0, {(0, "write"): Tally(statuses=Counter({503: 3}))}))
    got = threshold_figures(figures, ["write"])
    assert got["write.p95"] is None and got["write.errors"] == 1.0
