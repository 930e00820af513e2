"""A 2xx means durable: every acknowledged point survives kill -9 of the server, exactly once."""

from __future__ import annotations

import gzip
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import zstandard

from tests.e2e.server import LuminateProcess

StartServer = Callable[..., LuminateProcess]

METRIC = "durability_probe"
DAY_MS = 86_400_000
ENCODINGS = ("identity", "gzip", "zstd")
WRITE_TIMEOUT_S = 60.0
QUERY_LIMIT = 100_000


@dataclass(frozen=True)
class Batch:
    """One write request: points with unique values and timestamps, in one UTC day."""

    writer: int
    number: int
    values: tuple[float, ...]
    timestamps: tuple[int, ...]
    encoding: str

    def body(self) -> bytes:
        metrics = [
            {
                "name": METRIC,
                "timestamp": ts,
                "value": value,
                "dimensions": {"writer": f"w{self.writer}", "batch": str(self.number)},
            }
            for ts, value in zip(self.timestamps, self.values, strict=True)
        ]
        raw = json.dumps({"metrics": metrics}).encode()
        if self.encoding == "gzip":
            return gzip.compress(raw)
        if self.encoding == "zstd":
            return zstandard.ZstdCompressor().compress(raw)
        return raw


@dataclass
class Outcome:
    """What one writer saw: batches answered 200, other answers, and requests never answered."""

    acked: list[Batch] = field(default_factory=list)
    refused: list[tuple[Batch, int]] = field(default_factory=list)
    unanswered: list[Batch] = field(default_factory=list)


def day_window() -> tuple[int, int]:
    """The previous UTC day: one partition, well inside the accepted age, whatever the clock."""
    today = time.time_ns() // 1_000_000 // DAY_MS * DAY_MS
    return today - DAY_MS, today


def plan(writers: int, batches: int, points: int, day_end_ms: int) -> list[list[Batch]]:
    """Batches per writer; point k gets value k + 0.25 and timestamp day_end - 1 - k."""
    out: list[list[Batch]] = []
    for w in range(writers):
        mine = []
        for b in range(batches):
            first = (w * batches + b) * points
            ids = range(first, first + points)
            mine.append(
                Batch(
                    writer=w,
                    number=b,
                    values=tuple(k + 0.25 for k in ids),
                    timestamps=tuple(day_end_ms - 1 - k for k in ids),
                    encoding=ENCODINGS[(w + b) % len(ENCODINGS)],
                )
            )
        out.append(mine)
    return out


def post_batch(client: httpx.Client, proc: LuminateProcess, tenant: str, batch: Batch) -> int:
    headers = proc.headers(tenant, "write")
    if batch.encoding != "identity":
        headers["Content-Encoding"] = batch.encoding
    response = client.post(proc.url + "/api/v1/write", content=batch.body(), headers=headers)
    if response.status_code == 200:
        assert response.json()["accepted"] == len(batch.values)
    return response.status_code


def write_batches(
    proc: LuminateProcess,
    tenant: str,
    batches: list[Batch],
    on_ack: Callable[[], None] | None = None,
) -> Outcome:
    """Send batches one after another; stop at the first request the server never answers."""
    outcome = Outcome()
    with httpx.Client(timeout=WRITE_TIMEOUT_S) as client:
        for batch in batches:
            try:
                status = post_batch(client, proc, tenant, batch)
            except httpx.TransportError:
                outcome.unanswered.append(batch)
                break
            if status == 200:
                outcome.acked.append(batch)
                if on_ack is not None:
                    on_ack()
            else:
                outcome.refused.append((batch, status))
    return outcome


