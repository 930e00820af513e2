"""Malformed and hostile queries, discovery and admin parameters over HTTP: each answers a
precise status and stable code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.bodies import (
    TIMEOUT_S,
    Body,
    count,
    dims,
    metrics_body,
    nested,
    post,
    rfc3339,
    write,
)
from tests.app.inprocess import InProcessApp
from tests.support.clock import now_ms
from tests.support.errors import assert_error
from tests.support.points import HOUR_MS, PROBE, dumps, point
from tests.support.tenants import new_tenant

# -- queries ------------------------------------------------------------------------------------

BASE_QUERY: dict[str, Any] = {
    "queryType": "range",
    "metricName": PROBE,
    "timeRange": {"relative": "1h"},
}


def q(**over: Any) -> Body:
    """BASE_QUERY with `over` applied (a None value removes the field)."""

    def make() -> bytes:
        body = {**BASE_QUERY, **over}
        return dumps({k: v for k, v in body.items() if v is not None})

    return make


def agg(**over: Any) -> Body:
    return q(**{"queryType": "aggregate", "aggregation": "avg", **over})


def window(start_offset_ms: int, end_offset_ms: int) -> dict[str, int]:
    now = now_ms()
    return {"start": now + start_offset_ms, "end": now + end_offset_ms}


QUERY_CASES: list[tuple[str, Body, str]] = [
    ("malformed-json", lambda: b'{"queryType":', "malformed_json"),
    ("empty-body", lambda: b"", "malformed_json"),
    ("invalid-utf8", lambda: q()().replace(b'"probe"', b'"pro\xffbe"'), "malformed_json"),
    ("not-an-object", lambda: b"[]", "invalid_body"),
    ("unknown-field", q(tenant_id="someone-else"), "invalid_body"),
    ("unknown-time-range-field", q(timeRange={"relative": "1h", "step": "1m"}), "invalid_body"),
    ("limit-as-string", q(limit="10"), "invalid_body"),
    ("limit-as-float", q(limit=1.5), "invalid_body"),
    ("filter-value-number", q(filters={"host": 1}), "invalid_body"),
    ("group-by-a-string", agg(groupBy="host"), "invalid_body"),
    (
        "nested-10000-in-filters",
        lambda: q(filters={})().replace(b"{}", nested(10_000)),
        "invalid_body",
    ),
    ("nested-10000-whole-body", lambda: nested(10_000), "invalid_body"),
    ("missing-query-type", q(queryType=None), "missing_field"),
    ("missing-metric-name", q(metricName=None), "missing_field"),
    ("missing-time-range", q(timeRange=None), "missing_field"),
    ("unknown-query-type", q(queryType="histogram"), "unknown_query_type"),
    ("query-type-upper-case", q(queryType="RANGE"), "unknown_query_type"),
    ("query-type-empty", q(queryType=""), "unknown_query_type"),
    ("unknown-aggregation", agg(aggregation="median"), "unknown_aggregation"),
    ("aggregation-upper-case", agg(aggregation="AVG"), "unknown_aggregation"),
    ("aggregation-p42", agg(aggregation="p42"), "unknown_aggregation"),
    ("aggregate-without-aggregation", q(queryType="aggregate"), "missing_field"),
    ("aggregation-on-range", q(aggregation="avg"), "not_applicable"),
    (
        "aggregation-on-rate",
        q(queryType="rate", interval="1m", aggregation="sum"),
        "not_applicable",
    ),
    ("group-by-on-range", q(groupBy=["host"]), "not_applicable"),
    ("interval-on-range", q(interval="1m"), "not_applicable"),
    ("rate-without-interval", q(queryType="rate"), "missing_field"),
    ("inverted-time-range", q(timeRange=window(0, -HOUR_MS)), "invalid_time_range"),
    ("equal-time-range", q(timeRange=window(0, 0)), "invalid_time_range"),
    (
        "relative-and-start",
        q(timeRange={"relative": "1h", "start": now_ms()}),
        "invalid_time_range",
    ),
    ("start-without-end", q(timeRange={"start": now_ms()}), "missing_field"),
    ("empty-time-range", q(timeRange={}), "missing_field"),
    ("start-garbage", q(timeRange={"start": "last tuesday", "end": "now"}), "invalid_time"),
    (
        "start-rfc3339-without-offset",
        q(timeRange={"start": "2026-01-01T00:00:00", "end": 1}),
        "invalid_time",
    ),
    ("end-negative", q(timeRange={"start": 0, "end": -1}), "invalid_time"),
    ("end-after-year-2261", q(timeRange={"start": 0, "end": 10**16}), "invalid_time"),
    ("relative-unknown-unit", q(timeRange={"relative": "15x"}), "invalid_duration"),
    ("relative-empty", q(timeRange={"relative": ""}), "invalid_duration"),
    ("relative-negative", q(timeRange={"relative": "-1h"}), "invalid_duration"),
    ("relative-zero", q(timeRange={"relative": "0m"}), "invalid_duration"),
    ("relative-fraction", q(timeRange={"relative": "1.5h"}), "invalid_duration"),
    ("relative-with-space", q(timeRange={"relative": "1h 30m"}), "invalid_duration"),
    ("relative-unit-only", q(timeRange={"relative": "h"}), "invalid_duration"),
    ("relative-ten-digits", q(timeRange={"relative": "1000000000s"}), "invalid_duration"),
    ("interval-garbage", agg(interval="often"), "invalid_duration"),
    ("interval-zero", agg(interval="0s"), "invalid_duration"),
    ("limit-zero", q(limit=0), "invalid_limit"),
    ("limit-negative", q(limit=-1), "invalid_limit"),
    ("limit-10e9", q(limit=10**9), "invalid_limit"),
    ("limit-2e64", q(limit=2**64), "invalid_limit"),
    ("timeout-garbage", q(timeout="soon"), "invalid_timeout"),
    ("timeout-zero", q(timeout="0s"), "invalid_timeout"),
    ("timeout-negative", q(timeout="-1s"), "invalid_timeout"),
    ("timeout-fraction", q(timeout="1.5s"), "invalid_timeout"),
    ("timeout-empty", q(timeout=""), "invalid_timeout"),
    ("timeout-over-max", q(timeout="10m"), "invalid_timeout"),
    ("too-many-buckets-aggregate", agg(interval="1ms"), "too_many_buckets"),
    (
        "too-many-buckets-rate",
        q(queryType="rate", interval="1s", timeRange={"relative": "30d"}),
        "too_many_buckets",
    ),
    ("filter-key-starts-with-digit", q(filters={"1host": "h1"}), "invalid_filter"),
    ("filter-key-with-dash", q(filters={"ho-st": "h1"}), "invalid_filter"),
    ("filter-key-empty", q(filters={"": "h1"}), "invalid_filter"),
    ("filter-value-empty", q(filters={"host": ""}), "invalid_filter"),
    ("filter-value-257-chars", q(filters={"host": "h" * 257}), "invalid_filter"),
    ("21-filters", q(filters=dims(21)), "invalid_filter"),
    ("group-by-key-starts-with-digit", agg(groupBy=["1host"]), "invalid_group_by"),
    ("group-by-key-empty", agg(groupBy=[""]), "invalid_group_by"),
    ("group-by-duplicate", agg(groupBy=["host", "host"]), "invalid_group_by"),
    ("group-by-11-keys", agg(groupBy=[f"k{i}" for i in range(11)]), "invalid_group_by"),
    ("metric-name-starts-with-digit", q(metricName="1probe"), "invalid_metric_name"),
    ("metric-name-empty", q(metricName=""), "invalid_metric_name"),
    ("metric-name-257-chars", q(metricName="m" * 257), "invalid_metric_name"),
    ("metric-name-with-quote", q(metricName="probe' OR 1=1"), "invalid_metric_name"),
]


@pytest.fixture(scope="module")
def query_tenant(server: InProcessApp) -> str:
    """A tenant holding one point of PROBE, so valid queries have something to find."""
    tenant = new_tenant()
    resp = write(server, tenant, metrics_body(dumps(point(value=3.0, timestamp=now_ms() - 1000))))
    assert resp.status_code == 200, resp.text
    return tenant


@pytest.mark.parametrize(("make", "code"), [pytest.param(m, c, id=i) for i, m, c in QUERY_CASES])
def test_an_invalid_query_names_the_problem(
    server: InProcessApp, query_tenant: str, make: Body, code: str
) -> None:
    body = assert_error(post(server, "/api/v1/query", query_tenant, make()), 400, code)
    assert set(body) == {"error"}


QUERY_CONTROLS: list[tuple[str, Body]] = [
    ("range", q()),
    ("relative-compound", q(timeRange={"relative": "2h30m"})),
    ("relative-weeks", q(timeRange={"relative": "1w"})),
    (
        "explicit-rfc3339-window",
        q(timeRange={"start": rfc3339(now_ms() - HOUR_MS), "end": rfc3339(now_ms() + 1000, 2)}),
    ),
    ("filter-value-256-chars", q(filters={"host": "h" * 256})),
    ("20-filters", q(filters=dims(20))),
    ("limit-max", q(limit=100_000)),
    ("timeout-max", q(timeout="60s")),
    ("timeout-milliseconds", q(timeout="500ms")),
    ("group-by-10-keys", agg(groupBy=[f"k{i}" for i in range(10)])),
    ("exactly-max-buckets", agg(interval="1s", timeRange=window(-10_000_000, 0))),
    ("rate", q(queryType="rate", interval="1m")),
    ("every-aggregation", agg(aggregation="integral")),
]


@pytest.mark.parametrize("make", [pytest.param(m, id=i) for i, m in QUERY_CONTROLS])
def test_valid_queries_near_the_limits_are_answered(
    server: InProcessApp, query_tenant: str, make: Body
) -> None:
    resp = post(server, "/api/v1/query", query_tenant, make())
    assert resp.status_code == 200, resp.text
    assert isinstance(resp.json()["results"], list)


def test_a_range_control_query_finds_the_point(server: InProcessApp, query_tenant: str) -> None:
    resp = post(server, "/api/v1/query", query_tenant, q()())
    assert [r["value"] for r in resp.json()["results"]] == [3.0]


# -- discovery and admin parameters -------------------------------------------------------------

PARAM_CASES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("metrics-limit-zero", "GET", "/api/v1/metrics", {"limit": "0"}, "invalid_limit"),
    ("metrics-limit-negative", "GET", "/api/v1/metrics", {"limit": "-1"}, "invalid_limit"),
    ("metrics-limit-garbage", "GET", "/api/v1/metrics", {"limit": "ten"}, "invalid_limit"),
    ("metrics-limit-over-max", "GET", "/api/v1/metrics", {"limit": "10001"}, "invalid_limit"),
    ("metrics-start-garbage", "GET", "/api/v1/metrics", {"start": "yesterday"}, "invalid_time"),
    (
        "metrics-inverted-window",
        "GET",
        "/api/v1/metrics",
        {"start": "2000", "end": "1000"},
        "invalid_time_range",
    ),
    ("cardinality-limit-zero", "GET", "/api/v1/cardinality", {"limit": "0"}, "invalid_limit"),
    (
        "dimensions-bad-metric",
        "GET",
        "/api/v1/metrics/1probe/dimensions",
        {},
        "invalid_metric_name",
    ),
    (
        "values-bad-key",
        "GET",
        "/api/v1/metrics/probe/dimensions/1host/values",
        {},
        "invalid_parameter",
    ),
    (
        "values-limit-over-max",
        "GET",
        "/api/v1/metrics/probe/dimensions/host/values",
        {"limit": "10001"},
        "invalid_limit",
    ),
    ("delete-without-before", "DELETE", "/api/v1/admin/metrics/probe", {}, "missing_field"),
    (
        "delete-before-garbage",
        "DELETE",
        "/api/v1/admin/metrics/probe",
        {"before": "soon"},
        "invalid_time",
    ),
    (
        "delete-bad-metric",
        "DELETE",
        "/api/v1/admin/metrics/1probe",
        {"before": "0"},
        "invalid_metric_name",
    ),
    (
        "admin-names-bad-tenant",
        "GET",
        "/api/v1/admin/retention",
        {"tenant": "not a tenant"},
        "invalid_parameter",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [pytest.param(m, p, pa, c, id=i) for i, m, p, pa, c in PARAM_CASES],
)
def test_invalid_parameters_are_rejected(
    server: InProcessApp,
    query_tenant: str,
    method: str,
    path: str,
    params: dict[str, Any],
    code: str,
) -> None:
    resp = server.client.request(
        method,
        path,
        headers=server.headers(query_tenant, "read,admin"),
        params=params,
        timeout=TIMEOUT_S,
    )
    assert_error(resp, 400, code)
    assert count(server, query_tenant) == 1


RETENTION_CASES: list[tuple[str, bytes, str]] = [
    ("malformed", b'{"days":', "malformed_json"),
    ("invalid-utf8", b'{"days":7,"metricName":"pro\xffbe"}', "malformed_json"),
    ("missing-days", b"{}", "missing_field"),
    ("days-string", b'{"days":"7"}', "invalid_body"),
    ("unknown-field", b'{"days":7,"tenant_id":"other"}', "invalid_body"),
    ("days-zero", b'{"days":0}', "invalid_parameter"),
    ("days-3651", b'{"days":3651}', "invalid_parameter"),
    ("bad-metric", b'{"days":7,"metricName":"1probe"}', "invalid_metric_name"),
]


@pytest.mark.parametrize(
    ("body", "code"), [pytest.param(b, c, id=i) for i, b, c in RETENTION_CASES]
)
def test_invalid_retention_requests_change_nothing(
    server: InProcessApp, body: bytes, code: str
) -> None:
    tenant = new_tenant()
    headers = server.headers(tenant, "admin")
    resp = server.client.post(
        "/api/v1/admin/retention", headers=headers, content=body, timeout=TIMEOUT_S
    )
    assert_error(resp, 400, code)
    policies = server.client.get(
        "/api/v1/admin/retention", headers=headers, timeout=TIMEOUT_S
    ).json()
    assert policies == {"tenantId": tenant, "policies": []}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/write", {"POST"}),
        ("GET", "/api/v1/query", {"POST"}),
        ("DELETE", "/api/v1/admin/retention", {"GET", "HEAD", "POST"}),
        ("POST", "/api/v1/metrics", {"GET", "HEAD"}),
    ],
)
def test_a_wrong_method_names_the_allowed_ones(
    server: InProcessApp, method: str, path: str, allowed: set[str]
) -> None:
    resp = server.client.request(method, path, headers=server.headers("t"), timeout=10)
    body = assert_error(resp, 405, "method_not_allowed")
    assert {m.strip() for m in resp.headers["allow"].split(",")} == allowed
    assert set(body["error"]["details"]["allowed"]) == allowed
