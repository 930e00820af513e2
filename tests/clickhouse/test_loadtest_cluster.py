"""`luminate loadtest` for 60 s against three `luminate serve` processes on the 2 shards x 2
replicas cluster, behind a round-robin HAProxy as pods sit behind a Service: no request fails
(429s aside), every acknowledged point is in ClickHouse exactly once afterwards (recounted per
batch on both replicas of both shards), and each process's CPU, the HPA's scaling signal, rises
with the load and falls back when it stops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clickhouse.fleet import Fleet, loadtest, recount
from tests.clickhouse.harness import Cluster

DATABASE = "luminate_loadtest"
PROCESSES = 3
IDLE_S = 6.0
# Modest on purpose: the suite shares two cores with the four ClickHouse servers and ZooKeeper.
WRITE_RATE, QUERY_RATE, BATCH = "12", "4", "500"


@pytest.fixture
def fleet(clickhouse_cluster: Cluster, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, clickhouse_cluster, DATABASE)
    try:
        f.migrate()
        f.scale_to(PROCESSES)
        yield f
    finally:
        f.stop()


def _cpu_share(fleet: Fleet, seconds: float) -> list[float]:
    before = fleet.cpu()
    time.sleep(seconds)
    return [(b - a) / seconds for a, b in zip(before, fleet.cpu(), strict=True)]


def test_a_minute_of_load_on_three_processes_fails_nothing_and_stores_every_point_once(
    fleet: Fleet, tmp_path: Path
) -> None:
    idle_before = _cpu_share(fleet, IDLE_S)
    cpu_at_start, began = fleet.cpu(), time.monotonic()
    run = loadtest(
        fleet.url,
        tmp_path / "run",
        "--write-rate", WRITE_RATE, "--query-rate", QUERY_RATE, "--batch-size", BATCH,
        "--tenants", "6", "--duration", "60s", "--warmup", "5s",
        "--threshold", "errors<=0%",
    )  # fmt: skip
    seconds = time.monotonic() - began
    loaded = [(b - a) / seconds for a, b in zip(cpu_at_start, fleet.cpu(), strict=True)]
    idle_after = _cpu_share(fleet, IDLE_S)
    assert run.exit_code == 0, run.stdout + run.stderr

    write, query = run.summary["scenarios"]["write"], run.summary["scenarios"]["query"]
    print(run.stdout)
    print({"cpu_idle_before": idle_before, "cpu_loaded": loaded, "cpu_idle_after": idle_after})
    for s in (write, query):
        non_429 = {k: v for k, v in s["statuses"].items() if not k.startswith("2") and k != "429"}
        assert non_429 == {}, s
        assert s["errors"] == 0 and s["no_answer"] == {}, s
    # Not vacuous: a minute at the asked rates went through.
    assert write["requests"] >= 0.9 * 60 * float(WRITE_RATE), write
    assert query["requests"] >= 0.9 * 60 * float(QUERY_RATE), query
    assert write["statuses"].get("200", 0) >= 0.9 * write["requests"]

    stored = recount(fleet.cluster, DATABASE, run.summary["run"]["run_id"])
    missing = {k: n for k, n in run.ledger.items() if stored.get(k) != n}
    unacknowledged = set(stored) - set(run.ledger)
    assert missing == {}, f"{len(missing)} batches not stored exactly: {list(missing.items())[:5]}"
    # Nothing failed, so nothing unacknowledged may have been stored either.
    assert unacknowledged == set(), list(unacknowledged)[:5]
    assert sum(stored.values()) == run.summary["acknowledged"]["points"]

    # The HPA's signal: every process works under load and rests before and after it. (Storage
    # work happens in ClickHouse, so a process needs only 1-3% of a core at this load; /proc
    # counts in 10 ms ticks, 0.17% over the idle windows, hence the absolute floor.)
    for i in range(PROCESSES):
        assert loaded[i] > max(3 * idle_before[i], 0.005), (i, idle_before, loaded)
        assert idle_after[i] < loaded[i] / 3, (i, loaded, idle_after)
