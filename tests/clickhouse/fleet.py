"""Several `luminate serve` processes on a ClickHouse cluster behind a loopback HAProxy, as
Kubernetes runs pods behind a Service; `luminate loadtest` run against them; what they stored
recounted in ClickHouse itself. Shared by the cluster load test and `bench.scaling`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from luminate.loadtest.scenarios import METRICS, RUN_DIMENSION
from testbed.haproxy import HAProxy
from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess
from tests.support.tokens import TEST_SECRET

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 90.0


def cluster_env(cluster: Cluster, database: str) -> dict[str, str]:
    return {
        "LUMINATE_STORAGE_BACKEND": "clickhouse",
        "LUMINATE_CLICKHOUSE_HOSTS": ",".join(cluster.hosts),
        "LUMINATE_CLICKHOUSE_DATABASE": database,
        "LUMINATE_CLICKHOUSE_USERNAME": cluster.user,
        "LUMINATE_CLICKHOUSE_PASSWORD": cluster.password,
        "LUMINATE_CLICKHOUSE_CLUSTER": cluster.cluster_name,
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Fleet:
    """`luminate serve` processes on one cluster and database, behind one balancer."""

    base: Path
    cluster: Cluster
    database: str
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[LuminateProcess] = field(default_factory=list)
    balancer: HAProxy | None = None

    def migrate(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        LuminateProcess(self.base / "unused", self.base / "migrate.log", self.env()).migrate()

    def env(self) -> dict[str, str]:
        return {**cluster_env(self.cluster, self.database), **self.extra_env}

    def scale_to(self, n: int) -> None:
        """Start processes until `n` run (each Ready), then balance over exactly those."""
        while len(self.processes) < n:
            i = len(self.processes)
            proc = LuminateProcess(self.base / f"pod{i}", self.base / f"pod{i}.log", self.env())
            self.processes.append(proc.start(START_TIMEOUT_S))
        if self.balancer is not None:
            self.balancer.stop()
        self.balancer = HAProxy.balancer(self.base, [p.url for p in self.processes[:n]])
        self._wait_balanced(n)

    def _wait_balanced(self, n: int) -> None:
        """HAProxy starts with servers up; give its first checks a moment to agree."""
        deadline = time.monotonic() + 10
        assert self.balancer is not None
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.balancer.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"balancer over {n} processes never answered:\n{self.balancer.process.tail()}"
        )

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.url

    def cpu(self) -> list[float]:
        return [cpu_seconds(p.proc.pid) for p in self.processes if p.proc is not None]

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for proc in self.processes:
            proc.stop()


@dataclass(frozen=True)
class LoadRun:
    exit_code: int
    stdout: str
    stderr: str
    summary: dict[str, Any]
    ledger: dict[tuple[str, int], int]
    """(tenant, timestamp) -> points acknowledged."""


def start_loadtest(url: str, out: Path, *args: str) -> subprocess.Popen[str]:
    """`luminate loadtest` as a user runs it (tokens signed with the test secret), in the
    background; `finish_loadtest` collects it."""
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUMINATE_", "JWT_"))}
    env["JWT_SECRET"] = TEST_SECRET
    files = ["--summary", str(out / "summary.json"), "--ledger", str(out / "ledger.jsonl")]
    argv = [sys.executable, "-m", "luminate", "loadtest", "--url", url, *files, *args]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_loadtest(
    proc: subprocess.Popen[str], out: Path, *, interrupt: bool = False, timeout_s: float = 600.0
) -> LoadRun:
    """Wait for the run (after SIGINT, which makes it stop sending and report, if `interrupt`)
    and read its summary and ledger."""
    if interrupt:
        proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    acked: dict[tuple[str, int], int] = {}
    ledger = out / "ledger.jsonl"
    if ledger.exists():
        for line in ledger.read_text().splitlines():
            row = json.loads(line)
            key = (row["tenant"], row["timestamp"])
            assert key not in acked, f"two acknowledged batches named {key}"
            acked[key] = row["points"]
    summary = out / "summary.json"
    loaded = json.loads(summary.read_text()) if summary.exists() else {}
    return LoadRun(proc.returncode, stdout, stderr, loaded, acked)


def loadtest(url: str, out: Path, *args: str, timeout_s: float = 600.0) -> LoadRun:
    """`luminate loadtest` run to its end."""
    return finish_loadtest(start_loadtest(url, out, *args), out, timeout_s=timeout_s)


def replicas_in_sync(cluster: Cluster, database: str, timeout_s: float = 120.0) -> list[int]:
    """Rows per node once both replicas of each shard hold the same (replication caught up)."""
    deadline = time.monotonic() + timeout_s
    counts: list[int] = []
    while time.monotonic() < deadline:
        counts = [
            int(cluster.execute(i, f"SELECT count() FROM {database}.samples_local")[0][0])
            for i in range(4)
        ]
        if counts[0] == counts[1] and counts[2] == counts[3]:
            return counts
        time.sleep(0.5)
    raise AssertionError(f"replicas never converged: rows per node {counts}")


def stored_batches(
    cluster: Cluster, database: str, run_id: str, node: int
) -> Counter[tuple[str, int]]:
    """Points of the run per (tenant, timestamp) on one node's local table."""
    metrics = ", ".join(f"'{m}'" for m in METRICS)
    rows = cluster.execute(
        node,
        f"SELECT tenant_id, timestamp_ms, count() FROM {database}.samples_local "
        f"WHERE metric_name IN ({metrics}) "
        f"AND dim_values[indexOf(dim_keys, '{RUN_DIMENSION}')] = %(run)s "
        "GROUP BY tenant_id, timestamp_ms",
        {"run": run_id},
    )
    return Counter({(str(t), int(ts)): int(n) for t, ts, n in rows})


def recount(cluster: Cluster, database: str, run_id: str) -> dict[tuple[str, int], int]:
    """Every stored batch of the run, over both shards, after replication converged; each
    shard's two replicas must hold exactly the same batches."""
    replicas_in_sync(cluster, database)
    shards = [(0, 1), (2, 3)]
    total: Counter[tuple[str, int]] = Counter()
    for first, second in shards:
        a = stored_batches(cluster, database, run_id, first)
        b = stored_batches(cluster, database, run_id, second)
        assert a == b, f"replicas {first} and {second} differ on the run's batches"
        total.update(a)
    return dict(total)
