"""A known data set (several tenants, metrics and days), written over HTTP, and the independent
oracle it is checked against: per tenant, metric and day, the count of points and a digest of
the sorted points, computed from what was sent and from what a server reads back."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.server import LuminateProcess

TENANTS = ("acme", "globex", "initech")
METRICS = ("cpu", "latency", "requests")
DAYS = 4
DAY_MS = 86_400_000
Key = tuple[str, str, int]  # tenant, metric, day index since the epoch
Point = tuple[int, float, tuple[tuple[str, str], ...]]


@dataclass
class DataSet:
    points: dict[tuple[str, str], list[Point]]
    start_ms: int
    end_ms: int

    def oracle(self) -> dict[Key, tuple[int, str]]:
        return summarize(self.points)


def make(per_cell: int = 120, seed: int = 7) -> DataSet:
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    points: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for tenant in TENANTS:
        for metric in METRICS:
            for day in range(DAYS):
                for i in range(per_cell):
                    ts = now - day * DAY_MS - rng.randrange(DAY_MS - 60_000) - 60_000
                    dims = (("host", f"h{i % 5}"), ("region", rng.choice(["eu", "us"])))
                    points[(tenant, metric)].append((ts, round(rng.uniform(0, 1000), 3), dims))
    return DataSet(dict(points), now - DAYS * DAY_MS - DAY_MS, now + 60_000)


def write(proc: LuminateProcess, data: DataSet, batch: int = 2000) -> None:
    for (tenant, metric), pts in data.points.items():
        headers = proc.headers(tenant)
        for i in range(0, len(pts), batch):
            body = {
                "metrics": [
                    {"name": metric, "timestamp": ts, "value": v, "dimensions": dict(d)}
                    for ts, v, d in pts[i : i + batch]
                ]
            }
            resp = httpx.post(f"{proc.url}/api/v1/write", json=body, headers=headers, timeout=60)
            assert resp.status_code == 200, resp.text


def read_back(proc: LuminateProcess, data: DataSet) -> dict[tuple[str, str], list[Point]]:
    out: dict[tuple[str, str], list[Point]] = {}
    for tenant, metric in data.points:
        body = {
            "queryType": "range",
            "metricName": metric,
            "timeRange": {"start": data.start_ms, "end": data.end_ms},
            "limit": 100_000,
        }
        resp = httpx.post(
            f"{proc.url}/api/v1/query", json=body, headers=proc.headers(tenant), timeout=60
        )
        assert resp.status_code == 200, resp.text
        out[(tenant, metric)] = [
            (r["timestamp"], r["value"], tuple(sorted(r["dimensions"].items())))
            for r in resp.json()["results"]
        ]
    return out


def summarize(points: dict[tuple[str, str], list[Point]]) -> dict[Key, tuple[int, str]]:
    cells: dict[Key, list[Point]] = defaultdict(list)
    for (tenant, metric), pts in points.items():
        for p in pts:
            cells[(tenant, metric, p[0] // DAY_MS)].append((p[0], p[1], tuple(sorted(p[2]))))
    return {
        key: (len(pts), hashlib.sha256(json.dumps(sorted(pts)).encode()).hexdigest())
        for key, pts in cells.items()
    }


QUERIES: list[dict[str, Any]] = [
    {"queryType": "aggregate", "aggregation": "p95", "groupBy": ["host"]},
    {"queryType": "aggregate", "aggregation": "sum", "interval": "1h"},
    {"queryType": "aggregate", "aggregation": "count", "groupBy": ["region", "host"]},
    {"queryType": "aggregate", "aggregation": "max", "interval": "1d", "groupBy": ["host"]},
    {"queryType": "aggregate", "aggregation": "min", "groupBy": ["region"]},
]


def answers(proc: LuminateProcess, data: DataSet) -> list[Any]:
    """The same queries' results (without timings) for every tenant and metric."""
    out = []
    for tenant, metric in sorted(data.points):
        for q in QUERIES:
            body = {
                **q,
                "metricName": metric,
                "timeRange": {"start": data.start_ms, "end": data.end_ms},
                "limit": 100_000,
            }
            resp = httpx.post(
                f"{proc.url}/api/v1/query", json=body, headers=proc.headers(tenant), timeout=60
            )
            assert resp.status_code == 200, resp.text
            out.append(resp.json()["results"])
    return out
