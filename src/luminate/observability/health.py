"""Liveness, readiness and startup state, and the detailed component report."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from luminate import __version__
from luminate.ingest.batcher import Batcher
from luminate.observability.metrics import Metrics
from luminate.storage.store import Storage


@dataclass
class Health:
    storage: Storage
    metrics: Metrics
    readiness_timeout_s: float
    batcher: Batcher | None = None
    started: bool = False
    draining: bool = False

    async def check_storage(self) -> dict[str, Any]:
        """Ping storage within the readiness timeout. (luminate_storage_up is the background
        probe's: it also counts writes, which readiness deliberately does not.)"""
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.storage.ping), self.readiness_timeout_s)
        except TimeoutError:
            return {
                "status": "down",
                "backend": self.storage.backend,
                "error": f"no answer within {self.readiness_timeout_s:g} s",
            }
        except Exception as exc:
            return {"status": "down", "backend": self.storage.backend, "error": str(exc)[:300]}
        return {
            "status": "up",
            "backend": self.storage.backend,
            "latencyMs": round((time.perf_counter() - t0) * 1000, 2),
        }

    async def ready(self) -> tuple[bool, dict[str, Any]]:
        if self.draining:
            return False, {"status": "draining"}
        if not self.started:
            return False, {"status": "starting"}
        storage = await self.check_storage()
        ok = storage["status"] == "up"
        # Writes are reported, not gating: see writes().
        detail = {
            "status": "ready" if ok else "not_ready",
            "storage": storage,
            "writes": self.writes(),
        }
        return ok, detail

    def writes(self) -> dict[str, Any]:
        """Whether the last storage insert succeeded. Readiness does not depend on it: when
        only writes fail (e.g. ZooKeeper is down), reads are still served and writes answer 503
        with Retry-After, which is better than taking every replica out of rotation."""
        b = self.batcher
        if b is None or b.last_error_at is None:
            return {"status": "ok"}
        if b.last_success_at is not None and b.last_success_at > b.last_error_at:
            return {"status": "ok", "lastError": b.last_error}
        return {"status": "failing", "lastError": b.last_error}

    async def report(self) -> dict[str, Any]:
        storage = await self.check_storage()
        writes = self.writes()
        healthy = (
            storage["status"] == "up"
            and writes["status"] == "ok"
            and self.started
            and not self.draining
        )
        return {
            "status": "ok" if healthy else "degraded",
            "version": __version__,
            "started": self.started,
            "draining": self.draining,
            "components": {"storage": storage, "writes": writes},
        }
