"""What the generator's processes count and send to the process that reports.

A `Tally` holds the requests of one scenario that *started* in one second of the run; workers
send the tallies they filled since their last `Report` about once a second, and the reporting
process adds them up. Everything here is plain data, cheap to pickle between processes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

NO_ANSWER = 0
"""The status recorded for a request that got no HTTP answer (refused, reset, timed out)."""


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_us: list[int] = field(default_factory=list)
    """Of successful (2xx) answers only: a 429 or an error answered fast would flatter them."""
    points: int = 0
    """Points acknowledged (accepted) by the server."""
    rejected_points: int = 0
    no_answer: Counter[str] = field(default_factory=Counter)
    """Requests without an HTTP answer, by reason (refused, reset, timeout, protocol)."""
    examples: dict[int, str] = field(default_factory=dict)
    """The first error answer seen per status: `code: message`."""

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s == NO_ANSWER or (s >= 400 and s != 429))

    @property
    def rate_limited(self) -> int:
        return self.statuses[429]

    def add(self, other: Tally) -> None:
        self.statuses.update(other.statuses)
        self.latencies_us.extend(other.latencies_us)
        self.points += other.points
        self.rejected_points += other.rejected_points
        self.no_answer.update(other.no_answer)
        for status, text in other.examples.items():
            self.examples.setdefault(status, text)


@dataclass(frozen=True)
class Acknowledged:
    """One write batch the server acknowledged: (tenant, timestamp) names it within a run."""

    tenant: str
    timestamp_ms: int
    points: int


@dataclass
class Report:
    worker: int
    tallies: dict[tuple[int, str], Tally]
    """(second of the run, scenario) -> requests started in that second and answered since."""
    cpu_s: float
    """CPU this worker process used since its previous report."""
    wall_s: float
    lag_s: float = 0.0
    """How far behind its schedule an open-loop sender fell (0 for virtual users)."""
    final: bool = False
    acknowledged: list[Acknowledged] = field(default_factory=list)
    failure: str | None = None
    """Set when the worker itself failed (not the target): the run is void."""
