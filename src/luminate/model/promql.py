"""PromQL as a frozen expression model: what the Prometheus API's edge decodes a parsed query
into, what storage compiles selectors of, and what the PromQL service evaluates. Labels are
Prometheus' view of a point: `__name__` is the metric name, every other label a dimension."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

NAME_LABEL = "__name__"
# Prometheus' defaults: how far back an instant selector looks for a sample, and the most
# points a range query may return per series.
LOOKBACK_MS = 300_000
MAX_POINTS_PER_SERIES = 11_000

Labels = tuple[tuple[str, str], ...]  # sorted by name; `__name__` included when present


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    name: str
    op: MatchOp
    value: str


@dataclass(frozen=True)
class Selector:
    """`metric{matchers}` or, with `range_ms`, `metric{matchers}[range]`, shifted back by
    `offset_ms`."""

    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    range_ms: int | None = None


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class String:
    value: str


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False


class Card(StrEnum):
    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"
    ONE_TO_MANY = "one-to-many"
    MANY_TO_MANY = "many-to-many"


@dataclass(frozen=True)
class Binary:
    """`lhs op rhs`; `on` set means `on(matching)`, else `ignoring(matching)`."""

    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    on: bool = False
    matching: tuple[str, ...] = ()
    card: Card = Card.ONE_TO_ONE
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Negate:
    expr: Expr


Expr = Selector | Number | String | Call | Aggregate | Binary | Negate


@dataclass(frozen=True)
class Evaluation:
    """Evaluate `expr` at `start_ms`, `start_ms + step_ms`, ... up to `end_ms` (an instant
    query has start = end), under the tenant's query budgets."""

    expr: Expr
    start_ms: int
    end_ms: int
    step_ms: int
    timeout_s: float
    max_series: int
    max_rows_scanned: int = 0
    lookback_ms: int = LOOKBACK_MS

    @property
    def steps(self) -> int:
        return (self.end_ms - self.start_ms) // self.step_ms + 1


@dataclass(frozen=True)
class SeriesSamples:
    """One stored series: its labels and its samples in time order."""

    labels: Labels
    timestamps: list[int]
    values: list[float]


@dataclass(frozen=True)
class SeriesMatch:
    """Which series a discovery call (labels, label values, series) looks at: any of the
    selectors' series (`match[]`), all of the tenant's without selectors, within the window."""

    selectors: tuple[tuple[Matcher, ...], ...]
    start_ms: int
    end_ms: int
    limit: int
