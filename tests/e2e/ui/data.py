"""Known points written through the API for the browser tests, and independent answers computed
from them in Python (the oracle the API's answers are checked against)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from tests.app.bodies import TIMEOUT_S
from tests.e2e.server import LuminateProcess
from tests.support.clock import now_ms

MINUTE_MS = 60_000
BUCKET_MS = 5 * MINUTE_MS
CUSTOMERS = ("c1", "c2", "c3")
ENDPOINTS = ("/a", "/b")


def new_tenant(prefix: str = "ui") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def write(server: LuminateProcess, tenant: str, points: list[dict[str, Any]]) -> None:
    """Write `points` (in batches), each request answered 200 with every point accepted."""
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for first in range(0, len(points), 5000):
            batch = points[first : first + 5000]
            resp = client.post(
                f"{server.url}/api/v1/write",
                headers=server.headers(tenant, "write"),
                content=msgspec.json.encode({"metrics": batch}),
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["accepted"] == len(batch)


@dataclass(frozen=True)
class Latency:
    """`checkout_latency`: one point a minute for 30 minutes per customer, endpoints taking
    turns, values that differ per customer and minute."""

    tenant: str
    start_ms: int
    points: list[dict[str, Any]]

    @classmethod
    def write(cls, server: LuminateProcess) -> Latency:
        tenant = new_tenant()
        # Five-minute aligned, 40 minutes back, so a relative "1h" covers every point.
        start = (now_ms() - 40 * MINUTE_MS) // BUCKET_MS * BUCKET_MS
        points = [
            {
                "name": "checkout_latency",
                "timestamp": start + i * MINUTE_MS,
                "value": float((i * 7 + c * 13) % 50) + 0.25 * c,
                "dimensions": {"customer_id": customer, "endpoint": ENDPOINTS[i % 2]},
            }
            for i in range(30)
            for c, customer in enumerate(CUSTOMERS)
        ]
        write(server, tenant, points)
        return cls(tenant, start, points)

    def sums(self, key: str, bucket_ms: int) -> dict[tuple[str, int], tuple[float, int]]:
        """{(value of key, bucket start): (sum, count)}: the aggregate `sum` by key per bucket."""
        out: dict[tuple[str, int], list[float]] = defaultdict(list)
        for p in self.points:
            ts = p["timestamp"]
            out[(p["dimensions"][key], ts - ts % bucket_ms)].append(p["value"])
        return {k: (sum(v), len(v)) for k, v in out.items()}

    def of(self, key: str, value: str) -> list[dict[str, Any]]:
        """The points whose dimension `key` is `value`, in time order."""
        chosen = [p for p in self.points if p["dimensions"][key] == value]
        return sorted(chosen, key=lambda p: p["timestamp"])


def users(count: int) -> list[dict[str, Any]]:
    """`page_views` with `count` distinct user_id values, user k with (k % 3) + 1 points, so
    the most frequent first order is not the alphabetical one."""
    start = now_ms() - 30 * MINUTE_MS
    return [
        {
            "name": "page_views",
            "timestamp": start + k * 100 + j,
            "value": 1.0,
            "dimensions": {"user_id": f"u{k:03d}"},
        }
        for k in range(count)
        for j in range((k % 3) + 1)
    ]
