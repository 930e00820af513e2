"""Retention as the admin service applies it: a tenant-wide policy removes what is older than its
days, a metric's own policy wins over the tenant-wide one, another tenant is never touched, and
the maintenance loop applies every tenant's policies by itself."""

from __future__ import annotations

import asyncio

import pytest

from luminate.admin.service import AdminService
from luminate.model.points import TenantPoints
from luminate.storage.calls import StorageCalls
from luminate.storage.store import Storage
from tests.support.clock import now_ms
from tests.support.stored import stored_count
from tests.support.tenants import new_tenant

pytestmark = pytest.mark.anyio

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@pytest.fixture
def admin(storage: Storage, calls: StorageCalls) -> AdminService:
    return AdminService(storage, calls)


def aged(tenant: str, metric: str, *days: float) -> TenantPoints:
    """One point of `metric` per age in `days` (an hour younger than that, so a policy of
    exactly that many days keeps it)."""
    now = now_ms()
    stamps = [now - int(d * DAY_MS) + HOUR_MS for d in days]
    return TenantPoints(
        tenant,
        names=[metric] * len(days),
        timestamps=stamps,
        values=[1.0] * len(days),
        keys=[[] for _ in days],
        dim_values=[[] for _ in days],
    )


async def test_a_tenant_policy_removes_older_points_of_every_metric(
    admin: AdminService, storage: Storage, tenant: str
) -> None:
    other = new_tenant("svc-other")
    storage.write([aged(tenant, m, 0, 1, 2, 3) for m in ("a", "b")] + [aged(other, "a", 0, 3)])
    await admin.set_retention(tenant, None, 2)
    assert [(p.metric, p.days) for p in await admin.retention(tenant)] == [(None, 2)]
    assert stored_count(storage, tenant, "a") == 3
    assert stored_count(storage, tenant, "b") == 3
    assert stored_count(storage, other, "a") == 2
    assert await admin.retention(other) == []


async def test_a_metrics_own_policy_wins_over_the_tenant_policy(
    admin: AdminService, storage: Storage, tenant: str
) -> None:
    storage.write([aged(tenant, m, 0, 1, 2, 3, 4, 5) for m in ("kept_long", "kept_short")])
    await admin.set_retention(tenant, "kept_long", 4)
    await admin.set_retention(tenant, None, 1)
    assert stored_count(storage, tenant, "kept_long") == 5  # up to 4 days old: its own 4 days
    assert stored_count(storage, tenant, "kept_short") == 2
    policies = {p.metric: p.days for p in await admin.retention(tenant)}
    assert policies == {None: 1, "kept_long": 4}


async def test_deleting_a_metric_before_a_time_spares_newer_points_and_other_metrics(
    admin: AdminService, storage: Storage, tenant: str
) -> None:
    storage.write([aged(tenant, m, 0, 2, 4) for m in ("doomed", "spared")])
    await admin.delete(tenant, "doomed", now_ms() - DAY_MS)
    assert stored_count(storage, tenant, "doomed") == 1
    assert stored_count(storage, tenant, "spared") == 3


async def test_the_maintenance_loop_applies_policies_set_without_applying_them(
    admin: AdminService, storage: Storage, tenant: str
) -> None:
    storage.write([aged(tenant, "m", 0, 3)])
    storage.set_retention(tenant, None, 1)  # recorded, not yet applied
    assert stored_count(storage, tenant, "m") == 2
    loop = asyncio.create_task(admin.maintain(interval_s=0.05))
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while stored_count(storage, tenant, "m") != 1:
            assert asyncio.get_running_loop().time() < deadline, "retention was not applied"
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert loop.cancelled()
