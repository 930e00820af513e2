"""Self-metrics (DESIGN §4), JSON logs with request ids, and the probes of DESIGN §1."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from tests.app.inprocess import InProcessApp
from tests.support.clock import now_ms
from tests.support.logs import log_entries
from tests.support.selfmetrics import Samples, delta, exposition, parse, sample
from tests.support.tenants import new_tenant

FAMILIES = {
    "luminate_http_requests_total": "counter",
    "luminate_http_request_duration_seconds": "histogram",
    "luminate_storage_write_duration_seconds": "histogram",
    "luminate_storage_query_duration_seconds": "histogram",
    "luminate_storage_errors_total": "counter",
    "luminate_storage_up": "gauge",
    "luminate_metrics_ingested_total": "counter",
    "luminate_metrics_rejected_total": "counter",
    "luminate_rate_limit_rejected_total": "counter",
    "luminate_tenant_active_series": "gauge",
    "luminate_write_batch_size": "histogram",
    "luminate_build_info": "gauge",
    "luminate_tenant_series_limit": "gauge",
    "luminate_clickhouse_replica_up": "gauge",
    "luminate_clickhouse_replica_readonly": "gauge",
    "luminate_clickhouse_replica_absolute_delay_seconds": "gauge",
    "luminate_clickhouse_max_parts_per_partition": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
    "process_open_fds": "gauge",
}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
LOG_WAIT_S = 10.0


def metrics_text(proc: InProcessApp) -> str:
    return exposition(proc.internal.get("/metrics", timeout=10))


def scrape(proc: InProcessApp) -> Samples:
    return parse(metrics_text(proc))


def write(proc: InProcessApp, tenant: str, metrics: list[dict[str, Any]]) -> httpx.Response:
    return proc.client.post(
        "/api/v1/write",
        json={"metrics": metrics},
        headers=proc.headers(tenant, "write"),
        timeout=30,
    )


def point(name: str, value: float, **dimensions: str) -> dict[str, Any]:
    return {"name": name, "timestamp": now_ms() - 1000, "value": value, "dimensions": dimensions}


def wait_for_log(proc: InProcessApp, request_id: str) -> dict[str, Any]:
    """The access log line is written after the response; poll for it, bounded."""
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        found = [e for e in log_entries(proc.log_path) if e.get("request_id") == request_id]
        if found:
            assert len(found) == 1, found
            return found[0]
        assert time.monotonic() < deadline, f"no log line with request_id {request_id!r}"
        time.sleep(0.05)


def get(proc: InProcessApp, path: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
    return proc.client.get(path, headers=dict(headers or {}), timeout=10)


# -- probes -----------------------------------------------------------------------------------


def test_healthz_answers_alive_without_auth(server: InProcessApp) -> None:
    response = get(server, "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_reports_storage_up(server: InProcessApp) -> None:
    response = get(server, "/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["storage"]["status"] == "up"
    assert body["storage"]["backend"] == "embedded"


def test_startupz_answers_started(server: InProcessApp) -> None:
    response = get(server, "/startupz")
    assert response.status_code == 200
    assert response.json() == {"status": "started"}


def test_detailed_health_lists_components(server: InProcessApp) -> None:
    response = server.internal.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["started"] is True
    assert body["draining"] is False
    assert isinstance(body["version"], str)
    assert body["version"]
    assert body["components"]["storage"]["status"] == "up"


def test_api_endpoints_still_need_auth(server: InProcessApp) -> None:
    assert get(server, "/api/v1/metrics").status_code == 401


# -- /metrics ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("family", "kind"), sorted(FAMILIES.items()))
def test_metrics_declares_every_design_family(server: InProcessApp, family: str, kind: str) -> None:
    lines = metrics_text(server).splitlines()
    assert any(line.startswith(f"# HELP {family} ") for line in lines), family
    assert f"# TYPE {family} {kind}" in lines


def test_storage_gauges_and_build_info(server: InProcessApp) -> None:
    samples = scrape(server)
    version = server.internal.get("/api/v1/health").json()["version"]
    assert sample(samples, "luminate_storage_up") == 1.0
    # ENVIRONMENT is not set for the test server: the setting's default.
    assert sample(samples, "luminate_build_info", version=version, environment="production") == 1.0
    for op in ("write", "query"):
        name = f"luminate_storage_{op}_duration_seconds_count"
        assert (name, frozenset({("backend", "embedded")})) in samples, name
    assert sample(samples, "process_resident_memory_bytes") > 0
    assert sample(samples, "process_start_time_seconds") > 0


def test_route_labels_are_templates_never_raw_paths(server: InProcessApp) -> None:
    tenant = new_tenant()
    headers = server.headers(tenant, "read")
    raw = f"rawseg_{uuid.uuid4().hex[:8]}"
    requests = [
        ("GET", f"/api/v1/metrics/{raw}/dimensions", 200, "/api/v1/metrics/{name}/dimensions"),
        (
            "GET",
            f"/api/v1/metrics/{raw}/dimensions/{raw}k/values",
            200,
            "/api/v1/metrics/{name}/dimensions/{key}/values",
        ),
        ("DELETE", f"/api/v1/metrics/{raw}/dimensions", 405, "/api/v1/metrics/{name}/dimensions"),
        ("GET", f"/{raw}/not/a/route", 404, "unmatched"),
    ]
    before = scrape(server)
    for method, path, status, _ in requests:
        response = server.client.request(method, path, headers=headers, timeout=10)
        assert response.status_code == status, response.text
    text = metrics_text(server)
    after = scrape(server)

    assert raw not in text
    for method, _, status, route in requests:
        counted = delta(
            before,
            after,
            "luminate_http_requests_total",
            method=method,
            route=route,
            status=str(status),
        )
        assert counted == 1, (method, route, status)
        timed = delta(
            before,
            after,
            "luminate_http_request_duration_seconds_count",
            method=method,
            route=route,
        )
        assert timed == 1, (method, route)


def test_write_counters_move_by_exact_amounts(server: InProcessApp) -> None:
    tenant = new_tenant()
    good = [point("obs_requests", float(i), host=f"h{i}") for i in range(7)]
    bad = [point(name, 1.0) for name in ("9starts_with_digit", "has-dash", "sp ace")]

    before = scrape(server)
    response = write(server, tenant, good + bad)
    assert response.status_code == 207, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (7, 3)
    after = scrape(server)

    assert delta(before, after, "luminate_metrics_ingested_total") == 7
    assert (
        delta(before, after, "luminate_metrics_rejected_total", reason="invalid_metric_name") == 3
    )
    assert (
        delta(
            before,
            after,
            "luminate_http_requests_total",
            method="POST",
            route="/api/v1/write",
            status="207",
        )
        == 1
    )
    assert delta(before, after, "luminate_write_batch_size_count") == 1
    assert delta(before, after, "luminate_write_batch_size_sum") == 7
    assert (
        delta(before, after, "luminate_storage_write_duration_seconds_count", backend="embedded")
        == 1
    )


def test_fully_rejected_write_ingests_nothing(server: InProcessApp) -> None:
    tenant = new_tenant()
    old = now_ms() - 30 * 24 * 3600 * 1000
    stale = [{"name": "obs_stale", "timestamp": old + i, "value": 1.0} for i in range(4)]

    before = scrape(server)
    response = write(server, tenant, stale)
    assert response.status_code == 400, response.text
    after = scrape(server)

    assert delta(before, after, "luminate_metrics_ingested_total") == 0
    assert delta(before, after, "luminate_metrics_rejected_total", reason="timestamp_too_old") == 4
    assert delta(before, after, "luminate_write_batch_size_count") == 0


def test_queries_are_timed_per_backend(server: InProcessApp) -> None:
    tenant = new_tenant()
    before = scrape(server)
    response = server.client.post(
        "/api/v1/query",
        json={
            "queryType": "aggregate",
            "metricName": "obs_requests",
            "aggregation": "count",
            "timeRange": {"relative": "1h"},
        },
        headers=server.headers(tenant, "read"),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    after = scrape(server)
    assert (
        delta(before, after, "luminate_storage_query_duration_seconds_count", backend="embedded")
        == 1
    )
    assert delta(before, after, "luminate_storage_errors_total", op="query") == 0


def test_active_series_gauge_follows_cardinality(server: InProcessApp) -> None:
    tenant = new_tenant()
    points = [point("obs_series", float(i), host=f"h{i % 3}") for i in range(12)]
    assert write(server, tenant, points).status_code == 200

    response = get(server, "/api/v1/cardinality", server.headers(tenant, "read"))
    assert response.status_code == 200, response.text
    assert response.json()["estimatedSeries"] == 3
    assert sample(scrape(server), "luminate_tenant_active_series", tenant_id=tenant) == 3


# -- logs -------------------------------------------------------------------------------------


def test_incoming_request_id_is_echoed_and_logged(server: InProcessApp) -> None:
    tenant = new_tenant()
    headers = {**server.headers(tenant, "read"), "X-Request-ID": "abc123"}
    response = get(server, "/api/v1/metrics", headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "abc123"

    entry = wait_for_log(server, "abc123")
    assert entry["route"] == "/api/v1/metrics"
    assert entry["status"] == 200
    assert entry["method"] == "GET"


def test_request_without_id_gets_a_generated_one(server: InProcessApp) -> None:
    response = get(server, "/api/v1/metrics", server.headers(new_tenant(), "read"))
    assert response.status_code == 200
    rid = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(rid), rid

    entry = wait_for_log(server, rid)
    assert entry["route"] == "/api/v1/metrics"
    assert entry["status"] == 200


@pytest.mark.parametrize("incoming", ["has space", "x" * 65, "semi;colon"])
def test_unusable_request_id_is_replaced(server: InProcessApp, incoming: str) -> None:
    response = get(server, "/healthz", {"X-Request-ID": incoming})
    assert response.status_code == 200
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


def test_error_responses_are_logged_with_route_and_status(server: InProcessApp) -> None:
    rid = f"err-{uuid.uuid4().hex[:8]}"
    response = server.client.post(
        "/api/v1/write", json={"metrics": []}, headers={"X-Request-ID": rid}
    )
    assert response.status_code == 401
    assert response.headers["x-request-id"] == rid
    entry = wait_for_log(server, rid)
    assert (entry["route"], entry["status"], entry["method"]) == ("/api/v1/write", 401, "POST")
