"""Luminate served against the real 2 shards x 2 replicas cluster, under faults: nothing
acknowledged is lost or duplicated. Each test gets its own cluster, since faults change it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess

METRIC = "fault_probe"
POINTS_PER_BATCH = 50


@pytest.fixture
def cluster(clickhouse_own_cluster: Cluster) -> Cluster:
    return clickhouse_own_cluster


def _env(cluster: Cluster, hosts: list[str] | None = None) -> dict[str, str]:
    return {
        "LUMINATE_STORAGE_BACKEND": "clickhouse",
        "LUMINATE_CLICKHOUSE_HOSTS": ",".join(hosts or cluster.hosts),
        "LUMINATE_CLICKHOUSE_DATABASE": "luminate",
        "LUMINATE_CLICKHOUSE_USERNAME": cluster.user,
        "LUMINATE_CLICKHOUSE_PASSWORD": cluster.password,
        "LUMINATE_CLICKHOUSE_CLUSTER": cluster.cluster_name,
        "LUMINATE_CLICKHOUSE_CONNECT_TIMEOUT_SECONDS": "1",
    }


def _luminate(tmp_path: Path, cluster: Cluster, n: int = 0, **extra: str) -> LuminateProcess:
    hosts = extra.pop("hosts", None)
    env = {**_env(cluster, hosts.split(",") if hosts else None), **extra}
    return LuminateProcess(tmp_path / f"unused{n}", tmp_path / f"luminate{n}.log", env)


@dataclass
class Writer:
    """Writes batches of unique values until stopped; remembers which were acknowledged."""

    proc: LuminateProcess
    tenant: str
    acked: list[float] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    offset: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0

    def run(self, max_batches: int = 400) -> None:
        headers = self.proc.headers(self.tenant)
        with httpx.Client(base_url=self.proc.url, timeout=30) as client:
            for batch in range(max_batches):
                if self.stop.is_set():
                    return
                now = time.time_ns() // 1_000_000
                first = self.offset + self.sent * POINTS_PER_BATCH
                values = [first + i + 0.5 for i in range(POINTS_PER_BATCH)]
                body = {
                    "metrics": [
                        {
                            "name": METRIC,
                            "timestamp": now - i,
                            "value": v,
                            "dimensions": {"series": f"s{i % 7}", "batch": str(batch)},
                        }
                        for i, v in enumerate(values)
                    ]
                }
                self.sent += 1
                try:
                    r = client.post("/api/v1/write", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    self.failures.append((0, str(exc)))
                    continue
                if r.status_code == 200:
                    self.acked.extend(values)
                else:
                    self.failures.append((r.status_code, r.text[:300]))
                time.sleep(0.02)


def _stored_values(proc: LuminateProcess, tenant: str) -> list[float]:
    body = {
        "queryType": "range",
        "metricName": METRIC,
        "timeRange": {"relative": "1h"},
        "limit": 100_000,
    }
    r = httpx.post(proc.url + "/api/v1/query", json=body, headers=proc.headers(tenant), timeout=30)
    assert r.status_code == 200, r.text
    assert not r.json()["truncated"]
    return sorted(p["value"] for p in r.json()["results"])


def _replicas_in_sync(cluster: Cluster, timeout_s: float = 60.0) -> None:
    """Both replicas of each shard hold the same rows (replication caught up)."""
    deadline = time.monotonic() + timeout_s
    counts: list[int] = []
    while time.monotonic() < deadline:
        counts = [
            int(cluster.execute(i, "SELECT count() FROM luminate.samples_local")[0][0])
            for i in range(4)
        ]
        if counts[0] == counts[1] and counts[2] == counts[3]:
            return
        time.sleep(0.5)
    raise AssertionError(f"replicas did not catch up: local counts {counts}")


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_killing_one_replica_of_each_shard_loses_nothing(tmp_path: Path, cluster: Cluster) -> None:
    # One replica of every shard goes down: with a quorum of 2 of 2 no shard could take a write
    # (that trade-off is tested in test_insert_quorum.py); here one replica is enough.
    proc = _luminate(tmp_path, cluster, LUMINATE_CLICKHOUSE_INSERT_QUORUM="1")
    proc.migrate()
    proc.start()
    try:
        writer = Writer(proc, f"t-{uuid.uuid4().hex[:8]}")
        thread = threading.Thread(target=writer.run)
        thread.start()
        _wait(lambda: len(writer.acked) >= 10 * POINTS_PER_BATCH, 60, "first writes")
        cluster.kill_node(0)  # the first replica of each shard: writes and reads fail over
        cluster.kill_node(2)
        during = len(writer.acked)
        _wait(lambda: len(writer.acked) >= during + 20 * POINTS_PER_BATCH, 60, "writes in outage")
        assert _stored_values(proc, writer.tenant)  # queries keep answering
        time.sleep(5)  # the killed servers' ZooKeeper sessions expire (4 s locally)
        cluster.start_node(0)
        cluster.start_node(2)
        after = len(writer.acked)
        _wait(lambda: len(writer.acked) >= after + 10 * POINTS_PER_BATCH, 60, "writes after")
        writer.stop.set()
        thread.join(60)
        assert writer.failures == []
        _replicas_in_sync(cluster)
        assert _stored_values(proc, writer.tenant) == sorted(writer.acked)
    finally:
        proc.kill()


def test_the_first_host_unreachable_fails_over(tmp_path: Path, cluster: Cluster) -> None:
    dead = "127.0.0.1:1"
    proc = _luminate(tmp_path, cluster, hosts=",".join([dead, *cluster.hosts]))
    proc.migrate()
    proc.start()
    try:
        writer = Writer(proc, f"t-{uuid.uuid4().hex[:8]}")
        writer.run(max_batches=20)
        assert writer.failures == []
        assert _stored_values(proc, writer.tenant) == sorted(writer.acked)
    finally:
        proc.kill()


def test_zookeeper_outage_refuses_writes_keeps_reads_and_recovers(
    tmp_path: Path, cluster: Cluster
) -> None:
    proc = _luminate(tmp_path, cluster)
    proc.migrate()
    proc.start()
    try:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        before = Writer(proc, tenant)
        before.run(max_batches=10)
        assert before.failures == []

        cluster.stop_zookeeper()
        refused = Writer(proc, tenant, offset=1_000_000)
        refused.run(max_batches=3)
        assert refused.acked == []
        statuses = {status for status, _ in refused.failures}
        assert statuses == {503}, refused.failures
        r = httpx.post(
            proc.url + "/api/v1/write",
            headers=proc.headers(tenant),
            timeout=30,
            json={
                "metrics": [{"name": METRIC, "timestamp": time.time_ns() // 10**6, "value": -1.0}]
            },
        )
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "storage_unavailable"
        assert r.headers["retry-after"] == "1"
        assert _stored_values(proc, tenant) == sorted(before.acked)  # reads keep working
        ready = httpx.get(proc.url + "/readyz", timeout=5)
        assert ready.status_code == 200  # reads are still served
        assert ready.json()["writes"]["status"] == "failing"
        health = httpx.get(proc.internal_url + "/api/v1/health", timeout=5)
        assert health.status_code == 503
        assert health.json()["components"]["writes"]["status"] == "failing"

        cluster.start_zookeeper()
        after = Writer(proc, tenant, offset=2_000_000)

        def writes_work() -> bool:
            after.run(max_batches=1)
            return bool(after.acked)

        _wait(writes_work, 60, "writes after ZooKeeper returns")
        after.failures.clear()
        after.run(max_batches=5)
        assert after.failures == []
        _replicas_in_sync(cluster)
        assert _stored_values(proc, tenant) == sorted(before.acked + after.acked)
        assert httpx.get(proc.internal_url + "/api/v1/health", timeout=5).status_code == 200
    finally:
        proc.kill()


def test_three_luminate_processes_share_the_cluster(tmp_path: Path, cluster: Cluster) -> None:
    procs = [_luminate(tmp_path, cluster, n) for n in range(3)]
    procs[0].migrate()
    for proc in procs:
        proc.start()
    try:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        writers = [Writer(p, tenant, offset=n * 1_000_000) for n, p in enumerate(procs)]
        threads = [threading.Thread(target=w.run, kwargs={"max_batches": 20}) for w in writers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert all(w.failures == [] for w in writers)
        acked = sorted(v for w in writers for v in w.acked)
        assert len(acked) == 3 * 20 * POINTS_PER_BATCH
        answers = [_stored_values(p, tenant) for p in procs]
        assert answers[0] == answers[1] == answers[2] == acked
        body = {
            "queryType": "aggregate",
            "metricName": METRIC,
            "timeRange": {"relative": "1h"},
            "aggregation": "p95",
            "groupBy": ["series"],
        }
        results = [
            httpx.post(
                p.url + "/api/v1/query", json=body, headers=p.headers(tenant), timeout=30
            ).json()["results"]
            for p in procs
        ]
        assert results[0] == results[1] == results[2]
        assert len(results[0]) == 7
    finally:
        for proc in procs:
            proc.kill()


def test_startup_errors_are_one_clear_line(tmp_path: Path, cluster: Cluster) -> None:
    good = _luminate(tmp_path, cluster)
    good.migrate()
    cases = [
        ({"LUMINATE_CLICKHOUSE_PASSWORD": "wrong"}, "password"),
        ({"LUMINATE_CLICKHOUSE_HOSTS": "127.0.0.1:1"}, "unreachable"),
        ({"LUMINATE_CLICKHOUSE_DATABASE": "nope"}, "luminate migrate"),
        ({"LUMINATE_CLICKHOUSE_CLUSTER": "other_cluster"}, "remote_servers"),
        ({"LUMINATE_CLICKHOUSE_HOSTS": "host:port"}, "host:port"),
    ]
    for extra, needle in cases:
        proc = _luminate(tmp_path, cluster, 9, **extra)
        out = subprocess.run(
            [sys.executable, "-m", "luminate", "serve"],
            env=proc.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 2, (extra, out.stderr[-500:])
        assert needle in out.stderr, (extra, out.stderr[-500:])
        assert "Traceback" not in out.stderr, extra
