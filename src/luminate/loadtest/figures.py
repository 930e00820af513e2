"""The reporting process's sum of the workers' reports: per-second rows for the timeline and
the chart, whole-run latency histograms of the measured window, and the generator's own CPU.

Latencies of the measured window go into HDR histograms (3 significant digits, 1 µs to 1 h),
so percentiles over any length of run take bounded memory; each second's own percentiles are
computed once no request started in it can still be outstanding, and its latencies dropped."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from luminate.loadtest.tally import Acknowledged, Report, Tally

SCENARIOS = ("write", "query")
PERCENTILES = (50.0, 90.0, 95.0, 99.0)


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, 3_600_000_000, 3)


@dataclass
class Second:
    """One second of the run for one scenario, once complete."""

    tally: Tally
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class Figures:
    warmup_s: float
    duration_s: float
    horizon_s: float
    """A second is complete this long after it ended (the request timeout, and some)."""
    seconds: dict[tuple[int, str], Tally] = field(default_factory=dict)
    complete: dict[tuple[int, str], Second] = field(default_factory=dict)
    histograms: dict[str, HdrHistogram] = field(default_factory=dict)
    measured: dict[str, Tally] = field(default_factory=dict)
    cpu_s: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    wall_s: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    cpu_per_second: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    """worker -> CPU share of each report interval."""
    lag_s: float = 0.0
    acknowledged: list[Acknowledged] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    interrupted_after_s: float | None = None

    def __post_init__(self) -> None:
        for name in (*SCENARIOS, "all"):
            self.histograms[name] = _histogram()
            self.measured[name] = Tally()

    def stopped_at(self, elapsed_s: float) -> None:
        """The run was stopped early: the measured window ends here."""
        self.interrupted_after_s = elapsed_s
        self.duration_s = max(1.0, min(self.duration_s, elapsed_s - self.warmup_s))

    def in_window(self, second: int) -> bool:
        return self.warmup_s <= second < self.warmup_s + self.duration_s

    def add(self, report: Report) -> None:
        for (second, scenario), tally in report.tallies.items():
            if self.in_window(second):
                for name in (scenario, "all"):
                    self.measured[name].add(_counts_only(tally))
                    record = self.histograms[name].record_value
                    for us in tally.latencies_us:
                        record(max(1, us))
            key = (second, scenario)
            if key in self.complete:  # a late answer for a second already closed
                self.complete[key].tally.add(_counts_only(tally))
            elif key in self.seconds:
                self.seconds[key].add(tally)
            else:
                self.seconds[key] = tally
        self.cpu_s[report.worker] += report.cpu_s
        self.wall_s[report.worker] += report.wall_s
        if report.wall_s > 0 and not report.final:
            self.cpu_per_second[report.worker].append(report.cpu_s / report.wall_s)
        self.lag_s = max(self.lag_s, report.lag_s)
        self.acknowledged.extend(report.acknowledged)
        if report.failure:
            self.failures.append(f"worker {report.worker}: {report.failure}")

    def close_before(self, elapsed_s: float) -> None:
        """Compute the percentiles of every second that can no longer change."""
        for key in [k for k in self.seconds if k[0] + 1 + self.horizon_s <= elapsed_s]:
            self.complete[key] = _close(self.seconds.pop(key))

    def close_all(self) -> None:
        self.close_before(float("inf"))

    def percentile_ms(self, scenario: str, percentile: float) -> float | None:
        histogram = self.histograms[scenario]
        if histogram.get_total_count() == 0:
            return None
        return float(histogram.get_value_at_percentile(percentile)) / 1000

    def max_ms(self, scenario: str) -> float | None:
        histogram = self.histograms[scenario]
        return None if histogram.get_total_count() == 0 else histogram.get_max_value() / 1000

    def mean_ms(self, scenario: str) -> float | None:
        histogram = self.histograms[scenario]
        return None if histogram.get_total_count() == 0 else histogram.get_mean_value() / 1000


def _counts_only(tally: Tally) -> Tally:
    return Tally(
        statuses=tally.statuses,
        points=tally.points,
        rejected_points=tally.rejected_points,
        no_answer=tally.no_answer,
        examples=tally.examples,
    )


def _close(tally: Tally) -> Second:
    ordered = sorted(tally.latencies_us)
    out = Second(_counts_only(tally))
    if ordered:
        pick = [
            ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] / 1000 for q in (50, 95, 99)
        ]
        out.p50_ms, out.p95_ms, out.p99_ms = pick
    return out
