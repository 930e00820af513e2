"""Inputs an attack run found answering 500: aggregates over finite values whose sum overflows a
float answer a defined null, and discovery `?limit=` refuses Unicode digits and numbers too long
to parse with a 400."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.e2e.server import LuminateProcess

HUGE = 1.7e308  # finite; two of them overflow a float when added


def write(proc: LuminateProcess, tenant: str, values: list[float]) -> None:
    now = time.time_ns() // 1_000_000
    metrics = [
        {"name": "huge", "timestamp": now - 1000 * (len(values) - i), "value": v}
        for i, v in enumerate(values)
    ]
    resp = httpx.post(
        f"{proc.url}/api/v1/write",
        json={"metrics": metrics},
        headers=proc.headers(tenant),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("aggregation", ["sum", "avg", "integral", "max", "count"])
def test_aggregates_that_overflow_answer_null_not_500(
    server: LuminateProcess, aggregation: str
) -> None:
    tenant = f"huge-{uuid.uuid4().hex[:10]}"
    write(server, tenant, [HUGE, HUGE])
    resp = httpx.post(
        f"{server.url}/api/v1/query",
        json={
            "queryType": "aggregate",
            "metricName": "huge",
            "timeRange": {"relative": "1h"},
            "aggregation": aggregation,
        },
        headers=server.headers(tenant),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    (row,) = resp.json()["results"]
    assert row["count"] == 2
    expected = {"max": HUGE, "count": 2.0}
    assert row["value"] == expected.get(aggregation)  # null where the answer overflows


@pytest.mark.parametrize("limit", ["²", "٣", "1" * 5000, "-1", "0", "1e3", " 5", "10001"])
def test_discovery_limit_refuses_what_is_not_a_small_ascii_number(
    server: LuminateProcess, limit: str
) -> None:
    tenant = f"lim-{uuid.uuid4().hex[:10]}"
    for path in ("/api/v1/metrics", "/api/v1/metrics/m/dimensions/k/values"):
        resp = httpx.get(
            f"{server.url}{path}",
            params={"limit": limit},
            headers=server.headers(tenant, "read"),
            timeout=30,
        )
        assert resp.status_code == 400, (path, limit, resp.text)
        assert resp.json()["error"]["code"] == "invalid_limit"
