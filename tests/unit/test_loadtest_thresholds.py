"""The threshold grammar of `luminate loadtest`: what parses, into what, and how a bad
expression is named."""

from __future__ import annotations

import pytest

from luminate.loadtest.thresholds import ThresholdError, Verdict, judge, parse


@pytest.mark.parametrize(
    ("text", "key", "op", "limit"),
    [
        ("write.p95<100ms", "write.p95", "<", 0.1),
        ("query.p99<=500ms", "query.p99", "<=", 0.5),
        ("p50 < 2s", "p50", "<", 2.0),
        ("errors<1%", "errors", "<", 0.01),
        ("write.errors<=0%", "write.errors", "<=", 0.0),
        ("rate_limited<5.5%", "rate_limited", "<", 0.055),
        ("write.rps>1000", "write.rps", ">", 1000.0),
        ("write.pps>=100000/s", "write.pps", ">=", 100000.0),
        ("query.max<10s", "query.max", "<", 10.0),
        ("avg<20ms", "avg", "<", 0.02),
    ],
)
def test_expressions_parse_into_their_figure_operator_and_limit(
    text: str, key: str, op: str, limit: float
) -> None:
    t = parse(text)
    assert (t.key, t.op) == (key, op)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("write.p95<100", "needs a unit, ms or s"),
        ("write.p95<100%", "needs a unit, ms or s"),
        ("errors<1", "is a percentage"),
        ("errors<150%", "above 100"),
        ("write.rps>10ms", "no unit"),
        ("query.pps>10", "writes only"),
        ("read.p95<1s", "unknown scenario 'read'"),
        ("write.p42<1s", "unknown statistic 'p42'"),
        ("write.p95<<1s", "does not parse"),
        ("write.p95=1s", "does not parse"),
        ("write.p95<-1ms", "does not parse"),
        ("", "does not parse"),
        ("write.p95<1e3ms", "does not parse"),
    ],
)
def test_bad_expressions_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ThresholdError) as caught:
        parse(text)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_each_operator_holds_exactly_on_its_side_of_the_limit() -> None:
    below, at, above = 0.099, 0.1, 0.101
    for text, holds in [
        ("p95<100ms", (True, False, False)),
        ("p95<=100ms", (True, True, False)),
        ("p95>100ms", (False, False, True)),
        ("p95>=100ms", (False, True, True)),
    ]:
        t = parse(text)
        assert tuple(t.holds(v) for v in (below, at, above)) == holds, text


def test_verdicts_name_the_breach_and_treat_nothing_measured_as_a_breach() -> None:
    thresholds = [parse("write.p95<100ms"), parse("errors<1%"), parse("query.p99<1s")]
    figures = {"write.p95": 0.153, "errors": 0.0, "query.p99": None}
    verdicts = judge(thresholds, figures)
    assert [v.passed for v in verdicts] == [False, True, False]
    assert verdicts[0].line() == "threshold write.p95<100ms: BREACHED (measured 153.0 ms)"
    assert verdicts[1].line() == "threshold errors<1%: pass (measured 0.00%)"
    assert verdicts[2].line() == "threshold query.p99<1s: BREACHED (measured nothing measured)"
    assert Verdict(parse("write.rps>10"), 12.0).line().endswith("(measured 12.0/s)")
