"""Admin operations (retention, deletion) and the maintenance loop that enforces retention."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from luminate.model.catalog import RetentionPolicy
from luminate.model.time import now_ms
from luminate.storage.calls import StorageCalls
from luminate.storage.store import Storage

log = logging.getLogger("luminate.admin")

_DAY_MS = 86_400_000
ADMIN_TIMEOUT_S = 300.0


@dataclass
class AdminService:
    storage: Storage
    calls: StorageCalls

    async def set_retention(self, tenant: str, metric: str | None, days: int) -> None:
        """Record the policy and apply the tenant's retention at once."""
        await self.calls.run("admin", partial(self.storage.set_retention, tenant, metric, days))
        await self.apply_retention(tenant)

    async def retention(self, tenant: str) -> list[RetentionPolicy]:
        return await self.calls.run("admin", partial(self.storage.retention_policies, tenant))

    async def delete(self, tenant: str, metric: str, before_ms: int) -> None:
        await self.calls.run(
            "admin",
            partial(self.storage.delete_before, tenant, metric, before_ms),
            timeout_s=ADMIN_TIMEOUT_S,
        )

    async def apply_retention(self, tenant: str) -> None:
        """Delete what the tenant's policies no longer keep. A metric's own policy wins over
        the tenant-wide one."""
        policies = await self.retention(tenant)
        now = now_ms()
        specific = [p.metric for p in policies if p.metric is not None]
        for p in policies:
            cutoff = now - p.days * _DAY_MS
            exclude = specific if p.metric is None else []
            await self.calls.run(
                "admin",
                partial(self.storage.delete_before, tenant, p.metric, cutoff, exclude),
                timeout_s=ADMIN_TIMEOUT_S,
            )

    async def maintain(self, interval_s: float) -> None:
        """Runs until cancelled: applies every tenant's retention each interval."""
        while True:
            try:
                tenants = await self.calls.run("admin", self.storage.tenants_with_retention)
                for tenant in tenants:
                    await self.apply_retention(tenant)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention pass failed")
            await asyncio.sleep(interval_s)
