"""Building write and query bodies, sending them, and reading back what a tenant has stored:
shared by the bad-input tests of the write and the read paths."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import zstandard

from tests.app.inprocess import InProcessApp
from tests.support.clock import now_ms
from tests.support.points import DAY_MS, HOUR_MS, PROBE, dumps, point

TIMEOUT_S = 60.0
SMALL_BODY_LIMIT = 65_536
SMALL_POINTS_LIMIT = 100
# The one browser origin the `limited` server allows.
ALLOWED_ORIGIN = "https://app.example"
# A tier the `limited` server knows, with limits small enough to reach in one or two requests.
TINY_TIER = "tiny"
TINY_LIMITS = {
    "write_rps": 1,
    "query_rps": 5,
    "burst_seconds": 1,
    "concurrent_queries": 1,
    "max_series": 2,
    "max_series_per_metric": 1,
    "query_max_range_seconds": 3600,
    "query_max_rows_scanned": 1,
}

Body = Callable[[], bytes]


def rfc3339(ms: int, offset_hours: int = 0) -> str:
    tz = UTC if offset_hours == 0 else timezone(timedelta(hours=offset_hours))
    return datetime.fromtimestamp(ms / 1000, tz=tz).isoformat(timespec="milliseconds")


def without(field: str) -> dict[str, Any]:
    p = point()
    del p[field]
    return p


def metrics_body(*fragments: bytes) -> bytes:
    return b'{"metrics":[' + b",".join(fragments) + b"]}"


def good() -> bytes:
    return dumps(point(value=42.0))


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def padded(limit: int) -> bytes:
    """A valid one-point body padded with whitespace to exactly `limit` bytes."""
    body = metrics_body(good())
    return body[:-1] + b" " * (limit - len(body)) + body[-1:]


def zstd(data: bytes, *, content_size: bool = True) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=content_size).compress(data)


def truncated_zstd_of_a_complete_document() -> bytes:
    """A zstd frame cut in half whose first half already inflates to a whole valid body: only
    a decoder that checks for the end of the frame notices."""
    rng = random.Random(7)
    pad = "".join(rng.choice(" \t\r\n") for _ in range(400_000)).encode()
    frame = zstd(metrics_body(good()) + pad)
    return frame[: len(frame) // 2]


def dims(n: int) -> dict[str, str]:
    return {f"k{i}": f"v{i}" for i in range(n)}


def post(
    proc: InProcessApp,
    path: str,
    tenant: str,
    content: bytes | Iterator[bytes],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return proc.client.post(
        path,
        headers={**proc.headers(tenant), **(headers or {})},
        content=content,
        timeout=TIMEOUT_S,
    )


def write(
    proc: InProcessApp,
    tenant: str,
    content: bytes | Iterator[bytes],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return post(proc, "/api/v1/write", tenant, content, headers)


def stored_metrics(proc: InProcessApp, tenant: str) -> dict[str, int]:
    resp = proc.client.get(
        "/api/v1/metrics", headers=proc.headers(tenant, "read"), timeout=TIMEOUT_S
    )
    assert resp.status_code == 200, resp.text
    return {m["name"]: m["points"] for m in resp.json()["metrics"]}


def count(proc: InProcessApp, tenant: str, metric: str = PROBE) -> int:
    resp = post(
        proc,
        "/api/v1/query",
        tenant,
        dumps(
            {
                "queryType": "aggregate",
                "metricName": metric,
                "aggregation": "count",
                "timeRange": {"start": now_ms() - 8 * DAY_MS, "end": now_ms() + 2 * HOUR_MS},
            }
        ),
    )
    assert resp.status_code == 200, resp.text
    return sum(r["count"] for r in resp.json()["results"])


def assert_nothing_stored(proc: InProcessApp, tenant: str) -> None:
    assert stored_metrics(proc, tenant) == {}
    assert count(proc, tenant) == 0
