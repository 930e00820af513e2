"""The background storage probe: keeps luminate_storage_up and the ClickHouse server gauges
current whether or not anyone calls /readyz.

luminate_storage_up is 1 only when storage answers reads *and* can take writes: every shard has a
server that answers and is not read-only, and no insert has failed recently without one
succeeding since. Readiness stays on reads alone (a read-only cluster still serves queries);
this gauge is what pages someone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from luminate.ingest.batcher import Batcher
from luminate.observability.metrics import Metrics
from luminate.storage import telemetry
from luminate.storage.store import Storage

log = logging.getLogger("luminate.storage")
# An insert failure counts against writes for this long unless an insert succeeds after it: long
# enough to span clients' retry pauses, short enough that a recovered cluster without traffic
# is reported up again.
WRITE_FAILURE_MEMORY_S = 60.0


@dataclass
class StorageProbe:
    storage: Storage
    metrics: Metrics
    timeout_s: float
    batcher: Batcher | None = None
    up: bool = False
    states: list[telemetry.ServerState] = field(default_factory=list)
    _servers: set[str] = field(default_factory=set)

    async def run(self, interval_s: float) -> None:
        """Check every `interval_s` until cancelled; one failed round never stops the loop."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check()
            except Exception:  # a bug here must not end the probe
                log.exception("storage probe failed")

    async def check(self) -> bool:
        reads = await self._bounded(self.storage.ping)
        states: list[telemetry.ServerState] = []
        # Even when the ping fails: each server's own answer (or silence) is what the replica
        # gauges report.
        with contextlib.suppress(TimeoutError):
            states = await asyncio.wait_for(
                asyncio.to_thread(telemetry.observe, self.storage, self.timeout_s),
                # The cluster's layout, then every server in parallel, each within the timeout.
                2 * self.timeout_s + 1,
            )
        self._export(states)
        writes = bool(states) and telemetry.writable(states) and not self._inserts_failing()
        up = reads and writes
        if up != self.up:
            log.log(
                logging.INFO if up else logging.WARNING,
                "storage up" if up else "storage down",
                extra={"reads": reads, "writes": writes},
            )
        self.up = up
        self.states = states
        self.metrics.storage_up.set(1 if up else 0)
        return up

    async def _bounded(self, fn: Callable[[], object]) -> bool:
        try:
            await asyncio.wait_for(asyncio.to_thread(fn), self.timeout_s)
        except Exception:
            return False
        return True

    def _inserts_failing(self) -> bool:
        b = self.batcher
        if b is None or b.last_error_at is None:
            return False
        if b.last_success_at is not None and b.last_success_at > b.last_error_at:
            return False
        return time.time() - b.last_error_at < WRITE_FAILURE_MEMORY_S

    def _export(self, states: list[telemetry.ServerState]) -> None:
        m = self.metrics
        seen = {s.server for s in states}
        for gone in self._servers - seen:
            for gauge in (m.replica_up, m.replica_readonly, m.replica_delay, m.max_parts):
                gauge.remove(gone)
        self._servers = seen
        for s in states:
            m.replica_up.labels(replica=s.server).set(1 if s.reachable else 0)
            if not s.reachable:
                # Unknown is not "fine": the last values would read as current.
                for gauge in (m.replica_readonly, m.replica_delay, m.max_parts):
                    gauge.remove(s.server)
                continue
            m.replica_readonly.labels(replica=s.server).set(1 if s.readonly else 0)
            m.replica_delay.labels(replica=s.server).set(s.absolute_delay_s)
            m.max_parts.labels(replica=s.server).set(s.max_parts_per_partition)
