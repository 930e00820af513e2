"""Pass/fail thresholds on a load test's figures: `write.p95<100ms`, `errors<1%`,
`query.p99<=500ms`, `write.rps>1000`, `write.pps>=100000`, `rate_limited<5%`.

Grammar (spaces around the operator are allowed, nothing else):

    threshold := [scenario "."] statistic operator number [unit]
    scenario  := "write" | "query"                   (none: every request of the run)
    statistic := "p50" | "p90" | "p95" | "p99" | "max" | "avg"   unit "ms" or "s" (required)
               | "errors" | "rate_limited"                        unit "%" (required)
               | "rps" | "pps"                                    no unit, or "/s"
    operator  := "<" | "<=" | ">" | ">="

Latencies are those of successful (2xx) answers; `errors` is the share of requests answered
with any status of 400 or more other than 429, or not answered at all; `rate_limited` is the
share answered 429; `pps` counts acknowledged points (writes only)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

LATENCIES = ("p50", "p90", "p95", "p99", "max", "avg")
RATIOS = ("errors", "rate_limited")
RATES = ("rps", "pps")
SCENARIOS = ("write", "query")

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_SHAPE = re.compile(
    r"(?:(?P<scenario>[a-z_]+)\.)?(?P<stat>[a-z0-9_]+)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|%|/s)?"
)


class Kind(StrEnum):
    LATENCY = "latency"
    RATIO = "ratio"
    RATE = "rate"


class ThresholdError(ValueError):
    """A threshold expression that does not parse; the message names what is wrong."""


@dataclass(frozen=True)
class Threshold:
    text: str
    scenario: str | None
    statistic: str
    op: str
    limit: float
    """In seconds for latencies, a fraction for ratios, per second for rates."""

    @property
    def kind(self) -> Kind:
        if self.statistic in LATENCIES:
            return Kind.LATENCY
        return Kind.RATIO if self.statistic in RATIOS else Kind.RATE

    @property
    def key(self) -> str:
        """The figure it reads: `write.p95`, `errors`."""
        return f"{self.scenario}.{self.statistic}" if self.scenario else self.statistic

    def holds(self, measured: float) -> bool:
        return _OPERATORS[self.op](measured, self.limit)

    def show(self, value: float) -> str:
        """A measured value in the threshold's own unit."""
        if self.kind is Kind.LATENCY:
            return f"{value * 1000:.1f} ms"
        if self.kind is Kind.RATIO:
            return f"{value * 100:.2f}%"
        return f"{value:,.1f}/s"


def parse(text: str) -> Threshold:
    raw = text.strip()
    found = _SHAPE.fullmatch(raw)
    if found is None:
        raise ThresholdError(
            f"threshold {text!r} does not parse: expected [write.|query.]STATISTIC OP "
            "NUMBER[UNIT], e.g. write.p95<100ms, errors<1%, write.rps>1000"
        )
    scenario, stat, op = found["scenario"], found["stat"], found["op"]
    number, unit = float(found["number"]), found["unit"]
    if scenario is not None and scenario not in SCENARIOS:
        raise ThresholdError(
            f"threshold {text!r}: unknown scenario {scenario!r}; use write or query (or none)"
        )
    if stat in LATENCIES:
        if unit not in {"ms", "s"}:
            raise ThresholdError(f"threshold {text!r}: {stat} needs a unit, ms or s (e.g. 100ms)")
        limit = number / 1000 if unit == "ms" else number
    elif stat in RATIOS:
        if unit != "%":
            raise ThresholdError(f"threshold {text!r}: {stat} is a percentage (e.g. {stat}<1%)")
        if number > 100:
            raise ThresholdError(f"threshold {text!r}: a percentage above 100")
        limit = number / 100
    elif stat in RATES:
        if unit not in {None, "/s"}:
            raise ThresholdError(f"threshold {text!r}: {stat} is a count per second, no unit")
        if stat == "pps" and scenario == "query":
            raise ThresholdError(f"threshold {text!r}: pps (points/s) applies to writes only")
        limit = number
    else:
        known = ", ".join((*LATENCIES, *RATIOS, *RATES))
        raise ThresholdError(f"threshold {text!r}: unknown statistic {stat!r}; use one of {known}")
    return Threshold(raw, scenario, stat, op, limit)


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    measured: float | None
    """None when the run produced nothing to measure (no successful request)."""

    @property
    def passed(self) -> bool:
        return self.measured is not None and self.threshold.holds(self.measured)

    def line(self) -> str:
        shown = "nothing measured" if self.measured is None else self.threshold.show(self.measured)
        word = "pass" if self.passed else "BREACHED"
        return f"threshold {self.threshold.text}: {word} (measured {shown})"


def judge(thresholds: list[Threshold], figures: Mapping[str, float | None]) -> list[Verdict]:
    """Each threshold against `figures` (keyed like `Threshold.key`)."""
    return [Verdict(t, figures.get(t.key)) for t in thresholds]
