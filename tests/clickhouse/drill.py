"""Fault drills on the 2x2 cluster: a `luminate serve` pointed at it, writers that remember what
was acknowledged (and can read each batch back at once), replica lag and disk loss, and the
exactly-once accounting of what is stored.

Only the public interface of `tests.clickhouse.harness.Cluster` is used: its endpoints, its
node start/stop/kill, and SQL on a node. Where a node keeps its data is asked of the node."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess

METRIC = "quorum_probe"
DATABASE = "luminate"
POINTS_PER_BATCH = 40
# Shard 1 is clickhouse-0 and clickhouse-1, shard 2 clickhouse-2 and clickhouse-3; the first of
# each pair is the replica writes and reads go to while it is up.
SHARD_OF_NODE = {0: 1, 1: 1, 2: 2, 3: 2}


def luminate(tmp_path: Path, cluster: Cluster, **settings: str) -> LuminateProcess:
    env = {
        "LUMINATE_STORAGE_BACKEND": "clickhouse",
        "LUMINATE_CLICKHOUSE_HOSTS": ",".join(cluster.hosts),
        "LUMINATE_CLICKHOUSE_DATABASE": DATABASE,
        "LUMINATE_CLICKHOUSE_USERNAME": cluster.user,
        "LUMINATE_CLICKHOUSE_PASSWORD": cluster.password,
        "LUMINATE_CLICKHOUSE_CLUSTER": cluster.cluster_name,
        "LUMINATE_CLICKHOUSE_CONNECT_TIMEOUT_SECONDS": "1",
        # A lagging replica costs a write 2 s before it is answered 503, not the default 10 s.
        "LUMINATE_CLICKHOUSE_INSERT_QUORUM_TIMEOUT_SECONDS": "2",
        **settings,
    }
    return LuminateProcess(tmp_path / "unused", tmp_path / "luminate.log", env)


@dataclass
class Writer:
    """Writes batches of values unique to this writer until stopped. With `read_back` set, each
    acknowledged batch is queried at once (a filter on its own `batch` dimension) and must come
    back whole: read-your-writes, checked on every write."""

    proc: LuminateProcess
    tenant: str
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    offset: float = 0.0
    acked: list[float] = field(default_factory=list)
    unacked: list[float] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    stale_reads: list[str] = field(default_factory=list)
    read_back: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    thread: threading.Thread | None = None

    def start(self) -> Writer:
        """Start (or resume) writing in a thread of its own."""
        self.stop.clear()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(60)
            assert not self.thread.is_alive(), "writer did not stop"

    def run(self, max_batches: int = 100_000) -> None:
        headers = self.proc.headers(self.tenant)
        with httpx.Client(base_url=self.proc.url, timeout=60) as client:
            while self.sent < max_batches and not self.stop.is_set():
                self.write_one(client, headers)
                time.sleep(0.03)

    def write_one(self, client: httpx.Client, headers: dict[str, str]) -> int:
        batch = f"{self.name}-{self.sent}"
        first = self.offset + self.sent * POINTS_PER_BATCH
        values = [first + i + 0.5 for i in range(POINTS_PER_BATCH)]
        now = time.time_ns() // 1_000_000
        body = {
            "metrics": [
                {
                    "name": METRIC,
                    "timestamp": now - i,
                    "value": v,
                    "dimensions": {"series": f"s{i % 5}", "batch": batch},
                }
                for i, v in enumerate(values)
            ]
        }
        self.sent += 1
        try:
            r = client.post("/api/v1/write", json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.failures.append((0, str(exc)))
            self.unacked.extend(values)
            return 0
        if r.status_code != 200:
            self.failures.append((r.status_code, r.text[:300]))
            self.unacked.extend(values)
            return r.status_code
        self.acked.extend(values)
        if self.read_back.is_set():
            got = read_values(client, headers, {"batch": batch})
            if got != values:
                self.stale_reads.append(f"batch {batch}: read {len(got)} of {len(values)}")
        return 200


def read_values(
    client: httpx.Client, headers: dict[str, str], filters: dict[str, str] | None = None
) -> list[float]:
    body = {
        "queryType": "range",
        "metricName": METRIC,
        "timeRange": {"relative": "1h"},
        "filters": filters or {},
        "limit": 100_000,
    }
    r = client.post("/api/v1/query", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert not r.json()["truncated"]
    return sorted(p["value"] for p in r.json()["results"])


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


# ---------------------------------------------------------------- replicas


def set_fetches(cluster: Cluster, node: int, *, on: bool) -> None:
    """Pause or resume a replica's fetching of new parts from the others: replication lag on
    demand (as under load), so a drill does not depend on how fast loopback replicates."""
    verb = "START" if on else "STOP"
    cluster.execute(node, f"SYSTEM {verb} FETCHES {DATABASE}.samples_local")


def server_path(cluster: Cluster, node: int) -> Path:
    """The node's ClickHouse data directory (`<path>` of its configuration), as the node says."""
    rows = cluster.execute(
        node,
        "SELECT data_path FROM system.tables WHERE database = %(db)s AND name = 'samples_local'",
        {"db": DATABASE},
    )
    # <path>data/<database>/<table>/
    path = Path(rows[0][0]).parents[2]
    assert path.is_dir() and path.is_relative_to(cluster.base_dir), path
    return path