def query(proc: LuminateProcess, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        proc.url + "/api/v1/query",
        json={"metricName": METRIC, "timeout": "30s", **body},
        headers=proc.headers(tenant, "read"),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def stored_values(proc: LuminateProcess, tenant: str, window: tuple[int, int]) -> list[float]:
    """Every stored value of the probe metric, one range query per writer."""
    writers = query(
        proc,
        tenant,
        {
            "queryType": "aggregate",
            "aggregation": "count",
            "groupBy": ["writer"],
            "timeRange": {"start": window[0], "end": window[1]},
            "limit": 1000,
        },
    )["results"]
    values: list[float] = []
    for row in writers:
        out = query(
            proc,
            tenant,
            {
                "queryType": "range",
                "filters": {"writer": row["groupKey"]["writer"]},
                "timeRange": {"start": window[0], "end": window[1]},
                "limit": QUERY_LIMIT,
            },
        )
        assert not out["truncated"], "range query truncated; the test writes too many points"
        assert len(out["results"]) == row["count"]
        values.extend(float(p["value"]) for p in out["results"])
    return values


def count_and_sum(proc: LuminateProcess, tenant: str, window: tuple[int, int]) -> tuple[int, float]:
    results = query(
        proc,
        tenant,
        {
            "queryType": "aggregate",
            "aggregation": "sum",
            "timeRange": {"start": window[0], "end": window[1]},
        },
    )["results"]
    if not results:
        return 0, 0.0
    assert len(results) == 1, results
    return int(results[0]["count"]), float(results[0]["value"])


def assert_no_duplicates(values: list[float]) -> None:
    repeated = [v for v, n in Counter(values).items() if n > 1]
    assert not repeated, f"{len(repeated)} values stored more than once, e.g. {repeated[:5]}"


def test_acknowledged_points_survive_kill_9(start_server: StartServer) -> None:
    tenant = "durable-acked"
    window = day_window()
    batches = plan(writers=4, batches=50, points=500, day_end_ms=window[1])
    first = start_server()

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        futures = [pool.submit(write_batches, first, tenant, mine) for mine in batches]
        outcomes = [f.result(timeout=300) for f in futures]
    first.kill()

    acked = [b for o in outcomes for b in o.acked]
    assert [(b.writer, b.number, s) for o in outcomes for b, s in o.refused] == []
    assert [b.number for o in outcomes for b in o.unanswered] == []
    assert len(acked) == 200
    expected_values = [v for b in acked for v in b.values]
    expected_sum = math.fsum(expected_values)

    second = start_server(data_dir=first.data_dir)
    count, total = count_and_sum(second, tenant, window)
    assert count == len(expected_values) == 100_000
    assert math.isclose(total, expected_sum, rel_tol=1e-9), (total, expected_sum)

    values = stored_values(second, tenant, window)
    assert_no_duplicates(values)
    assert sorted(values) == sorted(expected_values)


def test_points_acknowledged_before_a_kill_mid_write_are_all_stored(
    start_server: StartServer,
) -> None:
    tenant = "durable-inflight"
    window = day_window()
    batches = plan(writers=4, batches=200, points=250, day_end_ms=window[1])
    kill_after = 40
    first = start_server()

    acks = 0
    enough = threading.Event()
    lock = threading.Lock()

    def on_ack() -> None:
        nonlocal acks
        with lock:
            acks += 1
            if acks >= kill_after:
                enough.set()

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        futures = [pool.submit(write_batches, first, tenant, mine, on_ack) for mine in batches]
        assert enough.wait(timeout=180), f"only {acks} batches acknowledged"
        first.kill()
        outcomes = [f.result(timeout=120) for f in futures]

    assert [(b.writer, b.number, s) for o in outcomes for b, s in o.refused] == []
    # Every writer was cut off by the kill, not by running out of batches.
    assert all(len(o.unanswered) == 1 for o in outcomes)
    acked = [b for o in outcomes for b in o.acked]
    unanswered = [b for o in outcomes for b in o.unanswered]
    assert len(acked) >= kill_after

    second = start_server(data_dir=first.data_dir)
    values = stored_values(second, tenant, window)
    assert_no_duplicates(values)
    stored = set(values)

    missing = [(b.writer, b.number) for b in acked if not stored.issuperset(b.values)]
    assert missing == [], f"acknowledged batches lost after kill -9: {missing}"

    sent = {v for b in acked + unanswered for v in b.values}
    assert stored <= sent, f"{len(stored - sent)} stored values were never sent"

    for b in unanswered:
        present = len(stored.intersection(b.values))
        assert present in (0, len(b.values)), (
            f"batch w{b.writer}/{b.number} is partly stored: {present} of {len(b.values)} points"
        )

    count, total = count_and_sum(second, tenant, window)
    assert count == len(values)
    assert math.isclose(total, math.fsum(values), rel_tol=1e-9)
