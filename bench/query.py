"""Query latency: three dashboard queries through POST /api/v1/query, one at a time over one
keep-alive connection, timed from request sent to response read (client-observed).

Each query runs `warmups` times unmeasured, then `repetitions` times measured. Queries that
filter on a customer take the next customer of a fixed permutation (seeded), so every run asks
for the same customers in the same order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from bench.client import Connection
from bench.generate import CUSTOMERS, ENDPOINTS, METRIC, DataSet, customer_name
from bench.server import Server
from bench.stats import ms, percentile

QUERY_PATH = "/api/v1/query"
RESULT_LIMIT = 10_000
# The longest timeout the service allows, so slow queries are measured instead of cut off.
QUERY_TIMEOUT = "60s"


class QueryError(RuntimeError):
    """A query was not answered 200 with a plausible, complete result."""


class _Row(msgspec.Struct, rename="camel"):
    value: float
    count: int
    group_key: dict[str, str | None] = {}
    timestamp: int | None = None


class _Answer(msgspec.Struct, rename="camel"):
    results: list[_Row]
    points_scanned: int
    truncated: bool
    execution_time_ms: float


_answer = msgspec.json.Decoder(_Answer)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class QuerySpec:
    name: str
    description: str
    per_customer: bool
    body: Callable[[str, str], dict[str, Any]]
    max_rows: int


def _avg_by_customer(window: str, customer: str) -> dict[str, Any]:
    return {
        "queryType": "aggregate",
        "metricName": METRIC,
        "timeRange": {"relative": window},
        "aggregation": "avg",
        "groupBy": ["customer_id"],
        "limit": RESULT_LIMIT,
        "timeout": QUERY_TIMEOUT,
    }


def _p95_by_endpoint(window: str, customer: str) -> dict[str, Any]:
    return {
        "queryType": "aggregate",
        "metricName": METRIC,
        "timeRange": {"relative": window},
        "filters": {"customer_id": customer},
        "aggregation": "p95",
        "groupBy": ["endpoint"],
        "limit": RESULT_LIMIT,
        "timeout": QUERY_TIMEOUT,
    }


def _count_per_minute(window: str, customer: str) -> dict[str, Any]:
    return {
        "queryType": "aggregate",
        "metricName": METRIC,
        "timeRange": {"relative": window},
        "filters": {"customer_id": customer},
        "aggregation": "count",
        "interval": "1m",
        "limit": RESULT_LIMIT,
        "timeout": QUERY_TIMEOUT,
    }


QUERIES: tuple[QuerySpec, ...] = (
    QuerySpec(
        "avg_by_customer",
        "avg(api_latency) group by customer_id",
        per_customer=False,
        body=_avg_by_customer,
        max_rows=CUSTOMERS,
    ),
    QuerySpec(
        "p95_one_customer_by_endpoint",
        "p95(api_latency) where customer_id=X group by endpoint",
        per_customer=True,
        body=_p95_by_endpoint,
        max_rows=ENDPOINTS,
    ),
    QuerySpec(
        "count_per_minute_one_customer",
        "count(api_latency) where customer_id=X, 1m buckets",
        per_customer=True,
        body=_count_per_minute,
        max_rows=RESULT_LIMIT,
    ),
)


def customer_sequence(seed: int, n: int) -> list[str]:
    """`n` customers in a fixed pseudo-random order (repeating after all CUSTOMERS)."""
    order = np.random.default_rng([seed, 1]).permutation(CUSTOMERS).tolist()
    return [customer_name(order[i % CUSTOMERS]) for i in range(n)]


@dataclass(frozen=True)
class QueryStats:
    name: str
    description: str
    repetitions: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    server_p50_ms: float
    rows_median: float
    points_scanned_median: float
    points_matched_median: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "repetitions": self.repetitions,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "mean_ms": self.mean_ms,
            "min_ms": self.min_ms,
            "max_ms": self.max_ms,
            "server_execution_p50_ms": self.server_p50_ms,
            "rows_median": self.rows_median,
            "points_scanned_median": self.points_scanned_median,
            "points_matched_median": self.points_matched_median,
        }


def _run_one(conn: Connection, spec: QuerySpec, body: bytes) -> tuple[float, _Answer]:
    sent = time.perf_counter()
    status, data = conn.post(QUERY_PATH, body)
    elapsed = time.perf_counter() - sent
    if status != 200:
        raise QueryError(f"{spec.name}: HTTP {status}: {data[:500]!r} for {body!r}")
    answer = _answer.decode(data)
    if answer.truncated or not answer.results or len(answer.results) > spec.max_rows:
        raise QueryError(
            f"{spec.name}: implausible answer ({len(answer.results)} rows, truncated="
            f"{answer.truncated}) for {body!r}"
        )
    return elapsed, answer


def measure(
    server: Server,
    *,
    window: str,
    repetitions: int,
    warmups: int,
    seed: int,
    queries: Sequence[QuerySpec] = QUERIES,
) -> list[QueryStats]:
    conn = Connection(server.port, server.token(("read",)))
    customers = customer_sequence(seed, warmups + repetitions)
    out = []
    try:
        for spec in queries:
            payloads = [_encoder.encode(spec.body(window, c)) for c in customers]
            for body in payloads[:warmups]:
                _run_one(conn, spec, body)
            times: list[float] = []
            server_ms: list[float] = []
            rows: list[float] = []
            scanned: list[float] = []
            matched: list[float] = []
            for body in payloads[warmups:]:
                elapsed, answer = _run_one(conn, spec, body)
                times.append(elapsed)
                server_ms.append(answer.execution_time_ms)
                rows.append(len(answer.results))
                scanned.append(answer.points_scanned)
                matched.append(sum(r.count for r in answer.results))
            out.append(
                QueryStats(
                    name=spec.name,
                    description=spec.description,
                    repetitions=len(times),
                    p50_ms=ms(percentile(times, 50)),
                    p95_ms=ms(percentile(times, 95)),
                    mean_ms=ms(sum(times) / len(times)),
                    min_ms=ms(min(times)),
                    max_ms=ms(max(times)),
                    server_p50_ms=round(percentile(server_ms, 50), 3),
                    rows_median=percentile(rows, 50),
                    points_scanned_median=percentile(scanned, 50),
                    points_matched_median=percentile(matched, 50),
                )
            )
    finally:
        conn.close()
    return out


def stored_points(server: Server, data: DataSet) -> int:
    """Points of `data` the server holds: one count over the data set's whole time span."""
    conn = Connection(server.port, server.token(("read",)))
    body = _encoder.encode(
        {
            "queryType": "aggregate",
            "metricName": METRIC,
            "timeRange": {"start": data.start_ms, "end": data.end_ms},
            "aggregation": "count",
            "timeout": QUERY_TIMEOUT,
        }
    )
    try:
        status, raw = conn.post(QUERY_PATH, body)
    finally:
        conn.close()
    if status != 200:
        raise QueryError(f"count of stored points: HTTP {status}: {raw[:500]!r}")
    return sum(r.count for r in _answer.decode(raw).results)
