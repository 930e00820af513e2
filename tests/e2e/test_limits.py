"""Tenant limits through HTTP: rate limits with their headers and counters, overrides by tenant
and tier (reloaded while serving), series limits that refuse only new series (never with 429),
concurrent query slots and query budgets enforced by the engine.

A served process of its own: the rows budget counts the rows the engine reads, granule by
granule, so what it allows depends on what else the table holds; this module needs a store that
holds only its own tenants, and the embedded engine gives one process one store."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import LuminateProcess
from tests.support.clock import now_ms
from tests.support.errors import assert_error
from tests.support.points import DAY_MS, HOUR_MS, dumps, point
from tests.support.tokens import auth_headers

TIMEOUT_S = 60.0
# Buckets refill slowly (a token every 2-5 s, 20 points/s), so that a request slowed down by a
# busy machine does not find its bucket refilled: each test's refusals depend on what it sent,
# not on how fast the machine answered.
OVERRIDES: dict[str, Any] = {
    "tiers": {
        "free": {"write_rps": 0.5, "burst_seconds": 6},
        "bulk": {"metrics_per_sec": 2, "burst_seconds": 50},
    },
    "tenants": {
        "rps": {"write_rps": 0.5, "query_rps": 0.5, "burst_seconds": 4},
        "points": {"metrics_per_sec": 20, "burst_seconds": 5},
        "vip": {"write_rps": 1000},
        "series": {"max_series": 10},
        "per-metric": {"max_series_per_metric": 3},
        "slots": {"concurrent_queries": 2},
        "budget": {
            "query_max_rows_scanned": 50,
            "query_max_range_seconds": 86_400,
            "query_max_limit": 10,
            "query_max_timeout_seconds": 2,
        },
        "reload": {"write_rps": 0.2, "burst_seconds": 5},
    },
}


@pytest.fixture(scope="module")
def overrides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "limits.yaml"
    path.write_text(yaml.safe_dump(OVERRIDES))
    return path


@pytest.fixture(scope="module")
def proc(tmp_path_factory: pytest.TempPathFactory, overrides: Path) -> Iterator[LuminateProcess]:
    base = tmp_path_factory.mktemp("limits-server")
    server = LuminateProcess(
        data_dir=base / "data",
        log_path=base / "server.log",
        env_extra={"LUMINATE_LIMITS_OVERRIDES_FILE": str(overrides)},
    ).start()
    yield server
    server.kill()


def unique(prefix: str) -> str:
    """A tenant id with an overrides entry `prefix` would need the exact id, so tenants of
    tier tests are fresh ids and tenant tests use the listed ids once per module."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write(
    proc: LuminateProcess, tenant: str, points: list[dict[str, Any]], tier: str | None = None
) -> httpx.Response:
    return httpx.post(
        proc.url + "/api/v1/write",
        headers=auth_headers(tenant, tier=tier),
        content=dumps({"metrics": points}),
        timeout=TIMEOUT_S,
    )


def query(
    proc: LuminateProcess, tenant: str, tier: str | None = None, **over: Any
) -> httpx.Response:
    body = {
        "queryType": "aggregate",
        "metricName": "probe",
        "aggregation": "count",
        "timeRange": {"relative": "1h"},
        **over,
    }
    if body["queryType"] == "range":
        del body["aggregation"]
    return httpx.post(
        proc.url + "/api/v1/query",
        headers=auth_headers(tenant, tier=tier),
        content=dumps(body),
        timeout=TIMEOUT_S,
    )


def counted(proc: LuminateProcess, tenant: str, metric: str = "probe") -> int:
    resp = query(proc, tenant, metricName=metric)
    assert resp.status_code == 200, resp.text
    return sum(r["count"] for r in resp.json()["results"])


