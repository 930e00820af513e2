"""Liveness, readiness and startup state, and the detailed component report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from luminate import __version__
from luminate.ingest.batcher import Batcher
from luminate.limits.coordination import LimitsStatus
from luminate.observability.metrics import Metrics
from luminate.storage.store import Storage


@dataclass(frozen=True)
class StorageCheck:
    status: Literal["up", "down"]
    backend: str
    latency_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class WritesCheck:
    """Whether the last storage insert succeeded, and the last error seen, if any."""

    status: Literal["ok", "failing"]
    last_error: str | None = None


@dataclass(frozen=True)
class Readiness:
    ready: bool
    status: Literal["ready", "not_ready", "draining", "starting"]
    storage: StorageCheck | None = None
    writes: WritesCheck | None = None


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    version: str
    started: bool
    draining: bool
    storage: StorageCheck
    writes: WritesCheck
    # How limits compose with other processes; reported, never failing the check: local limits
    # are looser than configured, not an outage (luminate_limits_mode alerts on it).
    limits: LimitsStatus | None = None


@dataclass
class Health:
    storage: Storage
    metrics: Metrics
    readiness_timeout_s: float
    batcher: Batcher | None = None
    limits: Callable[[], LimitsStatus] | None = None
    started: bool = False
    draining: bool = False

    async def check_storage(self) -> StorageCheck:
        """Ping storage within the readiness timeout. (luminate_storage_up is the background
        probe's: it also counts writes, which readiness deliberately does not.)"""
        t0 = time.perf_counter()
        backend = self.storage.backend
        try:
            await asyncio.wait_for(asyncio.to_thread(self.storage.ping), self.readiness_timeout_s)
        except TimeoutError:
            return StorageCheck(
                "down", backend, error=f"no answer within {self.readiness_timeout_s:g} s"
            )
        except Exception as exc:
            return StorageCheck("down", backend, error=str(exc)[:300])
        return StorageCheck("up", backend, latency_ms=round((time.perf_counter() - t0) * 1000, 2))

    async def ready(self) -> Readiness:
        if self.draining:
            return Readiness(False, "draining")
        if not self.started:
            return Readiness(False, "starting")
        storage = await self.check_storage()
        ok = storage.status == "up"
        # Writes are reported, not gating: see writes().
        return Readiness(ok, "ready" if ok else "not_ready", storage, self.writes())

    def writes(self) -> WritesCheck:
        """Whether the last storage insert succeeded. Readiness does not depend on it: when
        only writes fail (e.g. ZooKeeper is down), reads are still served and writes answer 503
        with Retry-After, which is better than taking every replica out of rotation."""
        b = self.batcher
        if b is None or b.last_error_at is None:
            return WritesCheck("ok")
        if b.last_success_at is not None and b.last_success_at > b.last_error_at:
            return WritesCheck("ok", b.last_error)
        return WritesCheck("failing", b.last_error)

    async def report(self) -> HealthReport:
        storage = await self.check_storage()
        writes = self.writes()
        healthy = (
            storage.status == "up" and writes.status == "ok" and self.started and not self.draining
        )
        limits = self.limits() if self.limits is not None else None
        return HealthReport(
            healthy, __version__, self.started, self.draining, storage, writes, limits
        )
