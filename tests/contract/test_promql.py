"""PromQL on every backend: the series storage selects for each selector (matchers, windows,
tenant) and the answers evaluated over them equal those over the same points selected in plain
Python, and the Prometheus API's discovery reads the same labels everywhere."""

from __future__ import annotations

import re

import numpy as np
import pytest

from luminate.http.codec.promql import parse
from luminate.model.promql import (
    NAME_LABEL,
    Evaluation,
    Matcher,
    MatchOp,
    Selector,
    SeriesMatch,
    SeriesSamples,
)
from luminate.model.time import now_ms
from luminate.query.promql.engine import Evaluator
from luminate.query.promql.values import Scalar, Value
from luminate.storage.promql import SeriesReads
from luminate.storage.store import Storage
from tests.contract import oracle

SPAN_MS = 1_800_000
START = now_ms() - SPAN_MS - 60_000
END = START + SPAN_MS

EXPRESSIONS = [
    "api_latency",
    'api_latency{customer_id="cust_1"}',
    'api_latency{customer_id!="cust_1", region=""}',
    'api_latency{endpoint=~"/api/e[01]"}',
    'api_latency{endpoint!~"/api/e[01]", region!=""}',
    '{__name__=~"api_.*|requests", customer_id="cust_2"}',
    "sum by (customer_id) (rate(requests[5m]))",
    "increase(requests[10m])",
    "max_over_time(api_latency[10m]) - min_over_time(api_latency[10m])",
    "quantile_over_time(0.9, api_latency[15m])",
    "topk(2, avg by (endpoint) (api_latency))",
    "count without (region) (api_latency offset 5m)",
]


@pytest.fixture
def loaded(storage: Storage, tenant: str, other_tenant: str) -> list[oracle.Point]:
    points = oracle.generate(2000, seed=11, start_ms=START, span_ms=SPAN_MS)
    points += oracle.generate(
        2000, seed=12, start_ms=START, span_ms=SPAN_MS, metric="requests", counter=True
    )
    storage.write([oracle.to_batch(tenant, points)])
    # The other tenant's points share names and labels: none may show up.
    noise = oracle.generate(500, seed=13, start_ms=START, span_ms=SPAN_MS)
    storage.write([oracle.to_batch(other_tenant, noise)])
    return points


def _matches(m: Matcher, labels: dict[str, str]) -> bool:
    value = labels.get(m.name, "")
    if m.op is MatchOp.EQ:
        return value == m.value
    if m.op is MatchOp.NE:
        return value != m.value
    found = re.fullmatch(m.value, value) is not None
    return found if m.op is MatchOp.RE else not found


def in_python(points: list[oracle.Point]) -> object:
    def fetch(s: Selector, start: int, end: int) -> list[SeriesSamples]:
        series: dict[tuple[tuple[str, str], ...], list[oracle.Point]] = {}
        for p in points:
            labels = {NAME_LABEL: p.metric, **p.dims}
            if start <= p.ts <= end and all(_matches(m, labels) for m in s.matchers):
                series.setdefault(tuple(sorted(labels.items())), []).append(p)
        return [
            SeriesSamples(k, [p.ts for p in ps], [p.value for p in ps]) for k, ps in series.items()
        ]

    return fetch


def _run(expr: str, fetch: object) -> Value:
    ev = Evaluation(parse(expr), END - 600_000, END, 60_000, 30.0, max_series=10_000)
    return Evaluator(ev, fetch).run()  # type: ignore[arg-type]


def _same(a: Value, b: Value) -> None:
    assert not isinstance(a, Scalar) and not isinstance(b, Scalar)
    rows_a = {ls: i for i, ls in enumerate(a.labels)}
    rows_b = {ls: i for i, ls in enumerate(b.labels)}
    assert rows_a.keys() == rows_b.keys()
    for ls, i in rows_a.items():
        j = rows_b[ls]
        assert (a.present[i] == b.present[j]).all(), ls
        np.testing.assert_allclose(a.values[i][a.present[i]], b.values[j][b.present[j]], rtol=1e-9)


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_promql_answers_as_over_the_points_in_python(
    storage: Storage, tenant: str, loaded: list[oracle.Point], expr: str
) -> None:
    reads = SeriesReads(storage.engine, lambda: storage.layout)

    def from_storage(s: Selector, start: int, end: int) -> list[SeriesSamples]:
        series, _ = reads.samples(tenant, s.matchers, start, end, max_series=10_000, timeout_s=30)
        return series

    got = _run(expr, from_storage)
    expected = _run(expr, in_python(loaded))
    assert not isinstance(expected, Scalar) and len(expected) > 0, "the case proves nothing"
    _same(got, expected)


def test_discovery_reads_the_stored_labels(
    storage: Storage, tenant: str, loaded: list[oracle.Point]
) -> None:
    reads = SeriesReads(storage.engine, lambda: storage.layout)
    everything = SeriesMatch((), START, END, 1000)
    assert reads.label_names(tenant, everything) == ["customer_id", "endpoint", "region"]
    assert reads.label_values(tenant, NAME_LABEL, everything) == ["api_latency", "requests"]
    only = SeriesMatch(((Matcher("customer_id", MatchOp.EQ, "cust_3"),),), START, END, 1000)
    assert reads.label_values(tenant, "customer_id", only) == ["cust_3"]
    expected = {
        tuple(sorted({NAME_LABEL: p.metric, **p.dims}.items()))
        for p in loaded
        if p.dims["customer_id"] == "cust_3"
    }
    assert set(reads.series(tenant, only)) == expected