def samples(proc: LuminateProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(proc.internal_url + "/metrics", timeout=TIMEOUT_S).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(proc: LuminateProcess, name: str, **labels: str) -> float:
    return samples(proc).get((name, frozenset(labels.items())), 0.0)


def points(n: int, **over: Any) -> list[dict[str, Any]]:
    return [point(**{"value": float(i), **over}) for i in range(n)]


def assert_rate_limited(resp: httpx.Response, limit: str) -> dict[str, Any]:
    body = assert_error(resp, 429, "rate_limited")
    assert body["error"]["details"]["limit"] == limit
    assert limit in body["error"]["message"]
    retry = int(resp.headers["retry-after"])
    assert retry >= 1
    # Fewer tokens are left than the request costs (one request, or its number of points).
    assert int(resp.headers["x-ratelimit-remaining"]) < body["error"]["details"]["cost"]
    assert int(resp.headers["x-ratelimit-limit"]) >= 1
    assert int(resp.headers["x-ratelimit-reset"]) >= 1
    return body


# -- rate limits ----------------------------------------------------------------------------


def test_write_requests_over_the_rate_get_429_with_headers_and_are_counted(
    proc: LuminateProcess,
) -> None:
    before = sample(proc, "luminate_rate_limit_rejected_total", tenant_id="rps", limit="write_rps")
    first = write(proc, "rps", points(1))
    second = write(proc, "rps", points(1))
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["x-ratelimit-limit"] == "1"  # 0.5/s, rounded up to whole requests
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert second.headers["x-ratelimit-remaining"] == "0"
    refused = write(proc, "rps", points(1, value=99.0))
    body = assert_rate_limited(refused, "write_rps")
    assert "LUMINATE_RATELIMIT_WRITE_RPS" in body["error"]["message"]
    after = sample(proc, "luminate_rate_limit_rejected_total", tenant_id="rps", limit="write_rps")
    assert after - before == 1
    # Nothing of the refused request was stored; after Retry-After the tenant writes again.
    time.sleep(int(refused.headers["retry-after"]))
    assert counted(proc, "rps") == 2
    assert write(proc, "rps", points(1)).status_code == 200


def test_queries_and_discovery_share_the_query_rate(proc: LuminateProcess) -> None:
    time.sleep(4.1)  # the bucket is full again after the previous test's reads
    assert query(proc, "rps").status_code == 200
    listed = httpx.get(
        proc.url + "/api/v1/metrics", headers=auth_headers("rps", "read"), timeout=TIMEOUT_S
    )
    assert listed.status_code == 200
    assert listed.headers["x-ratelimit-remaining"] == "0"
    assert_rate_limited(query(proc, "rps"), "query_rps")


def test_points_cost_their_number_and_a_large_batch_waits_for_a_full_bucket(
    proc: LuminateProcess,
) -> None:
    assert write(proc, "points", points(60)).status_code == 200
    refused = write(proc, "points", points(60))
    body = assert_rate_limited(refused, "metrics_per_sec")
    assert body["error"]["details"]["cost"] == 60
    assert "LUMINATE_RATELIMIT_METRICS_PER_SEC" in body["error"]["message"]
    # A batch larger than the burst (100) is admitted from a full bucket, then the bucket owes.
    time.sleep(3.1)
    assert write(proc, "points", points(250)).status_code == 200
    owed = write(proc, "points", points(1))
    assert_rate_limited(owed, "metrics_per_sec")
    assert int(owed.headers["retry-after"]) >= 2
    assert counted(proc, "points") == 310


def test_one_tenant_over_its_limit_leaves_others_untouched(proc: LuminateProcess) -> None:
    noisy, quiet = unique("noisy"), unique("quiet")
    statuses = [write(proc, noisy, points(1), tier="free").status_code for _ in range(6)]
    assert statuses.count(429) >= 2
    assert [write(proc, quiet, points(1), tier="free").status_code for _ in range(3)] == [200] * 3


def test_tier_and_tenant_overrides_apply_with_tenant_first(proc: LuminateProcess) -> None:
    free = unique("tiered")
    statuses = [write(proc, free, points(1), tier="free").status_code for _ in range(5)]
    assert statuses[:3] == [200] * 3
    assert 429 in statuses[3:]
    # "vip" carries the free tier in its token but has a tenant override of 1000 writes/s.
    assert [write(proc, "vip", points(1), tier="free").status_code for _ in range(8)] == [200] * 8
    # The tier's point rate applies to a token of tier bulk.
    bulk = unique("bulk")
    assert write(proc, bulk, points(100), tier="bulk").status_code == 200
    assert_rate_limited(write(proc, bulk, points(10), tier="bulk"), "metrics_per_sec")


def test_an_edited_overrides_file_applies_while_serving(
    proc: LuminateProcess, overrides: Path
) -> None:
    assert write(proc, "reload", points(1)).status_code == 200
    assert_rate_limited(write(proc, "reload", points(1)), "write_rps")
    edited = yaml.safe_load(overrides.read_text())
    edited["tenants"]["reload"] = {"write_rps": 1000}
    overrides.write_text(yaml.safe_dump(edited))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(1)
        if all(write(proc, "reload", points(1)).status_code == 200 for _ in range(5)):
            break
    else:
        pytest.fail("the raised limit was not applied within 20 s")
    # A broken edit keeps the last good limits (and the server keeps serving).
    overrides.write_text("tenants: {reload: {write_rps: -5}}")
    time.sleep(6)
    assert [write(proc, "reload", points(1)).status_code for _ in range(5)] == [200] * 5


# -- series limits --------------------------------------------------------------------------


def series_points(first: int, n: int, metric: str = "probe") -> list[dict[str, Any]]:
    return [
        point(name=metric, value=float(i), dimensions={"user": f"u{i}"})
        for i in range(first, first + n)
    ]


def test_new_series_past_the_limit_are_refused_per_point_and_known_ones_accepted(
    proc: LuminateProcess,
) -> None:
    before = sample(proc, "luminate_metrics_rejected_total", reason="series_limit_exceeded")
    assert write(proc, "series", series_points(0, 10)).json() == {
        "accepted": 10,
        "rejected": 0,
        "errors": [],
    }
    mixed = write(proc, "series", series_points(5, 10))
    assert mixed.status_code == 207, mixed.text
    body = mixed.json()
    assert (body["accepted"], body["rejected"]) == (5, 5)
    assert [e["index"] for e in body["errors"]] == [5, 6, 7, 8, 9]
    for e in body["errors"]:
        assert e["error"]["code"] == "series_limit_exceeded"
        assert "LUMINATE_CARDINALITY_MAX_SERIES" in e["error"]["message"]
        assert e["metric"] == "probe"
    only_new = write(proc, "series", series_points(100, 3))
    assert only_new.status_code == 400
    assert only_new.json()["error"]["code"] == "all_points_rejected"
    assert {e["error"]["code"] for e in only_new.json()["errors"]} == {"series_limit_exceeded"}
    # Known series keep being accepted; nothing refused was stored.
    assert write(proc, "series", series_points(0, 10)).status_code == 200
    assert counted(proc, "series") == 25
    after = sample(proc, "luminate_metrics_rejected_total", reason="series_limit_exceeded")
    assert after - before == 8
    assert sample(proc, "luminate_tenant_active_series", tenant_id="series") == 10


def test_per_metric_series_limits_refuse_only_that_metric(proc: LuminateProcess) -> None:
    resp = write(proc, "per-metric", series_points(0, 5, "busy") + series_points(0, 2, "calm"))
    assert resp.status_code == 207
    body = resp.json()
    assert [(e["index"], e["error"]["code"]) for e in body["errors"]] == [
        (3, "metric_series_limit_exceeded"),
        (4, "metric_series_limit_exceeded"),
    ]
    assert "LUMINATE_CARDINALITY_MAX_SERIES_PER_METRIC" in body["errors"][0]["error"]["message"]
    assert counted(proc, "per-metric", "busy") == 3
    assert counted(proc, "per-metric", "calm") == 2


def test_cardinality_shows_the_limits_and_the_estimate(proc: LuminateProcess) -> None:
    resp = httpx.get(
        proc.url + "/api/v1/cardinality", headers=auth_headers("series", "read"), timeout=TIMEOUT_S
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["limits"] == {
        "maxSeries": 10,
        "maxSeriesPerMetric": 0,
        "estimatedActiveSeries": 10,
    }
    assert out["estimatedSeries"] == 10
    assert out["topMetrics"] == [{"name": "probe", "estimatedSeries": 10}]


# -- concurrent queries ---------------------------------------------------------------------


def hold_query_slot(proc: LuminateProcess, tenant: str) -> socket.socket:
    """A query whose body never finishes arriving: it holds one of the tenant's slots."""
    sock = socket.create_connection(("127.0.0.1", proc.port), timeout=TIMEOUT_S)
    auth = auth_headers(tenant)["Authorization"]
    sock.sendall(
        f"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
        "Content-Length: 1000\r\n\r\n{".encode()
    )
    return sock


def test_queries_beyond_the_tenants_slots_get_429_until_one_finishes(
    proc: LuminateProcess,
) -> None:
    held = [hold_query_slot(proc, "slots") for _ in range(2)]
    try:
        # Until both held requests have reached the server (slow on a busy machine).
        deadline = time.monotonic() + 10
        while (refused := query(proc, "slots")).status_code == 200:
            assert time.monotonic() < deadline, "the held queries never took their slots"
            time.sleep(0.1)
        body = assert_error(refused, 429, "too_many_concurrent_queries")
        assert body["error"]["details"] == {"limit": "concurrent_queries", "running": 2}
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["x-ratelimit-limit"] == "2"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert query(proc, unique("other")).status_code == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while query(proc, "slots").status_code != 200:
        assert time.monotonic() < deadline, "slots were not released"
        time.sleep(0.2)


# -- query budgets --------------------------------------------------------------------------


def test_query_budgets_name_the_budget_that_was_hit(proc: LuminateProcess) -> None:
    spread = [
        point(value=float(i), timestamp=now_ms() - 1000 - i, dimensions={"user": f"u{i % 3}"})
        for i in range(100)
    ]
    assert write(proc, "budget", spread).status_code == 200

    scanned = query(proc, "budget", queryType="range")
    body = assert_error(scanned, 422, "too_many_rows_scanned")
    assert body["error"]["details"] == {"budget": "query_max_rows_scanned", "limit": 50}
    assert "LUMINATE_QUERY_MAX_ROWS_SCANNED" in body["error"]["message"]

    long = query(proc, "budget", timeRange={"relative": "2d"})
    body = assert_error(long, 400, "time_range_too_long")
    assert "query_max_range_seconds" in body["error"]["message"]

    limit = query(proc, "budget", limit=11)
    assert "query_max_limit" in assert_error(limit, 400, "invalid_limit")["error"]["message"]

    timeout = query(proc, "budget", timeout="5s")
    body = assert_error(timeout, 400, "invalid_timeout")
    assert "query_max_timeout_seconds" in body["error"]["message"]

    # Within budgets the tenant queries normally, and another tenant has the defaults.
    within = query(proc, "budget", metricName="quiet", timeRange={"relative": "1d"})
    assert within.status_code == 200, within.text
    other = unique("unbudgeted")
    assert write(proc, other, spread).status_code == 200
    resp = query(
        proc,
        other,
        queryType="range",
        limit=1000,
        timeRange={"start": now_ms() - 8 * DAY_MS, "end": now_ms() + HOUR_MS},
    )
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["results"]) == 100
