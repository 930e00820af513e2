"""What Luminate sees of its storage servers, and the background probe behind
luminate_storage_up, on every backend."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from luminate.health.storage_probe import StorageProbe
from luminate.ingest.batcher import Batcher
from luminate.model.points import TenantPoints
from luminate.observability.metrics import Metrics
from luminate.storage import telemetry
from luminate.storage.errors import StorageError
from luminate.storage.store import Storage


def points(tenant: str, n: int = 5) -> TenantPoints:
    now = time.time_ns() // 1_000_000
    return TenantPoints(
        tenant,
        ["telemetry_probe"] * n,
        [now - i for i in range(n)],
        [float(i) for i in range(n)],
        [["k"]] * n,
        [[str(i)] for i in range(n)],
    )


def test_every_server_answers_writable_with_parts(storage: Storage) -> None:
    storage.write([points(f"t-{uuid.uuid4().hex[:8]}")])
    states = telemetry.observe(storage, timeout_s=5.0)
    assert states, "no server observed"
    for s in states:
        assert s.reachable, s
        assert not s.readonly, s
        assert s.absolute_delay_s >= 0
    assert max(s.max_parts_per_partition for s in states) >= 1
    assert telemetry.writable(states)
    # Cluster servers are named host:port and grouped in shards; the engine in-process is one.
    if storage.topology.cluster:
        assert len({s.shard for s in states}) == 2
        assert all(s.server.startswith("127.0.0.1:") for s in states)
    elif storage.backend == "embedded":
        assert [s.server for s in states] == [telemetry.EMBEDDED]


def test_a_shard_without_a_writable_server_is_not_writable() -> None:
    ok = telemetry.ServerState("a:1", 1, reachable=True)
    readonly = telemetry.ServerState("b:1", 2, reachable=True, readonly=True)
    gone = telemetry.ServerState("c:1", 2, reachable=False)
    assert telemetry.writable([ok])
    assert telemetry.writable([ok, readonly, telemetry.ServerState("d:1", 2, reachable=True)])
    assert not telemetry.writable([ok, readonly, gone])
    assert not telemetry.writable([])


def _gauge(metrics: Metrics, name: str) -> dict[str, float]:
    return {
        s.labels.get("replica", ""): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == name
    }


def test_probe_reports_up_then_down_while_inserts_fail(storage: Storage) -> None:
    async def scenario() -> None:
        metrics = Metrics(backend=storage.backend)
        good = Batcher(storage.write, max_points=100, max_delay_s=0.001)
        probe = StorageProbe(storage, metrics, timeout_s=5.0, batcher=good)
        good.start()
        await good.submit(points(f"t-{uuid.uuid4().hex[:8]}"))
        assert await probe.check()
        assert _gauge(metrics, "luminate_storage_up") == {"": 1.0}
        servers = {s.server for s in probe.states}
        assert set(_gauge(metrics, "luminate_clickhouse_replica_up")) == servers
        assert set(_gauge(metrics, "luminate_clickhouse_max_parts_per_partition")) == servers

        # Storage refuses a batch without a tenant: an insert failure, reads still fine.
        probe.batcher = Batcher(storage.write, max_points=100, max_delay_s=0.001)
        probe.batcher.start()
        with pytest.raises(StorageError):
            await probe.batcher.submit(points(""))
        assert not await probe.check()
        assert _gauge(metrics, "luminate_storage_up") == {"": 0.0}
        # A later successful insert clears it.
        await probe.batcher.submit(points(f"t-{uuid.uuid4().hex[:8]}"))
        assert await probe.check()
        await good.close()
        await probe.batcher.close()

    asyncio.run(scenario())
