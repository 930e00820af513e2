"""A retried write (the same tenant and body) within the dedup window is answered as stored and
stored once, also after a kill -9 and restart (the insert journal remembers the keys); with the
window at 0 the same body is stored again (the control)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from tests.e2e.selfmetrics import sample, scrape
from tests.e2e.server import LuminateProcess
from tests.support.points import tagged_body

StartServer = Callable[..., LuminateProcess]


def body(tag: str, n: int = 50) -> bytes:
    return tagged_body("retry", tag, n)


def write(proc: LuminateProcess, tenant: str, raw: bytes) -> httpx.Response:
    return httpx.post(
        f"{proc.url}/api/v1/write", content=raw, headers=proc.headers(tenant), timeout=30
    )


def count(proc: LuminateProcess, tenant: str, tag: str) -> int:
    resp = httpx.post(
        f"{proc.url}/api/v1/query",
        json={
            "queryType": "aggregate",
            "metricName": "retry",
            "timeRange": {"relative": "1h"},
            "filters": {"tag": tag},
            "aggregation": "count",
        },
        headers=proc.headers(tenant),
        timeout=30,
    )
    rows = resp.json()["results"]
    return int(rows[0]["count"]) if rows else 0


def test_a_retry_is_stored_once_before_and_after_a_crash(start_server: StartServer) -> None:
    proc = start_server()
    tenant, tag = f"retry-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    raw = body(tag)
    before = scrape(proc)
    first, again = write(proc, tenant, raw), write(proc, tenant, raw)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"accepted": 50, "rejected": 0, "errors": []}
    assert count(proc, tenant, tag) == 50
    after = scrape(proc)
    assert (
        sample(after, "luminate_write_duplicates_total")
        - sample(before, "luminate_write_duplicates_total")
        == 1
    )
    # Another tenant sending the same bytes is a different write.
    assert write(proc, tenant + "-b", raw).status_code == 200
    assert count(proc, tenant + "-b", tag) == 50

    proc.kill()
    restarted = start_server(data_dir=proc.data_dir)
    assert write(restarted, tenant, raw).status_code == 200
    assert count(restarted, tenant, tag) == 50


def test_with_the_window_off_the_same_body_is_stored_again(start_server: StartServer) -> None:
    proc = start_server(LUMINATE_WRITE_DEDUP_WINDOW_SECONDS="0")
    tenant, tag = f"retry-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    raw = body(tag)
    assert write(proc, tenant, raw).status_code == 200
    assert write(proc, tenant, raw).status_code == 200
    assert count(proc, tenant, tag) == 100