def wipe(path: Path) -> None:
    """The disk is gone: everything the server kept (data, table metadata, ZooKeeper-free
    state) is deleted; an empty directory is what a replaced volume looks like."""
    shutil.rmtree(path)
    path.mkdir()


def restore_replica(cluster: Cluster, node: int, sibling: int) -> None:
    """Bring an emptied server back into its shard as docs/operations.md says: the Distributed
    tables first (they hold no data), then its replicated tables attached under a `_refill`
    name with the definitions of a replica of the same shard (ATTACH, since the replica's entry
    in ZooKeeper still exists). The replica refills from its sibling while reads skip it (the
    table they look for is not there yet); `finish_restore` renames the tables once it has."""
    cluster.execute(node, f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    for name, engine, create in _tables(cluster, sibling):
        if engine.startswith("Replicated"):
            attach = re.sub(
                rf"^CREATE TABLE (\S+)\.{name}\b", rf"ATTACH TABLE \1.{name}_refill", create
            )
            assert attach != create, create
            cluster.execute(node, attach)
        else:
            cluster.execute(node, create)


def finish_restore(cluster: Cluster, node: int, sibling: int, timeout_s: float = 240.0) -> None:
    """Once the refilled table holds what its sibling holds, give it its real name.

    How long a refill takes is not fixed: when the dead disk held parts nobody else has (no
    quorum), both replicas keep entries in their queues for them until their part checks declare
    them lost, and on a loaded machine that can take minutes. A timeout says where each replica
    stood and what its queue was waiting for."""
    counts: tuple[int, int] = (-1, -1)

    def refilled() -> bool:
        nonlocal counts
        sql = "SELECT count() FROM {}.{}"
        mine = int(cluster.execute(node, sql.format(DATABASE, "samples_local_refill"))[0][0])
        theirs = int(cluster.execute(sibling, sql.format(DATABASE, "samples_local"))[0][0])
        counts = (mine, theirs)
        return mine == theirs

    try:
        wait_for(refilled, timeout_s, "the emptied replica to refill")
    except AssertionError as exc:
        queues = {
            f"clickhouse-{n}": replication_queue(cluster, n, table)
            for n, table in ((node, "samples_local_refill"), (sibling, "samples_local"))
        }
        raise AssertionError(f"{exc}: rows (refill, sibling) {counts}; queues {queues}") from None
    for name, engine, _ in _tables(cluster, sibling):
        if engine.startswith("Replicated"):
            cluster.execute(node, f"RENAME TABLE {DATABASE}.{name}_refill TO {DATABASE}.{name}")


def replication_queue(cluster: Cluster, node: int, table: str) -> list[tuple[object, ...]]:
    """The first entries of a replica's replication queue: what it still has to do, how often it
    tried and the last error."""
    return [
        tuple(row)
        for row in cluster.execute(
            node,
            "SELECT type, new_part_name, num_tries, last_exception FROM system.replication_queue "
            "WHERE database = %(db)s AND table = %(t)s ORDER BY create_time LIMIT 5",
            {"db": DATABASE, "t": table},
        )
    ]


def _tables(cluster: Cluster, node: int) -> list[tuple[str, str, str]]:
    rows = cluster.execute(
        node,
        "SELECT name, engine, create_table_query FROM system.tables "
        "WHERE database = %(db)s ORDER BY name",
        {"db": DATABASE},
    )
    return [(str(n), str(e), str(c)) for n, e, c in rows]


def wait_shard_ready(cluster: Cluster, node: int, timeout_s: float = 60.0) -> None:
    """The node's replica is active, sees every replica of its shard active, and has nothing
    left to fetch: quorum inserts there complete promptly again."""

    def ready() -> bool:
        rows = cluster.execute(
            node,
            "SELECT is_readonly, active_replicas, total_replicas, queue_size "
            "FROM system.replicas WHERE database = %(db)s AND table = 'samples_local'",
            {"db": DATABASE},
        )
        return bool(rows) and rows[0][0] == 0 and rows[0][1] == rows[0][2] and rows[0][3] == 0

    wait_for(ready, timeout_s, f"clickhouse-{node} to rejoin its shard")


def local_counts(cluster: Cluster, nodes: range = range(4)) -> list[int]:
    return [
        int(cluster.execute(i, f"SELECT count() FROM {DATABASE}.samples_local")[0][0])
        for i in nodes
    ]


def wait_replicas_in_sync(cluster: Cluster, timeout_s: float = 90.0) -> None:
    """Both replicas of each shard hold the same rows and have nothing left to fetch that any
    replica still has."""
    counts: list[int] = []

    def in_sync() -> bool:
        nonlocal counts
        counts = local_counts(cluster)
        return counts[0] == counts[1] and counts[2] == counts[3]

    try:
        wait_for(in_sync, timeout_s, "replicas in sync")
    except AssertionError:
        raise AssertionError(f"replicas did not catch up: local counts {counts}") from None


# ---------------------------------------------------------------- accounting


@dataclass(frozen=True)
class Ledger:
    """What is stored for the acknowledged values: each must be there exactly once."""

    acked: int
    present: int
    lost: list[float]
    duplicated: list[float]
    acked_checksum: str
    stored_checksum: str
    unacked_stored: int

    def exactly_once(self) -> bool:
        return (
            not self.lost and not self.duplicated and self.acked_checksum == (self.stored_checksum)
        )


def _checksum(values: list[float]) -> str:
    return hashlib.sha256(",".join(repr(v) for v in sorted(values)).encode()).hexdigest()[:16]


def ledger(cluster: Cluster, tenant: str, acked: list[float]) -> Ledger:
    """Counts every stored value of the tenant on every shard (through the Distributed table,
    reading one replica per shard) and compares them with what was acknowledged."""
    rows = cluster.execute(
        0,
        f"SELECT value, count() FROM {DATABASE}.samples "
        "WHERE tenant_id = %(t)s AND metric_name = %(m)s GROUP BY value",
        {"t": tenant, "m": METRIC},
    )
    stored = Counter({float(v): int(n) for v, n in rows})
    wanted = set(acked)
    assert len(wanted) == len(acked), "the writers sent a value twice"
    present = [v for v in acked if stored[v] >= 1]
    return Ledger(
        acked=len(acked),
        present=len(present),
        lost=sorted(v for v in acked if stored[v] == 0),
        duplicated=sorted(v for v, n in stored.items() if n > 1),
        acked_checksum=_checksum(acked),
        stored_checksum=_checksum([v for v, n in stored.items() for _ in range(n) if v in wanted]),
        unacked_stored=sum(n for v, n in stored.items() if v not in wanted),
    )
