"""Liveness, readiness and the detailed report over the embedded engine and a real batcher:
starting, ready and draining states; storage that does not answer within the readiness timeout
is reported down (and the gauge says so); failed inserts are reported without gating
readiness, and a later good insert clears them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from luminate import __version__
from luminate.health.service import Health
from luminate.ingest.batcher import Batcher
from luminate.model.points import TenantPoints
from luminate.observability.metrics import Metrics
from luminate.storage.errors import StorageError
from luminate.storage.store import Storage
from tests.support.clock import now_ms
from tests.support.samples import sample

pytestmark = pytest.mark.anyio

READINESS_TIMEOUT_S = 5.0


@pytest.fixture
async def batcher(storage: Storage) -> AsyncIterator[Batcher]:
    batcher = Batcher(storage.write, max_points=1000, max_delay_s=0.001)
    batcher.start()
    try:
        yield batcher
    finally:
        await batcher.close()


@pytest.fixture
def health(storage: Storage, metrics: Metrics, batcher: Batcher) -> Health:
    return Health(storage, metrics, READINESS_TIMEOUT_S, batcher)


def one_point(tenant: str) -> TenantPoints:
    return TenantPoints(tenant, ["svc_health"], [now_ms()], [1.0], [[]], [[]])


async def test_readiness_follows_startup_and_draining(health: Health, metrics: Metrics) -> None:
    starting = await health.ready()
    assert (starting.ready, starting.status, starting.storage) == (False, "starting", None)
    health.started = True
    ready = await health.ready()
    assert (ready.ready, ready.status) == (True, "ready")
    assert ready.storage is not None
    assert (ready.storage.status, ready.storage.backend) == ("up", "embedded")
    assert ready.storage.latency_ms is not None
    # luminate_storage_up is the background storage probe's (it counts writes too): a readiness
    # check leaves it alone.
    assert sample(metrics.registry, "luminate_storage_up") == 0
    health.draining = True
    draining = await health.ready()
    assert (draining.ready, draining.status) == (False, "draining")


async def test_storage_that_does_not_answer_in_time_is_reported_down(
    storage: Storage, metrics: Metrics
) -> None:
    # No storage call finishes within no time at all: the timeout path, with a real engine.
    health = Health(storage, metrics, readiness_timeout_s=0)
    health.started = True
    metrics.storage_up.set(1)
    readiness = await health.ready()
    assert (readiness.ready, readiness.status) == (False, "not_ready")
    assert readiness.storage is not None
    assert readiness.storage.status == "down"
    assert readiness.storage.error == "no answer within 0 s"
    assert sample(metrics.registry, "luminate_storage_up") == 1  # the probe's, untouched
    report = await health.report()
    assert report.healthy is False


async def test_failed_inserts_are_reported_without_gating_readiness(
    health: Health, batcher: Batcher, tenant: str
) -> None:
    health.started = True
    assert health.writes().status == "ok"
    with pytest.raises(StorageError):
        await batcher.submit(one_point(""))  # storage never writes a batch without a tenant
    failing = health.writes()
    assert failing.status == "failing"
    assert failing.last_error is not None
    assert "without a tenant" in failing.last_error
    readiness = await health.ready()
    assert (readiness.ready, readiness.writes) == (True, failing)
    assert (await health.report()).healthy is False
    await batcher.submit(one_point(tenant))
    recovered = health.writes()
    assert (recovered.status, recovered.last_error) == ("ok", failing.last_error)


async def test_the_report_is_healthy_only_when_started_and_not_draining(health: Health) -> None:
    report = await health.report()
    assert (report.healthy, report.started, report.version) == (False, False, __version__)
    health.started = True
    report = await health.report()
    assert report.healthy is True
    assert (report.storage.status, report.writes.status) == ("up", "ok")
    health.draining = True
    assert (await health.report()).healthy is False
