"""A 2xx survives the loss of a replica: writes are acknowledged once a quorum of the shard's
replicas holds them, shards that cannot reach quorum hand their batches to another shard, and a
batch whose outcome is unknown never moves (so nothing is stored twice). Each test gets its own
2x2 cluster over a 3-node ZooKeeper ensemble, since the faults change it."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.clickhouse import drill
from tests.clickhouse.drill import POINTS_PER_BATCH, Writer, wait_for
from tests.clickhouse.harness import Cluster
from tests.e2e.server import LuminateProcess

# Every test here starts its own 2x2 cluster.
pytestmark = pytest.mark.clickhouse


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster.start(tmp_path / "cluster", "2x2", 3)
    try:
        yield c
    finally:
        c.stop()


def _acks(writers: list[Writer]) -> int:
    return sum(len(w.acked) for w in writers)


def _wait_acks(writers: list[Writer], more: int, what: str, timeout_s: float = 60) -> None:
    target = _acks(writers) + more * POINTS_PER_BATCH
    try:
        wait_for(lambda: _acks(writers) >= target, timeout_s, what)
    except AssertionError as exc:
        failures = [f for w in writers for f in w.failures][-5:]
        raise AssertionError(f"{exc}; last failed writes: {failures}") from None


@pytest.mark.parametrize(
    ("quorum", "survives"),
    [("majority", True), ("1", False)],
    ids=["quorum-2-of-2", "no-quorum-negative-control"],
)
def test_acknowledged_points_survive_a_replica_killed_with_its_disk(
    tmp_path: Path, cluster: Cluster, quorum: str, survives: bool
) -> None:
    """Steady writes; the surviving replica of shard 1 lags (its fetches paused, as under load)
    for the last moments; right after an acknowledgement the replica that takes shard 1's
    writes is killed with SIGKILL and its data directory deleted; it comes back empty and
    refills from its sibling. With the quorum every acknowledged point is there exactly once;
    without it (the negative control) the points only the dead disk held are gone."""
    proc = drill.luminate(tmp_path, cluster, LUMINATE_CLICKHOUSE_INSERT_QUORUM=quorum)
    proc.migrate()
    proc.start()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    writers = [Writer(proc, tenant, offset=n * 10_000_000).start() for n in range(2)]
    try:
        _wait_acks(writers, 30, "first writes")
        victim, survivor = 0, 1
        path = drill.server_path(cluster, victim)
        drill.set_fetches(cluster, survivor, on=False)
        # Long enough for shard 1's quorum writes to time out (2 s) and move to shard 2.
        time.sleep(2.5)
        _wait_acks(writers, 10, "writes while the replica lags")
        seen = _acks(writers)
        wait_for(lambda: _acks(writers) > seen, 30, "an acknowledgement")
        cluster.kill_node(victim)
        drill.wipe(path)
        killed_at = _acks(writers)
        _wait_acks(writers, 20, "writes after the kill")
        for w in writers:
            w.finish()
        drill.set_fetches(cluster, survivor, on=True)
        cluster.start_node(victim)
        # The emptied replica is the one reads of shard 1 go to first: while it refills (its
        # fetches held back here, so the window is certain) reads must skip it.
        cluster.execute(victim, "SYSTEM STOP FETCHES")
        drill.restore_replica(cluster, victim, sibling=survivor)
        acked = [v for w in writers for v in w.acked]
        if survives:
            with httpx.Client(base_url=proc.url, timeout=60) as client:
                during = drill.read_values(client, proc.headers(tenant))
            assert sorted(set(during) & set(acked)) == sorted(acked), "a read missed points"
            # ... although the replica it would have been read from holds nothing yet.
            refilling = f"SELECT count() FROM {drill.DATABASE}.samples_local_refill"
            assert cluster.execute(victim, refilling)[0][0] == 0
        cluster.execute(victim, "SYSTEM START FETCHES")
        drill.finish_restore(cluster, victim, sibling=survivor)
        proc.migrate()  # the runbook's last step; creates nothing here, changes nothing
        drill.wait_replicas_in_sync(cluster)
        book = drill.ledger(cluster, tenant, acked)
        print(
            f"\n[{quorum}] acked {book.acked} points ({killed_at} before the kill), "
            f"present {book.present}, lost {len(book.lost)}, duplicated "
            f"{len(book.duplicated)}, acked checksum {book.acked_checksum}, stored "
            f"{book.stored_checksum}; unacknowledged and stored {book.unacked_stored}; "
            f"failed writes {sum(len(w.failures) for w in writers)}"
        )
        assert book.duplicated == []
        if survives:
            assert book.exactly_once(), book
            # Reads through Luminate agree with the servers' own count.
            with httpx.Client(base_url=proc.url, timeout=60) as client:
                got = drill.read_values(client, proc.headers(tenant))
            assert sorted(set(got) & set(acked)) == sorted(acked)
        else:
            assert book.lost, "without a quorum the dead disk should have taken points with it"
        # A write that was not acknowledged is one that hit shard 1 while it lagged (quorum
        # timeout), never a refusal: those move to shard 2.
        for w in writers:
            assert all(status == 503 for status, _ in w.failures), w.failures
    finally:
        for w in writers:
            w.stop.set()
        proc.kill()


def _ready(proc: LuminateProcess) -> None:
    r = httpx.get(proc.url + "/readyz", timeout=5)
    assert r.status_code == 200, r.text


def _stop_between_writes(cluster: Cluster, writer: Writer, *nodes: int) -> None:
    """The servers go down between two writes: a write in flight on a server as it goes away
    has an unknown outcome (the drill above covers that), which is not what is tested here."""
    writer.finish()
    for node in nodes:
        cluster.stop_node(node)


def _bring_back(cluster: Cluster, *nodes: int) -> None:
    for node in nodes:
        cluster.start_node(node)
    for node in nodes:
        drill.wait_shard_ready(cluster, node)


def _range_query(proc: LuminateProcess, tenant: str) -> httpx.Response:
    body = {"queryType": "range", "metricName": drill.METRIC, "timeRange": {"relative": "1h"}}
    return httpx.post(
        proc.url + "/api/v1/query", headers=proc.headers(tenant), timeout=30, json=body
    )


def test_writes_go_on_with_one_replica_and_with_a_whole_shard_down(
    tmp_path: Path, cluster: Cluster
) -> None:
    """Quorum 2 of 2 (the default majority). One replica of shard 1 down: its writes move to
    shard 2 and every write succeeds and is read back at once. Both replicas of shard 1 down:
    writes still succeed (shard 2 takes them), /readyz stays 200, and queries answer 503
    rather than a partial result. One replica of each shard down: no shard can reach its
    quorum, so writes answer 503 and store nothing (the price of 2 of 2). At the end every
    acknowledged point is stored exactly once."""
    # Nothing here waits on a quorum timeout: the default keeps a slow fetch from looking like
    # a failure on a busy machine.
    proc = drill.luminate(tmp_path, cluster, LUMINATE_CLICKHOUSE_INSERT_QUORUM_TIMEOUT_SECONDS="10")
    proc.migrate()
    proc.start()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    writer = Writer(proc, tenant)
    writer.read_back.set()
    try:
        _wait_acks([writer.start()], 10, "first writes")
        _stop_between_writes(cluster, writer, 1)
        _wait_acks([writer.start()], 30, "writes with one replica of shard 1 down")
        _ready(proc)
        assert (writer.failures, writer.stale_reads) == ([], [])

        _stop_between_writes(cluster, writer, 0)
        writer.read_back.clear()  # shard 1 cannot be read while both its replicas are down
        _wait_acks([writer.start()], 30, "writes with shard 1 down")
        _ready(proc)
        assert writer.failures == []
        r = _range_query(proc, tenant)
        assert (r.status_code, r.json()["error"]["code"]) == (503, "storage_unavailable")

        _bring_back(cluster, 0, 1)
        writer.read_back.set()
        _wait_acks([writer], 30, "writes after shard 1 is back")
        writer.finish()
        assert (writer.failures, writer.stale_reads) == ([], [])
        drill.wait_replicas_in_sync(cluster)
        counts = drill.local_counts(cluster)
        assert counts[0] > 0, counts  # shard 1 takes writes again once it can reach quorum

        cluster.stop_node(1)
        cluster.stop_node(3)
        with httpx.Client(base_url=proc.url, timeout=60) as client:
            refused = [writer.write_one(client, proc.headers(tenant)) for _ in range(5)]
        assert refused == [503] * 5, writer.failures
        assert all('"storage_unavailable"' in text for _, text in writer.failures)
        _ready(proc)  # reads are still served
        _bring_back(cluster, 1, 3)
        _wait_acks([writer.start()], 10, "writes once every shard can reach quorum again")
        writer.finish()
        drill.wait_replicas_in_sync(cluster)
        book = drill.ledger(cluster, tenant, writer.acked)
        assert book.exactly_once(), book
        assert book.unacked_stored == 0
    finally:
        writer.stop.set()
        proc.kill()


def test_a_batch_with_an_unknown_outcome_stays_on_its_shard(
    tmp_path: Path, cluster: Cluster
) -> None:
    """Shard 1's second replica lags, so a batch sent to shard 1 times out waiting for its
    quorum: its part is on one replica and may still complete, so it is answered 503 and not
    written to shard 2 (which would store it twice once the lag ends). Later batches go to
    shard 2 while shard 1 is blocked. When the lag ends, that batch is on shard 1 once."""
    proc = drill.luminate(tmp_path, cluster)
    proc.migrate()
    proc.start()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    writer = Writer(proc, tenant)
    try:
        drill.set_fetches(cluster, 1, on=False)
        headers = proc.headers(tenant)
        with httpx.Client(base_url=proc.url, timeout=60) as client:
            statuses = []
            while not writer.unacked and writer.sent < 40:
                statuses.append(writer.write_one(client, headers))
            assert writer.unacked, f"no batch reached shard 1 in {writer.sent} writes"
            assert statuses[-1] == 503, statuses
            unknown = list(writer.unacked)
            after = [writer.write_one(client, headers) for _ in range(15)]
            assert after == [200] * 15, writer.failures
        drill.set_fetches(cluster, 1, on=True)
        drill.wait_replicas_in_sync(cluster)
        book = drill.ledger(cluster, tenant, writer.acked + unknown)
        assert book.exactly_once(), book
        # ... on one shard only (shard 1 unless a slow fetch timed out on shard 2 first).
        first = unknown[0]
        on_node = [
            int(
                cluster.execute(
                    i,
                    f"SELECT count() FROM {drill.DATABASE}.samples_local "
                    "WHERE tenant_id = %(t)s AND value = %(v)s",
                    {"t": tenant, "v": first},
                )[0][0]
            )
            for i in (0, 2)
        ]
        assert sorted(on_node) == [0, 1], on_node
    finally:
        proc.kill()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_an_impossible_quorum_stops_migrate_and_serve(
    tmp_path: Path, clickhouse_cluster: Cluster, command: str
) -> None:
    proc = drill.luminate(
        tmp_path,
        clickhouse_cluster,
        LUMINATE_CLICKHOUSE_INSERT_QUORUM="3",
        LUMINATE_CLICKHOUSE_DATABASE="quorum_check",
    )
    out = subprocess.run(
        [sys.executable, "-m", "luminate", command],
        env=proc.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2, out.stderr[-800:]
    lines = out.stderr.strip().splitlines()
    assert lines == [
        "luminate: LUMINATE_CLICKHOUSE_INSERT_QUORUM=3 can never be met: shard 1 of cluster "
        "'luminate_cluster' has 2 replicas in system.clusters; set at most 2 or 'majority'"
    ], out.stderr[-800:]
    # Nothing was created by the refused migration.
    databases = clickhouse_cluster.execute(0, "SELECT name FROM system.databases")
    assert ("quorum_check",) not in databases
