"""What the load test sends: write batches and queries modelled on real use.

Writes: batches of `batch_size` points over three metrics, the way an agent flushes what it
collected: `api_latency` (lognormal milliseconds), `http_requests_total` (a counter) and
`queue_depth` (a gauge), each point carrying `customer_id` (1,000 values), `endpoint` (50),
`region` (5) and `user_id` (1,000,000: nearly every point its own series), plus `load_run`, the
run's id, so a run's points can be told apart and counted. Every point of one batch has the same
timestamp (one collection instant), and each worker gives each tenant's batches strictly rising
timestamps, all different between workers: (tenant, timestamp) names one batch, which is how a
run's acknowledged points are recounted in storage (see `--ledger`). A worker's batches repeat
the series of its 16 rendered bodies, picked at random, as agents resend their series.

Bodies are rendered once per worker from a seeded generator and then only have their timestamp
filled in, so building a 1,000-point body costs about 50 µs and the generator's CPU goes to
sending.

Queries: the mix a dashboard sends over recent windows, for a random customer: an average by
endpoint over 5 minutes, a p95 by region over 15 minutes, the latest raw points over 1 minute and
a per-minute request rate over 15 minutes."""

from __future__ import annotations

import random
from dataclasses import dataclass

import msgspec

METRICS = ("api_latency", "http_requests_total", "queue_depth")
CUSTOMERS = 1000
ENDPOINTS = 50
REGIONS = 5
USERS = 1_000_000
RUN_DIMENSION = "load_run"
TEMPLATES = 16
QUERY_BODIES = 64
_SLOT = b"4102444800000"  # a 13-digit placeholder for the batch timestamp


@dataclass(frozen=True)
class Batch:
    tenant: str
    timestamp_ms: int
    points: int
    body: bytes


class WriteScenario:
    """Batches for a set of tenants, from one worker of `workers`."""

    def __init__(
        self, tenants: list[str], batch_size: int, run_id: str, worker: int, workers: int, seed: int
    ) -> None:
        self.tenants = tenants
        self.batch_size = batch_size
        self.worker = worker
        self.workers = workers
        rng = random.Random(f"{seed}:{worker}")  # noqa: S311  (test data, not secrets)
        self._templates = [_template(rng, batch_size, run_id) for _ in range(TEMPLATES)]
        # Each batch repeats one template's series at random, as agents resend their series
        # every interval: behind a balancer, every replica sees every series over time.
        self._pick = random.Random(f"{seed}:pick:{worker}")  # noqa: S311
        self._next = 0
        self._last_ts = dict.fromkeys(tenants, 0)

    def next_batch(self, now_ms: int) -> Batch:
        n = self._next
        self._next += 1
        tenant = self.tenants[n % len(self.tenants)]
        # Timestamps this worker owns are those equal to `worker` modulo `workers`; each tenant's
        # rise strictly, so no two batches of a run share (tenant, timestamp).
        ts = now_ms - now_ms % self.workers + self.worker
        ts = max(ts, self._last_ts[tenant] + self.workers)
        self._last_ts[tenant] = ts
        parts, slots = self._templates[self._pick.randrange(TEMPLATES)]
        stamp = str(ts).encode()
        for i in slots:
            parts[i] = stamp
        return Batch(tenant, ts, self.batch_size, b"".join(parts))


def _template(rng: random.Random, size: int, run_id: str) -> tuple[list[bytes], list[int]]:
    """A rendered body split around its timestamps: (parts, indexes of the timestamp parts)."""
    points = []
    for i in range(size):
        metric = METRICS[i % len(METRICS)]
        if metric == "api_latency":
            value = round(rng.lognormvariate(3.4, 0.8), 3)
        elif metric == "http_requests_total":
            value = float(rng.randrange(1, 10_000_000))
        else:
            value = float(rng.randrange(0, 500))
        points.append(
            {
                "name": metric,
                "timestamp": int(_SLOT),
                "value": value,
                "dimensions": {
                    "customer_id": f"cust_{rng.randrange(CUSTOMERS)}",
                    "endpoint": f"/api/v1/resource_{rng.randrange(ENDPOINTS)}",
                    "region": f"region-{rng.randrange(REGIONS)}",
                    "user_id": f"user_{rng.randrange(USERS)}",
                    RUN_DIMENSION: run_id,
                },
            }
        )
    rendered = msgspec.json.encode({"metrics": points})
    pieces = rendered.split(_SLOT)
    parts: list[bytes] = []
    slots: list[int] = []
    for j, piece in enumerate(pieces):
        if j:
            slots.append(len(parts))
            parts.append(_SLOT)
        parts.append(piece)
    return parts, slots


class QueryScenario:
    """Query bodies, cycled through; each tenant's turn comes round robin."""

    def __init__(self, tenants: list[str], worker: int, seed: int) -> None:
        self.tenants = tenants
        rng = random.Random(f"{seed}:query:{worker}")  # noqa: S311
        self._bodies = [msgspec.json.encode(_query(rng, i)) for i in range(QUERY_BODIES)]
        self._next = 0

    def next_query(self) -> tuple[str, bytes]:
        n = self._next
        self._next += 1
        return self.tenants[n % len(self.tenants)], self._bodies[n % len(self._bodies)]


def _query(rng: random.Random, i: int) -> dict[str, object]:
    customer = {"customer_id": f"cust_{rng.randrange(CUSTOMERS)}"}
    kind = i % 4
    if kind == 0:
        return {
            "queryType": "aggregate",
            "metricName": "api_latency",
            "timeRange": {"relative": "5m"},
            "filters": customer,
            "aggregation": "avg",
            "groupBy": ["endpoint"],
        }
    if kind == 1:
        return {
            "queryType": "aggregate",
            "metricName": "api_latency",
            "timeRange": {"relative": "15m"},
            "aggregation": "p95",
            "groupBy": ["region"],
        }
    if kind == 2:
        return {
            "queryType": "range",
            "metricName": "api_latency",
            "timeRange": {"relative": "1m"},
            "filters": customer,
            "limit": 100,
        }
    return {
        "queryType": "rate",
        "metricName": "http_requests_total",
        "timeRange": {"relative": "15m"},
        "filters": customer,
        "interval": "1m",
    }
