"""A real Prometheus scrapes itself and remote-writes into Luminate; then the same PromQL,
evaluated by that Prometheus (the oracle) and by Luminate's Prometheus API over the same time,
must give the same series with the same values."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pytest

from tests.protocols.conftest import TENANT, Stack
from tests.protocols.oracle import differences, same_number

pytestmark = pytest.mark.e2e

# Every construct the Prometheus API promises, on Prometheus' own metrics.
EXPRESSIONS = [
    "1+1",
    "up",
    'prometheus_http_requests_total{handler="/metrics"}',
    'prometheus_http_requests_total{handler!="/metrics"}',
    'prometheus_http_requests_total{handler=~"/api/v1/.*|/metrics"}',
    'prometheus_http_requests_total{handler!~"/api/.*", code="200"}',
    "rate(prometheus_http_requests_total[30s])",
    "irate(prometheus_http_requests_total[30s])",
    "increase(prometheus_tsdb_head_samples_appended_total[30s])",
    "delta(go_memstats_heap_alloc_bytes[20s])",
    "avg_over_time(go_goroutines[30s])",
    "max_over_time(go_memstats_heap_alloc_bytes[30s])",
    "min_over_time(go_memstats_heap_alloc_bytes[30s])",
    "sum_over_time(scrape_samples_scraped[20s])",
    "count_over_time(up[30s])",
    "quantile_over_time(0.9, go_memstats_heap_alloc_bytes[30s])",
    "stddev_over_time(go_goroutines[30s])",
    "sum by (handler) (rate(prometheus_http_requests_total[30s]))",
    "sum without (handler, code) (prometheus_http_requests_total)",
    "avg by (job) (go_memstats_heap_alloc_bytes)",
    "min by (job) (go_gc_duration_seconds)",
    "max without (quantile) (go_gc_duration_seconds)",
    "count by (code) (prometheus_http_requests_total)",
    "topk(3, prometheus_http_requests_total)",
    "bottomk(2, prometheus_http_requests_total)",
    "topk by (code) (1, prometheus_http_requests_total)",
    "histogram_quantile(0.9, sum by (le) "
    "(rate(prometheus_http_request_duration_seconds_bucket[30s])))",
    "histogram_quantile(0.5, rate(prometheus_tsdb_compaction_chunk_size_bytes_bucket[30s]))",
    "go_goroutines * 2 + 1",
    "100 - go_goroutines",
    "go_goroutines > 5",
    "go_goroutines > bool 1000000",
    "process_resident_memory_bytes / on(instance, job) process_virtual_memory_bytes",
    "prometheus_http_requests_total / ignoring(code) group_left sum without (code) "
    "(prometheus_http_requests_total)",
    "go_goroutines offset 10s",
    "rate(prometheus_http_requests_total[20s] offset 10s)",
    "up and on(job) go_goroutines",
    "prometheus_http_requests_total unless on(handler) "
    'prometheus_http_requests_total{handler="/metrics"}',
    "go_goroutines or up",
    "-go_goroutines",
    "abs(100 - go_goroutines)",
    "scalar(sum(up)) * 3",
    'label_replace(up, "host", "$1", "instance", "(.*):.*")',
    "sum(rate(prometheus_http_requests_total[30s])) by (code) > 0",
]


def luminate(stack: Stack, path: str, **params: str) -> dict[str, Any]:
    r = httpx.post(
        f"{stack.luminate.url}/prometheus/api/v1/{path}",
        data=params,
        headers=stack.luminate.headers(TENANT, "read"),
        timeout=60,
    )
    body = r.json()
    assert r.status_code == 200, body
    assert body["status"] == "success"
    return dict(body["data"])


@pytest.fixture(scope="module")
def at(warm: Stack) -> float:
    """A whole second a little in the past, once everything before it reached Luminate."""
    at = math.floor(time.time()) - 3
    deadline = time.monotonic() + 30
    while not warm.caught_up(at + 1):
        assert time.monotonic() < deadline, "Prometheus did not send its samples in 30 s"
        time.sleep(0.5)
    return float(at)


def test_there_are_enough_expressions_and_they_cover_real_data(warm: Stack, at: float) -> None:
    assert len(EXPRESSIONS) >= 20
    data = luminate(warm, "query", query='count({__name__=~".+"})', time=str(at))
    assert float(data["result"][0]["value"][1]) > 100  # Prometheus' own series arrived


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_instant_query_agrees_with_prometheus(warm: Stack, at: float, expr: str) -> None:
    expected = warm.prometheus.api("query", query=expr, time=str(at))
    actual = luminate(warm, "query", query=expr, time=str(at))
    assert differences(expected, actual) == []
    if expected["resultType"] == "vector":
        assert expected["result"], f"{expr} answers nothing: the comparison would prove nothing"


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_range_query_agrees_with_prometheus(warm: Stack, at: float, expr: str) -> None:
    params = {"query": expr, "start": str(at - 20), "end": str(at), "step": "2.5"}
    expected = warm.prometheus.api("query_range", **params)
    actual = luminate(warm, "query_range", **params)
    assert differences(expected, actual) == []


def test_a_wrong_answer_is_caught() -> None:
    """The comparison itself can fail: a changed value, a lost series, a NaN."""
    one = {"resultType": "vector", "result": [{"metric": {"a": "1"}, "value": [1, "2"]}]}
    other = {"resultType": "vector", "result": [{"metric": {"a": "1"}, "value": [1, "2.001"]}]}
    none: dict[str, Any] = {"resultType": "vector", "result": []}
    assert differences(one, other)
    assert differences(one, none) == ["missing series {'a': '1'}"]
    assert not same_number("NaN", "1") and same_number("NaN", "NaN")
